"""State vocabulary, classification, paths and summaries."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        ("2/2", st.READY),
        ("0/0", st.READY),
        ("1/3", st.WAITING),
        ("applied", st.READY),
        ("complete", st.READY),
        ("done", st.READY),
        ("running 1/4", st.WAITING),
        ("pending", st.WAITING),
        (None, st.WAITING),
        ("not match", st.NOT_MATCHED),
        ("cluster unreachable", st.UNREACHABLE_CLASS),
        ("failed: bad yaml", st.FAILED),
        ("present", st.OTHER),
    ],
)
def test_classify(state, kind):
    assert st.classify(state) == kind


def test_failed_is_one_bounded_line():
    state = st.failed("line one\nline two " + "x" * 1000)
    assert state.startswith("failed: line one line two")
    assert "\n" not in state
    assert len(state) < 320


def test_paths():
    assert st.prefixed("b", {"c": "1/1", "c/d": "not match"}) == {
        "b/c": "1/1",
        "b/c/d": "not match",
    }
    assert st.join_path("b", "", "c") == "b/c"
    assert st.under("b", "b") and st.under("b", "b/c")
    assert not st.under("b", "bc") and not st.under("b/c", "b")


def test_summarize_counts_and_folded_subtrees():
    states = {
        "b": "2/2",
        "b/c": "not match",
        "b/c/d": "cluster unreachable",
        "e": "failed: x",
        "f": "1/2",
    }
    folded = [{"clusters": 10, "matched": 6, "ready": 5, "failed": 1, "unreachable": 2}]
    assert st.summarize(states, folded) == {
        "clusters": 15,
        "matched": 9,
        "ready": 6,
        "failed": 2,
        "unreachable": 3,
        "notMatch": 3,
    }
