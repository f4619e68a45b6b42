# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Copying the parts of a bundle: checked binaries, the agent, the collection, the wheels."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tarfile

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout
from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.debs import run
from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.manifest import (
    BundleError,
    sha256_file,
)


def read_sums(path: str) -> dict[str, str]:
    """A `sha256sum` output file as {file name: sha256}."""
    sums = {}
    try:
        with open(path) as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2:
                    sums[parts[1].lstrip("*")] = parts[0]
    except OSError as exc:
        raise BundleError(f"cannot read the checksums {path} ({exc.strerror})") from None
    return sums


def copy_checked(src_dir: str, names: list[str], dest_dir: str) -> list[str]:
    """Copy names from src_dir, each checked against src_dir's SHA256SUMS (or the parent's)."""
    sums_file = os.path.join(src_dir, layout.SUMS)
    if not os.path.isfile(sums_file):
        sums_file = os.path.join(os.path.dirname(os.path.abspath(src_dir)), layout.SUMS)
    sums = read_sums(sums_file)
    os.makedirs(dest_dir, exist_ok=True)
    for name in names:
        src = os.path.join(src_dir, name)
        if name not in sums:
            raise BundleError(f"{src}: no sha256 in {sums_file}")
        if not os.path.isfile(src):
            raise BundleError(f"{src} is missing (expected sha256 {sums[name]})")
        got = sha256_file(src)
        if got != sums[name]:
            raise BundleError(f"{src}: sha256 {got} does not match {sums[name]} ({sums_file})")
        shutil.copy2(src, os.path.join(dest_dir, name))
    with open(os.path.join(dest_dir, layout.SUMS), "w") as handle:
        handle.writelines(f"{sums[name]}  {name}\n" for name in sorted(names))
    return sorted(names)


def _add_tree(tar: tarfile.TarFile, src: str, arcname: str) -> None:
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


def collect_agent(collection_root: str, dest_dir: str) -> list[str]:
    """The agent as its hosts run it: the one place that says what the agent is made of.

    The agent's wheel, built by the collection's own backend (agent/wheel_backend.py:
    standard library only, reproducible), the same wheel the cascade role builds and installs.
    """
    os.makedirs(dest_dir, exist_ok=True)
    backend = os.path.join(collection_root, "agent", "wheel_backend.py")
    output = run([sys.executable, backend, "--wheel-dir", dest_dir], "building the agent's wheel")
    try:
        wheel = json.loads(output.strip().splitlines()[-1])["wheel"]
    except (ValueError, KeyError, IndexError) as exc:
        raise BundleError(f"the agent's wheel build said something unexpected: {output!r}") from exc
    return [os.path.basename(wheel)]


def copy_files(pattern: str, dest_dir: str, what: str) -> list[str]:
    """Copy every file matching pattern; refuse an empty match naming what was looked for."""
    found = sorted(glob.glob(pattern))
    if not found:
        raise BundleError(f"no {what} at {pattern}")
    os.makedirs(dest_dir, exist_ok=True)
    for path in found:
        shutil.copy2(path, os.path.join(dest_dir, os.path.basename(path)))
    return [os.path.basename(p) for p in found]


def download_wheels(python: str, requirements: str, dest_dir: str) -> list[str]:
    """pip download of the controller's requirements (wheels only, for this Python)."""
    os.makedirs(dest_dir, exist_ok=True)
    argv = [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    argv += ["--only-binary=:all:", "--dest", dest_dir, "--requirement", requirements]
    run(argv, f"pip download -r {requirements}")
    return sorted(os.listdir(dest_dir))


def tarball(root: str, out: str) -> int:
    """One uncompressed tar of the bundle directory (the binaries barely compress)."""
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(root, arcname=os.path.basename(os.path.normpath(root)))
    return os.path.getsize(out)
