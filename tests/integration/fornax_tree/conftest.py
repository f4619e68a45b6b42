"""The acceptance topology: a -> b -> c -> d, d labelled company=futurewei, real agents.

b, c and d run controller-manager, scheduler and kwok nodes, so Deployments really become
ready and Jobs really complete. "Cut off" means the relay between a child's agent and its
parent's API server is cut: the agent keeps running and loses its parent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from fornax_harness.tree import FornaxTree, start_tree, wait_for

CHAIN = {"a": None, "b": "a", "c": "b", "d": "c"}
LABELS = {"d": {"company": "futurewei"}}
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
JOBS = "/apis/batch/v1/namespaces/default/jobs"


@pytest.fixture(scope="package")
def tree(k8s_bin, tmp_path_factory) -> Iterator[FornaxTree]:
    fornax = start_tree(
        tmp_path_factory.mktemp("tree"),
        CHAIN,
        labels=LABELS,
        workloads=("b", "c", "d"),
        agent_settings={"allow_commands": False},
        overrides={
            # only c opted in to mission commands; a command that never ends costs 4 s
            "c": {"allow_commands": True, "command_timeout_seconds": 4.0},
            # d grants Missions kube-system too (the policy reaches the agent as in a rollout)
            "d": {"mission_policy": {"namespaces": ["*", "kube-system"]}},
        },
    )
    try:
        wait_for(lambda: registered(fornax), 60, "b, c and d registered up the chain")
        yield fornax
    finally:
        fornax.destroy()


def registered(fornax: FornaxTree) -> bool:
    with fornax.client("a") as a:
        b = a.get_or_none(names.edgecluster_path("b")) or {}
        subs = (b.get("status") or {}).get("subEdgeClusterStates") or {}
        return subs.get("c") == "healthy" and subs.get("c/d") == "healthy"


@pytest.fixture
def fornax(tree: FornaxTree) -> Iterator[FornaxTree]:
    """The tree, put back whole after the test: links, agents, API servers, no Missions."""
    yield tree
    for name in CHAIN:
        member = tree.members[name]
        if member.proxy is not None and member.proxy.is_cut:
            tree.restore(name)
        if "kube-apiserver" not in member.cluster.processes:
            member.cluster.start_apiserver()
        if member.agent is None or not member.agent.alive:
            tree.start_agent(name)
    wait_for(lambda: registered(tree), 60, "the chain healthy before the clean-up")
    with tree.client("a") as a:
        for item in a.get(names.MISSIONS)["items"]:
            a.delete_if_exists(names.mission_path(item["metadata"]["name"]))
    for name in ("b", "c", "d"):
        with tree.client(name) as client:
            wait_for(
                lambda client=client: (
                    not client.get(names.MISSIONS)["items"]
                    and not client.get(DEPLOYMENTS, labelSelector=names.MISSION_LABEL)["items"]
                ),
                60,
                f"missions and content gone from {name}",
            )


def states(fornax: FornaxTree, cluster: str, name: str) -> dict[str, str]:
    with fornax.client(cluster) as client:
        found = client.get_or_none(names.mission_path(name)) or {}
    return (found.get("status") or {}).get("states") or {}


def wait_states(
    fornax: FornaxTree, cluster: str, name: str, expected: dict, timeout: float = 30
) -> dict:
    return wait_for(
        lambda: states(fornax, cluster, name) == expected and expected,
        timeout,
        f"states of {name} at {cluster} == {expected} (now {states(fornax, cluster, name)})",
    )


def exists(fornax: FornaxTree, cluster: str, path: str) -> bool:
    with fornax.client(cluster) as client:
        return client.get_or_none(path) is not None
