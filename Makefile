# centaurus.fornax — every target installs what it needs first (scripts/bootstrap.sh), so each
# works on a fresh machine. Tools live outside the checkout under $(FORNAX_CACHE) (~/.cache/fornax).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/env.sh
# make bench BENCH=<group> runs one group of bench/groups/; empty runs them all.
BENCH ?=
# make test PYTEST_ARGS='-k chain' narrows the test run.
PYTEST_ARGS ?=

.PHONY: help deps demo demo-down demo-status test lint unit integration bench clean

help:
	@echo "make demo        start the demo hierarchy on this machine (make demo-down stops it)"
	@echo "make test        lint + every test (what CI runs)"
	@echo "make lint        ruff, ansible-lint, ansible-test sanity"
	@echo "make bench       benchmarks -> bench/results.json (BENCH=<group> for one group)"

deps:
	@bash scripts/bootstrap.sh
	@$(MAKE) -s -C bpf

demo: deps
	@$(ENV) && python -m fornax_harness demo up

demo-down:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && python -m fornax_harness demo down

demo-status:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && python -m fornax_harness demo status

test: deps lint
	@$(ENV) && scripts/pytest.sh tests $(PYTEST_ARGS)

unit: deps
	@$(ENV) && scripts/pytest.sh tests/unit $(PYTEST_ARGS)

integration: deps
	@$(ENV) && scripts/pytest.sh tests/integration $(PYTEST_ARGS)

lint: deps
	@$(ENV) && scripts/lint.sh

bench: deps
	@$(ENV) && python bench/run.py $(BENCH)

clean:
	rm -rf tests/output bench/results.json
