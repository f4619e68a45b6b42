"""The real ``ansible-inventory`` command on the example hierarchies (subprocess, no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "inventories" / "examples"
TWO_LEVEL = EXAMPLES / "two-level.yml"
ABCD = EXAMPLES / "acceptance-abcd.yml"


def ansible_inventory(
    *args: str,
    enabled: str | None = None,
    fail_unparsed: bool = False,
    stock: Path | None = None,
    command: str = "ansible-inventory",
) -> subprocess.CompletedProcess:
    """Run ``command``; with ``stock`` (an empty ansible.cfg), under Ansible's defaults."""
    require(
        shutil.which(command) is not None,
        f"{command} on PATH",
        "run `source scripts/env.sh` after scripts/bootstrap.sh",
    )
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    if enabled:
        env["ANSIBLE_INVENTORY_ENABLED"] = enabled
    if stock is not None:
        stock.write_text("")
        env["ANSIBLE_CONFIG"] = str(stock)
    else:
        # Explicit either way: ansible.cfg at the repository root turns it on.
        env["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = "true" if fail_unparsed else "false"
    return subprocess.run(
        [command, *args],
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
    assert "clusters[3] (line 31): field 'name': 'D' is not a DNS-1123 label" in text


PLAY = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: {msg: hi}\n"


@pytest.mark.parametrize("command", ["ansible-inventory", "ansible-playbook"])
def test_a_broken_file_fails_under_a_stock_ansible_cfg(tmp_path, command):
    """No any_unparsed_is_failed, no enable_plugins: the file names the plugin, the plugin
    judges it, and the run stops with the error shown once."""
    source = broken_copy(tmp_path)
    args = ["-i", str(source)]
    if command == "ansible-playbook":
        (tmp_path / "play.yml").write_text(PLAY)
        args.append(str(tmp_path / "play.yml"))
    else:
        args.append("--list")
    done = ansible_inventory(*args, stock=tmp_path / "ansible.cfg", command=command)
    assert done.returncode != 0, done.stdout + done.stderr
    text = done.stdout + done.stderr
    assert text.count("'D' is not a DNS-1123 label") == 1, text
    assert f"{source}: invalid Fornax hierarchy" in text
    assert "clusters[3] (line " in text
    assert "Traceback" not in text and "hi" not in done.stdout


def hierarchy_file(tmp_path: Path, text: str, name: str = "tree.yml") -> Path:
    source = tmp_path / name
    source.write_text(text)
    return source


def fails_once(tmp_path: Path, source: Path, *expected: str) -> str:
    """The plugin enabled as docs/hierarchy.md recommends, Ansible's defaults otherwise."""
    done = ansible_inventory(
        "-i",
        str(source),
        "--graph",
        enabled="centaurus.fornax.hierarchy,auto,yaml,ini",
        stock=tmp_path / "ansible.cfg",
    )
    text = done.stdout + done.stderr
    assert done.returncode != 0, text
    assert "Traceback" not in text and "RecursionError" not in text, text
    for part in expected:
        assert text.count(part) == 1, f"{part!r} not once in:\n{text}"
    return text


def test_yaml_errors_name_the_file_and_the_line(tmp_path):
    source = hierarchy_file(tmp_path, "plugin: centaurus.fornax.hierarchy\nclusters: [\n")
    fails_once(tmp_path, source, f"{source}: not valid YAML at line 3, column 1")


def test_an_alias_bomb_fails_at_once(tmp_path):
    lines = ["plugin: centaurus.fornax.hierarchy", "defaults:", "  hostVars:"]
    lines.append('    a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
    for i in range(1, 9):
        lines.append(f"    a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]")
    lines.append("clusters: [{name: a, apiEndpoint: 'https://198.18.0.1:6443'}]")
    source = hierarchy_file(tmp_path, "\n".join(lines) + "\n")
    assert source.stat().st_size < 700
    fails_once(tmp_path, source, "aliases repeat more than", f"{source}: line 9, column")


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_a_thousand_nested_levels_fail_clearly(tmp_path, form):
    endpoint = '"apiEndpoint": "https://198.18.0.1:6443"'
    item = '{"name": "leaf", ' + endpoint + "}"
    for i in range(999, -1, -1):
        item = f'{{"name": "c{i}", {endpoint}, "children": [{item}]}}'
    text = '{"plugin": "centaurus.fornax.hierarchy", "clusters": [' + item + "]}"
    if form == "yaml":  # the same tree in block style
        text = "plugin: centaurus.fornax.hierarchy\nclusters:\n" + "".join(
            f"{'    ' * i}  - name: c{i}\n{'    ' * i}    children:\n" for i in range(1000)
        )
    source = hierarchy_file(tmp_path, text, f"deep.{form}")
    fails_once(tmp_path, source, "nested deeper than 200 levels", f"{source}: line ")


def test_deeper_than_the_tiers_names_the_entry(tmp_path):
    lines = ["plugin: centaurus.fornax.hierarchy", "clusters:"]
    for i in range(17):
        parent = f", parent: c{i - 1}" if i else ""
        lines.append(f"  - {{name: c{i}{parent}, apiEndpoint: 'https://198.18.0.1:6443'}}")
    source = hierarchy_file(tmp_path, "\n".join(lines) + "\n")
    fails_once(tmp_path, source, "clusters[16] 'c16' (line 19): tier 16")


def test_an_address_with_a_command_is_refused(tmp_path):
    source = hierarchy_file(
        tmp_path,
        "plugin: centaurus.fornax.hierarchy\nclusters:\n  - name: a\n    hosts:\n"
        "      - {name: a-cp, roles: [control_plane], address: 'evil.example;id'}\n",
    )
    fails_once(
        tmp_path,
        source,
        "clusters[0] 'a'.hosts[0] 'a-cp' (line 5): field 'address': 'evil.example;id'",
    )


CONSTRUCTED = """\
plugin: centaurus.fornax.hierarchy
defaults:
  hostVars:
    ansible_connection: local
    ansible_python_interpreter: {python}
    command: !unsafe "{{{{ lookup('pipe', 'echo INJECTED') }}}}"
    plain: "{{{{ 40 + 2 }}}}"
clusters:
  - name: a
    hosts: [{{name: a-cp, roles: [control_plane], address: 127.0.0.1}}]
    children:
      - name: b
        labels: {{zone: west}}
        missionPolicy: {{podSecurity: restricted}}
        hosts: [{{name: b-cp, roles: [control_plane], address: 127.0.0.2}}]
keyed_groups:
  - {{key: fornax_cluster_labels, prefix: label}}
  - {{key: fornax_kube_distro, prefix: distro}}
compose:
  tier_name: "'tier-' ~ fornax_tier"
groups:
  leaves: fornax_children | length == 0
strict: true
"""


def test_constructed_options_and_unsafe_values(tmp_path):
    source = hierarchy_file(tmp_path, CONSTRUCTED.format(python=sys.executable))
    done = ansible_inventory("-i", str(source), "--list", stock=tmp_path / "ansible.cfg")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["label_zone_west"]["hosts"] == ["b-cp"]
    assert sorted(listing["distro_k8s"]["hosts"]) == ["a-cp", "b-cp"]
    assert listing["leaves"]["hosts"] == ["b-cp"]
    b_cp = listing["_meta"]["hostvars"]["b-cp"]
    assert b_cp["tier_name"] == "tier-1"
    assert b_cp["fornax_mission_policy"]["podSecurity"] == "restricted"
    assert b_cp["command"] == {"__ansible_unsafe": "{{ lookup('pipe', 'echo INJECTED') }}"}
    (tmp_path / "play.yml").write_text(
        "- hosts: b-cp\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug: {msg: '{{ command }} / {{ plain }} / {{ tier_name }}'}\n"
    )
    run = ansible_inventory(
        "-i",
        str(source),
        str(tmp_path / "play.yml"),
        stock=tmp_path / "ansible.cfg",
        command="ansible-playbook",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "{{ lookup('pipe', 'echo INJECTED') }} / 42 / tier-1" in run.stdout
    assert "INJECTED /" not in run.stdout.replace("'echo INJECTED'", "")


def test_a_yaml_inventory_naming_the_plugin_in_a_comment_is_left_to_others(tmp_path):
    source = hierarchy_file(
        tmp_path, "# see centaurus.fornax.hierarchy for trees\nall:\n  hosts:\n    h1:\n"
    )
    done = ansible_inventory("-i", str(source), "--list", fail_unparsed=True)
    assert done.returncode == 0, done.stderr
    assert "h1" in json.loads(done.stdout)["ungrouped"]["hosts"]
