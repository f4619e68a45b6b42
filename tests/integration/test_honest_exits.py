"""Honest exits: site, teardown and upgrade run their pre-flight checks and their verdict under
--limit too, and exit non-zero when a cluster they touched failed.

The hosts of this inventory are loopback addresses with an SSH port nothing listens on (9): a
connection is refused at once, which is how a cluster fails here. No other traffic is sent.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREE = """plugin: centaurus.fornax.hierarchy
defaults:
  hostVars: {ansible_connection: ssh, ansible_user: nobody, ansible_port: 9}
clusters:
  - name: a
    hosts:
      - {name: a-cp, roles: [control_plane], address: 127.0.0.10}
    children:
      - name: b
        hosts:
          - {name: b-cp, roles: [control_plane], address: 127.0.0.11}
        children:
          - name: c
            hosts:
              - {name: c-cp, roles: [control_plane], address: 127.0.0.12}
"""
PREFLIGHT = "TASK [Check that the hierarchy inventory was loaded]"


def play(tmp_path: Path, book: str, *extra: str) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "tree.yml"
    inventory.write_text(TREE)
    env = dict(
        os.environ,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_SSH_ARGS="-o ConnectTimeout=3",
        ANSIBLE_LOCALHOST_WARNING="false",
    )
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(ROOT / "playbooks" / book),
            "-e",
            "fornax_connect_timeout=3",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_site_with_limit_checks_first_and_fails_when_a_cluster_failed(tmp_path):
    done = play(tmp_path, "site.yml", "--limit", "subtree_b")
    out = done.stdout
    assert PREFLIGHT in out, out[-3000:]
    assert "clusters not up: b, c" in out, out[-3000:]
    assert "a-cp" not in out.split("PLAY [Control planes of every cluster]")[1]  # a: not touched
    assert done.returncode != 0


def test_a_failed_preflight_under_limit_stops_before_any_host(tmp_path):
    done = play(
        tmp_path,
        "site.yml",
        "--limit",
        "subtree_b",
        "-e",
        "control_plane_artifacts_dir=/nonexistent",
    )
    assert done.returncode != 0
    assert "Verify every artifact" in done.stdout
    assert "TASK [Wait for the host]" not in done.stdout, done.stdout[-3000:]


def test_teardown_and_upgrade_with_limit_exit_non_zero(tmp_path):
    for book in ("teardown.yml", "upgrade.yml"):
        done = play(tmp_path, book, "--limit", "subtree_c")
        assert PREFLIGHT in done.stdout, (book, done.stdout[-3000:])
        assert done.returncode != 0, (book, done.stdout[-3000:])
