# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The bundle's manifest: the sha256 and size of every file, and what the bundle is for.

The manifest itself is the root of trust: `verify` refuses a file that is missing, changed or
not listed, and a bundle made for another Kubernetes version or lacking a part a fleet needs.
Python 3.8-compatible.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout

_CHUNK = 1 << 20


class BundleError(Exception):
    """A bundle that cannot be used; the message names every problem found."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(root):
    """Every regular file under root as a sorted relative POSIX path, the manifest left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            if rel not in (layout.MANIFEST, layout.SUMS):
                found.append(rel)
    return sorted(found)


def build(root, meta):
    """The manifest of the files now under root; meta says what the bundle is for."""
    files = {}
    for rel in list_files(root):
        path = os.path.join(root, rel)
        files[rel] = {"sha256": sha256_file(path), "size": os.path.getsize(path)}
    manifest = {"format": layout.MANIFEST_FORMAT, "files": files}
    manifest.update(meta)
    return manifest


def write(root, manifest):
    """Write MANIFEST.json and SHA256SUMS; return the manifest's own sha256."""
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    with open(os.path.join(root, layout.MANIFEST), "w") as handle:
        handle.write(text)
    with open(os.path.join(root, layout.SUMS), "w") as handle:
        for rel, entry in sorted(manifest["files"].items()):
            handle.write("%s  %s\n" % (entry["sha256"], rel))
    return hashlib.sha256(text.encode()).hexdigest()


def load(root, expected_sha256=None):
    path = os.path.join(root, layout.MANIFEST)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise BundleError("bundle %s: no manifest %s (%s)" % (root, layout.MANIFEST, exc.strerror))
    actual = hashlib.sha256(raw).hexdigest()
    if expected_sha256 and actual != expected_sha256:
        raise BundleError(
            "bundle %s: %s has sha256 %s, not the expected %s"
            % (root, layout.MANIFEST, actual, expected_sha256)
        )
    try:
        manifest = json.loads(raw.decode())
    except ValueError as exc:
        raise BundleError("bundle %s: %s is not JSON (%s)" % (root, layout.MANIFEST, exc))
    if not isinstance(manifest, dict) or manifest.get("format") != layout.MANIFEST_FORMAT:
        raise BundleError(
            "bundle %s: %s is not a manifest of format %d"
            % (root, layout.MANIFEST, layout.MANIFEST_FORMAT)
        )
    return manifest


def file_problems(root, manifest):
    """One message per missing, changed or unlisted file (each names the file)."""
    problems = []
    listed = manifest.get("files", {})
    for rel in sorted(listed):
        path = os.path.join(root, rel)
        want = listed[rel]["sha256"]
        if not os.path.isfile(path):
            problems.append("file %s is missing (expected sha256 %s)" % (rel, want))
            continue
        got = sha256_file(path)
        if got != want:
            problems.append("file %s has sha256 %s, the manifest says %s" % (rel, got, want))
    for rel in list_files(root):
        if rel not in listed:
            problems.append("file %s is not in the manifest" % rel)
    return problems


def need_problems(manifest, needs):
    """What a fleet needs (plan.Needs as a dict) that this bundle was not made with."""
    problems = []
    made_for = manifest.get("kubernetes_version")
    if needs.get("kubernetes_version") and made_for != needs["kubernetes_version"]:
        problems.append(
            "the bundle was built for Kubernetes %s, the inventory wants %s"
            % (made_for, needs["kubernetes_version"])
        )
    contents = manifest.get("contents", {})
    for kind, noun in (("binaries", "binary"), ("packages", "package"), ("images", "image")):
        have = set(contents.get(kind, []))
        for name in needs.get(kind, []):
            if name not in have:
                problems.append("%s %s is not in the bundle" % (noun, name))
    return problems


def verify(root, needs=None, expected_sha256=None):
    """Load and check the bundle at root; raise BundleError naming every problem."""
    manifest = load(root, expected_sha256)
    problems = file_problems(root, manifest) + need_problems(manifest, needs or {})
    if problems:
        raise BundleError("bundle %s refused: %s" % (root, "; ".join(problems)))
    return manifest
