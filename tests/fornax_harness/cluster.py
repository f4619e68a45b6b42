"""Real Kubernetes test clusters on loopback: etcd + kube-apiserver (+ controllers, + kwok).

Each cluster owns its directory: its own CA and certificates, its own etcd data, an admin
kubeconfig. Everything listens on 127.0.0.1 only, over TLS. The API server's security flags
and its Pod Security admission come from the collection (module_utils/fornax/security.py and
policy.py), exactly as the control_plane role installs them, at the level of the cluster's
Mission rights (``ClusterSpec.mission_policy``). Every wait is bounded and every failure names
the process that failed, the last lines of its log and what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import policy, security
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    kubeconfig_dict,
    settings_from_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    write_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.resource import Discovery
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.waiter import poll

from .binaries import k8s_bin_dir, repo_root
from .pki import CertificateAuthority, KeyPair, service_account_keys
from .process import HarnessError, ManagedProcess, free_port, port_in_use

ADMIN_USER = "fornax-admin"
SERVICE_CIDR = "10.96.0.0/16"  # allocation only: no traffic is ever sent to these addresses
CRD_FILES = ("mission.yaml", "edgecluster.yaml", "clusterreport.yaml", "missionspec.yaml")


@dataclass
class ClusterSpec:
    """What to run for one test cluster."""

    name: str
    controllers: bool = False  # kube-controller-manager + kube-scheduler
    kwok: bool = False  # simulated nodes: pods of Deployments become Running/Ready
    crds: bool = True  # install the Fornax CRDs once the API server is ready
    api_port: int | None = None  # fixed ports (the demo); None picks free ones
    labels: dict[str, str] = field(default_factory=dict)
    apiserver_args: tuple[str, ...] = ()  # extra kube-apiserver flags
    # The Mission rights this cluster grants (the inventory's mission_policy; None: defaults):
    # its Pod Security admission level and its agent's RBAC.
    mission_policy: dict[str, Any] | None = None


class TestCluster:
    """One cluster; ``start()`` brings it up, ``stop()`` takes everything down again."""

    __test__ = False  # not a pytest test class

    def __init__(self, spec: ClusterSpec, root: Path, *, tied: bool = True) -> None:
        self.spec = spec
        self.name = spec.name
        self.dir = root / spec.name
        self.tied = tied
        self.bin = k8s_bin_dir()
        self.processes: dict[str, ManagedProcess] = {}
        self._ports_fixed = spec.api_port is not None
        self.api_port = spec.api_port or free_port()
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self._lock = threading.Lock()
        self._prepared = False
        self.policy = policy.parse_policy(spec.mission_policy, f"cluster {spec.name}")

    # -- layout ----------------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def pki_dir(self) -> Path:
        return self.dir / "pki"

    @property
    def admission_config_path(self) -> Path:
        return self.dir / "admission.yaml"

    def _log(self, component: str) -> Path:
        return self.dir / "logs" / f"{component}.log"

    def prepare(self) -> None:
        """Write certificates, keys and kubeconfigs (once)."""
        if self._prepared:
            return
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self.ca = CertificateAuthority(self.pki_dir, self.name)
        names = (
            "127.0.0.1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
        )
        self.serving = self.ca.issue("apiserver", "kube-apiserver", server_names=names)
        self.etcd_serving = self.ca.issue(
            "etcd", "etcd", server_names=("127.0.0.1", "localhost"), client=True
        )
        self.etcd_client = self.ca.issue("apiserver-etcd-client", "kube-apiserver", client=True)
        self.admin = self.ca.issue("admin", ADMIN_USER, orgs=("system:masters",), client=True)
        # The API server's identity towards real kubelets (exec, logs), as the control_plane
        # role issues it: security.kubelet_client.
        self.kubelet_client = security.kubelet_client(str(self.pki_dir.resolve()))
        cert = self.kubelet_client["certificate"]
        self.ca.issue(cert["name"], cert["cn"], client=True)
        self.sa_key, self.sa_pub = service_account_keys(self.pki_dir)
        self._write_kubeconfig(self.kubeconfig_path, self.admin)
        self.admission_config_path.write_text(
            yaml.safe_dump(policy.admission_configuration(self.policy), sort_keys=False)
        )
        self._prepared = True

    def _write_kubeconfig(self, path: Path, pair: KeyPair) -> None:
        config = kubeconfig_dict(
            self.name,
            self.server,
            self.ca.cert_pem,
            client_cert_pem=pair.cert_pem,
            client_key_pem=pair.key_pem,
        )
        write_kubeconfig(str(path), config)

    def user_kubeconfig(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig for another client-certificate identity of this cluster."""
        pair = self.ca.issue(f"user-{user}", user, orgs=groups, client=True)
        path = self.dir / f"{user}.kubeconfig"
        self._write_kubeconfig(path, pair)
        return path

    def install_agent_identity(self) -> Path:
        """The agent's own least-privilege identity here, as the hub role makes it.

        The ClusterRole from the cluster's grant (policy.agent_rules), its binding and the
        admission policy of security.agent_manifests, and a client certificate of the agent's
        user and group; returns the kubeconfig of that identity.
        """
        with self.client() as admin:
            discovery = Discovery(admin)
            for obj in security.agent_manifests(self.policy):
                admin.apply(discovery.path_of(obj), obj, field_manager="fornax-harness", force=True)
        return self.user_kubeconfig(security.AGENT_USER, (security.AGENT_GROUP,))

    def await_agent_policy(self, kubeconfig: Path, timeout: float = 30.0) -> None:
        """Return once the API server enforces the agent's admission policy, as the hub role
        waits for it before the agent starts: the probe of security.agent_policy_probe, sent
        with the agent's ``kubeconfig`` in a dry run, is refused by the policy (the API server
        loads a new policy about a second after install_agent_identity stored it)."""
        probe = security.agent_policy_probe(self.policy)
        if probe is None:
            return
        with KubeClient(settings_from_kubeconfig(str(kubeconfig))) as agent:

            def answer() -> tuple:
                try:
                    agent.create("/api/v1/namespaces", probe, dry_run=True)
                except KubeApiError as exc:
                    return exc.status, str(exc)
                return 201, "accepted"

            outcome = poll(
                answer, lambda a: security.agent_policy_denied(*a), timeout=timeout, sleep=0.1
            )
        if not outcome.met:
            raise HarnessError(
                f"{self.name}: the agent's admission policy is not enforced after "
                f"{timeout:.0f} s; the probe got {outcome.value}"
            )

    # -- processes -------------------------------------------------------------------------

    def _etcd_argv(self) -> list[str]:
        client_url = f"https://127.0.0.1:{self.etcd_port}"
        peer_url = f"http://127.0.0.1:{self.etcd_peer_port}"
        return [
            str(self.bin / "etcd"),
            f"--name={self.name}",
            f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            # Peer traffic: a one-member cluster never has any; bound to loopback all the same.
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={self.name}={peer_url}",
            f"--cert-file={self.etcd_serving.cert_path}",
            f"--key-file={self.etcd_serving.key_path}",
            "--client-cert-auth=true",
            f"--trusted-ca-file={self.ca.pair.cert_path}",
            "--log-level=warn",
            "--unsafe-no-fsync=true",  # test data only: durability is not what these tests probe
            "--quota-backend-bytes=1073741824",
        ]

    def _apiserver_argv(self) -> list[str]:
        return [
            str(self.bin / "kube-apiserver"),
            f"--etcd-servers=https://127.0.0.1:{self.etcd_port}",
            f"--etcd-cafile={self.ca.pair.cert_path}",
            f"--etcd-certfile={self.etcd_client.cert_path}",
            f"--etcd-keyfile={self.etcd_client.key_path}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={self.serving.cert_path}",
            f"--tls-private-key-file={self.serving.key_path}",
            f"--client-ca-file={self.ca.pair.cert_path}",
            f"--service-account-key-file={self.sa_pub}",
            f"--service-account-signing-key-file={self.sa_key}",
            *security.apiserver_security_args(
                self.server, str(self.admission_config_path), self.policy
            ),
            *self.kubelet_client["args"],
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false",
            "--event-ttl=15m",
            "--v=1",
            *self.spec.apiserver_args,
        ]

    def _controller_argv(self, component: str) -> list[str]:
        kubeconfig = self.dir / f"{component}.kubeconfig"
        argv = [
            str(self.bin / component),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",
            "--v=1",
        ]
        if component == "kube-controller-manager":
            argv += [
                f"--root-ca-file={self.ca.pair.cert_path}",
                f"--service-account-private-key-file={self.sa_key}",
                "--use-service-account-credentials=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers=*,-bootstrapsigner,-tokencleaner,-nodeipam",
                "--concurrent-deployment-syncs=10",
            ]
        return argv

    def spawn(self, component: str, argv: list[str]) -> ManagedProcess:
        proc = ManagedProcess(
            f"{component} of cluster {self.name}", argv, self._log(component), tied=self.tied
        )
        proc.start()
        self.processes[component] = proc
        return proc

    def _check_port(self, port: int, what: str) -> None:
        if port_in_use(port):
            raise HarnessError(
                f"port {port} for {what} of cluster {self.name} is already in use by another "
                f"process: stop it (ss -ltnp 'sport = :{port}') or choose another port"
            )

    def _fresh_ports(self) -> None:
        """Re-pick automatic ports taken since they were chosen (a race with other programs)."""
        if not self._ports_fixed and port_in_use(self.api_port):
            self.api_port = free_port()
            self._write_kubeconfig(self.kubeconfig_path, self.admin)
        if port_in_use(self.etcd_port):
            self.etcd_port = free_port()
        if port_in_use(self.etcd_peer_port):
            self.etcd_peer_port = free_port()

    def start(self, timeout: float = 90.0) -> TestCluster:
        """Start etcd, the API server and the optional parts; return when the cluster is ready."""
        self.prepare()
        deadline = time.monotonic() + timeout
        try:
            self._fresh_ports()
            self._check_port(self.api_port, "kube-apiserver")
            self._start_etcd(deadline)
            self.start_apiserver(timeout=max(1.0, deadline - time.monotonic()))
            if self.spec.crds:
                install_crds(self, timeout=max(1.0, deadline - time.monotonic()))
            if self.spec.controllers:
                self._start_controllers()
            if self.spec.kwok:
                from .kwok import start_kwok  # noqa: PLC0415 - optional part

                start_kwok(self, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_etcd(self, deadline: float) -> None:
        etcd = self.spawn("etcd", self._etcd_argv())
        while not port_in_use(self.etcd_port):
            if not etcd.alive:
                raise HarnessError(
                    f"etcd of cluster {self.name} exited during start-up; last log lines:\n"
                    f"{etcd.tail()}\n(check {self.dir / 'etcd'} is writable and the ports free)"
                )
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"etcd of cluster {self.name} did not listen on {self.etcd_port} in time"
                )
            time.sleep(0.02)

    def start_apiserver(self, timeout: float = 60.0) -> None:
        proc = self.spawn("kube-apiserver", self._apiserver_argv())
        self.wait_ready(proc, timeout)

    def stop_apiserver(self) -> None:
        if "kube-apiserver" in self.processes:
            self.processes.pop("kube-apiserver").stop()

    def restart_apiserver(self, timeout: float = 60.0) -> None:
        self.stop_apiserver()
        self.start_apiserver(timeout)

    def _start_controllers(self) -> None:
        # A cluster with controllers may get real nodes: the kubelet-client binding, as the
        # control_plane role applies it.
        with self.client() as admin:
            discovery = Discovery(admin)
            for obj in self.kubelet_client["manifests"]:
                admin.apply(discovery.path_of(obj), obj, field_manager="fornax-harness", force=True)
        for component, user in (
            ("kube-controller-manager", "system:kube-controller-manager"),
            ("kube-scheduler", "system:kube-scheduler"),
        ):
            pair = self.ca.issue(component, user, client=True)
            self._write_kubeconfig(self.dir / f"{component}.kubeconfig", pair)
            self.spawn(component, self._controller_argv(component))

    def wait_ready(self, proc: ManagedProcess, timeout: float) -> None:
        """Poll /readyz with the admin identity until 200, the process dies, or time runs out."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with self.client(timeout=2.0, connect_retries=0) as client:
            while True:
                if not proc.alive:
                    raise HarnessError(
                        f"kube-apiserver of cluster {self.name} exited during start-up; last log "
                        f"lines:\n{proc.tail()}"
                    )
                try:
                    if client.request("GET", "/readyz") == "ok":
                        return
                except KubeError as exc:
                    last = str(exc)
                if time.monotonic() > deadline:
                    raise HarnessError(
                        f"kube-apiserver of cluster {self.name} not ready after {timeout:.0f} s "
                        f"(last answer: {last}); log tail:\n{proc.tail()}"
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop every process of the cluster (bounded), newest first."""
        for component in reversed(list(self.processes)):
            self.processes.pop(component).stop()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- clients ---------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> KubeClient:
        return KubeClient(settings_from_kubeconfig(str(self.kubeconfig_path)), **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "kubeconfig": str(self.kubeconfig_path),
            "pids": {c: p.pid for c, p in self.processes.items()},
            "logs": str(self.dir / "logs"),
        }


def crd_documents() -> list[dict[str, Any]]:
    crd_dir = repo_root() / "crds"
    return [yaml.safe_load((crd_dir / name).read_text()) for name in CRD_FILES]


def install_crds(cluster: TestCluster, timeout: float = 30.0) -> None:
    """Apply the Fornax CRDs and wait until the API server serves them."""
    deadline = time.monotonic() + timeout
    with cluster.client() as client:
        for crd in crd_documents():
            path = (
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
            )
            client.apply(path, crd, field_manager="fornax-harness", force=True)
        for crd in crd_documents():
            name = crd["metadata"]["name"]
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            while True:
                conditions = (client.get(path).get("status") or {}).get("conditions") or []
                if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    break
                if time.monotonic() > deadline:
                    raise HarnessError(
                        f"CRD {name} not established on cluster {cluster.name}: {conditions}"
                    )
                time.sleep(0.05)
        group_version = f"/apis/{crd_documents()[0]['spec']['group']}/v1"
        while True:  # discovery lags a little behind Established
            try:
                kinds = {r["kind"] for r in client.get(group_version).get("resources", [])}
                if {"Mission", "EdgeCluster", "ClusterReport"} <= kinds:
                    return
            except KubeApiError:
                pass
            if time.monotonic() > deadline:
                raise HarnessError(f"Fornax kinds not served by cluster {cluster.name} in time")
            time.sleep(0.05)


def start_clusters(
    specs: Iterable[ClusterSpec], root: Path, *, tied: bool = True, timeout: float = 120.0
) -> list[TestCluster]:
    """Start several independent clusters at once; on any failure stop all of them."""
    clusters = [TestCluster(spec, root, tied=tied) for spec in specs]
    with ThreadPoolExecutor(max_workers=len(clusters) or 1) as pool:
        futures = [pool.submit(c.start, timeout) for c in clusters]
        errors = []
        for future in futures:
            try:
                future.result()
            except BaseException as exc:
                errors.append(exc)
    if errors:
        for cluster in clusters:
            cluster.stop()
        raise errors[0]
    return clusters


def write_state(path: Path, clusters: list[TestCluster]) -> None:
    path.write_text(json.dumps([c.describe() for c in clusters], indent=2))


def kill_from_state(path: Path) -> list[str]:
    """Stop the processes a state file lists (the demo's `down`); return what was stopped.

    Every process is asked to stop at once, then each is waited for (bounded, then killed), so
    the whole tree takes about as long as its slowest process, not as long as all of them.
    """
    procs = []
    for entry in json.loads(path.read_text()):
        for component, pid in entry["pids"].items():
            proc = ManagedProcess(component, ["/bin/true"], Path(os.devnull))
            proc.pid = pid
            if proc.alive:
                procs.append((f"{entry['name']}/{component}", proc))
    for _name, proc in procs:
        proc.terminate()
    for _name, proc in procs:
        proc.stop()
    return [name for name, _proc in procs]
