"""Lean watches, on a real tree a -> b -> c with real agents (docs/agent.md, "Lean watches").

- A Mission status write on a parent produces no event on what its children watch (the
  Missions' spec mirrors), while a spec change does, with the parent Mission's generation; the
  generation the child reports is the parent Mission's; deletion at a removes b's and c's
  copies (c's through b's own Missions and mirrors).
- A parent without mirrors (its API server has no MissionSpec kind, as before this design):
  the child falls back to watching Missions, and creation, update, report and deletion work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fornax_agent.mirrors import RECHECK_SECONDS

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names, rollup
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from fornax_harness.manifests import mission
from fornax_harness.tree import FornaxTree, start_tree, wait_for

CHAIN = {"a": None, "b": "a", "c": "b"}
READ_FROM = "parent's Missions read from"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/missionspecs." + names.GROUP


def config_map(name: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
        f"data:\n  value: '{value}'\n"
    )


@pytest.fixture(scope="module")
def tree(k8s_bin, tmp_path_factory) -> Iterator[FornaxTree]:
    fornax = start_tree(tmp_path_factory.mktemp("lean"), CHAIN)
    try:
        yield fornax
    finally:
        fornax.destroy()


def child_identity(tree: FornaxTree, child: str) -> KubeClient:
    """What ``child``'s agent uses on its parent: its least-privilege identity."""
    return KubeClient(settings_from_kubeconfig(str(tree[child].dir / "parent.kubeconfig")))


def reported_generation(tree: FornaxTree, parent: str, child: str, name: str) -> Any:
    """The generation ``child`` reports for Mission ``name`` on ``parent`` (its shard)."""
    with tree.client(parent) as client:
        shard = client.get(names.clusterreport_path(f"{child}.{names.report_shard(name)}"))
    entry = rollup.report_entries(child, name, shard.get("spec") or {}).get(name) or {}
    return entry.get("generation")


def value_at(tree: FornaxTree, cluster: str, name: str) -> str | None:
    with tree.client(cluster) as client:
        found = client.get_or_none(f"{CONFIGMAPS}/{name}")
    return (found or {}).get("data", {}).get("value")


class Recorder:
    """Every event of one watch at ``path`` for ``seconds``, in a thread."""

    def __init__(self, client: KubeClient, path: str, seconds: int) -> None:
        self.events: list[dict[str, Any]] = []
        version = client.get(path)["metadata"]["resourceVersion"]
        self.thread = threading.Thread(
            target=self._run, args=(client, path, version, seconds), daemon=True
        )
        self.thread.start()

    def _run(self, client: KubeClient, path: str, version: str, seconds: int) -> None:
        for event in client.watch(path, resource_version=version, timeout_seconds=seconds):
            if event.get("type") != "BOOKMARK":
                self.events.append(event)

    def join(self) -> list[dict[str, Any]]:
        self.thread.join(60)
        return self.events


def source_of(tree: FornaxTree, child: str) -> str:
    """What ``child``'s agent watches on its parent now, as its log says ("" before its list)."""
    said = [line for line in tree.agent_log(child, 2000).splitlines() if READ_FROM in line]
    return said[-1].rsplit(" ", 1)[1] if said else ""


def test_status_writes_reach_no_child_watch(tree: FornaxTree) -> None:
    # A child whose link's RBAC reached the API server's cache after its first list watches
    # Missions for a moment, and asks for mirrors again every RECHECK_SECONDS.
    wait_for(lambda: source_of(tree, "b") == "mirrors", 3 * RECHECK_SECONDS, "b on mirrors")
    name = "lean"
    with tree.client("a") as a:
        a.create(names.MISSIONS, mission(name, config_map(name, "one")))
    wait_for(lambda: value_at(tree, "c", name) == "one", 30, "the Mission's content in c")
    wait_for(lambda: reported_generation(tree, "a", "b", name) == 1, 30, "b reported gen 1")
    with child_identity(tree, "b") as b_on_a, tree.client("a") as a:
        mirrors = Recorder(b_on_a, names.MISSIONSPECS, 4)
        missions = Recorder(a, names.MISSIONS, 4)  # the old design's watch, for contrast
        for i in range(5):
            a.patch(names.mission_path(name, status=True), {"status": {"contentKind": f"x{i}"}})
        assert mirrors.join() == []  # five status writes (and the agent's own): no event
        assert len(missions.join()) >= 5
        # a spec change: one event, with the parent Mission's generation
        mirrors = Recorder(b_on_a, names.MISSIONSPECS, 4)
        a.patch(names.mission_path(name), {"spec": {"missionresource": config_map(name, "two")}})
        generation = a.get(names.mission_path(name))["metadata"]["generation"]
        events = mirrors.join()
    assert generation == 2
    assert source_of(tree, "b") == "mirrors"
    assert [e["object"]["missionGeneration"] for e in events] == [2]
    assert "status" not in events[0]["object"]
    wait_for(lambda: value_at(tree, "c", name) == "two", 30, "the update in c")
    wait_for(lambda: reported_generation(tree, "a", "b", name) == 2, 30, "b reported gen 2")
    with tree.client("b") as b:
        copy = b.get(names.mission_path(name))
        assert copy["metadata"]["annotations"][names.PARENT_GENERATION_ANNOTATION] == "2"
        wait_for(lambda: b.get_or_none(names.missionspec_path(name)), 30, "b's mirror for c")
    with tree.client("a") as a:
        a.delete(names.mission_path(name))
        wait_for(lambda: a.get_or_none(names.missionspec_path(name)) is None, 30, "a's mirror gone")
    for cluster in ("b", "c"):
        with tree.client(cluster) as client:
            wait_for(
                lambda client=client: client.get_or_none(names.mission_path(name)) is None,
                30,
                f"the copy in {cluster} gone",
            )
    wait_for(lambda: value_at(tree, "c", name) is None, 30, "the content in c gone")


def test_parent_without_mirrors_is_watched_through_its_missions(tree: FornaxTree) -> None:
    """a as before this design: no MissionSpec kind at all (its mirrors go with it)."""
    with tree.client("a") as a:
        a.delete(CRD)
        wait_for(lambda: a.get_or_none(CRD) is None, 30, "the MissionSpec kind gone from a")
    tree.stop_agent("b")
    tree.start_agent("b")  # a fresh start too, not only a broken watch
    name = "old-parent"
    with tree.client("a") as a:
        a.create(names.MISSIONS, mission(name, config_map(name, "one")))
        wait_for(lambda: value_at(tree, "c", name) == "one", 30, "the Mission's content in c")
        a.patch(names.mission_path(name), {"spec": {"missionresource": config_map(name, "two")}})
        wait_for(lambda: value_at(tree, "c", name) == "two", 30, "the update in c")
        wait_for(lambda: reported_generation(tree, "a", "b", name) == 2, 30, "b reported gen 2")
        assert source_of(tree, "b") == "Missions"
        a.delete(names.mission_path(name))
    wait_for(lambda: value_at(tree, "c", name) is None, 30, "the content in c gone")
    with tree.client("b") as b:
        wait_for(lambda: b.get_or_none(names.mission_path(name)) is None, 30, "b's copy gone")
