"""Fleet records as the validate role builds them, for the validation unit tests."""

from __future__ import annotations


def member(cluster: str, parent: str | None, path: str, children: list[str], **extra) -> dict:
    record = {
        "host": extra.pop("host", f"{cluster}-cp"),
        "cluster": cluster,
        "parent": parent,
        "path": path,
        "tier": path.count("/"),
        "children": children,
        "labels": extra.pop("labels", {}),
        "distro": "k8s",
        "api_endpoint": f"https://198.18.0.{len(path)}:6443",
        "parent_api_endpoint": None,
        "gateway": None,
        "vpcs": [],
        "roles": extra.pop("roles", ["control_plane"]),
        "address": "198.18.0.1",
        "kubeconfig": f"/nowhere/{cluster}.kubeconfig",
        "controls": {},
        "audit": True,
    }
    record.update(extra)
    return record
