# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Debian packages for hosts without network: the dependency closure and a flat apt repository.

The closure is resolved by apt-get with a private state: the dpkg status it resolves against is
empty (a host with nothing installed, so every dependency is downloaded) or the status file of
the hosts' image, never this machine's own, whose installed set differs from a fresh host's.
The packages come from this machine's configured Debian sources. Python 3.8-compatible.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout
from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.manifest import BundleError



def apt_options(work, status_file):
    """apt-get options for a private state under work, resolving against status_file."""
    for sub in ("lists/partial", "archives/partial"):
        os.makedirs(os.path.join(work, sub), exist_ok=True)
    return [
        "-o", "Dir::State::status=%s" % status_file,
        "-o", "Dir::State::Lists=%s" % os.path.join(work, "lists"),
        "-o", "Dir::Cache=%s" % work,
        "-o", "Dir::Cache::archives=%s" % os.path.join(work, "archives"),
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Install-Recommends=false",
    ]


def _run(argv, what):
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = done.stdout.decode(errors="replace").strip().splitlines()[-8:]
        raise BundleError("%s failed (rc %d): %s" % (what, done.returncode, " | ".join(tail)))
    return done.stdout.decode(errors="replace")


def download_closure(packages, dest, work, base_status=None):
    """Download packages and every dependency a host with base_status lacks into dest."""
    os.makedirs(dest, exist_ok=True)
    if not packages:
        return []
    status = os.path.join(work, "status")
    if base_status:
        shutil.copyfile(base_status, status)
    else:
        open(status, "w").close()
    opts = apt_options(work, status)
    _run(["apt-get"] + opts + ["-qq", "update"], "apt-get update (for the bundle's packages)")
    _run(
        ["apt-get"] + opts + ["-y", "-qq", "--download-only", "install"] + list(packages),
        "apt-get download of %s" % " ".join(packages),
    )
    names = []
    for path in sorted(glob.glob(os.path.join(work, "archives", "*.deb"))):
        shutil.move(path, os.path.join(dest, os.path.basename(path)))
        names.append(os.path.basename(path))
    return names


def _stanza(path, rel):
    fields = _run(["dpkg-deb", "--field", path], "dpkg-deb --field %s" % rel).rstrip("\n")
    with open(path, "rb") as handle:
        data = handle.read()
    return "%s\nFilename: ./%s\nSize: %d\nSHA256: %s\n" % (
        fields,
        rel,
        len(data),
        hashlib.sha256(data).hexdigest(),
    )


def write_index(debs_dir):
    """Write the flat repository's Packages and Release for the .deb files in debs_dir."""
    stanzas = [_stanza(p, os.path.basename(p)) for p in sorted(glob.glob(os.path.join(debs_dir, "*.deb")))]
    index = "\n".join(stanzas)
    with open(os.path.join(debs_dir, layout.DEBS_INDEX), "w") as handle:
        handle.write(index)
    digest = hashlib.sha256(index.encode()).hexdigest()
    with open(os.path.join(debs_dir, layout.DEBS_RELEASE), "w") as handle:
        handle.write(
            "Origin: centaurus.fornax bundle\nLabel: fornax-bundle\nSHA256:\n %s %d %s\n"
            % (digest, len(index.encode()), layout.DEBS_INDEX)
        )
    return len(stanzas)
