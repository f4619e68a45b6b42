"""What a hostile test must leave alone, watched while it runs.

- the agents: the same processes at the end (no crash, no restart: systemd's Restart is never
  needed), and no unexpected exception in their logs since the start;
- the heartbeats: every child seen ``healthy`` at its parent on every poll, never
  ``disconnected``;
- another Mission: a bystander ConfigMap Mission to every cluster keeps its ``applied`` states
  at the root, and its objects are not rewritten (same resourceVersion).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from fornax_harness.manifests import mission
from fornax_harness.tree import FornaxTree, wait_for

LINKS = (("a", "b"), ("b", "c"), ("c", "d"))  # (parent, child)
PATHS = {"b": "b", "c": "b/c", "d": "b/c/d"}  # each child's state path at the root
APPLIED_EVERYWHERE = dict.fromkeys(PATHS.values(), "applied")
POLL = 0.2
# A fresh name per test: a name reused at once could show the previous Mission's states for a
# moment while its deletion is still on the way up.
SERIAL = itertools.count()


def bystander_content(name: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
        "data:\n  role: watches the hostile ones\n"
    )


def mission_states(fornax: FornaxTree, cluster: str, name: str) -> dict[str, str]:
    with fornax.client(cluster) as client:
        found = client.get_or_none(names.mission_path(name)) or {}
    return (found.get("status") or {}).get("states") or {}


class Bystanders:
    def __init__(self, fornax: FornaxTree) -> None:
        self.fornax = fornax
        self.pids = {n: m.agent.pid for n, m in fornax.members.items() if m.agent is not None}
        self.log_sizes = {n: self._log(n).stat().st_size for n in self.pids}
        self.name = f"bystander-{next(SERIAL)}"
        self.configmap = f"/api/v1/namespaces/default/configmaps/{self.name}"
        with fornax.client("a") as a:
            a.create(names.MISSIONS, mission(self.name, bystander_content(self.name)))
        wait_for(
            lambda: mission_states(fornax, "a", self.name) == APPLIED_EVERYWHERE,
            30,
            "the bystander Mission applied everywhere",
        )
        self.versions = self._versions()
        self.seen: Counter[tuple[str, str]] = Counter()  # (child, health) -> polls
        self.excused: set[str] = set()  # children a test stops on purpose
        self.bystander_seen: Counter[str] = Counter()
        self.polls = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="bystanders", daemon=True)
        self.thread.start()

    def _log(self, name: str) -> Path:
        return self.fornax.members[name].cluster.dir / "logs" / "agent.log"

    def _versions(self) -> dict[str, str]:
        found = {}
        for cluster in ("b", "c", "d"):
            with self.fornax.client(cluster) as client:
                found[cluster] = client.get(self.configmap)["metadata"]["resourceVersion"]
        return found

    def _watch(self) -> None:
        clients = {parent: self.fornax.client(parent) for parent, _child in LINKS}
        try:
            while not self.stop.wait(POLL):
                for parent, child in LINKS:
                    if child in self.excused:
                        continue
                    found = clients[parent].get_or_none(names.edgecluster_path(child)) or {}
                    health = (found.get("status") or {}).get("healthStatus") or "none"
                    self.seen[(child, health)] += 1
                found = clients["a"].get_or_none(names.mission_path(self.name)) or {}
                states = (found.get("status") or {}).get("states") or {}
                watched = {p: s for p, s in states.items() if not self._excused_path(p)}
                wanted = {p: s for p, s in APPLIED_EVERYWHERE.items() if not self._excused_path(p)}
                self.bystander_seen["applied" if watched == wanted else str(states)] += 1
                self.polls += 1
        finally:
            for client in clients.values():
                client.close()

    def _excused_path(self, path: str) -> bool:
        """True for the root's state paths at or below an excused child (b/c/d for d)."""
        return any(
            path == PATHS[child] or path.startswith(PATHS[child] + "/") for child in self.excused
        )

    def excuse(self, child: str) -> None:
        """The test stops ``child``'s agent on purpose: its heartbeat is not watched."""
        self.excused.add(child)

    def restarted(self, child: str) -> None:
        """The test restarted ``child``'s agent: watch the new process, and its heartbeat once
        it is healthy again."""
        agent = self.fornax.members[child].agent
        assert agent is not None
        self.pids[child] = agent.pid
        parent = dict((c, p) for p, c in LINKS)[child]
        # A heartbeat of the new process (stamped in a later second than now), not the last
        # one of the old process, which the parent may still show for a moment.
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        def beating() -> bool:
            with self.fornax.client(parent) as client:
                found = client.get_or_none(names.edgecluster_path(child)) or {}
            status = found.get("status") or {}
            return status.get("healthStatus") == "healthy" and status["lastHeartbeat"] > since

        wait_for(beating, 30, f"a heartbeat of the new agent of {child} at {parent}")
        # The parent may have timed the old process out just as the new one's first beat
        # arrived; the next beats settle that: watch again once they have.
        time.sleep(1.0)
        wait_for(beating, 30, f"{child} healthy at {parent} after its restart")
        wait_for(
            lambda: mission_states(self.fornax, "a", self.name) == APPLIED_EVERYWHERE,
            30,
            f"the bystander applied everywhere again after {child}'s restart",
        )
        self.excused.discard(child)

    def check(self) -> None:
        """Stop watching and assert that nothing was touched."""
        self.stop.set()
        self.thread.join(10)
        assert self.polls > 0, "the watch never polled"
        unhealthy = {k: v for k, v in self.seen.items() if k[1] != "healthy"}
        assert not unhealthy, f"a child was not healthy at its parent: {unhealthy}"
        assert set(self.bystander_seen) == {"applied"}, self.bystander_seen
        assert self._versions() == self.versions, "the bystander's objects were rewritten"
        for name, pid in self.pids.items():
            agent = self.fornax.members[name].agent
            assert agent is not None and agent.alive and agent.pid == pid, f"agent of {name}"
            with self._log(name).open("rb") as log:
                log.seek(self.log_sizes[name])
                new = log.read().decode(errors="replace")
            faults = [line for line in new.splitlines() if "fornax.agent.faults" in line]
            assert not faults, f"agent of {name} met exceptions it did not expect: {faults}"
        with self.fornax.client("a") as a:
            a.delete_if_exists(names.mission_path(self.name))


def wait_states(
    fornax: FornaxTree, name: str, expected: dict[str, str], timeout: float = 30
) -> dict[str, str]:
    """Wait until the root's states of ``name`` are ``expected`` (values ending in '...' match
    as prefixes)."""

    def matches() -> dict[str, str]:
        found = mission_states(fornax, "a", name)
        same = set(found) == set(expected) and all(
            found[p].startswith(w[:-3]) if w.endswith("...") else found[p] == w
            for p, w in expected.items()
        )
        if not same:
            raise ValueError(f"now {found}")
        return found

    return wait_for(matches, timeout, f"states of {name} at a matching {expected}")
