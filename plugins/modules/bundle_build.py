#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Collect what a fleet needs into an offline bundle with a sha256 manifest."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_build
short_description: Build the offline bundle of a Fornax fleet
version_added: 0.2.0
description:
  - Collects exactly what the hosts of an inventory need to be installed with no network (see
    docs/bundle.md) into a directory - the Kubernetes and etcd binaries of its one version, the
    Debian packages of the prerequisites, node and gateway roles with their dependency closure, the
    node images, the XDP objects, the agent, the collection tarball and the controller's wheels -
    and writes C(MANIFEST.json) with the sha256 and size of every file (and C(SHA256SUMS)).
  - Runs on the machine that builds the bundle (connected to its Debian mirror and package index);
    the packages are those of that machine's Debian release and architecture.
  - Refuses a copied binary or image that does not match its source's C(SHA256SUMS).
author:
  - centaurus.fornax contributors (@centaurus-fornax)
options:
  dest:
    description:
      - The bundle directory; replaced when it holds a bundle, refused when it holds other files.
    type: path
    required: true
  hosts:
    description:
      - The inventory's hosts, C({name, roles, vars}) with the variables the plan reads
        (the C(centaurus.fornax.bundle_hosts) filter makes this list).
    type: list
    elements: dict
    required: true
  roles_dir:
    description: The collection's roles directory (their defaults fill in what a host does not set).
    type: path
    required: true
  collection_root:
    description: The collection's root (the agent is collected from it).
    type: path
    required: true
  k8s_bin_src:
    description:
      - Directory of the Kubernetes binaries, with a C(SHA256SUMS) in it or its parent;
        C({version}) in it stands for the inventory's Kubernetes version.
    type: path
    required: true
  images_src:
    description:
      - Directory of the node image archives with their C(SHA256SUMS) (needed when the fleet
        has nodes).
    type: path
    default: ""
  bpf_src:
    description: Directory of the compiled XDP objects (C(*.bpf.o)).
    type: path
    required: true
  collection_tarball:
    description: The collection artifact (C(make collection)).
    type: path
    required: true
  requirements:
    description:
      - The controller's requirements file; its wheels are downloaded with C(pip download).
    type: path
    required: true
  python:
    description:
      - The Python whose pip downloads the wheels (the controller's Python at the site must
        be the same version).
    type: str
    required: true
  apt_base_status:
    description:
      - A dpkg status file of the hosts' image; the packages it lists installed are left out.
        Empty resolves against a host with nothing installed (every dependency is taken).
    type: path
    default: ""
  tarball:
    description: Also write the bundle as this one (uncompressed) tar file.
    type: path
    default: ""
attributes:
  check_mode:
    description: Nothing is built in check mode.
    support: none
  diff_mode:
    description: No diff.
    support: none
"""

EXAMPLES = r"""
- name: Build the bundle of this inventory
  centaurus.fornax.bundle_build:
    dest: /srv/fornax-bundle
    hosts: "{{ hostvars | centaurus.fornax.bundle_hosts(groups['all']) }}"
    roles_dir: "{{ playbook_dir }}/../roles"
    collection_root: "{{ playbook_dir }}/.."
    k8s_bin_src: ~/.cache/fornax/k8s/v1.34.4/bin
    bpf_src: bpf/build
    collection_tarball: build/centaurus-fornax.tar.gz
    requirements: requirements.txt
    python: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
manifest_sha256:
  description:
    - The sha256 of C(MANIFEST.json); pin it with C(fornax_bundle_manifest_sha256) at the site.
  returned: success
  type: str
needs:
  description: What the fleet needs (kubernetes_version, binaries, packages, images, gateways).
  returned: success
  type: dict
files:
  description: Number of files in the bundle.
  returned: success
  type: int
bytes:
  description: Their total size.
  returned: success
  type: int
seconds:
  description: Seconds each part took to collect.
  returned: success
  type: dict
"""

import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import (
    collect,
    debs,
    layout,
    manifest,
    plan,
)

ARGS = dict(
    dest=dict(type="path", required=True),
    hosts=dict(type="list", elements="dict", required=True),
    roles_dir=dict(type="path", required=True),
    collection_root=dict(type="path", required=True),
    k8s_bin_src=dict(type="path", required=True),
    images_src=dict(type="path", default=""),
    bpf_src=dict(type="path", required=True),
    collection_tarball=dict(type="path", required=True),
    requirements=dict(type="path", required=True),
    python=dict(type="str", required=True),
    apt_base_status=dict(type="path", default=""),
    tarball=dict(type="path", default=""),
)


def _fresh_dest(dest: str) -> None:
    if os.path.isdir(dest) and os.listdir(dest):
        if not os.path.isfile(os.path.join(dest, layout.MANIFEST)):
            raise manifest.BundleError(
                f"{dest} is not empty and holds no {layout.MANIFEST}: refusing to replace it"
            )
        shutil.rmtree(dest)
    os.makedirs(dest, exist_ok=True)


def _arch() -> str:
    """The Debian architecture of the packages (the build machine's), else the machine's."""
    try:
        return debs.run(["dpkg", "--print-architecture"], "dpkg --print-architecture").strip()
    except (manifest.BundleError, OSError):
        return platform.machine()


def _distro() -> str:
    try:
        with open("/etc/os-release") as handle:
            fields = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
    except OSError:
        return ""
    return fields.get("VERSION_CODENAME", "").strip('"')


def _collect(p: dict[str, Any], needs: dict[str, Any], work: str) -> tuple[dict, dict]:
    """Each part into its directory; returns (contents, seconds per part)."""
    contents: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}

    def part(name: str, subdir: str, func: Callable[[str], list[str]]) -> None:
        started = time.monotonic()
        contents[name] = func(os.path.join(p["dest"], subdir))
        seconds[name] = round(time.monotonic() - started, 1)

    k8s_src = p["k8s_bin_src"].replace("{version}", needs["kubernetes_version"])
    part("binaries", layout.K8S_BIN, lambda d: collect.copy_checked(k8s_src, needs["binaries"], d))
    part(
        "debs",
        layout.DEBS,
        lambda d: debs.download_closure(needs["packages"], d, work, p["apt_base_status"]),
    )
    debs.write_index(os.path.join(p["dest"], layout.DEBS))
    contents["packages"] = needs["packages"]
    if needs["images"]:
        if not p["images_src"]:
            raise manifest.BundleError("the fleet has nodes, so images_src is needed")
        part(
            "images",
            layout.IMAGES,
            lambda d: collect.copy_checked(p["images_src"], needs["images"], d),
        )
    contents["images"] = needs["images"]
    bpf = os.path.join(p["bpf_src"], "*.bpf.o")
    part("bpf", layout.BPF, lambda d: collect.copy_files(bpf, d, "XDP objects"))
    part("agent", layout.AGENT, lambda d: collect.collect_agent(p["collection_root"], d))
    tarball = p["collection_tarball"]
    part("collection", layout.COLLECTION, lambda d: collect.copy_files(tarball, d, "collection"))
    wheels = (p["python"], p["requirements"])
    part("wheels", layout.WHEELS, lambda d: collect.download_wheels(*wheels, d))
    return contents, seconds


def build(p: dict[str, Any]) -> dict[str, Any]:
    """Build the bundle of p (the module's parameters); return the module's result."""
    needs = plan.fleet_needs(p["hosts"], plan.role_defaults(p["roles_dir"]))
    if not needs["kubernetes_version"]:
        raise manifest.BundleError("no host of the inventory needs Kubernetes: nothing to bundle")
    _fresh_dest(p["dest"])
    work = tempfile.mkdtemp(prefix="fornax-bundle-apt-")
    try:
        contents, seconds = _collect(p, needs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {
        "kubernetes_version": needs["kubernetes_version"],
        "arch": _arch(),
        "distro": _distro(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "contents": contents,
    }
    made = manifest.build(p["dest"], meta)
    digest = manifest.write(p["dest"], made)
    size = sum(f["size"] for f in made["files"].values())
    if p["tarball"]:
        started = time.monotonic()
        collect.tarball(p["dest"], p["tarball"])
        seconds["tarball"] = round(time.monotonic() - started, 1)
    return dict(
        changed=True,
        manifest_sha256=digest,
        needs=needs,
        files=len(made["files"]),
        bytes=size,
        seconds=seconds,
    )


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=False)
    try:
        result = build(module.params)
    except manifest.BundleError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
