"""Run real ansible-playbook processes against the harness clusters and read their results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

API = "/apis/edgeclusters.kubeedge.io/v1"


@dataclass
class PlaybookRun:
    returncode: int
    tasks: dict[str, dict[str, Any]]  # task name -> result of localhost
    stdout: str
    stderr: str

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self.tasks:
            raise KeyError(f"no task {name!r}; ran {list(self.tasks)}\n{self.stderr[-2000:]}")
        return self.tasks[name]


def run_playbook(
    tmp_path: Path,
    tasks: list[dict[str, Any]],
    *,
    check: bool = False,
    diff: bool = False,
    env: dict[str, str] | None = None,
    vars: dict[str, Any] | None = None,
    play: dict[str, Any] | None = None,
    timeout: float = 300,
) -> PlaybookRun:
    """One play on localhost; every task needs a unique name. ignore_errors is up to the task."""
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable, **(vars or {})},
        **(play or {}),
        "tasks": tasks,
    }
    book = tmp_path / f"play-{len(list(tmp_path.glob('play-*.yml')))}.yml"
    book.write_text(yaml.safe_dump([play], sort_keys=False))
    argv = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(book)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    run_env = {
        **os.environ,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        **(env or {}),
    }
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=run_env, check=False
    )
    try:
        report = json.loads(done.stdout)
    except ValueError as exc:
        raise AssertionError(
            f"no JSON from ansible-playbook:\n{done.stdout}\n{done.stderr}"
        ) from exc
    results = {}
    for play_report in report["plays"]:
        for task in play_report["tasks"]:
            results[task["task"]["name"]] = task["hosts"].get("localhost", {})
    return PlaybookRun(done.returncode, results, done.stdout, done.stderr)


def edgecluster(name: str, labels=None, sub=None, health="healthy") -> tuple[dict, dict]:
    """An EdgeCluster and its status, as a registered child's agent would keep them."""
    body = {
        "apiVersion": "edgeclusters.kubeedge.io/v1",
        "kind": "EdgeCluster",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"kubeDistro": "k8s"},
    }
    status = {"status": {"healthStatus": health, "subEdgeClusterStates": sub or {}}}
    return body, status


def register(admin, name: str, labels=None, sub=None, health="healthy", **status) -> None:
    """Stands in for a child's agent: create its EdgeCluster and write its status."""
    body, st = edgecluster(name, labels, sub, health)
    st["status"].update(status)
    admin.create(f"{API}/edgeclusters", body)
    admin.patch(f"{API}/edgeclusters/{name}/status", st)


@pytest.fixture
def admin(cluster):
    """The admin client of the shared cluster; Missions and EdgeClusters are removed after."""
    with cluster.client() as client:
        yield client
        for plural in ("missions", "edgeclusters"):
            for item in client.get(f"{API}/{plural}")["items"]:
                client.delete_if_exists(f"{API}/{plural}/{item['metadata']['name']}")


@pytest.fixture
def playbook(tmp_path):
    def runner(tasks: list[dict[str, Any]], **kwargs: Any) -> PlaybookRun:
        return run_playbook(tmp_path, tasks, **kwargs)

    return runner
