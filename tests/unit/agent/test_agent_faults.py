"""Unexpected exceptions are logged with their traceback once and counted always."""

from __future__ import annotations

import logging

from fornax_agent.faults import Faults, describe


def fail(value):
    return {}["missing"] if value else int("x")


def test_traceback_once_then_a_count(caplog):
    faults = Faults()
    caplog.set_level(logging.WARNING, logger="fornax.agent.faults")
    for attempt in range(3):
        try:
            fail(True)
        except KeyError as exc:
            assert faults.unexpected("exec", exc, f"m{attempt}") == attempt + 1
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert "unexpected KeyError in exec (m0)" in tracebacks[0].getMessage()
    assert "again (3 times)" in caplog.records[-1].getMessage()
    try:
        fail(False)
    except ValueError as exc:
        faults.unexpected("exec", exc)
    assert len([r for r in caplog.records if r.exc_info]) == 2, "another fault: its own traceback"
    assert faults.total() == 4


def test_describe_is_one_line():
    assert describe(ValueError("a\n  b")) == "ValueError: a b"
    assert describe(RecursionError()) == "RecursionError"
