"""The agent's work queue: de-duplication, delays, priority classes."""

from __future__ import annotations

import threading
import time

from fornax_agent.workqueue import WorkQueue


def test_duplicates_are_handled_once():
    queue = WorkQueue()
    for _i in range(5):
        queue.add("report")
    assert queue.get(0.1) == "report"
    assert queue.get(0.05) is None


def test_delay_and_earliest_request_wins():
    queue = WorkQueue()
    queue.add("later", delay=0.2)
    assert queue.get(0.05) is None
    queue.add("later", delay=0.0)
    assert queue.get(0.05) == "later"


def test_urgent_classes_go_first():
    queue = WorkQueue(priority=lambda key: {"copy": 0, "report": 2}[key[0]])
    queue.add(("report", "r"))
    time.sleep(0.01)
    queue.add(("copy", "m"))
    assert queue.get(0.1) == ("copy", "m")
    assert queue.get(0.1) == ("report", "r")


def test_due_before_sees_only_more_urgent_keys_that_are_due():
    queue = WorkQueue(priority=lambda key: {"copy": 0, "exec": 1, "report": 2}[key[0]])
    assert not queue.due_before(("report",))
    queue.add(("report", "r"))
    assert not queue.due_before(("report",))  # the same class does not count
    queue.add(("copy", "m"), 60.0)
    assert not queue.due_before(("report",))  # not due yet
    queue.add(("exec", "m"))
    assert queue.due_before(("report",))
    assert not queue.due_before(("copy",))
    assert queue.get(0.1) == ("exec", "m")
    assert not queue.due_before(("report",))


def test_get_wakes_up_for_new_work():
    queue = WorkQueue()
    threading.Timer(0.05, lambda: queue.add("x")).start()
    started = time.monotonic()
    assert queue.get(2.0) == "x"
    assert time.monotonic() - started < 1.0
