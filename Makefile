# centaurus.fornax — every target installs what it needs first (scripts/bootstrap.sh), so each
# works on a fresh machine. Tools live outside the checkout under $(FORNAX_CACHE) (~/.cache/fornax).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/env.sh
# make bench BENCH=<group> runs one group of bench/groups/; empty runs them all.
BENCH ?=
# make test PYTEST_ARGS='-k chain' narrows the test run.
PYTEST_ARGS ?=

.PHONY: help deps demo demo-down demo-status demo-podman demo-podman-status demo-podman-down \
	test lint unit integration molecule bench clean

help:
	@echo "make demo        start the demo hierarchy on this machine (make demo-down stops it)"
	@echo "make test        lint + every test but molecule (what CI runs)"
	@echo "make molecule    the molecule scenario: site.yml on a 3-level tree of podman hosts"
	@echo "make demo-podman the demo tree rolled out by site.yml onto podman hosts"
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
	@$(ENV) && scripts/pytest.sh tests --ignore=tests/molecule $(PYTEST_ARGS)

unit: deps
	@$(ENV) && scripts/pytest.sh tests/unit $(PYTEST_ARGS)

integration: deps
	@$(ENV) && scripts/pytest.sh tests/integration $(PYTEST_ARGS)

molecule: deps
	@bash scripts/bootstrap.sh podman
	@$(ENV) && scripts/pytest.sh tests/molecule $(PYTEST_ARGS)

demo-podman: deps
	@bash scripts/bootstrap.sh podman
	@$(ENV) && scripts/demo.sh up

demo-podman-status:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && scripts/demo.sh status

demo-podman-down:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && scripts/demo.sh down

lint: deps
	@$(ENV) && scripts/lint.sh

bench: deps
	@$(ENV) && python bench/run.py $(BENCH)

clean:
	rm -rf tests/output bench/results.json
