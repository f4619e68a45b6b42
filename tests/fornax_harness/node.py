"""A real node on this machine for a test cluster: containerd + kubelet, installed by the roles.

The collection's ``containerd`` and ``kubelet`` roles write everything (configuration, CNI
bridge config, certificates signed by the cluster's CA, kubeconfigs, images imported from the
OCI archives of scripts/node-images.sh) with ``*_service_manager: none``: the machine runs no
systemd, so the harness starts ``containerd`` and the kubelet (its command line from the
``argv.json`` the role wrote) as managed processes. Everything carries the node's tag in its
name or path (``/var/lib/<tag>``, ``/run/<tag>``, the bridge), and ``destroy()`` takes the node
apart with the role's own ``fornax-node-reset``. kube-proxy is not started: it would write
service chains into this shared machine's iptables (the bridge's masquerade rule is its own and
goes with the pods).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .binaries import repo_root
from .cluster import TestCluster
from .process import HarnessError, ManagedProcess, free_port

PLAYBOOK = Path(__file__).with_name("node_playbook.yml")
RECAP = re.compile(r"changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def images_dir() -> Path:
    """The node's image archives, built when missing (scripts/node-images.sh)."""
    script = repo_root() / "scripts" / "node-images.sh"
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise HarnessError(f"scripts/node-images.sh failed:\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class TestNode:
    """One node of ``cluster``, named ``<tag>-node``; ``install()``, ``start()``, ``destroy()``."""

    __test__ = False

    def __init__(self, cluster: TestCluster, work: Path, tag: str, pod_cidr: str) -> None:
        self.cluster = cluster
        self.tag = tag
        self.name = f"{tag}-node"
        self.work = work / self.name
        self.var = Path("/var/lib") / tag
        self.run_dir = Path("/run") / tag
        self.bridge = f"fx{tag[:11]}0"
        self.pod_cidr = pod_cidr
        self.socket = self.run_dir / "containerd" / "containerd.sock"
        self.processes: dict[str, ManagedProcess] = {}

    def inventory(self, images: Path) -> Path:
        """An inventory with the hostvars-contract variables the hierarchy plugin would set."""
        pki = self.work / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        link = pki / self.cluster.name
        if not link.exists():
            link.symlink_to(self.cluster.pki_dir)
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "fornax_cluster": self.cluster.name,
            "fornax_api_endpoint": self.cluster.server,
            "fornax_pod_cidr": self.pod_cidr,
            "fornax_host_roles": ["edge_node"],
            "kubelet_labels": {"fornax-test": self.tag},
            **self.role_vars(images, pki),
        }
        group = f"cluster_{self.cluster.name.replace('-', '_')}"
        text = {
            "all": {
                "children": {
                    "edge_nodes": {"hosts": {self.name: host}},
                    group: {"hosts": {self.name: {}}},
                }
            }
        }
        path = self.work / "inventory.yml"
        path.write_text(yaml.safe_dump(text))
        return path

    def role_vars(self, images: Path, pki: Path) -> dict[str, Any]:
        return {
            "containerd_manage_packages": False,
            "containerd_service_manager": "none",
            "containerd_images_dir": str(images),
            "containerd_config_dir": str(self.work / "containerd"),
            "containerd_root_dir": str(self.var / "containerd"),
            "containerd_state_dir": str(self.run_dir / "containerd"),
            "containerd_socket": str(self.socket),
            "containerd_images_host_dir": str(self.var / "images"),
            "containerd_cni_conf_dir": str(self.work / "cni"),
            "containerd_cni_bridge": self.bridge,
            "kubelet_service_manager": "none",
            "kubelet_artifacts_dir": str(self.cluster.bin),
            "kubelet_checksums_file": str(self.cluster.bin.parent / "SHA256SUMS"),
            "kubelet_install_dir": str(self.work / "opt"),
            "kubelet_bin_dir": str(self.work / "bin"),
            "kubelet_config_dir": str(self.work / "kubelet"),
            "kubelet_root_dir": str(self.var / "kubelet"),
            "kubelet_pod_logs_dir": str(self.var / "pod-logs"),
            "kubelet_pki_local_dir": str(pki),
            "kubelet_node_ip": "",  # the kubelet refuses a loopback node address
            "kubelet_port": free_port(),
            "kubelet_healthz_port": free_port(),
            "kubelet_kube_proxy": False,
            "kubelet_label_host": "localhost",
            "kubelet_admin_kubeconfig": str(self.cluster.kubeconfig_path),
            "kubelet_kubectl": str(self.cluster.bin / "kubectl"),
            "kubelet_ready_timeout": 120,
        }

    def play(self, inventory: Path, step: str, *extra: str) -> tuple[int, str]:
        """Run the node playbook; (changed tasks, output). Fails the test on a failed task."""
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false")
        argv = [shutil.which("ansible-playbook") or "ansible-playbook", "-i", str(inventory)]
        argv += [str(PLAYBOOK), "-e", f"fornax_node_step={step}", *extra]
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=600, check=False
        )
        recap = RECAP.findall(done.stdout)
        if done.returncode != 0 or not recap:
            raise HarnessError(
                f"node playbook ({step}) failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
            )
        return sum(int(r[0]) for r in recap), done.stdout

    def start(self, timeout: float = 60.0) -> None:
        """Start containerd, then the kubelet with the command line the kubelet role wrote."""
        config = self.work / "containerd" / "config.toml"
        self._spawn("containerd", ["/usr/bin/containerd", "--config", str(config)])
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if time.monotonic() > deadline or not self.processes["containerd"].alive:
                raise HarnessError(
                    f"containerd did not start:\n{self.processes['containerd'].tail()}"
                )
            time.sleep(0.1)

    def start_kubelet(self) -> None:
        argv = json.loads((self.work / "kubelet" / "argv.json").read_text())["kubelet"]
        self._spawn("kubelet", argv)

    def _spawn(self, name: str, argv: list[str]) -> None:
        proc = ManagedProcess(f"{self.name}/{name}", argv, self.work / "logs" / f"{name}.log")
        proc.start()
        self.processes[name] = proc

    def ctr(self, *args: str) -> str:
        argv = ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout

    def reset(self) -> str:
        """The role's fornax-node-reset (as roles/teardown runs it); its complaints, if any."""
        script = self.work / "bin" / "fornax-node-reset"
        config = self.work / "kubelet" / "reset.json"
        if not script.exists() or not config.exists():
            return ""
        done = subprocess.run(
            [sys.executable, str(script), "--config", str(config), "--keep-services"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        return done.stderr

    def destroy(self) -> str:
        """Stop the kubelet, take the pods apart while containerd runs, stop it, clean again."""
        if "kubelet" in self.processes:
            self.processes["kubelet"].stop()
        first = self.reset()
        if "containerd" in self.processes:
            self.processes["containerd"].stop()
        second = self.reset()
        for path in (self.var, self.run_dir):
            shutil.rmtree(path, ignore_errors=True)
        return second or first
