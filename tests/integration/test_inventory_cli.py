"""The real ``ansible-inventory`` command on the example hierarchies (subprocess, no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "inventories" / "examples"
TWO_LEVEL = EXAMPLES / "two-level.yml"
ABCD = EXAMPLES / "acceptance-abcd.yml"


def ansible_inventory(
    *args: str, enabled: str | None = None, fail_unparsed: bool = False
) -> subprocess.CompletedProcess:
    require(
        shutil.which("ansible-inventory") is not None,
        "ansible-inventory on PATH",
        "run `source scripts/env.sh` after scripts/bootstrap.sh",
    )
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    if enabled:
        env["ANSIBLE_INVENTORY_ENABLED"] = enabled
    # Explicit either way: ansible.cfg at the repository root turns it on.
    env["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = "true" if fail_unparsed else "false"
    return subprocess.run(
        ["ansible-inventory", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        cwd=ROOT,
    )


def graph_of(source: Path) -> list[str]:
    done = ansible_inventory("-i", str(source), "--graph")
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_graph_draws_the_four_level_tree():
    lines = graph_of(ABCD)
    start = lines.index("  |--@subtree_a:")
    assert lines[start : start + 15] == [
        "  |--@subtree_a:",
        "  |  |--@cluster_a:",
        "  |  |  |--a-cp-1",
        "  |  |  |--a-gw-1",
        "  |  |--@subtree_b:",
        "  |  |  |--@cluster_b:",
        "  |  |  |  |--b-cp-1",
        "  |  |  |  |--b-gw-1",
        "  |  |  |--@subtree_c:",
        "  |  |  |  |--@cluster_c:",
        "  |  |  |  |  |--c-cp-1",
        "  |  |  |  |--@subtree_d:",
        "  |  |  |  |  |--@cluster_d:",
        "  |  |  |  |  |  |--d-cp-1",
        "  |  |  |  |  |  |--d-node-1",
    ]
    for group in (
        "tier_0",
        "tier_1",
        "tier_2",
        "tier_3",
        "control_plane",
        "gateways",
        "edge_nodes",
    ):
        assert f"  |--@{group}:" in lines


def test_graph_of_one_subtree():
    done = ansible_inventory("-i", str(ABCD), "--graph", "subtree_c")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "@subtree_c:",
        "  |--@cluster_c:",
        "  |  |--c-cp-1",
        "  |--@subtree_d:",
        "  |  |--@cluster_d:",
        "  |  |  |--d-cp-1",
        "  |  |  |--d-node-1",
    ]


def test_graph_of_the_two_level_example():
    lines = graph_of(TWO_LEVEL)
    assert "  |  |--@subtree_edge_west:" in lines
    assert "  |  |--@subtree_edge_east:" in lines
    assert "  |  |  |  |--west-node-1" in lines


@pytest.mark.parametrize("enabled", [None, "centaurus.fornax.hierarchy,auto,yaml,ini"])
def test_list_has_groups_and_hostvars(enabled):
    done = ansible_inventory("-i", str(ABCD), "--list", enabled=enabled)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert sorted(listing["subtree_b"]["children"]) == ["cluster_b", "subtree_c"]
    assert sorted(listing["cluster_d"]["hosts"]) == ["d-cp-1", "d-node-1"]
    assert sorted(listing["tier_3"]["hosts"]) == ["d-cp-1", "d-node-1"]
    d_node = listing["_meta"]["hostvars"]["d-node-1"]
    assert d_node["fornax_path"] == "a/b/c/d"
    assert d_node["fornax_cluster_labels"] == {"company": "futurewei"}
    assert d_node["fornax_parent_api_endpoint"] == "https://198.18.2.10:6443"
    b_cp = listing["_meta"]["hostvars"]["b-cp-1"]
    assert b_cp["fornax_children"] == ["c"]
    assert b_cp["fornax_kube_distro"] == "k3s"
    assert b_cp["fornax_vpcs"][0]["remote"][0]["cluster"] == "a"


def test_list_is_the_same_on_every_run():
    first = ansible_inventory("-i", str(TWO_LEVEL), "--list")
    second = ansible_inventory("-i", str(TWO_LEVEL), "--list")
    assert first.returncode == second.returncode == 0
    assert json.loads(first.stdout) == json.loads(second.stdout)


def broken_copy(tmp_path: Path) -> Path:
    source = tmp_path / "broken.yml"
    source.write_text(ABCD.read_text().replace("name: d\n    parent: c", "name: D\n    parent: c"))
    return source


def test_invalid_file_fails_with_file_entry_and_reason(tmp_path):
    source = broken_copy(tmp_path)
    done = ansible_inventory(
        "-i",
        str(source),
        "--list",
        enabled="centaurus.fornax.hierarchy",
        fail_unparsed=True,
    )
    assert done.returncode != 0
    text = " ".join(done.stderr.split())
    assert str(source) in text
    assert "clusters[3]: field 'name': 'D' is not a DNS-1123 label" in text


def test_invalid_file_is_a_warning_without_fail_on_unparsed(tmp_path):
    """Ansible's default: a source that fails to parse is skipped with a warning."""
    done = ansible_inventory("-i", str(broken_copy(tmp_path)), "--list")
    text = " ".join(done.stderr.split())
    assert "'D' is not a DNS-1123 label" in text
    assert "No inventory was parsed" in text
