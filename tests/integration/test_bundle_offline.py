"""An offline install from a real bundle: a podman host with no network and no apt sources.

1. `playbooks/bundle.yml` builds the bundle of a one-cluster inventory on this (connected)
   machine: the Kubernetes binaries from the build cache, the prerequisites and node packages
   with their Debian dependency closure, the XDP objects, the agent, the collection, the wheels.
2. A privileged systemd container from the project's base image, `--network none` (loopback
   only: no route anywhere) and with /etc/apt/sources.list* and the apt lists removed. Ansible
   reaches it with the podman connection (no network needed).
3. Tampering: one changed byte in a .deb, then a removed binary: site.yml fails naming the file
   and the host is untouched (no package, no file of any role).
4. site.yml with the bundle installs everything offline: the node packages from the bundle's
   repository, etcd and the control plane, the CRDs and the agent; the API server answers.

Real parts only; needs podman, the base image (scripts/podman-image.sh), the Kubernetes binaries
(scripts/k8s-binaries.sh) and the XDP objects (make -C bpf). Run it under
`flock /tmp/fornax-podman.lock`. Timings and sizes go to tests/output/bundle-offline.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
NAME = f"fornax-offline-{os.environ.get('FORNAX_TEST_ID', 'test')}-{os.getpid()}"
# The node packages: those of roles/containerd (installed here through prerequisites, which
# proves they install from the bundle alone).
# What the node role installs (roles/containerd/defaults/main.yml): the offline host gets it
# from the bundle's repository.
NODE_PACKAGES = yaml.safe_load((ROOT / "roles/containerd/defaults/main.yml").read_text())[
    "containerd_packages"
]
UNTOUCHED = (
    "test ! -e /etc/kubernetes && test ! -e /opt/fornax && test ! -e /etc/sysctl.d/90-fornax.conf"
)
RESULTS = ROOT / "tests/output/bundle-offline.json"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]


def sh(
    argv: list[str], env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def podman_env() -> dict[str, str]:
    conf = sh([str(ROOT / "scripts/podman-image.sh"), "conf"]).stdout.strip()
    return dict(os.environ, CONTAINERS_CONF=conf, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")


def in_host(env: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
    return sh(["podman", "exec", NAME, "sh", "-c", script], env=env, timeout=120)


def write_inventory(tmp: Path) -> Path:
    inv = tmp / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "offline.yml").write_text(
        f"""plugin: centaurus.fornax.hierarchy
defaults:
  hostVars:
    ansible_connection: containers.podman.podman
    ansible_python_interpreter: /usr/bin/python3
clusters:
  - name: offline
    apiEndpoint: https://127.0.0.1:6443
    hosts:
      - {{name: {NAME}, roles: [control_plane]}}
"""
    )
    (inv / "group_vars/all.yml").write_text(
        json.dumps(
            {
                "control_plane_pki_local_dir": str(tmp / "pki"),
                "cascade_bundle_dir": str(tmp / "build"),
                "prerequisites_build_dir": str(tmp / "build"),
                "prerequisites_extra_packages": NODE_PACKAGES,
            }
        )
    )
    return inv / "offline.yml"


def playbook(
    env: dict[str, str], inventory: Path, name: str, *extra: str
) -> tuple[int, str, float]:
    started = time.monotonic()
    done = sh(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / name), *extra],
        env=env,
        timeout=1800,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def start_host(env: dict[str, str], image: str) -> None:
    run = sh(
        [
            "podman",
            "run",
            "-d",
            "--name",
            NAME,
            "--privileged",
            "--systemd=always",
            "--network",
            "none",
            image,
            "/sbin/init",
        ],
        env=env,
    )
    assert run.returncode == 0, run.stderr
    for _attempt in range(60):
        state = in_host(env, "systemctl is-system-running || true").stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    cut = in_host(
        env, "rm -rf /etc/apt/sources.list /etc/apt/sources.list.d/* /var/lib/apt/lists/*"
    )
    assert cut.returncode == 0, cut.stderr
    routes = in_host(env, "ip route; ip -6 route | grep -v '^fe80'; true").stdout.strip()
    links = in_host(env, "ls /sys/class/net").stdout.split()
    assert routes == "" and links == ["lo"], (routes, links)  # no route out, loopback only


def tampered_run(env: dict[str, str], inventory: Path, bundle: Path, expected: str) -> None:
    rc, out, _err = playbook(env, inventory, "site.yml", "-e", f"fornax_bundle={bundle}")
    assert rc != 0 and expected in out, out[-4000:]
    assert "PLAY [Control planes of every cluster]" not in out, out[-4000:]
    untouched = in_host(env, UNTOUCHED + " && ! dpkg -s runc >/dev/null 2>&1")
    assert untouched.returncode == 0, "the host was changed by a refused run"


def prerequisites(env: dict[str, str]) -> str:
    require(shutil.which("podman") is not None, "podman", "make deps && scripts/podman-image.sh")
    require(
        sh([str(ROOT / "scripts/k8s-binaries.sh"), "--check"]).returncode == 0,
        "the Kubernetes binaries",
        "scripts/k8s-binaries.sh",
    )
    require((ROOT / "bpf/build/gateway.bpf.o").is_file(), "the XDP objects", "make -C bpf")
    image = sh([str(ROOT / "scripts/podman-image.sh"), "tag"]).stdout.strip()
    exists = sh(["podman", "image", "exists", image], env=env).returncode == 0
    require(exists, f"the base image {image}", "scripts/podman-image.sh ensure")
    return image


def build_bundle(env: dict[str, str], inventory: Path, tmp: Path) -> tuple[Path, float, int]:
    """playbooks/bundle.yml for ``inventory`` into ``tmp``/bundle: (bundle, seconds, bytes).
    Also what bench/groups/nodes.py measures."""
    built = sh([str(ROOT / "scripts/build-collection.sh"), str(tmp / "collection")])
    assert built.returncode == 0, built.stderr
    bundle = tmp / "bundle"
    rc, out, seconds = playbook(
        env,
        inventory,
        "bundle.yml",
        "-e",
        f"fornax_bundle_dest={bundle}",
        "-e",
        f"fornax_bundle_collection={tmp / 'collection/centaurus-fornax.tar.gz'}",
    )
    assert rc == 0, out[-4000:]
    return bundle, seconds, sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())


def test_offline_install_from_the_bundle(tmp_path: Path) -> None:
    env = podman_env()
    image = prerequisites(env)
    inventory = write_inventory(tmp_path)
    bundle, build_seconds, size = build_bundle(env, inventory, tmp_path)
    try:
        start_host(env, image)
        # A changed byte in a package of the closure, then a missing binary.
        deb = sorted((bundle / "debs").glob("runc_*.deb"))[0]
        original = deb.read_bytes()
        deb.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        tampered_run(env, inventory, bundle, f"file debs/{deb.name} has sha256")
        deb.write_bytes(original)
        binary = bundle / "k8s/bin/kube-scheduler"
        binary.rename(tmp_path / "kube-scheduler")
        tampered_run(env, inventory, bundle, "file k8s/bin/kube-scheduler is missing")
        (tmp_path / "kube-scheduler").rename(binary)

        rc, out, site_seconds = playbook(
            env, inventory, "site.yml", "-e", f"fornax_bundle={bundle}"
        )
        assert rc == 0, out[-6000:]
        checks = in_host(
            env,
            "dpkg -s " + " ".join(NODE_PACKAGES) + " >/dev/null"
            " && kubectl --kubeconfig /etc/kubernetes/admin.kubeconfig get --raw /readyz"
            " && systemctl is-active fornax-agent"
            " && test ! -e /var/cache/fornax-bundle"
            ' && test -z "$(ls /etc/apt/sources.list.d)" && test -z "$(ip route)"',
        )
        assert checks.returncode == 0, checks.stdout + checks.stderr
    finally:
        sh(["podman", "rm", "-f", "-t", "5", NAME], env=env)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "bundle_build_seconds": round(build_seconds, 1),
                "bundle_mb": round(size / 1048576, 1),
                "site_rollout_offline_seconds": round(site_seconds, 1),
            },
            indent=1,
        )
    )
