"""site.yml's fail-fast checks: bad input stops the run before any host is touched.

The hosts of these inventories do not exist (TEST-NET addresses, ssh): reaching one would hang
or fail with a connection error, so a run that stops in the validation plays proves that no host
was contacted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
HOSTS_PLAY = "PLAY [Control planes of every cluster]"


def tree(extra_root_host: bool = False) -> str:
    second = (
        "\n      - {name: a-cp-2, roles: [control_plane], address: 198.51.100.11}"
        if extra_root_host
        else ""
    )
    return f"""plugin: centaurus.fornax.hierarchy
defaults:
  hostVars: {{ansible_connection: ssh, ansible_user: nobody}}
clusters:
  - name: a
    hosts:
      - {{name: a-cp-1, roles: [control_plane], address: 198.51.100.10}}{second}
    children:
      - name: b
        hosts:
          - {{name: b-cp-1, roles: [control_plane], address: 198.51.100.20}}
"""


def artifacts(directory: Path, corrupt: str | None = None, missing: str | None = None) -> Path:
    directory.mkdir()
    sums = []
    for name in COMPONENTS:
        content = f"binary {name}\n".encode()
        sums.append(f"{hashlib.sha256(content).hexdigest()}  {name}")
        if name == missing:
            continue
        (directory / name).write_bytes(content + (b"tampered" if name == corrupt else b""))
    (directory / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return directory


def site(inventory: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED="true", ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(ROOT / "playbooks/site.yml"),
            "-e",
            f"control_plane_pki_local_dir={tmp_path / 'pki'}",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def write_inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tree.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("corrupt", "missing", "expected"),
    [
        ("kube-apiserver", None, "kube-apiserver: sha256 "),
        (None, "kube-scheduler", "kube-scheduler is missing"),
    ],
)
def test_bad_artifact_names_file_and_hash(
    tmp_path: Path, corrupt: str | None, missing: str | None, expected: str
) -> None:
    bin_dir = artifacts(tmp_path / "bin", corrupt=corrupt, missing=missing)
    name = corrupt or missing
    want = hashlib.sha256(f"binary {name}\n".encode()).hexdigest()
    result = site(
        write_inventory(tmp_path, tree()),
        tmp_path,
        "-e",
        f"control_plane_artifacts_dir={bin_dir}",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert expected in output, output
    assert f"{bin_dir}/{name}" in output, output
    assert want in output, output  # the expected hash
    assert HOSTS_PLAY not in output, output  # no host was touched


def test_two_control_planes_in_a_cluster_stop_before_hosts(tmp_path: Path) -> None:
    bin_dir = artifacts(tmp_path / "bin")
    result = site(
        write_inventory(tmp_path, tree(extra_root_host=True)),
        tmp_path,
        "-e",
        f"control_plane_artifacts_dir={bin_dir}",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "cluster a has 2 control-plane hosts" in output, output
    assert HOSTS_PLAY not in output, output


def test_invalid_hierarchy_stops_before_hosts(tmp_path: Path) -> None:
    text = tree().replace("      - name: b\n", "      - name: a\n")  # a duplicate name
    result = site(write_inventory(tmp_path, text), tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "duplicate cluster name" in output, output
    assert HOSTS_PLAY not in output, output


def gateway_tree(divider: bool = True) -> str:
    """tree() with a gateway host in a and b and a VPC spanning them (b's divider optional)."""
    b_divider = ", divider: {address: 198.51.100.23, mac: '02:00:00:00:02:03'}" if divider else ""
    return (
        tree()
        .replace(
            "      - {name: a-cp-1, roles: [control_plane], address: 198.51.100.10}",
            "      - {name: a-cp-1, roles: [control_plane], address: 198.51.100.10}\n"
            "      - {name: a-gw-1, roles: [gateway], address: 198.51.100.12}\n"
            "    gateway: {wanAddress: 192.0.2.1, wanMac: '02:00:00:00:ff:01'}",
        )
        .replace(
            "          - {name: b-cp-1, roles: [control_plane], address: 198.51.100.20}",
            "          - {name: b-cp-1, roles: [control_plane], address: 198.51.100.20}\n"
            "          - {name: b-gw-1, roles: [gateway], address: 198.51.100.22}\n"
            "        gateway: {wanAddress: 192.0.2.2, wanMac: '02:00:00:00:ff:02'}",
        )
        .replace("  hostVars:", "  gateway: {lanInterface: eth0, wanInterface: eth1}\n  hostVars:")
        + "vpcs:\n  - name: blue\n    clusters:\n"
        "      - {cluster: a, subnets: [10.200.0.0/24],"
        " divider: {address: 198.51.100.13, mac: '02:00:00:00:01:03'}}\n"
        f"      - {{cluster: b, subnets: [10.200.1.0/24]{b_divider}}}\n"
    )


def test_gateway_the_role_could_not_configure_stops_before_hosts(tmp_path: Path) -> None:
    # site.yml applies the gateway role to the gateways hosts: a VPC spanning clusters without
    # its divider in b is stopped by validate_inventory.yml (fornax_rollout_problems).
    bin_dir = artifacts(tmp_path / "bin")
    result = site(
        write_inventory(tmp_path, gateway_tree(divider=False)),
        tmp_path,
        "-e",
        f"control_plane_artifacts_dir={bin_dir}",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert (
        "cluster b: gateway host b-gw-1: VPC blue spans clusters (a) but names no divider for VNI"
        in output
    ), output
    assert HOSTS_PLAY not in output, output


def test_missing_gateway_program_stops_before_hosts(tmp_path: Path) -> None:
    bin_dir = artifacts(tmp_path / "bin")
    empty = tmp_path / "no-objects"
    empty.mkdir()
    result = site(
        write_inventory(tmp_path, gateway_tree()),
        tmp_path,
        "-e",
        f"control_plane_artifacts_dir={bin_dir}",
        "-e",
        f"gateway_objects_src={empty}",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"{empty}/gateway.bpf.o does not exist on the controller" in output, output
    assert "make -C bpf" in output, output
    assert HOSTS_PLAY not in output, output
