# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Run a validation: each planned suite under Robot Framework, results in BluVal's shape.

``results_dir/<layer>/<suite>/`` gets ``output.xml``, ``log.html``, ``report.html``,
``xunit.xml`` (JUnit, for CI systems) and ``debug.log``; ``results_dir`` gets
``test_info.yaml`` and ``index.html`` (the tree as a picture, linked to the suite reports).

A show-stopper that fails stops the run once that check has run for every target: the rest of
its suite and every later suite are still written, their tests marked SKIP with the reason.
Whatever happens (a failure, SIGINT, SIGTERM, a Robot Framework timeout) the run ends by
undoing journalled disruptions and deleting the Missions it created, before the reports are
written. Robot Framework is imported here only, so the rest of the package needs none.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import time
from typing import Any, Optional

from ..k8s.timestamps import rfc3339
from . import catalog, checks_fornax
from .base import CheckFailed, Validation
from .blueprint import load_blueprint, plan
from .control import ControlError, Controller, Journal
from .fleet import fleet_from_members
from .keywords import AFFECTS_TAG, SHOW_STOPPER_TAG, TEST_TAG
from .report import write_reports

try:
    import robot
    from robot.reporting import ResultWriter
    from robot.running import TestSuite

    HAS_ROBOT = True
except ImportError:  # checked by the module before anything runs
    HAS_ROBOT = False
    robot = None

LIBRARY = "ansible_collections.centaurus.fornax.plugins.module_utils.validate.keywords"
LIBRARY_CLASS = f"{LIBRARY}.FornaxValidation"
SIGNALLED = "Execution terminated by signal"
CONFIG_FILE = "run-config.json"
ROBOT_FILES = ("output.xml", "log.html", "report.html", "xunit.xml", "debug.log")
ROBOT_MISSING = (
    "Robot Framework is not installed on the controller: pip install robotframework "
    "(the collection's requirements.txt pins the version it is tested with)"
)


class Interrupted(BaseException):
    """SIGTERM while no Robot Framework suite was running (SIGINT raises KeyboardInterrupt)."""


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise Interrupted("SIGTERM")


class _Unbreakable:
    """``sys.__stderr__`` while the suites run: what cannot be written is dropped.

    Robot Framework's signal handler writes a note to ``sys.__stderr__`` before it stops the
    run. The signal that stops a run (Ctrl-C, a CI job cancelled) also ends the Ansible worker
    that started this module, and the pipe behind stderr with it: the handler's write then
    raised BrokenPipeError inside the running keyword, and the test failed with that instead of
    "Execution terminated by signal", so the run was reported FAIL, not INTERRUPTED.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # broken, closed, none
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def suite_dir(results_dir: str, layer: str, suite: str) -> str:
    return os.path.join(results_dir, layer, suite)


def build_suite(planned: Any, config_path: str, stopped: Optional[str]) -> Any:
    """The Robot Framework suite of one planned suite (tests in plan order)."""
    suite = TestSuite(name=f"{planned.layer} {planned.suite}", doc=planned.doc)
    suite.resource.imports.library(LIBRARY_CLASS, args=[config_path])
    suite.teardown.config(name="Remove This Runs Missions")
    for test in planned.tests:
        tags = [
            f"layer:{test.test.layer}",
            f"suite:{test.test.suite}",
            f"{TEST_TAG}{test.test.id}",
        ]
        if test.cluster:
            tags.append(f"cluster:{test.cluster}")
        if test.host:
            tags.append(f"host:{test.host}")
        for flag in ("show_stopper", "optional"):
            if test.settings.get(flag):
                tags.append(flag)
        if test.test.disruptive:
            tags.append("disruptive")
        case = suite.tests.create(
            name=test.name, doc=test.test.doc, tags=tags, timeout=f"{test.timeout:g} seconds"
        )
        if not test.runs:
            case.body.create_keyword("Skip", args=[test.reason])
        elif stopped:
            case.body.create_keyword("Skip", args=[f"not run: show-stopper {stopped} failed"])
        else:
            case.setup.config(name="Gate", args=[test.test.id])
            target = test.target
            case.body.create_keyword(test.test.keyword, args=[target])
    return suite


def _seconds(item: Any) -> float:
    elapsed = getattr(item, "elapsed_time", None)
    if elapsed is not None:
        return round(elapsed.total_seconds(), 2)
    return round(getattr(item, "elapsedtime", 0) / 1000.0, 2)  # pragma: no cover - RF < 7


def collect(result_suite: Any, planned: Any, directory: str) -> dict:
    """One suite's record for the reports."""
    by_name = {t.name: t for t in planned.tests}
    tests = []
    for case in result_suite.tests:
        plan_entry = by_name.get(case.name)
        tags = list(case.tags)
        tests.append(
            {
                "name": case.name,
                "robot_id": case.id,
                "test": plan_entry.test.id if plan_entry else "",
                "target": plan_entry.target if plan_entry else "",
                "cluster": plan_entry.cluster if plan_entry else None,
                "host": plan_entry.host if plan_entry else None,
                "status": case.status,
                "message": case.message,
                "show_stopper": SHOW_STOPPER_TAG in tags,
                "affects": sorted(t[len(AFFECTS_TAG) :] for t in tags if t.startswith(AFFECTS_TAG)),
                "seconds": _seconds(case),
            }
        )
    stats = result_suite.statistics
    return {
        "layer": planned.layer,
        "suite": planned.suite,
        "doc": planned.doc,
        "dir": os.path.relpath(directory, os.path.dirname(os.path.dirname(directory))),
        "status": result_suite.status,
        "passed": stats.passed,
        "failed": stats.failed,
        "skipped": stats.skipped,
        "seconds": _seconds(result_suite),
        "tests": tests,
    }


def _first_show_stopper(record: dict) -> Optional[dict]:
    for test in record["tests"]:
        if test["show_stopper"] and test["status"] == "FAIL":
            return test
    return None


def run_suite(planned: Any, results_dir: str, config_path: str, stopped: Optional[str]) -> dict:
    directory = suite_dir(results_dir, planned.layer, planned.suite)
    os.makedirs(directory, exist_ok=True)
    for name in ROBOT_FILES:  # an earlier run's; evidence collected for this run stays
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(directory, name))
    console = io.StringIO()
    suite = build_suite(planned, config_path, stopped)
    result = suite.run(
        outputdir=directory,
        output="output.xml",
        debugfile="debug.log",
        console="none",
        stdout=console,
        stderr=console,
        loglevel="DEBUG:INFO",
    )
    ResultWriter(os.path.join(directory, "output.xml")).write_results(
        outputdir=directory,
        log="log.html",
        report="report.html",
        xunit="xunit.xml",
        stdout=console,
        stderr=console,
    )
    return collect(result.suite, planned, directory)


def cleanup(
    validation: Validation, controller: Controller, control_timeout: float, own_only: bool
) -> list:
    """Undo journalled disruptions and delete validation Missions; return what was done.

    ``own_only``: this run's Missions (the end of a run); else every run's (the start of one,
    which also covers a run that was killed before it could clean up).
    """
    done = []
    try:
        done += [f"restored {what}" for what in controller.restore_journal(control_timeout)]
    except ControlError as exc:
        done.append(f"FAILED to restore a disruption: {exc}")
    p = {"api_timeout": 10.0}
    try:
        if own_only:
            deleted = checks_fornax.leftovers(validation, p, run=validation.short_id)
        else:
            deleted = checks_fornax.leftovers(validation, p)
        done += [f"deleted validation Mission {name}" for name in deleted]
    except CheckFailed as exc:
        done.append(f"could not delete validation Missions: {exc}")
    finally:
        validation.close()
    return done


def prepare(config: dict) -> tuple:
    """(fleet, blueprint, planned suites, validation, controller) from a run configuration."""
    fleet = fleet_from_members(config["members"])
    blueprint = load_blueprint(
        config["blueprint"], config["blueprint_source"], config.get("overrides")
    )
    suites = plan(
        blueprint,
        fleet,
        layers=config.get("layers"),
        optional=config.get("optional"),
        destructive=bool(config.get("destructive")),
    )
    journal = Journal(config["state_dir"], fleet[fleet.root].api_endpoint)
    controller = Controller(
        fleet,
        journal,
        inventory_sources=config.get("inventory_sources"),
        ansible_bin=config.get("ansible_bin") or "ansible",
        log=lambda _message: None,
    )
    validation = Validation(
        fleet,
        config["run_id"],
        crds_dir=config.get("crds_dir") or "",
        evidence_dir=config.get("results_dir") or "",
        controller=controller,
        log=lambda _message: None,
    )
    return fleet, blueprint, suites, validation, controller


def _run_suites(suites: list, results_dir: str, config_path: str) -> tuple:
    """(records, outcome): run the suites in order until a signal or an interrupt; after a
    show-stopper failed, the rest run as skipped (run_suite is told why)."""
    records: list = []
    stopped: Optional[str] = None
    try:
        for planned in suites:
            record = run_suite(planned, results_dir, config_path, stopped)
            records.append(record)
            if any(SIGNALLED in (t["message"] or "") for t in record["tests"]):
                return records, "interrupted"
            failed = _first_show_stopper(record)
            if stopped is None and failed is not None:
                stopped = f"{failed['test']} ({failed['name']})"
    except (KeyboardInterrupt, Interrupted) as exc:
        return records, f"interrupted ({type(exc).__name__})"
    return records, "completed"


def _run_record(
    config: dict, blueprint: Any, fleet: Any, suites: list, records: list, **facts: Any
) -> dict:
    """The record of a run (before summarise): ``records`` of the suites that ran, ``facts``
    its start, duration, outcome, clean-up and tools."""
    return {
        "run_id": config["run_id"],
        "blueprint": {
            "name": blueprint.name,
            "description": blueprint.description,
            "source": config["blueprint_source"],
        },
        "started": facts["started"],
        "finished": rfc3339(),
        "duration_seconds": facts["duration_seconds"],
        "outcome": facts["outcome"],
        "options": {
            "layers": list(config.get("layers") or []),
            "optional": list(config.get("optional") or []),
            "destructive": bool(config.get("destructive")),
        },
        "fleet": fleet_record(fleet),
        "suites": records,
        "not_run": [s.id for s in suites[len(records) :]],
        "cleanup": facts["cleanup"],
        "tools": facts["tools"],
    }


def run_validation(config: dict, versions: Optional[dict] = None) -> dict:
    """Run every planned suite; always clean up; write the reports; return the run record."""
    if not HAS_ROBOT:
        raise RuntimeError(ROBOT_MISSING)
    fleet, blueprint, suites, validation, controller = prepare(config)
    results_dir = config["results_dir"]
    os.makedirs(results_dir, exist_ok=True)
    config_path = os.path.join(results_dir, CONFIG_FILE)
    with open(config_path, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
    started, clock = rfc3339(), time.monotonic()
    records: list = []
    outcome = "completed"
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    held: dict = {}
    done: list = []
    stderr, sys.__stderr__ = sys.__stderr__, _Unbreakable(sys.__stderr__)
    try:
        records, outcome = _run_suites(suites, results_dir, config_path)
    finally:
        sys.__stderr__ = stderr
        # From here on SIGINT and SIGTERM are held: the clean-up and the reports finish first.
        held = hold_signals()
        control_timeout = max(
            [float(t.params.get("control_timeout", 0)) for s in suites for t in s.tests] + [180.0]
        )
        done = cleanup(validation, controller, control_timeout, own_only=True)
    try:
        record = _run_record(
            config,
            blueprint,
            fleet,
            suites,
            records,
            started=started,
            duration_seconds=round(time.monotonic() - clock, 1),
            outcome=outcome,
            cleanup=done,
            tools=dict(versions or {}, robotframework=robot.version.get_version()),
        )
        summarise(record)
        write_reports(results_dir, record)
    finally:
        release_signals(held, {signal.SIGTERM: previous})
    return record


def hold_signals() -> dict:
    """Hold SIGINT and SIGTERM (they are noted and dropped); return the handlers they had."""
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, lambda _signum, _frame: None)
    return old


def release_signals(held: dict, replace: dict) -> None:
    for sig, handler in held.items():
        signal.signal(sig, replace.get(sig, handler))


def fleet_record(fleet: Any) -> dict:
    return {
        "root": fleet.root,
        "clusters": [
            {
                "name": c.name,
                "parent": c.parent if fleet.has_parent(c.name) else None,
                "path": c.path,
                "depth": fleet.depth(c.name),
                "api_endpoint": c.api_endpoint,
                "hosts": [h.name for h in c.hosts],
            }
            for c in fleet.clusters.values()
        ],
    }


def summarise(record: dict) -> None:
    """Totals, failures and the verdict of a run record (in place)."""
    tests = [t for s in record["suites"] for t in s["tests"]]
    totals = {
        "tests": sum(1 for t in tests if t["status"] in ("PASS", "FAIL")),
        "passed": sum(1 for t in tests if t["status"] == "PASS"),
        "failed": sum(1 for t in tests if t["status"] == "FAIL"),
        "skipped": sum(1 for t in tests if t["status"] == "SKIP"),
    }
    stoppers = []
    failures = []
    for suite in record["suites"]:
        for t in suite["tests"]:
            if t["status"] != "FAIL":
                continue
            entry = {
                "suite": f"{suite['layer']}/{suite['suite']}",
                "test": t["test"],
                "name": t["name"],
                "message": (t["message"] or "")[:500],
            }
            failures.append(entry)
            if t["show_stopper"]:
                stoppers.append(entry)
    record["totals"] = totals
    record["show_stopper_failures"] = stoppers
    record["failures"] = failures
    if record["outcome"] != "completed":
        record["result"] = "INTERRUPTED"
    elif stoppers:
        record["result"] = "FAIL"
    else:
        record["result"] = "PASS"


def plan_record(config: dict) -> dict:
    """What a run would do (the module's plan step): checked blueprint, fleet and options."""
    fleet, blueprint, suites, validation, _controller = prepare(config)
    validation.close()
    return {
        "blueprint": blueprint.name,
        "clusters": fleet.names(),
        "root": fleet.root,
        "suites": [
            {
                "suite": s.id,
                "tests": len(s.tests),
                "to_run": sum(1 for t in s.tests if t.runs),
                "skipped": sorted({t.reason for t in s.tests if not t.runs}),
            }
            for s in suites
        ],
        "audit_hosts": sorted(
            {t.host for s in suites for t in s.tests if t.runs and t.test.scope == catalog.HOST}
        ),
        "gateway_hosts": sorted(
            {t.host for s in suites for t in s.tests if t.runs and t.test.scope == catalog.GATEWAY}
        ),
    }


def start_cleanup(config: dict, settle_timeout: float = 180.0) -> list:
    """The clean-up pass at the start of every run: undo and delete what earlier runs left.

    When it restored something, it waits (bounded) until the root sees the whole tree healthy
    again, so that the run that follows finds the fleet as it was before the interrupted one.
    """
    _fleet, _blueprint, _suites, validation, controller = prepare(config)
    done = cleanup(validation, controller, 300.0, own_only=False)
    if any(line.startswith("restored") for line in done):
        p = {"api_timeout": 5.0}
        try:
            validation.wait(
                "the tree whole again after the restore",
                lambda: (True, checks_fornax.tree(validation, catalog.FLEET, p), ()),
                settle_timeout,
                interval=1.0,
            )
            done.append("the root sees every cluster healthy again")
        except CheckFailed as exc:
            done.append(f"after the restore: {exc}")
        finally:
            validation.close()
    return done
