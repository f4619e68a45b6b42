# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The network layer: XDP gateways as the inventory says, pod-to-pod across clusters.

The playbook runs the gateway role's own check (``roles/gateway/tasks/verify.yml``: the
``xdp_program`` and ``gateway`` modules in check mode with the inventory's values) on every
gateway host and leaves what they said as evidence; the tests here judge it. "Would change
nothing" is the definition of "attached and consistent": the same modules and the same values
that roll the gateway out decide it.
"""

from __future__ import annotations

from .base import CheckFailed, CheckSkipped, Validation
from .checks_security import evidence


def _gateway(v: Validation, host: str) -> dict:
    return evidence(v, "network", "xdp", host)


def programs_attached(v: Validation, host: str, _p: dict) -> str:
    found = _gateway(v, host)
    programs = found.get("programs") or []
    if not programs:
        raise CheckFailed(f"gateway {host}: no interface was checked", [v.cluster_of_host(host)])
    # In check mode xdp_program says whether attaching would change anything: unchanged means
    # the same program is attached in the same mode.
    wrong = [
        f"{item.get('interface')}: not attached, or another program or mode"
        for item in programs
        if item.get("changed") or not item.get("attached")
    ]
    if wrong:
        raise CheckFailed(f"gateway {host}: {'; '.join(wrong)}", [v.cluster_of_host(host)])
    interfaces = ", ".join(str(i.get("interface")) for i in programs)
    return f"gateway {host}: the gateway program is attached to {interfaces}"


def maps_consistent(v: Validation, host: str, _p: dict) -> str:
    found = _gateway(v, host)
    maps = found.get("maps") or {}
    if "changed" not in maps:
        raise CheckFailed(f"gateway {host}: the maps were not checked", [v.cluster_of_host(host)])
    if maps["changed"]:
        raise CheckFailed(
            f"gateway {host}: the maps differ from the inventory: {maps.get('diff') or '?'}",
            [v.cluster_of_host(host)],
        )
    return f"gateway {host}: peers, routes and VNI map as the inventory says"


def pod_to_pod(v: Validation, _target: str, _p: dict) -> str:
    gateways = {h.cluster for h in v.fleet.gateway_hosts()}
    shared = set()
    for name in gateways:
        for vpc in v.fleet[name].vpcs:
            if any(r.get("cluster") in gateways for r in vpc.get("remote") or []):
                shared.add(vpc.get("name"))
    if len(gateways) < 2:
        reason = f"{len(gateways)} cluster(s) have a gateway; traffic across clusters needs two"
    elif not shared:
        reason = "no VPC has subnets in two clusters with gateways"
    else:
        reason = (
            f"VPCs {', '.join(sorted(shared))} span gateways, but no network plugin of this "
            "collection attaches pods to VPC subnets yet, so there are no pods to send from"
        )
    raise CheckSkipped(f"not possible on this fleet yet: {reason}")
