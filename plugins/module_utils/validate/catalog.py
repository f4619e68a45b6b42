# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Every validation test the collection knows: layer, suite, name, keyword, scope, parameters.

The one list of names: a blueprint may only name what is here (blueprint.py checks it before
anything runs), the keyword library implements each ``keyword`` (keywords.py), the runner
builds Robot Framework suites from it (runner.py) and docs/validation.md describes it.

Scopes say what a test is run for:

| scope | one test for |
| --- | --- |
| ``cluster`` | every cluster of the fleet |
| ``child`` | every cluster that has a parent |
| ``fleet`` | the whole tree, once (scenarios run from the root) |
| ``host`` | every inventory host that is audited (``validate_host_audit``) |
| ``gateway`` | every gateway host |
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional

from ..fornax import names

CLUSTER, CHILD, FLEET, HOST, GATEWAY = "cluster", "child", "fleet", "host", "gateway"
SCOPES = (CLUSTER, CHILD, FLEET, HOST, GATEWAY)

LAYERS = ("k8s", "fornax", "security", "network")

# Parameters a blueprint may set, with their defaults. Global ones (``params`` at the top of a
# blueprint) apply to every test that takes them; a test's own ``params`` win.
API_TIMEOUT = {"api_timeout": 5.0}
WAIT = {"wait_timeout": 120.0}
CONTENT = {"namespace": "default", "image": "registry.k8s.io/pause:3.10"}
DISRUPT = {"disconnect_timeout": 150.0, "control_timeout": 180.0}
DEFAULT_GROUP_VERSIONS = [
    "v1",
    "apps/v1",
    "batch/v1",
    "rbac.authorization.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "coordination.k8s.io/v1",
    names.API_VERSION,
]


class TestDef:
    """One test of the catalog."""

    __slots__ = ("disruptive", "doc", "keyword", "layer", "name", "params", "scope", "suite")
    __test__ = False  # not a pytest test class

    def __init__(  # noqa: PLR0917 - the catalog below reads best positionally
        self,
        layer: str,
        suite: str,
        name: str,
        keyword: str,
        scope: str,
        doc: str,
        params: Optional[dict] = None,
        disruptive: bool = False,
    ) -> None:
        self.layer = layer
        self.suite = suite
        self.name = name
        self.keyword = keyword
        self.scope = scope
        self.doc = doc
        self.params = dict(params or {})
        self.disruptive = disruptive

    @property
    def id(self) -> str:
        return f"{self.layer}/{self.suite}/{self.name}"

    def __repr__(self) -> str:
        return f"TestDef({self.id})"


def _t(  # noqa: PLR0917 - see TestDef
    layer: str, suite: str, name: str, keyword: str, scope: str, doc: str, **kw: Any
) -> TestDef:
    return TestDef(layer, suite, name, keyword, scope, doc, **kw)


TESTS = (
    # -- k8s: every control plane and what the collection needs from it ---------------------------
    _t("k8s", "control_plane", "readyz", "Control Plane Is Ready", CLUSTER,
       "The API server answers /readyz with every check passing.", params=API_TIMEOUT),
    _t("k8s", "control_plane", "etcd", "Etcd Is Healthy", CLUSTER,
       "The API server reaches its etcd (/readyz/etcd and /livez/etcd).", params=API_TIMEOUT),
    _t("k8s", "nodes", "nodes_ready", "Nodes Are Ready", CLUSTER,
       "Every node is Ready (skipped for a cluster without nodes).", params=API_TIMEOUT),
    _t("k8s", "nodes", "system_pods", "System Pods Are Running", CLUSTER,
       "Every pod in kube-system is Running and ready, or Succeeded (skipped when there are "
       "none: the control plane runs as host services).", params=API_TIMEOUT),
    _t("k8s", "api", "server_version", "Server Version Is Supported", CLUSTER,
       "The API server's version is at least min_version (and expected_version when given).",
       params={**API_TIMEOUT, "min_version": "v1.30", "expected_version": ""}),
    _t("k8s", "api", "api_groups", "API Groups Are Served", CLUSTER,
       "Every group version in group_versions is served.",
       params={**API_TIMEOUT, "group_versions": DEFAULT_GROUP_VERSIONS}),
    _t("k8s", "api", "crds", "Fornax CRDs Are Installed", CLUSTER,
       "The collection's CRDs are established and equal to the ones it ships (crds/).",
       params=API_TIMEOUT),
    # -- fornax: the acceptance scenarios of the original test plan, on the live tree -------------
    _t("fornax", "registration", "registered", "Cluster Is Registered", CHILD,
       "The parent has the cluster's EdgeCluster, healthy, with a recent heartbeat (scenario 1).",
       params={**API_TIMEOUT, "heartbeat_max_age": 90.0}),
    _t("fornax", "registration", "subtree", "Subtree Is Reported", CHILD,
       "The parent sees the cluster's whole subtree healthy, path by path (scenarios 1, 14).",
       params=API_TIMEOUT),
    _t("fornax", "registration", "labels", "Cluster Labels Match The Inventory", CHILD,
       "The EdgeCluster carries the inventory's labels and distribution.", params=API_TIMEOUT),
    _t("fornax", "registration", "tree", "Tree Matches The Inventory", FLEET,
       "The root sees every cluster of the inventory healthy, and none that is not in it.",
       params=API_TIMEOUT),
    _t("fornax", "missions", "to_all", "Mission Reaches Every Cluster", FLEET,
       "A Deployment Mission with an empty placement runs in every cluster below the root and "
       "is ready there (scenario 4).", params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "job", "Job Mission Completes Everywhere", FLEET,
       "A Job Mission completes in every cluster below the root (scenario 7).",
       params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "update", "Mission Update Reaches Every Cluster", FLEET,
       "Changed replicas reach every cluster and the states follow (scenarios 8, 9).",
       params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "delete", "Mission Deletion Removes Its Content", FLEET,
       "Deleting a Mission removes its copies and content everywhere (scenario 11).",
       params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "by_name", "Placement By Name Selects One Cluster", FLEET,
       "Placement by the name of a deep cluster: copied to every layer, run only there "
       "(scenario 12).", params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "by_label", "Placement By Label Selects The Labelled Clusters",
       FLEET, "Placement by a label of the inventory runs exactly where it matches "
       "(scenario 13).", params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "rollup", "States Roll Up At Every Layer", FLEET,
       "Every layer's copy of a Mission holds its own subtree's states, one per path, and "
       "consistent counts (scenarios 6, 8).", params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "edgecluster_info", "EdgeClusters Report Their Missions", FLEET,
       "Every parent's EdgeCluster of a child lists received and matched Missions and the "
       "child's nodes (scenario 14).", params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "drift_deleted", "Content Deleted By Hand Is Restored", FLEET,
       "Content deleted in a member cluster comes back (scenario 18).",
       params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "missions", "drift_scaled", "Content Scaled By Hand Is Reverted", FLEET,
       "Content scaled in a member cluster is scaled back (scenario 19).",
       params={**API_TIMEOUT, **WAIT, **CONTENT}),
    _t("fornax", "disruption", "stop_agent", "Stopped Agent Disconnects And Recovers", FLEET,
       "Stop a cluster's agent: its parent marks it disconnected, clears its subtree and the "
       "Mission states say 'cluster unreachable'; started again it comes back (scenarios 2, 3, "
       "10). The agent is started again whatever happens.",
       params={**API_TIMEOUT, **WAIT, **CONTENT, **DISRUPT}, disruptive=True),
    _t("fornax", "disruption", "cut_uplink", "Cut Off Cluster Stays Autonomous And Converges",
       FLEET, "Cut a cluster's uplink: its content stays, it still serves its subtree; Missions "
       "created, updated and deleted meanwhile arrive when the link returns (scenarios 5, 6, "
       "15, 16, 17). The link is restored whatever happens.",
       params={**API_TIMEOUT, **WAIT, **CONTENT, **DISRUPT}, disruptive=True),
    _t("fornax", "disruption", "stop_apiserver", "Stopped API Server Shows Unhealthy", FLEET,
       "Stop a leaf cluster's API server while its agent runs: its parent and the root see it "
       "unhealthy; started again it is healthy (scenario 20). The API server is started again "
       "whatever happens.", params={**API_TIMEOUT, **WAIT, **DISRUPT}, disruptive=True),
    # -- security: child identities, TLS, the hosts' OS -------------------------------------------
    _t("security", "confinement", "parent_secrets", "Child Cannot Read Parent Secrets", CHILD,
       "The child's identity on its parent is refused Secrets, in every namespace.",
       params=API_TIMEOUT),
    _t("security", "confinement", "sibling_objects", "Child Cannot Write Sibling Objects",
       CHILD, "The child's identity is refused writes to another cluster's EdgeCluster and "
       "ClusterReport (dry run: nothing is changed even when confinement is broken).",
       params=API_TIMEOUT),
    _t("security", "confinement", "missions_readonly", "Child Cannot Create Missions", CHILD,
       "The child's identity may read Missions but not create, change or delete them.",
       params=API_TIMEOUT),
    _t("security", "tls", "anonymous_auth", "Anonymous Access Is Off", CLUSTER,
       "A request without credentials is refused as unauthenticated (401).",
       params=API_TIMEOUT),
    _t("security", "tls", "tls_only", "API Server Speaks Only Verified TLS", CLUSTER,
       "The inventory's endpoint is https, its certificate verifies against the cluster's CA "
       "for that host name with TLS 1.2 or newer, and plain HTTP gets no API answer.",
       params=API_TIMEOUT),
    _t("security", "tls", "cert_expiry", "Certificates Are Not About To Expire", CLUSTER,
       "The serving certificate, the CA and the admin client certificate are valid for at "
       "least min_days more days.", params={**API_TIMEOUT, "min_days": 30}),
    _t("security", "os", "lynis_hardening", "Lynis Hardening Index Is High Enough", HOST,
       "Lynis (the OS auditor Akraino's BluVal runs) audits the host; its hardening index is "
       "at least min_index.", params={"min_index": 50}),
    _t("security", "os", "lynis_warnings", "Lynis Finds No Warnings", HOST,
       "Lynis reports no warnings but the ones allowed (per-blueprint exceptions, by test id).",
       params={"allowed": []}),
    # -- network: gateways ------------------------------------------------------------------------
    _t("network", "xdp", "programs_attached", "Gateway Programs Are Attached", GATEWAY,
       "The XDP gateway program is attached to the gateway's LAN and WAN interfaces."),
    _t("network", "xdp", "maps_consistent", "Gateway Maps Match The Inventory", GATEWAY,
       "The gateway's maps hold exactly what the inventory says (the gateway module in check "
       "mode would change nothing)."),
    _t("network", "pods", "pod_to_pod", "Pods Reach Pods Across Clusters", FLEET,
       "A pod of a VPC in one cluster reaches a pod of the same VPC in another cluster through "
       "the gateways. Skipped, saying why, where the fleet cannot do it yet."),
)  # fmt: skip

BY_ID = OrderedDict((test.id, test) for test in TESTS)


def suites_of(layer: str) -> list:
    """The suite names of ``layer``, in catalog order."""
    found: list = []
    for test in TESTS:
        if test.layer == layer and test.suite not in found:
            found.append(test.suite)
    return found


def tests_of(layer: str, suite: str) -> list:
    return [test for test in TESTS if test.layer == layer and test.suite == suite]


def keywords() -> dict:
    """keyword name -> test id (every keyword implements exactly one test)."""
    return {test.keyword: test.id for test in TESTS}


SUITE_DOCS = {
    ("k8s", "control_plane"): "Every control plane answers and reaches its etcd.",
    ("k8s", "nodes"): "Nodes and system pods of every cluster.",
    ("k8s", "api"): "API versions and the CRDs the collection installs.",
    ("fornax", "registration"): "Every cluster registered with its parent, healthy.",
    ("fornax", "missions"): "The acceptance scenarios of the original test plan that leave the "
    "tree running: each creates a marked validation Mission at the root and removes it.",
    ("fornax", "disruption"): "The scenarios that stop an agent, cut an uplink or stop an API "
    "server (validate_destructive=true only); what they stop is restored even when they fail.",
    ("security", "confinement"): "A child's identity on its parent can do only what it needs.",
    ("security", "tls"): "TLS everywhere, no anonymous access, certificates not about to expire.",
    ("security", "os"): "The hosts' operating system, audited with lynis.",
    ("network", "xdp"): "The XDP gateways: programs attached, maps as the inventory says.",
    ("network", "pods"): "Pod-to-pod traffic across clusters.",
}
