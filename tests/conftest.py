"""Test-session rules shared by every test directory."""

from __future__ import annotations

import importlib

import pytest

from fornax_harness.prereq import in_ci

try:
    importlib.import_module("ansible_collections.centaurus.fornax.plugins.module_utils.k8s")
    # The modules import these on demand. Imported here, before any test installs Ansible's
    # collection finder (init_plugin_loader), which cannot load a submodule of a collection
    # that was first imported from PYTHONPATH; under Ansible the finder loads all of it.
    for lazy in ("exec_plugin", "proxy", "kubeconfig_file"):
        importlib.import_module(
            f"ansible_collections.centaurus.fornax.plugins.module_utils.k8s.{lazy}"
        )
except ImportError as exc:  # pragma: no cover - environment problem
    raise pytest.UsageError(
        "ansible_collections.centaurus.fornax is not importable: run the tests through "
        "`make test` (or `bash scripts/bootstrap.sh && source scripts/env.sh`)"
    ) from exc

pytest_plugins = ["fornax_harness.fixtures"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if in_ci() and skipped:
        terminalreporter.write_line(
            f"CI=true and {len(skipped)} test(s) skipped: under CI a skip is a failure", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if in_ci() and reporter is not None and reporter.stats.get("skipped"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
