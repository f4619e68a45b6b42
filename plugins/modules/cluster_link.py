#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Link a child cluster to its parent: least-privilege identity and a kubeconfig for its agent."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_link
short_description: Give a child Fornax cluster its least-privilege identity on the parent
version_added: 0.1.0
description:
  - Runs against the B(parent) cluster. Creates for child O(name) exactly the objects of
    C(docs/child-identity.md) (namespace C(fornax-system), service account C(child-<name>),
    an EdgeCluster stub, ClusterReport stubs C(<name>) and its shards C(<name>.0) to
    C(<name>.15), ClusterRole/Binding and Role/Binding
    C(fornax:child:<name>), and the shared ValidatingAdmissionPolicy C(fornax-child-tokens)
    with its binding and parameters), issues a bounded-lifetime token through the TokenRequest
    API and returns a kubeconfig the child's agent uses to reach the parent.
  - The child may read Missions, update its own EdgeCluster (and its status) and its own
    ClusterReports, and renew its own token. Nothing else. Its renewals are bounded by the
    admission policy - for its own service account only, the parent's own audiences, at most
    the tree's cap of 86400 s, and only until the link's horizon (O(link_ttl)) - and a later
    run re-makes the link (O(link_ttl)), so a stolen token cannot renew itself forever.
  - With O(dest), a token in that file that is bound to the current service account and has
    more than a third of its lifetime left is kept, so a second run changes nothing. Without
    O(dest), every run returns a freshly issued token (issuing one stores nothing on the
    server, so it does not count as a change).
  - O(state=absent) removes every object created for the child (the shared namespace stays)
    and the O(dest) file.
author:
  - centaurus.fornax contributors (@centaurus-fornax)
extends_documentation_fragment:
  - centaurus.fornax.k8s_auth
options:
  name:
    description: Name of the child cluster (a DNS-1123 label; a segment of Mission state paths).
    type: str
    required: true
  state:
    description: V(present) links the child, V(absent) removes its identity.
    type: str
    choices: [present, absent]
    default: present
  labels:
    description: Labels of the child's EdgeCluster stub (what Mission placement matches).
    type: dict
    default: {}
  kube_distro:
    description: Kubernetes distribution of the child (C(spec.kubeDistro) of its EdgeCluster).
    type: str
    choices: [k8s, k3s, arktos]
    default: k8s
  token_ttl:
    description:
      - Requested lifetime of the token, in seconds (from 600 to 86400, the cap of the tree's
        API servers). The agent renews it before two thirds of it have passed.
    type: int
    default: 86400
  link_ttl:
    description:
      - How long, in seconds, the child may go on renewing its own token after its link was
        made (the link's horizon); past it the child's renewals are refused and its last token
        ends within O(token_ttl).
      - A run once a third of O(link_ttl) has passed re-makes the link as O(revoke_previous)
        does (a new service account, so every earlier token dies, renewed ones included, a new
        token and a new horizon). A token stolen from the child is thus good until the next
        such run or the horizon, whichever comes first; run this module (site.yml) more often
        than every O(link_ttl), or the child is cut off.
    type: int
    default: 2592000
  rotate:
    description: Issue a new token even when the one in O(dest) is still good.
    type: bool
    default: false
  revoke_previous:
    description:
      - Re-create the service account before issuing the token, which invalidates every token
        issued before at once, renewed ones included (the API server may accept one for up to
        10 s more, from its authentication cache).
    type: bool
    default: false
  dest:
    description: Also write the kubeconfig to this file, with mode 0600.
    type: path
  api_server:
    description:
      - URL by which the child reaches this API server. Default the URL this task connects to.
    type: str
  api_ca_cert:
    description:
      - Path of the CA certificate the child should trust for O(api_server). Default the CA of
        this task's connection.
    type: path
  context_name:
    description: Name of the cluster, user and context in the returned kubeconfig.
    type: str
    default: fornax-parent
attributes:
  check_mode:
    description: Server dry run of every object; no token is issued and nothing is written.
    support: full
  diff_mode:
    description: Shows the link objects before and after, projected on the fields applied.
    support: full
  action_group:
    description: Use C(group/centaurus.fornax.k8s) in C(module_defaults) to set the connection.
    support: full
    membership: [centaurus.fornax.k8s]
notes:
  - The returned kubeconfig holds a secret token; use C(no_log) on the task or O(dest).
"""

EXAMPLES = r"""
- name: Link cluster b below the root; its agent gets /etc/fornax/parent.kubeconfig
  centaurus.fornax.cluster_link:
    kubeconfig: /etc/fornax/root-admin.kubeconfig
    name: b
    labels: {company: futurewei}
    kube_distro: k3s
    token_ttl: 86400
    api_server: https://10.0.0.1:6443
    dest: /etc/fornax/b-parent.kubeconfig
  no_log: true

- name: Link cluster c with a shorter horizon (the child's renewals stop a week after the last run)
  centaurus.fornax.cluster_link:
    kubeconfig: /etc/fornax/b-admin.kubeconfig
    name: c
    link_ttl: 604800
    dest: /etc/fornax/c-parent.kubeconfig
  no_log: true

- name: Rotate the token and revoke every earlier one
  centaurus.fornax.cluster_link:
    name: b
    rotate: true
    revoke_previous: true
    dest: /etc/fornax/b-parent.kubeconfig

- name: Unlink b
  centaurus.fornax.cluster_link:
    name: b
    state: absent
"""

RETURN = r"""
kubeconfig:
  description: Kubeconfig of the child's identity (parent CA inlined, bearer token). Secret.
  returned: state=present, not in check mode
  type: dict
token_expiration:
  description: When the token expires (RFC 3339), as the API server says.
  returned: when a token was issued
  type: str
  sample: "2026-11-23T09:00:00Z"
token_issued:
  description: Whether this run issued a new token (false when the one in O(dest) was kept).
  returned: state=present
  type: bool
link_horizon:
  description: Until when (RFC 3339) the child may renew its token without another run.
  returned: state=present
  type: str
  sample: "2026-12-22T09:00:00Z"
objects:
  description: The objects of the link and whether each changed.
  returned: always
  type: list
  elements: dict
  sample: [{object: ServiceAccount/fornax-system/child-b, changed: true}]
removed:
  description: Objects removed (state=absent).
  returned: state=absent
  type: list
  elements: str
dest:
  description: The file the kubeconfig was written to.
  returned: when O(dest) is set
  type: str
"""

import os

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    child_link,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.args_common import (
    STATE_SPEC,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import KubeConfigError
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    read_kubeconfig_file,
    write_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.runner import (
    k8s_module,
    run_module,
)

OWN_OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": STATE_SPEC,
    "labels": {"type": "dict", "default": {}},
    "kube_distro": {"type": "str", "choices": list(child_link.DISTROS), "default": "k8s"},
    "token_ttl": {"type": "int", "default": child_link.DEFAULT_TOKEN_TTL, "no_log": False},
    "link_ttl": {"type": "int", "default": child_link.DEFAULT_LINK_TTL},
    "rotate": {"type": "bool", "default": False},
    "revoke_previous": {"type": "bool", "default": False},
    "dest": {"type": "path"},
    "api_server": {"type": "str"},
    "api_ca_cert": {"type": "path"},
    "context_name": {"type": "str", "default": child_link.DEFAULT_CONTEXT},
}


def read_existing(path):  # noqa: ANN001, ANN201 - path or None -> dict or None
    if not path or not os.path.exists(path):
        return None
    try:
        return read_kubeconfig_file(path)
    except (KubeConfigError, OSError):
        return None  # unreadable or garbled: replaced by a fresh one


def read_ca(path):  # noqa: ANN001, ANN201 - path or None -> bytes or None
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise child_link.LinkError(f"api_ca_cert: cannot read {path!r}: {exc.strerror}") from exc


def token_for(module, client, link: dict) -> tuple:  # noqa: ANN001
    """Keep the token in dest, or issue one (not in check mode).

    ``link`` holds server, ca, remake and account_changed. The answer: (the token's part of
    the result, the token, its audiences, whether this run counts a new token as a change).
    """
    p = module.params
    existing = read_existing(p["dest"])
    keep = (
        not p["rotate"]
        and not link["remake"]
        and existing is not None
        and not link["account_changed"]
        and child_link.token_reusable(client, p["name"], existing, link["server"], link["ca"])
    )
    issued = p["rotate"] or link["remake"]
    if keep:
        token = child_link.kubeconfig_token(existing) or ""
        audiences = child_link.token_claims(token).get("aud")
        return {"token_issued": False, "kubeconfig": existing}, token, audiences, issued
    if module.check_mode:
        return {"token_issued": False}, "", None, issued or bool(p["dest"])
    answer = child_link.request_token(client, p["name"], p["token_ttl"])
    token = answer["status"]["token"]
    config = child_link.child_kubeconfig(link["server"], link["ca"], token, p["context_name"])
    if p["dest"]:
        write_kubeconfig(p["dest"], config)
    part = {
        "kubeconfig": config,
        "token_expiration": answer["status"].get("expirationTimestamp"),
        "token_issued": True,
    }
    audiences = (answer.get("spec") or {}).get("audiences")
    return part, token, audiences, issued or bool(p["dest"])


def dest_mode_fixed(module) -> bool:  # noqa: ANN001
    """Whether dest's mode had to be set to 0600 (a change)."""
    dest = module.params["dest"]
    if module.check_mode or not dest or not os.path.exists(dest):
        return False
    if (os.stat(dest).st_mode & 0o777) == 0o600:
        return False
    os.chmod(dest, 0o600)
    return True


def changes_result(changes: list) -> dict:
    return {
        "objects": [{"object": c["object"], "changed": c["changed"]} for c in changes],
        "diff": {
            "before": {c["object"]: c["before"] for c in changes if c["changed"]},
            "after": {c["object"]: c["after"] for c in changes if c["changed"]},
        },
    }


def present(module, client) -> dict:  # noqa: ANN001 - KubeClient
    p = module.params
    check = module.check_mode
    server, ca = child_link.parent_endpoint(client, p["api_server"], read_ca(p["api_ca_cert"]))
    child_link.check_token_ttl(p["token_ttl"])
    child_link.check_link_ttl(p["link_ttl"])
    changes = child_link.ensure_link_objects(
        client, p["name"], p["labels"], p["kube_distro"], dry_run=check
    )
    account = child_link.describe(child_link.service_account_object(p["name"]))
    remake = p["revoke_previous"] or child_link.link_due(client, p["name"], p["link_ttl"]) is True
    if remake and not check:
        child_link.revoke_tokens(client, p["name"])
    link = {
        "server": server,
        "ca": ca,
        "remake": remake,
        "account_changed": any(c["changed"] for c in changes if c["object"] == account),
    }
    result, token, audiences, issued = token_for(module, client, link)
    bounds = child_link.ensure_token_bounds(
        client,
        p["name"],
        p["link_ttl"],
        audiences if isinstance(audiences, list) else None,
        new_horizon=remake,
        dry_run=check,
    )
    changes.append(bounds)
    if not check and child_link.policy_changed(changes):
        child_link.await_token_policy(client, p["name"], token, ca)
    result["link_horizon"] = (bounds["after"] or {}).get(
        child_link.horizon_key(p["name"])
    ) or child_link.link_horizon(client, p["name"])
    changed = issued or any(c["changed"] for c in changes)
    if p["dest"]:
        result["dest"] = p["dest"]
        changed = dest_mode_fixed(module) or changed
    result.update(changes_result(changes), changed=changed)
    return result


def absent(module, client) -> dict:  # noqa: ANN001 - AnsibleModule, KubeClient
    p = module.params
    removed = child_link.unlink_child(client, p["name"], dry_run=module.check_mode)
    changed = bool(removed)
    if p["dest"] and os.path.exists(p["dest"]):
        changed = True
        if not module.check_mode:
            os.unlink(p["dest"])
    return {
        "changed": changed,
        "removed": removed,
        "objects": [{"object": o, "changed": True} for o in removed],
        "diff": {
            "before": {o: "present" for o in removed},
            "after": {o: "absent" for o in removed},
        },
    }


def run(module, client) -> dict:  # noqa: ANN001 - KubeClient
    child_link.check_name(module.params["name"])
    return (
        present(module, client) if module.params["state"] == "present" else absent(module, client)
    )


def main() -> None:
    module = k8s_module(OWN_OPTIONS)
    run_module(module, run, f"cluster_link {module.params['name']}")


if __name__ == "__main__":
    main()
