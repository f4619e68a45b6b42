"""Where the Go-built Kubernetes binaries are (scripts/k8s-binaries.sh builds and caches them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .process import HarnessError

REQUIRED = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def k8s_bin_dir() -> Path:
    """The cached binary directory, verified by the build script (sha256 of every binary)."""
    configured = os.environ.get("FORNAX_K8S_BIN")
    if configured and all((Path(configured) / b).is_file() for b in REQUIRED):
        return Path(configured)
    script = repo_root() / "scripts" / "k8s-binaries.sh"
    result = subprocess.run(
        ["bash", str(script), "--check"], capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise HarnessError(
            "the Kubernetes binaries are not built: run `bash scripts/k8s-binaries.sh` (needs Go "
            f"1.24+ and the Go module proxy) or `make deps`. {result.stderr.strip()}"
        )
    return Path(result.stdout.strip())


def binaries_available() -> bool:
    try:
        k8s_bin_dir()
    except HarnessError:
        return False
    return True
