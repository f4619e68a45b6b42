"""A child's identity can write only its own EdgeCluster and ClusterReport on its parent.

Two siblings, b1 and b2, below a, with real agents: b1's credential is refused on b2's
objects, and even paths b1 forges inside its own report never reach b2's entries at a.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from fornax_harness.tree import start_tree, wait_for

DEPLOYMENT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\n"


@pytest.fixture(scope="module")
def siblings(k8s_bin, tmp_path_factory):
    tree = start_tree(tmp_path_factory.mktemp("siblings"), {"a": None, "b1": "a", "b2": "a"})
    try:
        yield tree
    finally:
        tree.destroy()


def b1_on_a(tree) -> KubeClient:
    return KubeClient(settings_from_kubeconfig(str(tree["b1"].dir / "parent.kubeconfig")))


def test_a_child_cannot_write_a_siblings_objects(siblings):
    wait_for(
        lambda: siblings["a"].client().get_or_none(names.clusterreport_path("b2")), 20, "b2 linked"
    )
    with b1_on_a(siblings) as b1:
        forged = {"spec": {"missions": {"m": {"states": {"b2": "forged"}}}}}
        attempts = [
            lambda: b1.patch(names.clusterreport_path("b2"), forged),
            lambda: b1.patch(
                names.edgecluster_path("b2", status=True), {"status": {"healthStatus": "unhealthy"}}
            ),
            lambda: b1.delete(names.edgecluster_path("b2")),
            lambda: b1.create(
                names.EDGECLUSTERS,
                {
                    "apiVersion": names.API_VERSION,
                    "kind": "EdgeCluster",
                    "metadata": {"name": "b3"},
                },
            ),
            lambda: b1.patch(names.mission_path("any"), {"spec": {}}),
            lambda: b1.get("/api/v1/namespaces/kube-system/secrets"),
        ]
        for attempt in attempts:
            with pytest.raises(KubeApiError) as refused:
                attempt()
            assert refused.value.status == 403, refused.value
        # Its own objects are writable.
        b1.patch(names.edgecluster_path("b1", status=True), {"status": {"agentVersion": "probe"}})


def test_forged_paths_in_a_childs_own_report_are_ignored(siblings):
    with siblings.client("a") as a:
        a.create(
            names.MISSIONS,
            {
                "apiVersion": names.API_VERSION,
                "kind": "Mission",
                "metadata": {"name": "shared"},
                "spec": {"missionresource": DEPLOYMENT},
            },
        )
        wait_for(
            lambda: (
                (a.get(names.mission_path("shared")).get("status") or {}).get("states")
                == {"b1": "applied", "b2": "applied"}
            ),
            20,
            "both siblings report",
        )
        siblings.stop_agent("b1")  # so that it does not overwrite the forgery at once
        with b1_on_a(siblings) as b1:
            forged = {
                "spec": {
                    "missions": {
                        "shared": {"states": {"b1": "applied", "b2": "failed: forged by b1"}}
                    }
                }
            }
            b1.patch(names.clusterreport_path("b1"), forged)
        wait_for(
            lambda: a.get(names.clusterreport_path("b1"))["spec"]["missions"]["shared"][
                "states"
            ].get("b2"),
            5,
            "forgery stored",
        )
        for _poll in range(10):
            states = a.get(names.mission_path("shared"))["status"]["states"]
            assert states.get("b2") == "applied", states
            time.sleep(0.1)
    siblings.start_agent("b1")
