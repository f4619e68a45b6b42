# centaurus.fornax — every target installs what it needs first (scripts/bootstrap.sh), so each
# works on a fresh machine. Tools live outside the checkout under $(FORNAX_CACHE) (~/.cache/fornax).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/env.sh
# make bench BENCH=<group> runs one group of bench/groups/; empty runs them all.
BENCH ?=
# make test PYTEST_ARGS='-k chain' narrows the test run. make test runs the molecule scenario
# without its check mode step (FORNAX_MOLECULE_CHECK=0: it costs as much as a second rollout);
# make molecule runs all of it.
PYTEST_ARGS ?=
# make bundle INVENTORY=<hierarchy file> BUNDLE=<directory>: the offline bundle of that fleet
# (docs/bundle.md); BUNDLE_ARGS='-e fornax_bundle_tarball=/tmp/b.tar' passes more to bundle.yml.
INVENTORY ?= inventories/local/hosts.yml
BUNDLE ?= build/bundle
BUNDLE_ARGS ?=

.PHONY: bundle collection help deps demo demo-down demo-status demo-loopback demo-loopback-status demo-loopback-down \
	validate images agent-wheel test lint unit integration molecule bench clean

help:
	@echo "make demo          the demo tree: site.yml onto podman hosts, a Mission, the tree"
	@echo "                   (make demo-status prints the tree again, make demo-down removes it)"
	@echo "make validate      release validation (playbooks/validate.yml) of the loopback tree, started"
	@echo "                   when none runs; prints where the report is (VALIDATE_ARGS=... for more)"
	@echo "make test          lint + every test, the molecule scenario included (what CI runs)"
	@echo "make molecule      the molecule scenario alone (site.yml on 4 podman hosts), with check mode"
	@echo "make demo-loopback the a -> b -> c -> d tree as processes on loopback (no containers)"
	@echo "                   (demo-loopback-status, demo-loopback-down)"
	@echo "make lint          ruff, ansible-lint, ansible-test sanity"
	@echo "make bench         benchmarks -> bench/results.json (BENCH=<group> for one group)"
	@echo "make images        the node's OCI image archives (pause, busybox, httpd) into the cache"
	@echo "make collection    build/centaurus-fornax.tar.gz, the collection artifact (with the XDP objects)"
	@echo "make bundle        the offline bundle of INVENTORY's fleet in BUNDLE (default build/bundle)"
	@echo "make agent-wheel   build/fornax_agent-<version>-py3-none-any.whl, the host side (the cascade"
	@echo "                   role builds the same wheel itself)"

deps:
	@bash scripts/bootstrap.sh
	@$(MAKE) -s -C bpf

images: deps
	@bash scripts/bootstrap.sh images
	@$(ENV) && scripts/node-images.sh

demo: deps
	@bash scripts/bootstrap.sh podman images
	@$(ENV) && scripts/demo.sh up

demo-status:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && scripts/demo.sh status

demo-down:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && scripts/demo.sh down

demo-loopback: deps
	@$(ENV) && python -m fornax_harness demo up

demo-loopback-status:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && python -m fornax_harness demo status

demo-loopback-down:
	@bash scripts/bootstrap.sh venv link
	@$(ENV) && python -m fornax_harness demo down

validate: deps
	@$(ENV) && scripts/validate-demo.sh

test: deps lint
	@bash scripts/bootstrap.sh podman images
	@$(ENV) && FORNAX_MOLECULE_CHECK=0 scripts/pytest.sh tests $(PYTEST_ARGS)

unit: deps
	@$(ENV) && scripts/pytest.sh tests/unit $(PYTEST_ARGS)

integration: deps
	@$(ENV) && scripts/pytest.sh tests/integration $(PYTEST_ARGS)

molecule: deps
	@bash scripts/bootstrap.sh podman images
	@$(ENV) && scripts/pytest.sh tests/molecule $(PYTEST_ARGS)

lint: deps
	@$(ENV) && scripts/lint.sh

bench: deps
	@$(ENV) && python bench/run.py $(BENCH)

# The artifact users install (README: Install the collection); it carries bpf/build/*.bpf.o.
collection:
	@bash scripts/bootstrap.sh apt venv link
	@$(MAKE) -s -C bpf
	@$(ENV) && scripts/build-collection.sh build

# Everything an air-gapped site needs for INVENTORY's fleet (docs/bundle.md).
bundle: deps collection
	@$(ENV) && ansible-playbook -i $(INVENTORY) playbooks/bundle.yml \
		-e fornax_bundle_dest=$(abspath $(BUNDLE)) $(BUNDLE_ARGS)
# The agent as the hosts get it (docs/architecture.md): stdlib only, no network.
agent-wheel:
	@python3 agent/wheel_backend.py --wheel-dir build

clean:
	rm -rf tests/output bench/results.json build
