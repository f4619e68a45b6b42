# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The fornax layer: the acceptance scenarios of the original test plan, on the live tree.

Registration checks read EdgeClusters at each parent. Mission scenarios create a Mission at
the fleet's root, marked with the validation label and named after the run, check how it
flows down and how its states come back up, and delete it whatever happens. Which cluster a
placement selects, what a state string means and how states are keyed by path all come from
the domain library (placement, states); the expected picture is computed from the inventory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Optional

from ..fornax import names, placement, states
from ..fornax.cluster_view import heartbeat_age
from ..fornax.rollup import DEFAULT_MAX_PATHS
from ..k8s.client import KubeError
from ..k8s.yaml_support import safe_dump
from .base import CheckFailed, Validation

SHOWN = 8  # differences listed in one failure message


# -- registration ---------------------------------------------------------------------------------


def _edgecluster(v: Validation, at: str, name: str, p: dict) -> dict:
    return v.get_or_none(at, names.edgecluster_path(name), p) or {}


def registered(v: Validation, cluster: str, p: dict) -> str:
    parent = v.fleet[cluster].parent
    ec = _edgecluster(v, parent, cluster, p)
    if not ec:
        raise CheckFailed(f"{cluster} is not registered at its parent {parent}", [cluster])
    status = ec.get("status") or {}
    health = status.get("healthStatus") or "no health reported"
    if health != names.HEALTHY:
        why = f": {status['message']}" if status.get("message") else ""
        raise CheckFailed(f"{cluster} is {health} at its parent {parent}{why}", [cluster])
    age = heartbeat_age(status.get("lastHeartbeat"))
    if age is None or age > float(p["heartbeat_max_age"]):
        raise CheckFailed(
            f"{cluster}'s last heartbeat at {parent} is {status.get('lastHeartbeat')!r} "
            f"({age} s ago; heartbeat_max_age is {p['heartbeat_max_age']:g} s)",
            [cluster],
        )
    return f"{cluster} is healthy at {parent}, last heartbeat {age:g} s ago"


def _expected_subtree(v: Validation, cluster: str) -> dict:
    return {v.fleet.rel_path(name, cluster): names.HEALTHY for name in v.fleet.below(cluster)}


def _diff(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> tuple:
    """(lines, paths) where ``actual`` differs from ``expected``."""
    lines, paths = [], []
    for path in sorted(set(expected) | set(actual)):
        want, have = expected.get(path), actual.get(path)
        if want != have:
            paths.append(path)
            lines.append(
                f"{path}: {have if path in actual else 'missing'}"
                + (f" (want {want})" if path in expected else " (not in the inventory)")
            )
    return lines, paths


def _short(lines: list) -> str:
    more = f"; ... {len(lines) - SHOWN} more" if len(lines) > SHOWN else ""
    return "; ".join(lines[:SHOWN]) + more


def _cluster_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def subtree(v: Validation, cluster: str, p: dict) -> str:
    parent = v.fleet[cluster].parent
    status = _edgecluster(v, parent, cluster, p).get("status") or {}
    actual = status.get("subEdgeClusterStates") or {}
    expected = _expected_subtree(v, cluster)
    lines, paths = _diff(expected, actual)
    if lines:
        raise CheckFailed(
            f"{parent}'s view of {cluster}'s subtree differs from the inventory: {_short(lines)}",
            [_cluster_of(path) for path in paths] or [cluster],
        )
    return f"{parent} sees {cluster}'s subtree: {dict(actual) or 'no clusters below it'}"


def labels(v: Validation, cluster: str, p: dict) -> str:
    parent = v.fleet[cluster].parent
    ec = _edgecluster(v, parent, cluster, p)
    if not ec:
        raise CheckFailed(f"{cluster} is not registered at its parent {parent}", [cluster])
    have = (ec.get("metadata") or {}).get("labels") or {}
    wrong = [
        f"{key}={have.get(key)!r} (inventory: {value!r})"
        for key, value in v.fleet[cluster].labels.items()
        if have.get(key) != value
    ]
    distro = (ec.get("spec") or {}).get("kubeDistro")
    if distro != v.fleet[cluster].distro:
        wrong.append(f"kubeDistro={distro!r} (inventory: {v.fleet[cluster].distro!r})")
    if wrong:
        raise CheckFailed(f"EdgeCluster {cluster} at {parent}: {', '.join(wrong)}", [cluster])
    return f"{cluster} at {parent}: labels {v.fleet[cluster].labels or '{}'}, distro {distro}"


def root_view(v: Validation, p: dict) -> dict:
    """Every path below the root -> health, as the root's EdgeClusters say."""
    root = v.fleet.root
    view: dict = {}
    for ec in v.get(root, names.EDGECLUSTERS, p).get("items") or []:
        name = ec["metadata"]["name"]
        status = ec.get("status") or {}
        view[name] = status.get("healthStatus") or "no health reported"
        for path, health in (status.get("subEdgeClusterStates") or {}).items():
            view[states.join_path(name, path)] = health
    return view


def tree(v: Validation, _target: str, p: dict) -> str:
    root = v.fleet.root
    expected = _expected_subtree(v, root)
    view = root_view(v, p)
    lines, paths = _diff(expected, view)
    if lines:
        raise CheckFailed(
            f"the root {root} sees a tree that differs from the inventory: {_short(lines)}",
            [_cluster_of(path) for path in paths],
        )
    return f"the root {root} sees all {len(expected)} clusters below it healthy"


# -- Missions -------------------------------------------------------------------------------------


def pod_spec(p: dict, command: Optional[list] = None, restart: str = "Always") -> dict:
    """A pod that the Pod Security 'restricted' profile admits."""
    container: dict = {
        "name": "probe",
        "image": p["image"],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"memory": "32Mi"}},
    }
    if command:
        container["command"] = list(command)
    return {
        "restartPolicy": restart,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65535,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }


def deployment(v: Validation, name: str, p: dict, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": p["namespace"], "labels": v.marker()},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec(p)},
        },
    }


def job(v: Validation, name: str, p: dict) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": p["namespace"], "labels": v.marker()},
        "spec": {
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": pod_spec(p, ["/pause", "-v"], restart="Never"),
            },
        },
    }


def deployment_path(p: dict, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{p['namespace']}/deployments/{name}"


def job_path(p: dict, name: str) -> str:
    return f"/apis/batch/v1/namespaces/{p['namespace']}/jobs/{name}"


def mission_object(v: Validation, name: str, content: dict, where: Optional[dict] = None) -> dict:
    spec: dict = {"missionresource": safe_dump(content)}
    if where:
        spec["placement"] = where
    return {
        "apiVersion": names.API_VERSION,
        "kind": "Mission",
        "metadata": {"name": name, "labels": v.marker()},
        "spec": spec,
    }


def delete_mission(v: Validation, name: str, p: dict) -> None:
    root = v.fleet.root
    v.call(
        root, f"delete Mission {name}", lambda c: c.delete_if_exists(names.mission_path(name)), p
    )


@contextmanager
def mission(
    v: Validation, name: str, content: dict, p: dict, where: Optional[dict] = None
) -> Iterator[dict]:
    """Create a validation Mission at the root; delete it on the way out, whatever happened."""
    root = v.fleet.root
    obj = mission_object(v, name, content, where)
    v.call(root, f"create Mission {name}", lambda c: c.create(names.MISSIONS, obj), p)
    v.log(f"created Mission {name} at {root} (placement {where or 'all clusters'})")
    try:
        yield obj
    finally:
        try:
            delete_mission(v, name, p)
        except CheckFailed as exc:
            v.log(f"could not delete Mission {name} now ({exc}); the suite's clean-up retries")


def expected_states(
    v: Validation, where: Optional[dict], ready: str, top: Optional[str] = None
) -> dict:
    """State per path below ``top`` (default the root): ``ready`` where selected, else not match."""
    top = top or v.fleet.root
    out = {}
    for name in v.fleet.below(top):
        cluster = v.fleet[name]
        selected = placement.placement_matches(where, name, cluster.labels, cluster.distro)
        out[v.fleet.rel_path(name, top)] = ready if selected else states.NOT_MATCH
    return out


def _mission_at(v: Validation, cluster: str, name: str, p: dict) -> dict:
    return v.get_or_none(cluster, names.mission_path(name), p) or {}


def states_probe(v: Validation, at: str, name: str, expected: dict, p: dict) -> tuple:
    """(ok, detail, affects) of Mission ``name``'s states at ``at`` against ``expected``."""
    found = _mission_at(v, at, name, p)
    status = found.get("status") or {}
    actual = status.get("states") or {}
    if len(expected) > DEFAULT_MAX_PATHS:
        # Large subtrees are folded into counts: compare the summary instead of every path.
        summary = states.summarize(
            status.get("states") or {}, (status.get("subtreeSummaries") or {}).values()
        )
        want = states.summarize(expected)
        counted = (states.CLUSTERS, states.MATCHED, states.READY)
        ok = all(summary.get(k) == want.get(k) for k in counted)
        return ok, f"summary {summary}, want {want}", ()
    lines, paths = _diff(expected, actual)
    if lines:
        return False, f"at {at}: {_short(lines)}", [_cluster_of(path) for path in paths]
    lag = (found.get("metadata") or {}).get("generation"), status.get("observedGeneration")
    if lag[1] is not None and lag[0] is not None and int(lag[1]) < int(lag[0]):
        return False, f"at {at}: status is for generation {lag[1]} of {lag[0]}", ()
    return True, f"at {at}: {actual}", ()


def wait_states(v: Validation, name: str, expected: dict, p: dict, at: Optional[str] = None) -> str:
    at = at or v.fleet.root
    return v.wait(
        f"Mission {name}'s states at {at}",
        lambda: states_probe(v, at, name, expected, p),
        float(p["wait_timeout"]),
    )


def _exists(v: Validation, cluster: str, path: str, p: dict) -> bool:
    return v.get_or_none(cluster, path, p) is not None


def presence(v: Validation, path: str, want: Mapping[str, bool], p: dict) -> tuple:
    """(ok, detail, affects): does ``path`` exist exactly where ``want`` says?"""
    wrong = []
    for cluster, should in want.items():
        try:
            there = _exists(v, cluster, path, p)
        except CheckFailed as exc:
            wrong.append((cluster, f"{cluster}: {exc}"))
            continue
        if there != should:
            wrong.append((cluster, f"{cluster}: {'present' if there else 'missing'}"))
    if wrong:
        return False, f"{path}: {_short([w[1] for w in wrong])}", [w[0] for w in wrong]
    return True, f"{path}: as expected in {len(want)} clusters", ()


def wait_presence(v: Validation, path: str, want: Mapping[str, bool], p: dict, what: str) -> str:
    return v.wait(what, lambda: presence(v, path, want, p), float(p["wait_timeout"]))


def _matched(v: Validation, where: Optional[dict]) -> dict:
    """cluster -> selected, for every cluster of the fleet (the root runs nothing)."""
    found = {v.fleet.root: False}
    for name in v.fleet.below(v.fleet.root):
        cluster = v.fleet[name]
        found[name] = placement.placement_matches(where, name, cluster.labels, cluster.distro)
    return found


def _require_children(v: Validation) -> None:
    if not v.fleet.below(v.fleet.root):
        raise CheckFailed(f"the fleet has no cluster below its root {v.fleet.root}")


def to_all(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    name = v.object_name("all")
    with mission(v, name, deployment(v, name, p), p):
        wait_states(v, name, expected_states(v, None, "1/1"), p)
        wait_presence(v, deployment_path(p, name), _matched(v, None), p, "the Deployment")
    return f"{name}: ready in all {len(v.fleet.below(v.fleet.root))} clusters below the root"


def job_scenario(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    name = v.object_name("job")
    with mission(v, name, job(v, name, p), p):
        wait_presence(v, job_path(p, name), _matched(v, None), p, "the Job")
        wait_states(v, name, expected_states(v, None, states.COMPLETE), p)
    return f"{name}: the Job completed in every cluster below the root"


def _replicas(v: Validation, cluster: str, path: str, p: dict) -> Optional[int]:
    found = v.get_or_none(cluster, path, p)
    return None if found is None else int((found.get("spec") or {}).get("replicas", 1))


def _replicas_probe(v: Validation, path: str, count: int, p: dict) -> tuple:
    wrong = []
    for cluster in v.fleet.below(v.fleet.root):
        have = _replicas(v, cluster, path, p)
        if have != count:
            wrong.append((cluster, f"{cluster}: {have}"))
    if wrong:
        return (
            False,
            f"replicas (want {count}): {_short([w[1] for w in wrong])}",
            [w[0] for w in wrong],
        )
    return True, f"{count} replicas everywhere", ()


def update(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    name = v.object_name("update")
    path = deployment_path(p, name)
    with mission(v, name, deployment(v, name, p, 1), p):
        wait_states(v, name, expected_states(v, None, "1/1"), p)
        changed = {"spec": {"missionresource": safe_dump(deployment(v, name, p, 2))}}
        v.call(
            v.fleet.root,
            f"update Mission {name}",
            lambda c: c.patch(names.mission_path(name), changed),
            p,
        )
        v.wait(
            "2 replicas in every cluster",
            lambda: _replicas_probe(v, path, 2, p),
            float(p["wait_timeout"]),
        )
        wait_states(v, name, expected_states(v, None, "2/2"), p)
    return f"{name}: 1 -> 2 replicas reached every cluster, states 2/2"


def delete(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    name = v.object_name("delete")
    below = v.fleet.below(v.fleet.root)
    with mission(v, name, deployment(v, name, p), p):
        wait_states(v, name, expected_states(v, None, "1/1"), p)
        delete_mission(v, name, p)
        gone = {cluster: False for cluster in below}
        wait_presence(v, deployment_path(p, name), gone, p, "the Deployment gone everywhere")
        wait_presence(v, names.mission_path(name), gone, p, "the Mission's copies gone")
    return f"{name}: deleted at the root, gone from all {len(below)} clusters with its content"


def pick_named(v: Validation) -> str:
    """A cluster two or more levels down (through an intermediate layer) when there is one,
    preferring one with children of its own; else a child of the root."""
    below = v.fleet.below(v.fleet.root)
    deep = [n for n in below if v.fleet.depth(n) >= 2] or below
    inner = [n for n in deep if not v.fleet.is_leaf(n)]
    return (inner or deep)[0]


def pick_label(v: Validation) -> dict:
    """A label pair of the inventory that selects some clusters below the root but not all,
    preferring the fewest and deepest; else the built-in host name label of the deepest leaf."""
    below = v.fleet.below(v.fleet.root)
    best = None
    for name in below:
        for key, value in sorted(v.fleet[name].labels.items()):
            where = {"matchlabels": {key: value}}
            chosen = [n for n, hit in _matched(v, where).items() if hit]
            if 0 < len(chosen) < len(below):
                rank = (len(chosen), -max(v.fleet.depth(n) for n in chosen))
                if best is None or rank < best[0]:
                    best = (rank, where)
    if best is not None:
        return best[1]
    leaf = max(below, key=lambda n: (v.fleet.depth(n), n))
    return {"matchlabels": {placement.HOSTNAME_LABEL: leaf}}


def _placed(v: Validation, suffix: str, where: dict, p: dict, copies: bool) -> str:
    _require_children(v)
    name = v.object_name(suffix)
    matched = _matched(v, where)
    chosen = sorted(n for n, hit in matched.items() if hit)
    with mission(v, name, deployment(v, name, p), p, where):
        wait_states(v, name, expected_states(v, where, "1/1"), p)
        wait_presence(v, deployment_path(p, name), matched, p, f"the Deployment only in {chosen}")
        if copies:
            everywhere = {n: True for n in v.fleet.below(v.fleet.root)}
            wait_presence(
                v, names.mission_path(name), everywhere, p, "the Mission copied to every layer"
            )
    return f"{name}: placement {where} ran in {', '.join(chosen)} only"


def by_name(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    return _placed(v, "name", {"clusters": [{"name": pick_named(v)}]}, p, copies=True)


def by_label(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    return _placed(v, "label", pick_label(v), p, copies=False)


def rollup(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    name = v.object_name("rollup")
    layers = [n for n in v.fleet.names() if not v.fleet.is_leaf(n)]
    with mission(v, name, deployment(v, name, p), p):
        for layer in layers:
            expected = expected_states(v, None, "1/1", top=layer)
            wait_states(v, name, expected, p, at=layer)
            status = _mission_at(v, layer, name, p).get("status") or {}
            summary = status.get("summary") or {}
            want = states.summarize(expected)
            counted = (states.CLUSTERS, states.MATCHED, states.READY, states.FAILED)
            if any(summary.get(k) != want[k] for k in counted):
                raise CheckFailed(
                    f"Mission {name} at {layer}: summary {summary} does not count its states "
                    f"{want}",
                    [layer],
                )
    return f"{name}: every layer ({', '.join(layers)}) holds its subtree's states and counts"


def edgecluster_info(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    name = v.object_name("info")
    where = pick_label(v)
    matched = _matched(v, where)

    def probe() -> tuple:
        wrong = []
        for cluster in v.fleet.non_root():
            parent = v.fleet[cluster].parent
            status = _edgecluster(v, parent, cluster, p).get("status") or {}
            nodes = sorted(
                n["metadata"]["name"] for n in v.get(cluster, "/api/v1/nodes", p).get("items") or []
            )
            problems = []
            if name not in (status.get("receivedMissions") or []):
                problems.append("Mission not in receivedMissions")
            if (name in (status.get("activeMissions") or [])) != matched[cluster]:
                problems.append(
                    f"activeMissions {status.get('activeMissions')} (matched: {matched[cluster]})"
                )
            if sorted(status.get("nodes") or []) != nodes:
                problems.append(f"nodes {status.get('nodes')} (the cluster has {nodes})")
            if not status.get("lastHeartbeat") or status.get("healthStatus") != names.HEALTHY:
                problems.append(f"health {status.get('healthStatus')}")
            if problems:
                wrong.append((cluster, f"{cluster} at {parent}: {', '.join(problems)}"))
        if wrong:
            return False, _short([w[1] for w in wrong]), [w[0] for w in wrong]
        return True, "every EdgeCluster lists the Mission as received, matched where placed", ()

    with mission(v, name, deployment(v, name, p), p, where):
        wait_states(v, name, expected_states(v, where, "1/1"), p)
        v.wait("EdgeClusters report the Mission", probe, float(p["wait_timeout"]))
    chosen = sorted(n for n, hit in matched.items() if hit)
    return f"{name}: received by every cluster, matched by {chosen}"


def _drift(v: Validation, suffix: str, p: dict, change: tuple) -> str:
    """``change``: (how to disturb the content, how to tell it was restored, its name)."""
    disturb, restored, what = change
    _require_children(v)
    name = v.object_name(suffix)
    path = deployment_path(p, name)
    target = v.fleet.children(v.fleet.root)[0]
    with mission(v, name, deployment(v, name, p), p):
        wait_states(v, name, expected_states(v, None, "1/1"), p)
        before = v.get(target, path, p)
        v.call(target, f"{what} {path} by hand", lambda c: disturb(c, path), p)
        v.log(f"{what} the Deployment {name} in {target} by hand")
        v.wait(
            f"the Deployment in {target} restored",
            lambda: restored(v, target, path, before, p),
            float(p["wait_timeout"]),
        )
        wait_states(v, name, expected_states(v, None, "1/1"), p)
    return f"{name}: {what} in {target} by hand, the agent restored it"


def _recreated(v: Validation, target: str, path: str, before: dict, p: dict) -> tuple:
    found = v.get_or_none(target, path, p)
    if found is None:
        return False, "still missing", [target]
    same = found["metadata"]["uid"] == before["metadata"]["uid"]
    return (not same), ("still the old object" if same else "re-created"), [target]


def _rescaled(v: Validation, target: str, path: str, before: dict, p: dict) -> tuple:
    have = _replicas(v, target, path, p)
    want = int(before["spec"].get("replicas", 1))
    return have == want, f"{have} replicas (want {want})", [target]


def drift_deleted(v: Validation, _target: str, p: dict) -> str:
    return _drift(v, "drift-del", p, (lambda c, path: c.delete(path), _recreated, "deleted"))


def drift_scaled(v: Validation, _target: str, p: dict) -> str:
    def scale(client: Any, path: str) -> Any:
        return client.patch(path, {"spec": {"replicas": 3}})

    return _drift(v, "drift-scale", p, (scale, _rescaled, "scaled"))


# -- disruptive scenarios -------------------------------------------------------------------------


def pick_middle(v: Validation) -> str:
    """A cluster below the root with a subtree of its own, nearest the root (the plan's B)."""
    below = v.fleet.below(v.fleet.root)
    inner = [n for n in below if not v.fleet.is_leaf(n)]
    return min(inner or below, key=lambda n: (v.fleet.depth(n), n))


def pick_leaf(v: Validation) -> str:
    """The deepest leaf (the plan's D)."""
    below = v.fleet.below(v.fleet.root)
    return max(below, key=lambda n: (v.fleet.depth(n), v.fleet.is_leaf(n), n))


def _health_probe(v: Validation, cluster: str, want: str, p: dict, cleared: bool = False) -> tuple:
    parent = v.fleet[cluster].parent
    status = _edgecluster(v, parent, cluster, p).get("status") or {}
    health = status.get("healthStatus")
    subs = status.get("subEdgeClusterStates") or {}
    if health != want:
        return False, f"{cluster} is {health} at {parent}", [cluster]
    if cleared and subs:
        return False, f"{cluster}'s sub-clusters not cleared at {parent}: {subs}", [cluster]
    if want == names.HEALTHY:
        lines, paths = _diff(_expected_subtree(v, cluster), subs)
        if lines:
            return (
                False,
                f"{cluster}'s subtree at {parent}: {_short(lines)}",
                [_cluster_of(x) for x in paths],
            )
    return True, f"{cluster} {health} at {parent}", ()


def stop_agent(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    target = pick_middle(v)
    name = v.object_name("stop-agent")
    rel = v.fleet.rel_path(target, v.fleet.root)
    disconnect = float(p["disconnect_timeout"])
    with mission(v, name, deployment(v, name, p), p):
        wait_states(v, name, expected_states(v, None, "1/1"), p)
        with v.controller.disrupted(target, "agent", float(p["control_timeout"])):
            v.wait(
                f"{target} disconnected, sub-clusters cleared",
                lambda: _health_probe(v, target, names.DISCONNECTED, p, cleared=True),
                disconnect,
            )
            unreachable = {
                path: state
                for path, state in expected_states(v, None, "1/1").items()
                if not states.under(rel, path)
            }
            unreachable[rel] = states.UNREACHABLE
            wait_states(v, name, unreachable, p)
        v.wait(
            f"{target} healthy again with its subtree",
            lambda: _health_probe(v, target, names.HEALTHY, p),
            disconnect,
        )
        wait_states(v, name, expected_states(v, None, "1/1"), p)
    return (
        f"{target}'s agent stopped: disconnected at its parent, '{states.UNREACHABLE}' at the "
        "root; started again: healthy"
    )


def _while_cut_off(v: Validation, target: str, keep: str, p: dict) -> None:
    """With ``target``'s uplink cut: its subtree keeps ``keep`` and still sees its children."""
    v.wait(
        f"{target} disconnected",
        lambda: _health_probe(v, target, names.DISCONNECTED, p),
        float(p["disconnect_timeout"]),
    )
    inside = v.fleet.subtree(target)
    ok, detail, affects = presence(v, deployment_path(p, keep), {n: True for n in inside}, p)
    if not ok:
        raise CheckFailed(f"cut off, {target}'s subtree lost its content: {detail}", affects)
    if v.fleet.is_leaf(target):
        return
    for child in v.fleet.children(target):
        v.wait(
            f"{target} still sees {child}",
            lambda c=child: _health_probe(v, c, names.HEALTHY, p),
            float(p["wait_timeout"]),
        )
    wait_states(v, keep, expected_states(v, None, "1/1", top=target), p, at=target)


def _change_while_cut_off(v: Validation, target: str, missions: tuple, p: dict) -> None:
    """At the root: update ``keep``, create ``late``, delete ``drop``; none reaches ``target``."""
    keep, drop, late = missions
    changed = {"spec": {"missionresource": safe_dump(deployment(v, keep, p, 2))}}
    v.call(
        v.fleet.root,
        "change, create and delete Missions",
        lambda c: (
            c.patch(names.mission_path(keep), changed),
            c.create(names.MISSIONS, mission_object(v, late, deployment(v, late, p))),
            c.delete(names.mission_path(drop)),
        ),
        p,
    )
    time.sleep(min(3.0, float(p["wait_timeout"])))
    inside = v.fleet.subtree(target)
    leaked = [n for n in inside if _exists(v, n, names.mission_path(late), p)]
    if leaked:
        raise CheckFailed(
            f"a Mission created at the root reached {leaked} through a cut link", leaked
        )


def _converged_after_cut(v: Validation, missions: tuple, p: dict) -> None:
    """Once the link is back, every change made meanwhile arrives everywhere."""
    keep, drop, late = missions
    below = v.fleet.below(v.fleet.root)
    v.wait(
        f"{late} everywhere after the link returned",
        lambda: presence(v, deployment_path(p, late), {n: True for n in below}, p),
        float(p["wait_timeout"]),
    )
    wait_states(v, late, expected_states(v, None, "1/1"), p)
    v.wait(
        f"{keep} updated everywhere",
        lambda: _replicas_probe(v, deployment_path(p, keep), 2, p),
        float(p["wait_timeout"]),
    )
    wait_presence(
        v, deployment_path(p, drop), {n: False for n in below}, p, f"{drop} gone everywhere"
    )


def cut_uplink(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    target = pick_middle(v)
    missions = tuple(v.object_name(s) for s in ("cut-keep", "cut-drop", "cut-late"))
    keep, drop, late = missions
    with (
        mission(v, keep, deployment(v, keep, p, 1), p),
        mission(v, drop, deployment(v, drop, p), p),
    ):
        wait_states(v, keep, expected_states(v, None, "1/1"), p)
        wait_states(v, drop, expected_states(v, None, "1/1"), p)
        with v.controller.disrupted(target, "uplink", float(p["control_timeout"])):
            _while_cut_off(v, target, keep, p)
            _change_while_cut_off(v, target, missions, p)
        try:
            _converged_after_cut(v, missions, p)
        finally:
            delete_mission(v, late, p)
    return (
        f"{target} cut off kept its content and its subtree; Missions created, updated and "
        "deleted meanwhile arrived when the link returned"
    )


def stop_apiserver(v: Validation, _target: str, p: dict) -> str:
    _require_children(v)
    target = pick_leaf(v)
    parent = v.fleet[target].parent
    top = v.fleet.top_ancestor(target)
    rel = v.fleet.rel_path(target, top)
    disconnect = float(p["disconnect_timeout"])

    def seen_from_root(want: str) -> tuple:
        if top == target:
            return True, "its parent is the root", ()
        subs = (_edgecluster(v, v.fleet.root, top, p).get("status") or {}).get(
            "subEdgeClusterStates"
        ) or {}
        return (
            subs.get(rel) == want,
            f"the root's view of {top}: {rel} is {subs.get(rel)}",
            [target],
        )

    with v.controller.disrupted(target, "apiserver", float(p["control_timeout"])):
        v.wait(
            f"{target} unhealthy at {parent}",
            lambda: _health_probe(v, target, names.UNHEALTHY, p),
            disconnect,
        )
        v.wait(
            f"{target} unhealthy as the root sees it",
            lambda: seen_from_root(names.UNHEALTHY),
            disconnect,
        )

    def back() -> tuple:
        try:
            ready = v.client(target, p).request("GET", "/readyz") == "ok"
        except KubeError as exc:
            return False, f"{target}'s API server: {exc}", [target]
        return (
            ready and _health_probe(v, target, names.HEALTHY, p)[0],
            f"{target} ready and healthy",
            [target],
        )

    v.wait(f"{target} healthy again", back, disconnect)
    v.wait(
        f"{target} healthy as the root sees it", lambda: seen_from_root(names.HEALTHY), disconnect
    )
    return (
        f"{target}'s API server stopped: unhealthy at {parent} and at the root; started again: "
        "healthy"
    )


def leftovers(v: Validation, p: dict, run: Optional[str] = None) -> list:
    """Delete validation Missions at the root (of run ``run``, else of any run); their names."""
    root = v.fleet.root
    selector = f"{names.VALIDATION_LABEL}={run}" if run else names.VALIDATION_LABEL
    found = v.get(root, names.MISSIONS, p, labelSelector=selector).get("items") or []
    gone = []
    for item in found:
        name = item["metadata"]["name"]
        v.call(
            root,
            f"delete Mission {name}",
            lambda c, n=name: c.delete_if_exists(names.mission_path(n)),
            p,
        )
        gone.append(name)
    return gone
