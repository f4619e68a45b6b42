#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Check an offline bundle against its manifest and against what the fleet needs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_verify
short_description: Refuse a tampered, incomplete or foreign offline bundle
version_added: 0.2.0
description:
  - Reads the bundle's C(MANIFEST.json) (optionally pinned by its sha256) and checks every file
    against it - a missing file, a changed one and one the manifest does not list are each named -
    and that the bundle was built for the inventory's Kubernetes version and holds every binary,
    package and image the inventory's hosts need. All problems are reported at once.
  - Changes nothing. C(playbooks/site.yml) runs it on the controller before any host is touched
    when C(fornax_bundle) is set (docs/bundle.md).
author:
  - centaurus.fornax contributors (@centaurus-fornax)
options:
  path:
    description: The bundle directory on the controller.
    type: path
    required: true
  hosts:
    description: The inventory's hosts as the C(centaurus.fornax.bundle_hosts) filter lists them.
    type: list
    elements: dict
    default: []
  roles_dir:
    description: The collection's roles directory (their defaults fill in what a host does not set).
    type: path
    required: true
  manifest_sha256:
    description:
      - The sha256 the manifest must have (printed when the bundle was built); empty trusts it.
    type: str
    default: ""
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
"""

EXAMPLES = r"""
- name: Verify the bundle before any host is touched
  centaurus.fornax.bundle_verify:
    path: /media/usb/fornax-bundle
    hosts: "{{ hostvars | centaurus.fornax.bundle_hosts(groups['all']) }}"
    roles_dir: "{{ playbook_dir }}/../roles"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
paths:
  description: Controller path of each part of the bundle (k8s_bin, k8s_sums, debs, bpf, ...).
  returned: success
  type: dict
kubernetes_version:
  description: The Kubernetes version the bundle was built for.
  returned: success
  type: str
contents:
  description: What the bundle was built with (binaries, packages, images, ...).
  returned: success
  type: dict
needs:
  description: What the inventory's hosts need.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout, manifest, plan

ARGS = dict(
    path=dict(type="path", required=True),
    hosts=dict(type="list", elements="dict", default=[]),
    roles_dir=dict(type="path", required=True),
    manifest_sha256=dict(type="str", default=""),
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True)
    p = module.params
    try:
        needs = plan.fleet_needs(p["hosts"], plan.role_defaults(p["roles_dir"]))
        made = manifest.verify(p["path"], needs, p["manifest_sha256"] or None)
    except manifest.BundleError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=False,
        paths=layout.role_paths(p["path"]),
        kubernetes_version=made.get("kubernetes_version"),
        contents=made.get("contents", {}),
        needs=needs,
    )


if __name__ == "__main__":
    main()
