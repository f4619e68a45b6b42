#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Declare or remove an EdgeCluster (a child cluster as its parent sees it)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: edgecluster
short_description: Manage a Fornax EdgeCluster on its parent cluster
version_added: 0.1.0
description:
  - Applies an EdgeCluster (C(edgeclusters.kubeedge.io/v1)) server-side, with its labels (what
    Mission placement matches), its distribution and the path of its kubeconfig on its own
    host; or deletes it.
  - Usually C(centaurus.fornax.cluster_link) creates the EdgeCluster with the child's identity
    and the child's agent keeps its status; this module declares or corrects the spec and the
    labels. Status is never touched.
  - C(changed) and the diff compare only the fields this field manager applies, so a second
    run reports no change even while the agent updates the heartbeat.
author:
  - centaurus.fornax contributors (@centaurus-fornax)
extends_documentation_fragment:
  - centaurus.fornax.k8s_auth
options:
  name:
    description: Name of the cluster (a DNS-1123 label).
    type: str
    required: true
  state:
    description: V(present) applies it, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  labels:
    description: Labels of the cluster (C(metadata.labels)).
    type: dict
  kube_distro:
    description: Kubernetes distribution (C(spec.kubeDistro)).
    type: str
    choices: [k8s, k3s, arktos]
  cluster_kubeconfig:
    description: Path of the cluster's kubeconfig on its own host (C(spec.kubeconfig)).
    type: str
  field_manager:
    description: Field manager of the server-side apply.
    type: str
    default: centaurus.fornax
  force_conflicts:
    description:
      - Take over fields another field manager owns (for example labels set by
        C(centaurus.fornax.cluster_link)) instead of failing on the conflict.
    type: bool
    default: false
attributes:
  check_mode:
    description: Server dry run.
    support: full
  diff_mode:
    description: Before and after of the fields this field manager applies.
    support: full
  action_group:
    description: Use C(group/centaurus.fornax.k8s) in C(module_defaults) to set the connection.
    support: full
    membership: [centaurus.fornax.k8s]
"""

EXAMPLES = r"""
- name: Cluster d carries company=futurewei (placement by label selects it)
  centaurus.fornax.edgecluster:
    kubeconfig: /etc/fornax/c-admin.kubeconfig
    name: d
    labels: {company: futurewei}
    kube_distro: k3s
    cluster_kubeconfig: /etc/rancher/k3s/k3s.yaml

- name: Forget cluster d
  centaurus.fornax.edgecluster:
    name: d
    state: absent
"""

RETURN = r"""
edgecluster:
  description: The EdgeCluster as the API server returned it (the dry-run result in check mode).
  returned: state=present
  type: dict
"""

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.child_link import (
    DISTROS,
    check_name,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.names import (
    API_VERSION,
    edgecluster_path,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.args_common import (
    APPLY_ARG_SPEC,
    STATE_SPEC,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.runner import (
    k8s_module,
    object_service,
    run_module,
)

OWN_OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": STATE_SPEC,
    "labels": {"type": "dict"},
    "kube_distro": {"type": "str", "choices": list(DISTROS)},
    "cluster_kubeconfig": {"type": "str"},
    **APPLY_ARG_SPEC,
}


def desired(params: dict) -> dict:
    metadata: dict = {"name": params["name"]}
    if params["labels"] is not None:
        metadata["labels"] = {str(k): str(v) for k, v in params["labels"].items()}
    spec: dict = {}
    if params["kube_distro"]:
        spec["kubeDistro"] = params["kube_distro"]
    if params["cluster_kubeconfig"]:
        spec["kubeconfig"] = params["cluster_kubeconfig"]
    obj = {"apiVersion": API_VERSION, "kind": "EdgeCluster", "metadata": metadata}
    if spec:
        obj["spec"] = spec
    return obj


def run(module, client) -> dict:  # noqa: ANN001 - KubeClient
    p = module.params
    check_name(p["name"])
    path = edgecluster_path(p["name"])
    svc = object_service(module, client)
    if p["state"] == "absent":
        change = svc.absent(path)
        return {"changed": change.changed, "diff": change.diff}
    change = svc.present(path, desired(p))
    return {"changed": change.changed, "edgecluster": change.result, "diff": change.diff}


def main() -> None:
    module = k8s_module(OWN_OPTIONS)
    run_module(module, run, f"edgecluster {module.params['name']}")


if __name__ == "__main__":
    main()
