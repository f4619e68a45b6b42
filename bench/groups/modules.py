"""Playbook task cost: our mission module vs kubernetes.core.k8s, side by side, one cluster.

One playbook alternates the two modules applying the same Mission (server-side apply, each with
its own field manager) REPEAT times, and a third task kind: our mission module through a
kubeconfig whose user is an exec credential plugin (a script that prints an ExecCredential with
a service-account token; the plugin runs once per task, as kubectl runs it once per command).
Task durations come from the ansible.posix.json callback. The first task of each kind creates
or first takes ownership and is left out; the rest are the steady state a re-run playbook sees.
A second playbook applies 100 Missions in one loop (100 tasks), a third the same number of other
Missions in one task (``definition`` a list: the bulk form).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import kubeconfig_dict
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    write_kubeconfig,
)
from fornax_harness import ClusterSpec, start_clusters

REPEAT = 9
LOOP = 100
RESOURCE = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\n"
    "spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n"
    "    metadata: {labels: {app: web}}\n"
    "    spec: {containers: [{name: web, image: 'nginx:1.27'}]}\n"
)


def mission_object(name: str) -> dict:
    return {
        "apiVersion": "edgeclusters.kubeedge.io/v1",
        "kind": "Mission",
        "metadata": {"name": name},
        "spec": {"missionresource": RESOURCE, "placement": {"matchlabels": {"zone": "a"}}},
    }


def ours(kubeconfig: str, name: str = "bench") -> dict:
    return {
        "centaurus.fornax.mission": {"kubeconfig": kubeconfig, "definition": mission_object(name)}
    }


def k8s_core(kubeconfig: str) -> dict:
    return {
        "kubernetes.core.k8s": {
            "kubeconfig": kubeconfig,
            "definition": mission_object("bench"),
            "apply": True,
            "server_side_apply": {"field_manager": "k8s-core-bench"},
        }
    }


def exec_kubeconfig(cluster, workdir: Path) -> str:
    """A kubeconfig whose user is an exec plugin returning a cluster-admin SA's token."""
    sa = "/api/v1/namespaces/default/serviceaccounts/bench-exec"
    with cluster.client() as admin:
        admin.apply(
            sa,
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bench-exec"}},
            field_manager="bench",
        )
        admin.apply(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/bench-exec",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "bench-exec"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "bench-exec", "namespace": "default"}
                ],
            },
            field_manager="bench",
        )
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
        token = admin.create(f"{sa}/token", request, resend_safe=True)["status"]["token"]
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    (workdir / "credential.json").write_text(json.dumps(credential))
    plugin = workdir / "plugin.sh"
    plugin.write_text(f"#!/bin/sh\nexec cat {workdir / 'credential.json'}\n")
    plugin.chmod(0o755)
    config = kubeconfig_dict("bench", cluster.server, cluster.ca.cert_pem)
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(plugin),
            "interactiveMode": "Never",
        }
    }
    path = workdir / "exec.kubeconfig"
    write_kubeconfig(str(path), config)
    return str(path)


def run_play(workdir: Path, tasks: list[dict]) -> dict[str, list[float]]:
    """Run one play on localhost; return task name -> durations (seconds) from the callback."""
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }
    book = workdir / f"bench-{time.monotonic_ns()}.yml"
    book.write_text(yaml.safe_dump([play], sort_keys=False))
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    env.setdefault("ANSIBLE_LOCALHOST_WARNING", "false")
    done = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(book)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench playbook failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    durations: dict[str, list[float]] = {}
    for play_report in json.loads(done.stdout)["plays"]:
        for task in play_report["tasks"]:
            span = task["task"]["duration"]
            seconds = (
                datetime.fromisoformat(span["end"].replace("Z", "+00:00"))
                - datetime.fromisoformat(span["start"].replace("Z", "+00:00"))
            ).total_seconds()
            durations.setdefault(task["task"]["name"].split(" #")[0], []).append(seconds)
    return durations


def run() -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="fornax-bench-modules-"))
    [cluster] = start_clusters([ClusterSpec("modules")], root)
    try:
        kubeconfig = str(cluster.kubeconfig_path)
        through_exec = exec_kubeconfig(cluster, root)
        tasks = []
        for index in range(REPEAT + 1):
            tasks.append({"name": f"ours #{index}", **ours(kubeconfig)})
            tasks.append({"name": f"k8s_core #{index}", **k8s_core(kubeconfig)})
            tasks.append({"name": f"exec #{index}", **ours(through_exec, "bench-exec")})
        durations = run_play(root, tasks)
        mission = statistics.median(durations["ours"][1:])
        core = statistics.median(durations["k8s_core"][1:])
        exec_task = statistics.median(durations["exec"][1:])
        loop_task = {
            "name": "hundred",
            "centaurus.fornax.mission": {
                "kubeconfig": kubeconfig,
                "name": "bench-{{ item }}",
                "resource": RESOURCE,
                "match_labels": {"zone": "a"},
            },
            "loop": f"{{{{ range({LOOP}) | list }}}}",
        }
        hundred = run_play(root, [loop_task])["hundred"][0]
        bulk_task = {
            "name": "bulk",
            "centaurus.fornax.mission": {
                "kubeconfig": kubeconfig,
                "definition": [mission_object(f"bulk-{index}") for index in range(LOOP)],
            },
        }
        bulk = run_play(root, [bulk_task])["bulk"][0]
        return {
            "mission_apply_task_seconds": round(mission, 4),
            "k8s_core_apply_task_seconds": round(core, 4),
            "mission_vs_k8s_core_task_ratio": round(mission / core, 4),
            "exec_plugin_task_seconds": round(exec_task, 4),
            "mission_apply_100_seconds": round(hundred, 3),
            "mission_apply_100_bulk_seconds": round(bulk, 3),
        }
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
