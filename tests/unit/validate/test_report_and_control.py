"""The summary page and test_info.yaml, and the journal that makes disruptions undoable."""

from __future__ import annotations

import contextlib
import json
import stat

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import safe_load
from ansible_collections.centaurus.fornax.plugins.module_utils.validate import report, runner
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.base import CheckFailed
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.control import (
    Controller,
    Journal,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.fleet import (
    fleet_from_members,
)


def test_(name, status, cluster=None, affects=(), show_stopper=False) -> dict:
    return {
        "name": name,
        "robot_id": "s1-t1",
        "test": f"k8s/x/{name}",
        "target": cluster or "fleet",
        "cluster": cluster,
        "host": None,
        "status": status,
        "message": "why <it> failed" if status == "FAIL" else "",
        "show_stopper": show_stopper,
        "affects": list(affects),
        "seconds": 0.1,
    }


test_.__test__ = False  # a record builder, not a test


def record(fleet_members) -> dict:
    fleet = fleet_from_members(fleet_members)
    suite = {
        "layer": "k8s",
        "suite": "x",
        "doc": "",
        "dir": "k8s/x",
        "status": "FAIL",
        "passed": 2,
        "failed": 2,
        "skipped": 1,
        "seconds": 1.0,
        "tests": [
            test_("readyz [a]", "PASS", "a"),
            test_("subtree [b]", "FAIL", "b", affects=["c"], show_stopper=True),
            test_("readyz [d]", "SKIP", "d"),
            test_("to_all", "FAIL", affects=["d"]),
            test_("tree", "PASS"),
        ],
    }
    out = {
        "run_id": "r-1",
        "blueprint": {"name": "fornax", "description": "", "source": "x"},
        "started": "2026-12-02T00:00:00Z",
        "finished": "2026-12-02T00:01:00Z",
        "duration_seconds": 60.0,
        "outcome": "completed",
        "options": {"layers": [], "optional": [], "destructive": False},
        "fleet": runner.fleet_record(fleet),
        "suites": [suite],
        "not_run": ["fornax/missions"],
        "cleanup": ["deleted validation Mission fv-1-all"],
        "tools": {},
    }
    runner.summarise(out)
    return out


def test_clusters_are_coloured_by_the_clusters_at_fault(chain_members):
    results = report.cluster_results(record(chain_members))
    assert results["a"]["status"] == "pass"
    assert results["b"]["status"] == "none", "b's subtree test failed because of c"
    assert results["c"]["status"] == "fail"
    assert results["d"]["status"] == "fail", "a whole-tree scenario named d"


def test_the_page_shows_the_tree_and_links_the_suites(chain_members, tmp_path):
    data = record(chain_members)
    assert data["result"] == "FAIL"
    report.write_reports(str(tmp_path), data)
    page = (tmp_path / "index.html").read_text()
    assert page.count("<rect ") == 4 and page.count("<line ") == 3, "four boxes, three edges"
    assert 'fill="#c92a2a"' in page and 'fill="#2b8a3e"' in page
    assert "href='k8s/x/report.html'" in page and 'href="k8s/x/log.html#s1-t1"' in page
    assert "why &lt;it&gt; failed" in page, "messages are escaped"
    assert "NOT RUN" in page
    info = safe_load((tmp_path / "test_info.yaml").read_text())["test_info"]
    assert info["result"] == "FAIL"
    assert info["totals"] == {"tests": 4, "passed": 2, "failed": 2, "skipped": 1}
    assert info["show_stopper_failures"][0]["name"] == "subtree [b]"


def test_a_wide_tree_is_laid_out_without_overlaps(wide_members):
    clusters = runner.fleet_record(fleet_from_members(wide_members))["clusters"]
    pos = report.layout(clusters)
    assert pos["site-a"][1] == pos["site-b"][1] > pos["region"][1] > pos["root"][1]
    assert pos["site-b"][0] - pos["site-a"][0] >= report.BOX_W
    assert pos["region"][0] == (pos["site-a"][0] + pos["site-b"][0]) / 2


def fake_ansible(tmp_path, fail_on: str = "") -> str:
    """An `ansible` that records its argv and fails when the command holds ``fail_on``."""
    script = tmp_path / "ansible"
    calls = tmp_path / "calls.jsonl"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"sys.exit(1 if {fail_on!r} and {fail_on!r} in ' '.join(sys.argv) else 0)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def calls(tmp_path) -> list:
    path = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def controller(tmp_path, members, fail_on: str = "") -> Controller:
    members[1]["controls"] = {"agent": {"stop": ["stop", "b"], "start": ["start", "b"]}}
    fleet = fleet_from_members(members)
    journal = Journal(str(tmp_path / "state"), "https://a:6443")
    return Controller(
        fleet, journal, inventory_sources=["inv.yml"], ansible_bin=fake_ansible(tmp_path, fail_on)
    )


def test_a_disruption_is_undone_when_the_test_fails(tmp_path, chain_members):
    ctl = controller(tmp_path, chain_members)
    with pytest.raises(RuntimeError, match="the test broke"), ctl.disrupted("b", "agent", 10):
        assert ctl.journal.entries()[0]["restore"] == ["start", "b"], "journalled first"
        raise RuntimeError("the test broke")
    argvs = [json.loads(c[c.index("-a") + 1])["argv"] for c in calls(tmp_path)]
    assert argvs == [["stop", "b"], ["start", "b"]]
    assert calls(tmp_path)[0][:4] == ["b-cp", "-i", "inv.yml", "-m"]
    assert ctl.journal.entries() == []


def test_a_failed_restore_stays_in_the_journal_for_the_next_run(tmp_path, chain_members):
    ctl = controller(tmp_path, chain_members, fail_on="start")
    with pytest.raises(CheckFailed, match="could NOT restore it"), ctl.disrupted("b", "agent", 10):
        pass
    [entry] = ctl.journal.entries()
    assert entry["cluster"] == "b" and entry["host"] == "b-cp"
    healed = controller(tmp_path, chain_members)  # the next run: the command works again
    assert healed.restore_journal(10) == ["b: agent (start b)"]
    assert healed.journal.entries() == []


def test_a_cluster_without_controls_fails_before_anything_is_done(tmp_path, chain_members):
    ctl = controller(tmp_path, chain_members)
    with pytest.raises(CheckFailed, match=r"validate_controls\.uplink\.restore"):  # noqa: SIM117
        with ctl.disrupted("b", "uplink", 10):
            pass
    assert calls(tmp_path) == [] and ctl.journal.entries() == []


def test_a_broken_stderr_does_not_turn_an_interrupted_run_into_a_failed_test():
    """The signal that stops a run also ends the Ansible worker behind the module's stderr;
    Robot Framework's signal handler writes a note there before it stops the run, and a
    BrokenPipeError from that write failed the running test instead (result FAIL, not
    INTERRUPTED). A real pipe whose reader is gone:"""
    import os  # noqa: PLC0415

    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = os.fdopen(write_end, "w", buffering=1)
    with pytest.raises(BrokenPipeError):
        stream.write("Second signal will force exit.\n")
    quiet = runner._Unbreakable(stream)
    assert quiet.write("Second signal will force exit.\n") == 31
    quiet.flush()
    assert quiet.fileno() == write_end  # everything else is the stream's
    with contextlib.suppress(OSError):
        stream.close()
