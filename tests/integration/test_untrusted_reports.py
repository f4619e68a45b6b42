"""A child that lies in its report, against a real tree: the root stays truthful.

Root a with four children: b (the liar) and s1, s2, s3, whose Mission fails. The test stops
b's agent and writes b's ClusterReport on a itself, with b's own least-privilege identity, as
a compromised or buggy child could:

- lies the API server refuses (the CRD carries the roll-up's limits): negative counts, a
  million ready clusters, a 1 MiB state string, thousands of paths;
- lies it lets through, which a's agent clamps: a sibling's entry, inconsistent counts, paths
  that are not paths, control characters, a full 1,000 paths of invented clusters.

Throughout, a's Mission status keeps the siblings' failures, its counts stay non-negative,
consistent and bounded, the real ``mission`` module's wait for 100% does not succeed, and the
other Mission, the siblings' heartbeats and a's agent are untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import limits, names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    JSON_PATCH,
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from fornax_harness.manifests import mission
from fornax_harness.tree import FornaxTree, start_tree, wait_for

SIBLINGS = ("s1", "s2", "s3")
TREE = {"a": None, "b": None, **dict.fromkeys(SIBLINGS)}
TREE.update({name: "a" for name in ("b", *SIBLINGS)})
ONLY_B = "only-b"  # a namespace that exists on b alone: the gate Mission fails elsewhere
GATE = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gate\n  namespace: {ONLY_B}\n"
OTHER = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: default\n"


@pytest.fixture(scope="module")
def tree(k8s_bin, tmp_path_factory) -> Iterator[FornaxTree]:
    # A long child timeout: b's agent is stopped while the test writes its report, and b must
    # stay "connected" (a disconnected child's report is not read at all).
    fornax = start_tree(
        tmp_path_factory.mktemp("liar"), TREE, agent_settings={"child_timeout_seconds": 600}
    )
    try:
        yield fornax
    finally:
        fornax.destroy()


def status(tree: FornaxTree, name: str) -> dict[str, Any]:
    with tree.client("a") as a:
        found = a.get_or_none(names.mission_path(name)) or {}
    return found.get("status") or {}


def folded(tree: FornaxTree, name: str, path: str, what: str) -> dict[str, Any]:
    """Mission ``name``'s status at a once it shows ``path`` (one GET per poll)."""

    def holds() -> dict[str, Any] | None:
        found = status(tree, name)
        return found if path in found.get("states", {}) else None

    return wait_for(holds, 20, what)


def caught_up(tree: FornaxTree, name: str) -> bool:
    """The status at a is for the Mission's current generation."""
    with tree.client("a") as a:
        found = a.get(names.mission_path(name))
    return (found.get("status") or {}).get("observedGeneration") == found["metadata"]["generation"]


def b_on_a(tree: FornaxTree) -> KubeClient:
    return KubeClient(settings_from_kubeconfig(str(tree["b"].dir / "parent.kubeconfig")))


def write_report(tree: FornaxTree, missions: dict[str, Any]) -> None:
    """Replace b's report on a with ``missions``, as b's own identity."""
    with b_on_a(tree) as b:
        path = names.clusterreport_path("b")
        report = b.get(path)
        report["spec"] = {"missions": missions}
        b.replace(path, report)


def mission_playbook(tree: FornaxTree, tmp_path: Path, wait: bool) -> subprocess.CompletedProcess:
    """The real ``mission`` module on a: apply the gate Mission, and wait for 100% of it."""
    task: dict[str, Any] = {
        "name": "gate",
        "centaurus.fornax.mission": {
            "kubeconfig": str(tree["a"].kubeconfig_path),
            "name": "gate",
            "resource": GATE,
        },
    }
    if wait:
        task["centaurus.fornax.mission"].update(
            wait=True, wait_timeout=5, wait_sleep=1, wait_for={"min_ready": "100%"}
        )
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": [task],
    }
    book = tmp_path / f"gate-{wait}.yml"
    book.write_text(json.dumps([play]))
    env = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "false"}
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(book)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def assert_truthful(found: dict[str, Any]) -> None:
    """The siblings' failures are all there, and every count can be believed."""
    states = found["states"]
    for sibling in SIBLINGS:
        assert st.classify(states[sibling]) == st.FAILED, states
    assert all(path == "b" or path.startswith("b/") or path in SIBLINGS for path in states)
    assert all(st.path_problem(path) is None for path in states)
    assert all(len(state) <= limits.MAX_STATE_LENGTH for state in states.values())
    summary = found["summary"]
    assert summary["failed"] >= len(SIBLINGS), summary
    assert all(value >= 0 for value in summary.values()), summary
    assert summary["clusters"] <= limits.MAX_CLUSTERS + len(SIBLINGS)
    for counts in found.get("subtreeSummaries", {}).values():
        assert st.clamp_counts(counts) == {k: counts.get(k, 0) for k in st.FOLDED_COUNTS}


def heartbeats(tree: FornaxTree) -> dict[str, str]:
    with tree.client("a") as a:
        return {
            name: (a.get(names.edgecluster_path(name)).get("status") or {}).get("lastHeartbeat", "")
            for name in SIBLINGS
        }


def test_a_lying_child_cannot_change_the_rest_of_the_tree(tree, tmp_path):
    with tree.client("b") as b:
        b.create("/api/v1/namespaces", {"metadata": {"name": ONLY_B}})
    with tree.client("a") as a:
        a.create(names.MISSIONS, mission("other", OTHER))
    applied = mission_playbook(tree, tmp_path, wait=False)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    wait_for(
        lambda: (
            status(tree, "gate").get("states", {}).get("b") == st.APPLIED
            and all(
                st.classify(status(tree, "gate")["states"].get(s)) == st.FAILED for s in SIBLINGS
            )
        ),
        60,
        "b applied the gate Mission and its siblings failed it",
    )
    wait_for(
        lambda: (
            status(tree, "other").get("states") == dict.fromkeys(TREE.keys() - {"a"}, "applied")
            and status(tree, "other")
        ),
        30,
        "every child applied the other Mission",
    )
    wait_for(lambda: caught_up(tree, "gate") and caught_up(tree, "other"), 30, "caught up")
    generation = status(tree, "gate")["observedGeneration"]
    other = status(tree, "other")
    beats = heartbeats(tree)
    tree.stop_agent("b")  # from here on, the test writes b's report

    # 1. Lies the API server refuses outright, naming the field.
    refused = {
        "negative counts": {
            "states": {"b": "applied"},
            "subtreeSummaries": {"b/x": {"clusters": 0, "matched": -3, "failed": -3}},
        },
        "a million ready clusters": {
            "states": {"b": "applied"},
            "subtreeSummaries": {"b/x": dict.fromkeys(("clusters", "matched", "ready"), 10**6)},
        },
        "a 1 MiB state": {"states": {"b": "x" * (1 << 20)}},
        "thousands of paths": {"states": {f"b/n{i}": "applied" for i in range(3000)}},
    }
    for lie, entry in refused.items():
        with pytest.raises(KubeApiError) as caught:
            write_report(tree, {"gate": {**entry, "generation": generation}})
        assert caught.value.status == 422, (lie, caught.value)
        assert "spec.missions" in str(caught.value), (lie, caught.value)

    # 2. Lies that pass admission: a's agent keeps only what b may claim.
    deep = "b/" + "/".join(["z"] * limits.MAX_PATH_SEGMENTS)
    lie = {
        "generation": generation,
        "states": {
            "b": "applied",
            "s1": "applied",  # a sibling's entry
            "s2": "applied",
            "s3": "applied",
            "b/UPPER": "applied",  # not a DNS-1123 label
            deep: "applied",  # deeper than any tree
            "b/ctl": "applied\x1b[2J\nforged line",
        },
        "subtreeSummaries": {
            "b/x": {"clusters": 0, "matched": 3, "ready": 3},  # more matched than clusters
            "b/ctl": {"clusters": 50, "matched": 50, "ready": 50},  # counts b/ctl twice
        },
    }
    honest_other = {"states": {"b": "applied"}, "generation": other["observedGeneration"]}
    write_report(tree, {"gate": lie, "other": honest_other})
    found = folded(tree, "gate", "b/ctl", "a folded the lie")
    assert found["states"]["b/ctl"] == "applied [2J forged line"
    assert set(found["states"]) == {"b", "b/ctl", *SIBLINGS}
    assert found["subtreeSummaries"] == {"b/x": dict.fromkeys(st.FOLDED_COUNTS, 0)}
    assert found["summary"] == {
        "clusters": 5,
        "matched": 5,
        "ready": 1,
        "failed": 3,
        "unreachable": 0,
        "notMatch": 0,
    }
    assert_truthful(found)

    # 3. The most a report may hold: 1,000 invented ready clusters and the largest tree.
    invented = {"b": "applied", **{f"b/n{i}": "applied" for i in range(limits.MAX_PATHS - 1)}}
    big = {"b/y": dict.fromkeys(("clusters", "matched", "ready"), limits.MAX_CLUSTERS)}
    write_report(
        tree,
        {
            "gate": {"generation": generation, "states": invented, "subtreeSummaries": big},
            "other": honest_other,
        },
    )
    found = wait_for(
        lambda: status(tree, "gate")["summary"]["ready"] > 1000 and status(tree, "gate"),
        20,
        "a folded the invented clusters",
    )
    assert len(found["states"]) <= 100 and len(found["subtreeSummaries"]) <= 100
    assert_truthful(found)
    assert found["summary"]["failed"] == 3

    # The real module's wait for 100% does not succeed while the siblings fail.
    waited = mission_playbook(tree, tmp_path, wait=True)
    assert waited.returncode != 0, waited.stdout
    assert "wait_timeout" in waited.stdout and "need" in waited.stdout, waited.stdout

    # Everything else is untouched: the other Mission, the siblings' heartbeats, a's agent.
    now = status(tree, "other")
    assert (now["states"], now["observedGeneration"]) == (
        other["states"],
        other["observedGeneration"],
    )
    wait_for(
        lambda: all(heartbeats(tree)[s] > beats[s] for s in SIBLINGS), 10, "siblings heartbeat"
    )
    assert tree.members["a"].agent is not None and tree.members["a"].agent.alive
    log = (tree["a"].dir / "logs" / "agent.log").read_text()
    assert "report not taken as it is" in log and "child b" in log
    assert log.count("'b/UPPER'") == 1  # folded again and again, logged once

    # b's agent back: its honest report replaces the lies.
    tree.start_agent("b")
    wait_for(
        lambda: set(status(tree, "gate").get("states", {})) == {"b", *SIBLINGS},
        30,
        "b's honest report back at a",
    )
    assert_truthful(status(tree, "gate"))


def write_shard(tree: FornaxTree, mission_name: str, spec: dict[str, Any]) -> None:
    """Replace the spec of b's shard of ``mission_name`` on a, as b's own identity."""
    path = names.clusterreport_path(f"b.{names.report_shard(mission_name)}")
    body = [{"op": "add", "path": "/spec", "value": spec}]
    with b_on_a(tree) as b:
        b.request("PATCH", path, body, content_type=JSON_PATCH)


def test_a_lying_child_in_groups_is_bounded_and_costs_only_itself(tree):
    """The same child (after the test above: its Missions), now lying in a shard of groups,
    the compact form its agent writes."""
    wait_for(lambda: caught_up(tree, "gate") and caught_up(tree, "other"), 60, "caught up")
    with tree.client("a") as a:  # b's agent writes its shards in groups
        shard = a.get(names.clusterreport_path(f"b.{names.report_shard('gate')}"))
    assert any("gate" in group["missions"] for group in shard["spec"]["groups"]), shard
    generation = status(tree, "gate")["observedGeneration"]
    other = status(tree, "other")
    tree.stop_agent("b")
    honest = {"states": {"b": "applied"}, "generation": other["observedGeneration"]}
    rest = {"other": honest} if names.report_shard("other") == names.report_shard("gate") else {}

    # 1. Refused at admission, naming the field: too many groups, a huge state, a bad generation.
    refused = {
        "too many groups": [{"missions": {"gate": generation}}] * (limits.MAX_REPORT_GROUPS + 1),
        "a 1 MiB state": [{"states": {"b": "x" * (1 << 20)}, "missions": {"gate": generation}}],
        "a negative generation": [{"states": {"b": "applied"}, "missions": {"gate": -1}}],
    }
    for lie, groups in refused.items():
        with pytest.raises(KubeApiError) as caught:
            write_shard(tree, "gate", {"groups": groups, "missions": rest})
        assert caught.value.status == 422, (lie, caught.value)
        assert "spec.groups" in str(caught.value), (lie, caught.value)

    # 2. Passes admission: forged paths dropped, a group without Missions and a Mission named
    # twice ignored; the siblings, the other Mission and a's agent untouched.
    lie = {"b": "applied", "b/ok": "applied", "s1": "applied"}
    groups = [
        {"states": lie, "missions": {"gate": generation, "ghost": 1}},
        {"states": {"b": "failed: twice"}, "missions": {"gate": generation}},
        {"states": {"b": "applied"}},
    ]
    write_shard(tree, "gate", {"groups": groups, "missions": rest})
    found = folded(tree, "gate", "b/ok", "a folded the groups")
    assert found["states"]["b"] == "applied"
    assert set(found["states"]) == {"b", "b/ok", *SIBLINGS}
    assert_truthful(found)
    assert status(tree, "other")["states"] == other["states"]
    assert tree.members["a"].agent is not None and tree.members["a"].agent.alive
    log = (tree["a"].dir / "logs" / "agent.log").read_text()
    assert "groups[1]: Mission 'gate' named twice" in log
    assert "groups[2]" in log and "holds no mapping of Missions" in log

    tree.start_agent("b")
    wait_for(
        lambda: set(status(tree, "gate").get("states", {})) == {"b", *SIBLINGS},
        30,
        "b's honest report back at a",
    )
    assert_truthful(status(tree, "gate"))
