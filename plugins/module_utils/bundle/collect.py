# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Copying the parts of a bundle: checked binaries, the agent, the collection, the wheels.

Python 3.8-compatible.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tarfile

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout
from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.manifest import (
    BundleError,
    sha256_file,
)

AGENT_ARCHIVE = "fornax-agent.tar"


def read_sums(path):
    """A `sha256sum` output file as {file name: sha256}."""
    sums = {}
    try:
        with open(path) as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2:
                    sums[parts[1].lstrip("*")] = parts[0]
    except OSError as exc:
        raise BundleError("cannot read the checksums %s (%s)" % (path, exc.strerror))
    return sums


def copy_checked(src_dir, names, dest_dir):
    """Copy names from src_dir, each checked against src_dir's SHA256SUMS (or the parent's)."""
    sums_file = os.path.join(src_dir, layout.SUMS)
    if not os.path.isfile(sums_file):
        sums_file = os.path.join(os.path.dirname(os.path.abspath(src_dir)), layout.SUMS)
    sums = read_sums(sums_file)
    os.makedirs(dest_dir, exist_ok=True)
    for name in names:
        src = os.path.join(src_dir, name)
        if name not in sums:
            raise BundleError("%s: no sha256 in %s" % (src, sums_file))
        if not os.path.isfile(src):
            raise BundleError("%s is missing (expected sha256 %s)" % (src, sums[name]))
        got = sha256_file(src)
        if got != sums[name]:
            raise BundleError("%s: sha256 %s does not match %s (%s)" % (src, got, sums[name], sums_file))
        shutil.copy2(src, os.path.join(dest_dir, name))
    with open(os.path.join(dest_dir, layout.SUMS), "w") as handle:
        for name in sorted(names):
            handle.write("%s  %s\n" % (sums[name], name))


def _add_tree(tar, src, arcname):
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            path = os.path.join(folder, name)
            info = tar.gettarinfo(path, os.path.join(arcname, os.path.relpath(path, src)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(path, "rb") as handle:
                tar.addfile(info, handle)


def collect_agent(collection_root, dest_dir):
    """The agent as its hosts run it: the one place that says what the agent is made of.

    Today: agent/fornax_agent and the collection's module_utils in one reproducible tar (the
    layout roles/cascade unpacks). Change this function when the agent's packaging changes.
    """
    os.makedirs(dest_dir, exist_ok=True)
    out = os.path.join(dest_dir, AGENT_ARCHIVE)
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        _add_tree(
            tar,
            os.path.join(collection_root, "plugins", "module_utils"),
            "ansible_collections/centaurus/fornax/plugins/module_utils",
        )
        _add_tree(tar, os.path.join(collection_root, "agent", "fornax_agent"), "fornax_agent")
    return [AGENT_ARCHIVE]


def copy_files(pattern, dest_dir, what):
    """Copy every file matching pattern; refuse an empty match naming what was looked for."""
    found = sorted(glob.glob(pattern))
    if not found:
        raise BundleError("no %s at %s" % (what, pattern))
    os.makedirs(dest_dir, exist_ok=True)
    for path in found:
        shutil.copy2(path, os.path.join(dest_dir, os.path.basename(path)))
    return [os.path.basename(p) for p in found]


def download_wheels(python, requirements, dest_dir):
    """pip download of the controller's requirements (wheels only, for this Python)."""
    os.makedirs(dest_dir, exist_ok=True)
    done = subprocess.run(
        [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--dest", dest_dir, "--requirement", requirements],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stdout.decode(errors="replace").strip().splitlines()[-5:]
        raise BundleError("pip download -r %s failed: %s" % (requirements, " | ".join(tail)))
    return sorted(os.listdir(dest_dir))


def tarball(root, out):
    """One uncompressed tar of the bundle directory (the binaries barely compress)."""
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(root, arcname=os.path.basename(os.path.normpath(root)))
    return os.path.getsize(out)


