"""A real node on this machine for a test cluster: containerd + kubelet, installed by the roles.

The collection's ``containerd`` and ``kubelet`` roles write everything (configuration, CNI
bridge config, certificates signed by the cluster's CA, kubeconfigs, images imported from the
OCI archives of scripts/node-images.sh) with ``*_service_manager: none``: the machine runs no
systemd, so the harness starts ``containerd`` and the kubelet (its command line from the
``argv.json`` the role wrote) as managed processes. Everything carries the node's tag in its
name or path (``/var/lib/<tag>``, ``/run/<tag>``, the bridge), and ``destroy()`` takes the node
apart with the role's own ``fornax-node-reset``. The node's address is the role's choice (no
``kubelet_node_ip``: this machine's default IPv4 address), and the kubelet serves the certificate
the role signed for it with the cluster's CA, which the API server verifies
(``serving_certificate`` checks it the same way). kube-proxy runs in its nftables mode: all its
rules live in its own ``kube-proxy`` nftables tables (the iptables mode would add KUBE-* chains
to this shared machine's tables), which the reset deletes. One node with kube-proxy at a time on
a machine: the table name is kube-proxy's, not the node's.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names

from .binaries import repo_root
from .cluster import TestCluster
from .manifests import mission
from .process import HarnessError, ManagedProcess, free_port
from .tree import FornaxTree, start_tree, wait_for

PLAYBOOK = Path(__file__).with_name("node_playbook.yml")
RECAP = re.compile(r"changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
HTTPD = "localhost/fornax/httpd:1"
BUSYBOX = "localhost/fornax/busybox:1"
HTTPD_PAGE = "fornax httpd"  # what the httpd image serves (scripts/node-images.sh)
PODS = "/api/v1/namespaces/default/pods"
PROXY_MODE = "nftables"


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
            # the role's choice: this machine's default IPv4 address (the API server listens on
            # loopback, but the kubelet refuses a loopback node address)
            "kubelet_node_ip": "",
            "kubelet_port": free_port(),
            "kubelet_healthz_port": free_port(),
            "kubelet_kube_proxy": True,
            "kubelet_kube_proxy_mode": PROXY_MODE,
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
        """The kubelet and kube-proxy, with the command lines the kubelet role wrote."""
        argv = json.loads((self.work / "kubelet" / "argv.json").read_text())
        self._spawn("kubelet", argv["kubelet"])
        if argv.get("kube-proxy"):
            self._spawn("kube-proxy", argv["kube-proxy"])

    def _spawn(self, name: str, argv: list[str]) -> None:
        proc = ManagedProcess(f"{self.name}/{name}", argv, self.work / "logs" / f"{name}.log")
        proc.start()
        self.processes[name] = proc

    def internal_ip(self) -> str:
        """The address the node reports (the API server calls the kubelet there first)."""
        with self.cluster.client() as client:
            node = client.get(f"/api/v1/nodes/{self.name}")
        return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")

    def serving_certificate(self, address: str, cafile: Path | None = None) -> dict[str, Any]:
        """The certificate the kubelet serves at ``address``, verified as the API server does
        (--kubelet-certificate-authority): it must chain to the cluster's CA (or ``cafile``) and
        name ``address``, or the TLS handshake fails (ssl.SSLCertVerificationError)."""
        config = yaml.safe_load((self.work / "kubelet" / "config.yaml").read_text())
        context = ssl.create_default_context(cafile=str(cafile or self.cluster.ca.pair.cert_path))
        with (
            socket.create_connection((address, int(config["port"])), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=address) as tls,
        ):
            return tls.getpeercert() or {}

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
        for name in ("kube-proxy", "kubelet"):
            if name in self.processes:
                self.processes[name].stop()
        first = self.reset()
        if "containerd" in self.processes:
            self.processes["containerd"].stop()
        second = self.reset()
        for path in (self.var, self.run_dir):
            shutil.rmtree(path, ignore_errors=True)
        return second or first


def proxy_leftovers() -> list[str]:
    """What of kube-proxy is in this machine's netfilter: its nftables tables, KUBE-SERVICES."""
    found = []
    nft = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False)
    found += [t for t in nft.stdout.splitlines() if t.strip().endswith(" kube-proxy")]
    for table in ("nat", "filter"):
        rules = subprocess.run(
            ["iptables", "-t", table, "-S"], capture_output=True, text=True, check=False
        )
        found += [r for r in rules.stdout.splitlines() if "KUBE-SERVICES" in r]
    return found


def kubelet_leftovers() -> list[str]:
    """The kubelet's own iptables chains still in this machine's tables (the reset's list of
    them, KUBELET_CHAINS of roles/kubelet/files/fornax-node-reset)."""
    script = repo_root() / "roles" / "kubelet" / "files" / "fornax-node-reset"
    chains = runpy.run_path(str(script), run_name="fornax_node_reset")["KUBELET_CHAINS"]
    found = []
    for binary in ("iptables", "ip6tables"):
        for table, chain in chains:
            rules = subprocess.run(
                [binary, "-w", "5", "-t", table, "-S"], capture_output=True, text=True, check=False
            )
            found += [f"{binary} -t {table} {r}" for r in rules.stdout.splitlines() if chain in r]
    return found


def pod_spec() -> dict[str, Any]:
    """An httpd pod from the node's own image (no registry): Ready once it answers on 8080."""
    return {
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "web",
                "image": HTTPD,
                "imagePullPolicy": "Never",
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            }
        ],
        "terminationGracePeriodSeconds": 1,
    }


def web_deployment(name: str) -> dict[str, Any]:
    """A one-replica Deployment of the httpd pod, its pods labelled app=<name>."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec()},
        },
    }


def web_service(name: str) -> dict[str, Any]:
    """A ClusterIP Service on port 80 in front of the Deployment ``name``'s pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }


def node_ready(cluster: TestCluster, name: str) -> bool:
    with cluster.client() as client:
        node = client.get_or_none(f"/api/v1/nodes/{name}") or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def ready_pod(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return ready and status.get("phase") == "Running" and bool(status.get("podIP"))


def pod_ready(cluster: TestCluster, name: str) -> dict[str, Any] | None:
    with cluster.client() as client:
        pod = client.get_or_none(f"{PODS}/{name}") or {}
    return pod if ready_pod(pod) else None


def ready_app_pods(cluster: TestCluster, app: str) -> list[dict[str, Any]]:
    """The Running and Ready pods labelled app=<app> (empty while there are none)."""
    with cluster.client() as client:
        pods = client.get(f"{PODS}?labelSelector=app%3D{app}")["items"]
    return [p for p in pods if ready_pod(p)]


def bring_up(node: TestNode, images: Path) -> Path:
    """Install with the roles, start containerd, import, start the kubelet, label."""
    inventory = node.inventory(images)
    node.play(inventory, "install")
    node.start()
    node.play(inventory, "install")  # containerd runs now: the images are imported
    if "localhost/fornax/pause:1" not in node.ctr("images", "list", "--quiet"):
        raise HarnessError("the pause image was not imported into containerd")
    node.start_kubelet()
    node.play(inventory, "label")
    wait_for(lambda: node_ready(node.cluster, node.name), 60, f"node {node.name} Ready")
    return inventory


def node_tree(work: Path, tag: str, pod_cidr: str, images: Path) -> tuple[FornaxTree, TestNode]:
    """A root and a leaf cluster ``<tag>-root`` / ``<tag>-leaf``, the leaf with a real node."""
    tree = start_tree(
        work / "tree",
        {f"{tag}-root": None, f"{tag}-leaf": f"{tag}-root"},
        real_nodes=(f"{tag}-leaf",),
    )
    node = TestNode(tree[f"{tag}-leaf"], work, tag, pod_cidr)
    try:
        bring_up(node, images)
    except BaseException:
        node.destroy()
        tree.destroy()
        raise
    return tree, node


def mission_pod_ready_seconds(
    tree: FornaxTree, root: str, node: TestNode, name: str, *extra: dict[str, Any]
) -> float:
    """Create at ``root`` a Mission of the httpd Deployment ``name`` (and ``extra`` objects);
    the seconds until its pod is Running and Ready on ``node``."""
    resource = yaml.safe_dump_all([web_deployment(name), *extra])
    created = time.monotonic()
    with tree.client(root) as client:
        client.create(names.MISSIONS, mission(name, resource))
    wait_for(
        lambda: ready_app_pods(node.cluster, name), 120, f"the Mission {name}'s pod Running, Ready"
    )
    return time.monotonic() - created
