"""The kubelet role's certificates: the kubelet's serving certificate follows the node's address.

A real ``ansible-playbook`` run of the kubelet role (files only, ``kubelet_service_manager:
none``, no kube-proxy, everything under the test's directory) against a test cluster's CA
(written by the harness, no process started): the serving certificate chains to that CA, is a
``serverAuth`` certificate whose SANs are the ``--node-ip`` the kubelet is started with and the
node's name, and the KubeletConfiguration serves it. With no ``kubelet_node_ip`` the address is
this machine's default IPv4 address (what the role gathers). A second run changes nothing; a
new address signs the serving certificate again (and nothing else); an address the kubelet
cannot serve at is refused, naming ``kubelet_node_ip``, before any file changes. No root, no
kubelet process: tests/integration/test_nodes.py runs the kubelet on it, with the API server
verifying it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import security
from fornax_harness.cluster import ClusterSpec, TestCluster
from fornax_harness.node import TestNode

TAG = "i11serve-pki"
RECAP = re.compile(r"changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
PLAYBOOK = """
- name: The kubelet role, files only
  hosts: edge_nodes
  gather_facts: false
  roles: [centaurus.fornax.kubelet]
"""


def default_ipv4() -> str:
    """This machine's default IPv4 source address (what the role's network facts report)."""
    route = subprocess.run(
        ["ip", "-4", "-o", "route", "get", "192.0.2.255"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(r"\bsrc (\S+)", route).group(1)


class Node:
    def __init__(self, tmp_path: Path) -> None:
        cluster = TestCluster(ClusterSpec(f"{TAG}-c"), tmp_path / "clusters")
        cluster.prepare()  # the CA and the control plane's certificates; no process
        self.ca = x509.load_pem_x509_certificate(cluster.ca.cert_pem)
        self.node = TestNode(cluster, tmp_path, TAG, "10.251.78.0/24")
        # the directories the role makes on the node: under the test's directory too
        self.node.var, self.node.run_dir = tmp_path / "var", tmp_path / "run"
        self.inventory = self.node.inventory(tmp_path / "images")
        self.playbook = tmp_path / "kubelet.yml"
        self.playbook.write_text(PLAYBOOK)
        self.config = self.node.work / "kubelet"

    def play(self, node_ip: str) -> tuple[int, str, int]:
        """(changed tasks, output, return code) of one run with ``kubelet_node_ip``."""
        extra = json.dumps({"kubelet_node_ip": node_ip, "kubelet_kube_proxy": False})
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false")
        argv = [shutil.which("ansible-playbook") or "ansible-playbook", "-i", str(self.inventory)]
        done = subprocess.run(
            [*argv, str(self.playbook), "-e", extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        recap = RECAP.findall(done.stdout)
        return sum(int(r[0]) for r in recap), done.stdout + done.stderr, done.returncode

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((self.config / "pki").iterdir())}

    def serving(self) -> x509.Certificate:
        """The serving certificate the KubeletConfiguration points at, checked against the CA."""
        kubelet = yaml.safe_load((self.config / "config.yaml").read_text())
        assert kubelet["tlsPrivateKeyFile"] == str(self.config / "pki" / "kubelet-serving.key")
        cert = x509.load_pem_x509_certificate(Path(kubelet["tlsCertFile"]).read_bytes())
        assert cert.issuer == self.ca.subject
        self.ca.public_key().verify(
            cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
        )
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
        return cert

    def node_ip_flag(self) -> str:
        argv = json.loads((self.config / "argv.json").read_text())["kubelet"]
        [flag] = [a for a in argv if a.startswith("--node-ip=")]
        return flag.removeprefix("--node-ip=")


def sans(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [f"IP:{n.value}" if isinstance(n, x509.IPAddress) else f"DNS:{n.value}" for n in names]


def test_the_serving_certificate_names_the_address_the_kubelet_reports(
    k8s_bin: Path, tmp_path: Path
) -> None:
    node = Node(tmp_path)
    name = node.node.name

    changed, out, rc = node.play("")
    assert rc == 0, out[-4000:]
    address = default_ipv4()
    assert node.node_ip_flag() == address
    assert sans(node.serving()) == [f"IP:{address}", f"DNS:{name}"]
    assert security.kubelet_serving(name, address)["sans"] == sans(node.serving())

    changed, out, rc = node.play("")
    assert (rc, changed) == (0, 0), f"a second run changed something:\n{out[-3000:]}"

    before = node.files()
    changed, out, rc = node.play("198.18.0.77")
    assert rc == 0 and changed > 0, out[-3000:]
    after = node.files()
    assert node.node_ip_flag() == "198.18.0.77"
    assert sans(node.serving()) == ["IP:198.18.0.77", f"DNS:{name}"]
    assert {f for f in after if after[f] != before[f]} == {"kubelet-serving.crt"}

    for bad in ("127.0.0.1", "node.example"):
        changed, out, rc = node.play(bad)
        assert rc != 0 and f"kubelet_node_ip: '{bad}'" in out, out[-3000:]
        assert node.files() == after, f"a refused address {bad} changed a certificate"
    assert node.node_ip_flag() == "198.18.0.77"
