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
    an EdgeCluster and a ClusterReport stub, ClusterRole/Binding and Role/Binding
    C(fornax:child:<name>)), issues a bounded-lifetime token through the TokenRequest API and
    returns a kubeconfig the child's agent uses to reach the parent.
  - The child may read Missions, update its own EdgeCluster (and its status) and its own
    ClusterReport, and renew its own token. Nothing else.
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
      - Requested lifetime of the token, in seconds (at least 600; the API server may shorten
        it). The agent renews it before two thirds of it have passed.
    type: int
    default: 86400
  rotate:
    description: Issue a new token even when the one in O(dest) is still good.
    type: bool
    default: false
  revoke_previous:
    description:
      - Re-create the service account before issuing the token, which invalidates every token
        issued before at once (the API server may accept one for up to about 10 s more, from
        its authentication cache).
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
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    child_link,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.ansible_module import (
    argument_spec,
    client_from_module,
    fail,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import (
    safe_dump,
    yaml,
)

OWN_OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "labels": {"type": "dict", "default": {}},
    "kube_distro": {"type": "str", "choices": list(child_link.DISTROS), "default": "k8s"},
    "token_ttl": {"type": "int", "default": child_link.DEFAULT_TOKEN_TTL, "no_log": False},
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
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return None  # unreadable or garbled: replaced by a fresh one
    return loaded if isinstance(loaded, dict) else None


def write_private(path: str, config: dict) -> None:
    """Write ``config`` to ``path`` atomically with mode 0600."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cluster_link-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(safe_dump(config))  # names such as 101 or on quoted for Go readers
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_ca(path):  # noqa: ANN001, ANN201 - path or None -> bytes or None
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise child_link.LinkError(f"api_ca_cert: cannot read {path!r}: {exc.strerror}") from exc


def present(module: AnsibleModule, client) -> dict:  # noqa: ANN001 - KubeClient
    p = module.params
    check = module.check_mode
    server, ca = child_link.parent_endpoint(client, p["api_server"], read_ca(p["api_ca_cert"]))
    if p["token_ttl"] < child_link.MIN_TOKEN_TTL:
        raise child_link.LinkError(
            f"token_ttl: {p['token_ttl']} must be >= {child_link.MIN_TOKEN_TTL} seconds"
        )
    changes = child_link.ensure_link_objects(
        client, p["name"], p["labels"], p["kube_distro"], dry_run=check
    )
    changed = any(c["changed"] for c in changes)
    existing = read_existing(p["dest"])
    if p["revoke_previous"]:
        changed = True
        if not check:
            child_link.revoke_tokens(client, p["name"])
    keep = (
        not p["rotate"]
        and not p["revoke_previous"]
        and existing is not None
        and not any(c["changed"] for c in changes[1:2])  # the service account is unchanged
        and child_link.token_reusable(client, p["name"], existing, server, ca)
    )
    result: dict = {"token_issued": False}
    if keep:
        result["kubeconfig"] = existing
    elif check:
        changed = changed or bool(p["dest"]) or p["rotate"]
    else:
        token, expires = child_link.issue_token(client, p["name"], p["token_ttl"])
        config = child_link.child_kubeconfig(server, ca, token, p["context_name"])
        result.update(kubeconfig=config, token_expiration=expires, token_issued=True)
        if p["dest"]:
            write_private(p["dest"], config)
        changed = changed or bool(p["dest"]) or p["rotate"]
    if p["dest"]:
        result["dest"] = p["dest"]
        if (
            not check
            and os.path.exists(p["dest"])
            and (os.stat(p["dest"]).st_mode & 0o777) != 0o600
        ):
            os.chmod(p["dest"], 0o600)
            changed = True
    result["objects"] = [{"object": c["object"], "changed": c["changed"]} for c in changes]
    result["changed"] = changed
    result["diff"] = {
        "before": {c["object"]: c["before"] for c in changes if c["changed"]},
        "after": {c["object"]: c["after"] for c in changes if c["changed"]},
    }
    return result


def absent(module: AnsibleModule, client) -> dict:  # noqa: ANN001 - KubeClient
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


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OWN_OPTIONS), supports_check_mode=True)
    client = client_from_module(module)
    try:
        child_link.check_name(module.params["name"])
        if module.params["state"] == "present":
            result = present(module, client)
        else:
            result = absent(module, client)
    except (KubeError, ValueError, OSError) as exc:
        fail(module, exc, f"cluster_link {module.params['name']}")
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
