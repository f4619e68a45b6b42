"""A Fornax tree for tests: real clusters, real agent processes, links that can be cut.

Each agent runs as the roles run it: on its own cluster with its own least-privilege identity
(a client certificate of the agent's group, bound to the ClusterRole generated from the
cluster's Mission rights, security.agent_manifests), not as the admin; on its parent with the
child identity of cluster_link.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    write_kubeconfig,
)

from .binaries import repo_root
from .cluster import ClusterSpec, TestCluster, start_clusters
from .linkproxy import LinkProxy, RelayProcess
from .process import HarnessError, ManagedProcess

# Agent timings for tests: far tighter than the original's 10 s heartbeat and 60 s timeout.
FAST = {
    "heartbeat_seconds": 0.5,
    "child_timeout_seconds": 2.5,
    "resync_seconds": 5.0,
    "report_delay_seconds": 0.02,
}


@dataclass
class Member:
    cluster: TestCluster
    parent: str | None
    labels: dict[str, str]
    proxy: LinkProxy | RelayProcess | None = None
    agent: ManagedProcess | None = None
    config_path: Path | None = None


def link_child(parent: TestCluster, child: str, labels: dict[str, str]) -> dict[str, Any]:
    """The kubeconfig of ``child``'s least-privilege identity on ``parent`` (cluster_link)."""
    from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (  # noqa: PLC0415
        child_link,
    )

    with parent.client() as client:
        return child_link.link_child(client, child, labels=labels, distro="k8s", token_ttl=3600)


class FornaxTree:
    """Clusters keyed by name, each with its parent, its agent and its uplink proxy."""

    def __init__(
        self,
        root: Path,
        members: dict[str, Member],
        agent_settings: dict[str, Any] | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        *,
        tied: bool = True,
        relays: bool | str = True,
        linker: Callable[[TestCluster, str, dict[str, str]], dict[str, Any]] = link_child,
    ) -> None:
        """``relays``: a cuttable relay on every uplink, in this process (True) or in a process
        of its own per uplink ("process": for trees that outlive their starter, the demo)."""
        self.root = root
        self.members = members
        self.settings = {**FAST, **(agent_settings or {})}
        self.overrides = overrides or {}
        self.tied = tied
        # Every identity first: the API servers load the admission policies while the links
        # are made, and each is in force before its agent starts (as the hub role waits).
        identities = {name: m.cluster.install_agent_identity() for name, m in members.items()}
        for name, member in members.items():
            if member.parent is not None:
                parent = members[member.parent].cluster
                kubeconfig = linker(parent, name, member.labels)
                if relays == "process":
                    member.proxy = RelayProcess(
                        parent.api_port,
                        f"{name}->{member.parent}",
                        member.cluster.dir / "logs" / "relay.log",
                        tied=tied,
                    )
                elif relays:
                    member.proxy = LinkProxy(parent.api_port, f"{name}->{member.parent}")
                if member.proxy is not None:
                    server = f"https://127.0.0.1:{member.proxy.port}"
                    kubeconfig["clusters"][0]["cluster"]["server"] = server
                # The parent's serving certificate names 127.0.0.1, which the proxy keeps.
                write_kubeconfig(str(member.cluster.dir / "parent.kubeconfig"), kubeconfig)
        for name, member in members.items():
            member.cluster.await_agent_policy(identities[name])
            member.config_path = self._write_config(name, member, identities[name])

    def _write_config(self, name: str, member: Member, kubeconfig: Path) -> Path:
        config = {
            "cluster": name,
            "kubeconfig": str(kubeconfig),
            "labels": member.labels,
            "state_dir": str(member.cluster.dir / "agent-state"),
            "kubectl": str(member.cluster.bin / "kubectl"),
            **self.settings,
            **self.overrides.get(name, {}),
        }
        if member.parent is not None:
            config["parent"] = member.parent
            config["parent_kubeconfig"] = str(member.cluster.dir / "parent.kubeconfig")
        config.setdefault("mission_policy", member.cluster.policy.to_dict())  # as cascade does
        path = member.cluster.dir / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def __getitem__(self, name: str) -> TestCluster:
        return self.members[name].cluster

    def client(self, name: str) -> KubeClient:
        return self.members[name].cluster.client()

    def start_agent(self, name: str) -> None:
        member = self.members[name]
        env_path = os.pathsep.join([str(repo_root() / "agent"), os.environ.get("PYTHONPATH", "")])
        argv = [sys.executable, "-m", "fornax_agent", "--config", str(member.config_path)]
        proc = ManagedProcess(
            f"agent of {name}",
            ["/usr/bin/env", f"PYTHONPATH={env_path}", *argv],
            member.cluster.dir / "logs" / "agent.log",
            tied=self.tied,
        )
        proc.start()
        member.agent = proc

    def stop_agent(self, name: str) -> None:
        member = self.members[name]
        if member.agent is not None:
            member.agent.stop()
            member.agent = None

    def kill_agent(self, name: str) -> None:
        member = self.members[name]
        if member.agent is not None:
            member.agent.kill()
            member.agent = None

    def cut(self, name: str) -> None:
        proxy = self.members[name].proxy
        assert proxy is not None, f"{name} has no parent"
        proxy.cut()

    def restore(self, name: str) -> None:
        proxy = self.members[name].proxy
        assert proxy is not None
        proxy.restore()

    def agent_log(self, name: str, lines: int = 40) -> str:
        agent = self.members[name].agent
        return agent.tail(lines) if agent else "(agent not running)"

    def destroy(self) -> None:
        for member in self.members.values():
            if member.agent is not None:
                member.agent.stop()
            if member.proxy is not None:
                member.proxy.close()
        for member in self.members.values():
            member.cluster.destroy()


def start_tree(
    root: Path,
    parents: dict[str, str | None],
    *,
    labels: dict[str, dict[str, str]] | None = None,
    workloads: tuple[str, ...] = (),
    agent_settings: dict[str, Any] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    tied: bool = True,
    relays: bool | str = True,
    policies: dict[str, dict[str, Any]] | None = None,
    real_nodes: tuple[str, ...] = (),
) -> FornaxTree:
    """Start the clusters of ``parents`` (name -> parent name), link them, start every agent.

    Clusters in ``workloads`` also run controller-manager, scheduler and kwok nodes, so their
    Deployments and Jobs really become ready. Clusters in ``real_nodes`` run controller-manager
    and scheduler without kwok: the test attaches a real node (fornax_harness.node). ``policies`` are the clusters' Mission rights
    (the inventory's mission_policy; default the defaults, or a ``mission_policy`` in
    ``overrides``): their Pod Security admission level, their agent's RBAC and admission policy,
    and the agent's own check.
    """
    labels = labels or {}
    # A grant given as an agent setting is the cluster's grant too: API server and agent agree.
    policies = {
        **{n: o["mission_policy"] for n, o in (overrides or {}).items() if "mission_policy" in o},
        **(policies or {}),
    }
    specs = [
        ClusterSpec(
            n,
            controllers=n in workloads or n in real_nodes,
            kwok=n in workloads,
            mission_policy=policies.get(n),
        )
        for n in parents
    ]
    clusters = {c.name: c for c in start_clusters(specs, root, tied=tied)}
    try:
        members = {n: Member(clusters[n], parents[n], dict(labels.get(n, {}))) for n in parents}
        tree = FornaxTree(root, members, agent_settings, overrides, tied=tied, relays=relays)
        for name in parents:
            tree.start_agent(name)
    except BaseException:
        for cluster in clusters.values():
            cluster.destroy()
        raise
    return tree


def wait_for(probe: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``probe`` until it returns a truthy value; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:g} s waiting for {what}; last: {last!r}")
        time.sleep(interval)
