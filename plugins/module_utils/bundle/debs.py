# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Debian packages for hosts without network: the dependency closure and a flat apt repository.

The closure is resolved by apt-get with a private state: the dpkg status it resolves against is
empty (a host with nothing installed, so every dependency is downloaded) or the status file of
the hosts' image, never this machine's own, whose installed set differs from a fresh host's.
The packages come from this machine's configured Debian sources (its release and architecture).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from typing import Optional

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout
from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.manifest import BundleError


def apt_options(work: str, status_file: str) -> list[str]:
    """apt-get options for a private state under work, resolving against status_file."""
    for sub in ("lists/partial", "archives/partial"):
        os.makedirs(os.path.join(work, sub), exist_ok=True)
    settings = {
        "Dir::State::status": status_file,
        "Dir::State::Lists": os.path.join(work, "lists"),
        "Dir::Cache": work,
        "Dir::Cache::archives": os.path.join(work, "archives"),
        "Debug::NoLocking": "1",
        "APT::Install-Recommends": "false",
    }
    options = []
    for key, value in settings.items():
        options += ["-o", f"{key}={value}"]
    return options


def run(argv: list[str], what: str) -> str:
    """Run argv; on failure raise BundleError with what and the last lines of its output."""
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    output = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        tail = " | ".join(output.strip().splitlines()[-8:])
        raise BundleError(f"{what} failed (rc {done.returncode}): {tail}")
    return output


def download_closure(
    packages: list[str], dest: str, work: str, base_status: Optional[str] = None
) -> list[str]:
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
    run(["apt-get", *opts, "-qq", "update"], "apt-get update (for the bundle's packages)")
    run(
        ["apt-get", *opts, "-y", "-qq", "--download-only", "install", *packages],
        "apt-get download of " + " ".join(packages),
    )
    names = []
    for path in sorted(glob.glob(os.path.join(work, "archives", "*.deb"))):
        shutil.move(path, os.path.join(dest, os.path.basename(path)))
        names.append(os.path.basename(path))
    return names


def _stanza(path: str) -> str:
    name = os.path.basename(path)
    fields = run(["dpkg-deb", "--field", path], f"dpkg-deb --field {name}").rstrip("\n")
    with open(path, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    return f"{fields}\nFilename: ./{name}\nSize: {len(data)}\nSHA256: {digest}\n"


def write_index(debs_dir: str) -> int:
    """Write the flat repository's Packages and Release for the .deb files in debs_dir."""
    stanzas = [_stanza(p) for p in sorted(glob.glob(os.path.join(debs_dir, "*.deb")))]
    index = "\n".join(stanzas).encode()
    with open(os.path.join(debs_dir, layout.DEBS_INDEX), "wb") as handle:
        handle.write(index)
    digest = hashlib.sha256(index).hexdigest()
    with open(os.path.join(debs_dir, layout.DEBS_RELEASE), "w") as handle:
        handle.write(
            "Origin: centaurus.fornax bundle\nLabel: fornax-bundle\n"
            f"SHA256:\n {digest} {len(index)} {layout.DEBS_INDEX}\n"
        )
    return len(stanzas)
