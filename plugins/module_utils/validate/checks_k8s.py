# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The k8s layer: every control plane healthy, nodes and system pods, API versions, CRDs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..k8s.client import KubeApiError, KubeError, KubeUnreachable
from ..k8s.yaml_support import YamlLimitError, safe_load_all
from .base import CheckFailed, CheckSkipped, Validation

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# The parts of a CRD's spec that the collection defines (the API server adds defaults beside
# them, such as conversion and preserveUnknownFields, which are not compared).
CRD_VERSION_FIELDS = ("name", "served", "storage", "subresources", "schema",
                      "additionalPrinterColumns", "selectableFields")  # fmt: skip


def _health_text(v: Validation, cluster: str, path: str, p: dict) -> str:
    """The body of a health endpoint (``ok``), or a failure with the checks that failed."""
    try:
        body = v.client(cluster, p).request("GET", path, query={"verbose": "1"})
    except KubeUnreachable as exc:
        raise CheckFailed(f"cluster {cluster} is unreachable: {exc}", [cluster]) from exc
    except KubeApiError as exc:
        failing = [
            line.strip() for line in str(exc.body or exc.message).splitlines() if "[-]" in line
        ]
        raise CheckFailed(
            f"cluster {cluster}: {path} answered {exc.status}: {'; '.join(failing) or exc.message}",
            [cluster],
        ) from exc
    except KubeError as exc:
        raise CheckFailed(f"cluster {cluster}: {path}: {exc}", [cluster]) from exc
    return str(body or "")


def readyz(v: Validation, cluster: str, p: dict) -> str:
    text = _health_text(v, cluster, "/readyz", p)
    passed = [line for line in text.splitlines() if line.startswith("[+]")]
    return f"{cluster}: /readyz ok, {len(passed)} checks passed"


def etcd(v: Validation, cluster: str, p: dict) -> str:
    for path in ("/readyz/etcd", "/livez/etcd"):
        _health_text(v, cluster, path, p)
    return f"{cluster}: /readyz/etcd and /livez/etcd ok"


def _ready(conditions: Any) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions or [])


def nodes_ready(v: Validation, cluster: str, p: dict) -> str:
    items = v.get(cluster, "/api/v1/nodes", p).get("items") or []
    if not items:
        raise CheckSkipped(f"cluster {cluster} has no nodes (a cluster that only holds Missions)")
    names = sorted(n["metadata"]["name"] for n in items)
    not_ready = sorted(
        n["metadata"]["name"]
        for n in items
        if not _ready((n.get("status") or {}).get("conditions"))
    )
    if not_ready:
        raise CheckFailed(
            f"cluster {cluster}: nodes not Ready: {', '.join(not_ready)} (of {', '.join(names)})",
            [cluster],
        )
    return f"{cluster}: {len(names)} node(s) Ready: {', '.join(names)}"


def system_pods(v: Validation, cluster: str, p: dict) -> str:
    items = v.get(cluster, "/api/v1/namespaces/kube-system/pods", p).get("items") or []
    if not items:
        raise CheckSkipped(
            f"cluster {cluster} has no pods in kube-system (its control plane runs as host "
            "services)"
        )
    bad = []
    for pod in items:
        status = pod.get("status") or {}
        phase = status.get("phase")
        if phase == "Succeeded" or (phase == "Running" and _ready(status.get("conditions"))):
            continue
        bad.append(f"{pod['metadata']['name']} ({phase or 'no phase'})")
    if bad:
        raise CheckFailed(
            f"cluster {cluster}: system pods not running: {', '.join(bad)}", [cluster]
        )
    return f"{cluster}: {len(items)} system pod(s) running"


def parse_version(text: str) -> tuple:
    match = _VERSION.match(str(text or "").strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes version")
    return tuple(int(part or 0) for part in match.groups())


def server_version(v: Validation, cluster: str, p: dict) -> str:
    info = v.get(cluster, "/version", p)
    git = str((info or {}).get("gitVersion") or "")
    try:
        have = parse_version(git)
        least = parse_version(p["min_version"])
    except ValueError as exc:
        raise CheckFailed(f"cluster {cluster}: {exc}", [cluster]) from exc
    if have < least:
        raise CheckFailed(
            f"cluster {cluster} runs Kubernetes {git}, older than min_version {p['min_version']}",
            [cluster],
        )
    expected = str(p.get("expected_version") or "")
    if expected and git != expected and not git.startswith(expected + "+"):
        raise CheckFailed(
            f"cluster {cluster} runs Kubernetes {git}, expected_version is {expected}", [cluster]
        )
    return f"{cluster}: Kubernetes {git} ({info.get('platform', '?')})"


def served_group_versions(v: Validation, cluster: str, p: dict) -> set:
    served = {f"{gv}" for gv in (v.get(cluster, "/api", p) or {}).get("versions") or []}
    for group in (v.get(cluster, "/apis", p) or {}).get("groups") or []:
        for version in group.get("versions") or []:
            served.add(version.get("groupVersion"))
    return served


def api_groups(v: Validation, cluster: str, p: dict) -> str:
    served = served_group_versions(v, cluster, p)
    missing = [gv for gv in p["group_versions"] if gv not in served]
    if missing:
        raise CheckFailed(f"cluster {cluster} does not serve {', '.join(missing)}", [cluster])
    return f"{cluster}: serves {', '.join(p['group_versions'])}"


def shipped_crds(crds_dir: str) -> list:
    """The CRDs the collection ships (``crds/*.yaml``), by file name order."""
    if not crds_dir or not os.path.isdir(crds_dir):
        raise CheckFailed(f"the collection's CRD directory {crds_dir!r} does not exist")
    found = []
    for name in sorted(os.listdir(crds_dir)):
        if name.endswith((".yaml", ".yml")):
            path = os.path.join(crds_dir, name)
            with open(path, encoding="utf-8") as handle:
                try:
                    documents = safe_load_all(handle.read(), path)
                except YamlLimitError as exc:
                    raise CheckFailed(str(exc)) from exc
            found.extend(d for d in documents if isinstance(d, Mapping))
    return found


def crd_differences(shipped: Mapping[str, Any], live: Mapping[str, Any]) -> list:
    """What in ``live`` differs from the fields the collection defines in ``shipped``."""
    want, have = shipped.get("spec") or {}, live.get("spec") or {}
    diffs = []
    for field in ("group", "scope", "names"):
        wanted = want.get(field)
        got = have.get(field)
        if field == "names" and isinstance(got, Mapping):
            got = {k: got.get(k) for k in (wanted or {})}
        if wanted != got:
            diffs.append(f"spec.{field}: {got!r}, the collection ships {wanted!r}")
    live_versions = {ver.get("name"): ver for ver in have.get("versions") or []}
    for version in want.get("versions") or []:
        name = version.get("name")
        got = live_versions.get(name)
        if got is None:
            diffs.append(f"version {name} is missing")
            continue
        for field in CRD_VERSION_FIELDS:
            if field in version and version.get(field) != got.get(field):
                diffs.append(f"version {name}: {field} differs from the shipped CRD")
    extra = sorted(set(live_versions) - {ver.get("name") for ver in want.get("versions") or []})
    if extra:
        diffs.append(f"versions the collection does not ship: {', '.join(extra)}")
    return diffs


def crds(v: Validation, cluster: str, p: dict) -> str:
    problems = []
    names = []
    for crd in shipped_crds(v.crds_dir):
        name = crd["metadata"]["name"]
        names.append(name)
        live = v.get_or_none(cluster, f"{CRD_PATH}/{name}", p)
        if live is None:
            problems.append(f"{name} is not installed")
            continue
        conditions = {
            c.get("type"): c.get("status")
            for c in (live.get("status") or {}).get("conditions") or []
        }
        for wanted in ("Established", "NamesAccepted"):
            if conditions.get(wanted) != "True":
                problems.append(f"{name} is not {wanted}")
        problems.extend(f"{name}: {d}" for d in crd_differences(crd, live))
    if problems:
        raise CheckFailed(f"cluster {cluster}: {'; '.join(problems)}", [cluster])
    return f"{cluster}: {', '.join(names)} established and as shipped"
