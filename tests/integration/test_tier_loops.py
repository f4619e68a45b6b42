"""The playbooks' tier loops come from the inventory: a tree of 10 tiers (more than the 8 the
playbooks once listed by hand) is validated, rolled out, torn down and upgraded in tier order.

The hosts are loopback addresses with an SSH port nothing listens on (9): a connection is
refused at once, so each host fails at its first task that connects, and the order of those
failures is the order the playbook reaches the hosts. No other traffic is sent.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAIN = "abcdefghij"  # a (tier 0) -> b -> ... -> j (tier 9)
SIDE = "z"  # a second child of a (tier 1): breadth-first puts it before c, name order last


def tree() -> str:
    lines = [
        "plugin: centaurus.fornax.hierarchy",
        "defaults:",
        "  hostVars: {ansible_connection: ssh, ansible_user: nobody, ansible_port: 9}",
        "clusters:",
    ]
    names = [*CHAIN, SIDE]
    for index, name in enumerate(names):
        parent = "null" if name == "a" else ("a" if name == SIDE else CHAIN[index - 1])
        address = f"127.0.0.{20 + index}"
        lines += [
            f"  - name: {name}",
            f"    parent: {parent}",
            f"    hosts: [{{name: {name}-cp, roles: [control_plane], address: {address}}}]",
        ]
    return "\n".join(lines) + "\n"


def play(tmp_path: Path, book: str, *extra: str) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "tree.yml"
    inventory.write_text(tree())
    env = dict(
        os.environ,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_SSH_ARGS="-o ConnectTimeout=3",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_FORKS="11",
    )
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / book), *extra],
        # (an absolute `book` stays as it is)
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def unreachable_order(output: str) -> list[str]:
    """The clusters in the order their own host first failed to answer."""
    order: list[str] = []
    for found in re.findall(r"^(?:fatal|failed): \[(\w)-cp\].*UNREACHABLE", output, re.MULTILINE):
        if found not in order:
            order.append(found)
    return order


def test_site_loops_over_every_tier_of_the_tree(tmp_path):
    done = play(tmp_path, "site.yml", "-e", "fornax_connect_timeout=3")
    out = done.stdout
    assert "PLAY [Cascade, tier by tier from the root down]" in out, out[-3000:]
    tiers = [int(t) for t in re.findall(r"rollout_tier\.yml for .* => \(item=tier (\d+)\)", out)]
    assert tiers == list(range(10)), out[-3000:]
    assert "clusters not up:" in out  # the honest exit: no host answered
    assert done.returncode != 0


def test_teardown_goes_deepest_tier_first(tmp_path):
    done = play(tmp_path, "teardown.yml")
    order = unreachable_order(done.stdout)
    # b and z share tier 1: either may answer first
    assert order[:8] == ["j", "i", "h", "g", "f", "e", "d", "c"], done.stdout[-3000:]
    assert sorted(order[8:10]) == ["b", "z"], done.stdout[-3000:]
    assert order[10:] == ["a"], done.stdout[-3000:]
    assert done.returncode != 0


def test_upgrade_visits_the_tiers_in_order_one_cluster_at_a_time(tmp_path):
    # upgrade.yml's play: control_plane, serial 1, inventory order. Its batches, with a task
    # that needs no connection, are the order the upgrade takes.
    probe = tmp_path / "probe.yml"
    upgrade = (ROOT / "playbooks" / "upgrade.yml").read_text()
    play_keys = re.search(r"(?ms)^- name: Upgrade, one cluster.*?(?=^  tasks:)", upgrade)
    assert play_keys is not None
    probe.write_text(
        "---\n" + play_keys.group(0) + "  tasks:\n    - ansible.builtin.debug: {msg: batch}\n"
    )
    batches = play(tmp_path, str(probe))
    assert batches.returncode == 0, batches.stdout[-3000:]
    hosts = re.findall(r"^ok: \[(\w)-cp\]", batches.stdout, flags=re.MULTILINE)
    assert hosts == ["a", "b", "z", "c", "d", "e", "f", "g", "h", "i", "j"], batches.stdout
    # the real upgrade.yml starts with the root, alone, and stops at its failure (no artifacts)
    done = play(tmp_path, "upgrade.yml")
    upgrade_play = done.stdout.split("PLAY [Upgrade, one cluster at a time")[1]
    touched = re.findall(r"^(?:ok|changed|fatal|failed): \[(\w)-cp\]", upgrade_play, re.MULTILINE)
    assert set(touched) == {"a"}, done.stdout[-3000:]
    assert done.returncode != 0


def test_a_cluster_without_one_control_plane_host_stops_before_hosts(tmp_path):
    # z: a cluster brought along (no hosts, its API endpoint given): valid, not for site.yml
    inventory = re.sub(r"hosts: \[\{name: z-cp.*", "apiEndpoint: https://198.51.100.9:6443", tree())
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "tree.yml"
    path.write_text(inventory)
    done = subprocess.run(
        ["ansible-playbook", "-i", str(path), str(ROOT / "playbooks" / "site.yml")],
        cwd=ROOT,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert "cluster z has 0 control-plane hosts (none)" in done.stdout, done.stdout[-3000:]
    assert "PLAY [Control planes of every cluster]" not in done.stdout
