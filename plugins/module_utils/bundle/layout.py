# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Where each part lives inside a bundle directory: the one place that names them."""

from __future__ import annotations

import os

MANIFEST = "MANIFEST.json"
# A `sha256sum -c` file of the same sums, for a look by hand at the air-gapped site.
SUMS = "SHA256SUMS"
MANIFEST_FORMAT = 1

# Directory of each part, relative to the bundle root.
K8S_BIN = "k8s/bin"
DEBS = "debs"
IMAGES = "images"
BPF = "bpf"
AGENT = "agent"
COLLECTION = "collection"
WHEELS = "wheels"

# The flat apt repository of DEBS: its index and release file.
DEBS_INDEX = "Packages"
DEBS_RELEASE = "Release"


def role_paths(root: str) -> dict[str, str]:
    """Controller paths of the parts, keyed by the name the playbooks give each one."""
    root = os.path.abspath(root)
    return {
        "k8s_bin": os.path.join(root, K8S_BIN),
        "k8s_sums": os.path.join(root, K8S_BIN, SUMS),
        "debs": os.path.join(root, DEBS),
        "images": os.path.join(root, IMAGES),
        "images_sums": os.path.join(root, IMAGES, SUMS),
        "bpf": os.path.join(root, BPF),
        "agent": os.path.join(root, AGENT),
        "collection": os.path.join(root, COLLECTION),
        "wheels": os.path.join(root, WHEELS),
    }
