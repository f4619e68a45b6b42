# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The bundle's manifest: the sha256 and size of every file, and what the bundle is for.

The manifest itself is the root of trust (pin its sha256 with fornax_bundle_manifest_sha256):
`verify` refuses a file that is missing, changed or not listed, and a bundle made for another
Kubernetes version or lacking a part a fleet needs, naming each.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Optional

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout

_CHUNK = 1 << 20
# What a fleet needs, by kind, and the word each problem names it with.
NEED_KINDS = (("binaries", "binary"), ("packages", "package"), ("images", "image"))


class BundleError(Exception):
    """A bundle that cannot be used; the message names every problem found."""


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(root: str) -> list[str]:
    """Every regular file under root as a sorted relative POSIX path, the manifest left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            if rel not in (layout.MANIFEST, layout.SUMS):
                found.append(rel)
    return sorted(found)


def build(root: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The manifest of the files now under root; meta says what the bundle is for."""
    files = {}
    for rel in list_files(root):
        path = os.path.join(root, rel)
        files[rel] = {"sha256": sha256_file(path), "size": os.path.getsize(path)}
    manifest: dict[str, Any] = {"format": layout.MANIFEST_FORMAT, "files": files}
    manifest.update(meta)
    return manifest


def write(root: str, manifest: dict[str, Any]) -> str:
    """Write MANIFEST.json and SHA256SUMS; return the manifest's own sha256."""
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    with open(os.path.join(root, layout.MANIFEST), "w") as handle:
        handle.write(text)
    with open(os.path.join(root, layout.SUMS), "w") as handle:
        for rel, entry in sorted(manifest["files"].items()):
            handle.write(f"{entry['sha256']}  {rel}\n")
    return hashlib.sha256(text.encode()).hexdigest()


def load(root: str, expected_sha256: Optional[str] = None) -> dict[str, Any]:
    path = os.path.join(root, layout.MANIFEST)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise BundleError(
            f"bundle {root}: no manifest {layout.MANIFEST} ({exc.strerror})"
        ) from None
    actual = hashlib.sha256(raw).hexdigest()
    if expected_sha256 and actual != expected_sha256:
        raise BundleError(
            f"bundle {root}: {layout.MANIFEST} has sha256 {actual}, not the expected "
            f"{expected_sha256}"
        )
    try:
        manifest = json.loads(raw.decode())
    except ValueError as exc:
        raise BundleError(f"bundle {root}: {layout.MANIFEST} is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != layout.MANIFEST_FORMAT:
        raise BundleError(
            f"bundle {root}: {layout.MANIFEST} is not a manifest of format {layout.MANIFEST_FORMAT}"
        )
    return manifest


def file_problems(root: str, manifest: dict[str, Any]) -> list[str]:
    """One message per missing, changed or unlisted file (each names the file)."""
    problems = []
    listed = manifest.get("files", {})
    for rel in sorted(listed):
        path = os.path.join(root, rel)
        want = listed[rel]["sha256"]
        if not os.path.isfile(path):
            problems.append(f"file {rel} is missing (expected sha256 {want})")
            continue
        got = sha256_file(path)
        if got != want:
            problems.append(f"file {rel} has sha256 {got}, the manifest says {want}")
    problems.extend(
        f"file {rel} is not in the manifest" for rel in list_files(root) if rel not in listed
    )
    return problems


def need_problems(manifest: dict[str, Any], needs: dict[str, Any]) -> list[str]:
    """What a fleet needs (plan.fleet_needs) that this bundle was not made with."""
    problems = []
    made_for = manifest.get("kubernetes_version")
    if needs.get("kubernetes_version") and made_for != needs["kubernetes_version"]:
        problems.append(
            f"the bundle was built for Kubernetes {made_for}, the inventory wants "
            f"{needs['kubernetes_version']}"
        )
    contents = manifest.get("contents", {})
    for kind, noun in NEED_KINDS:
        have = set(contents.get(kind, []))
        problems.extend(
            f"{noun} {name} is not in the bundle"
            for name in needs.get(kind, [])
            if name not in have
        )
    return problems


def verify(
    root: str, needs: Optional[dict[str, Any]] = None, expected_sha256: Optional[str] = None
) -> dict[str, Any]:
    """Load and check the bundle at root; raise BundleError naming every problem."""
    manifest = load(root, expected_sha256)
    problems = file_problems(root, manifest) + need_problems(manifest, needs or {})
    if problems:
        raise BundleError(f"bundle {root} refused: " + "; ".join(problems))
    return manifest
