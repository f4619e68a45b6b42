"""edgecluster, edgecluster_info and mission_info in real playbooks (mission_info walks down to a
second, real cluster)."""

from __future__ import annotations

import datetime

from conftest import register

from fornax_harness import ClusterSpec
from fornax_harness.process import free_port

API = "/apis/edgeclusters.kubeedge.io/v1"


def task(module: str, title: str, ignore_errors: bool = False, check_mode=None, **options):
    body = {"name": title, f"centaurus.fornax.{module}": options}
    if ignore_errors:
        body["ignore_errors"] = True
    if check_mode is not None:
        body["check_mode"] = check_mode
    return body


def test_edgecluster_states_check_diff_idempotence_and_info(cluster, admin, playbook):
    kc = str(cluster.kubeconfig_path)
    beat = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    # Stands in for b's agent: registered, with a heartbeat and a subtree.
    register(
        admin,
        "b",
        {"zone": "z1"},
        {"c": "healthy", "c/d": "unhealthy"},
        lastHeartbeat=beat,
        receivedMissions=["m1", "m2"],
        activeMissions=["m1"],
    )
    ec = {"kubeconfig": kc, "name": "e2", "labels": {"company": "futurewei"}, "kube_distro": "k3s"}
    run = playbook([task("edgecluster", "plan", **ec)], check=True, diff=True)
    assert run["plan"]["changed"] is True
    assert run["plan"]["diff"]["after"]["metadata"]["labels"] == {"company": "futurewei"}
    assert admin.get_or_none(f"{API}/edgeclusters/e2") is None

    run = playbook(
        [
            task("edgecluster", "create", cluster_kubeconfig="/etc/rancher/k3s/k3s.yaml", **ec),
            task("edgecluster", "again", cluster_kubeconfig="/etc/rancher/k3s/k3s.yaml", **ec),
            task("edgecluster", "conflict", True, kubeconfig=kc, name="b", labels={"zone": "z2"}),
            task(
                "edgecluster",
                "label b",
                kubeconfig=kc,
                name="b",
                labels={"zone": "z2"},
                force_conflicts=True,
            ),
            task("edgecluster", "label b again", kubeconfig=kc, name="b", labels={"zone": "z2"}),
            task("edgecluster", "bad name", ignore_errors=True, kubeconfig=kc, name="B!"),
            task("edgecluster_info", "info", kubeconfig=kc),
            task("edgecluster_info", "one", kubeconfig=kc, name="b"),
            task("edgecluster", "remove", kubeconfig=kc, name="e2", state="absent"),
            task("edgecluster", "remove again", kubeconfig=kc, name="e2", state="absent"),
            task("edgecluster_info", "after", kubeconfig=kc),
        ],
        diff=True,
    )
    assert run["create"]["changed"] is True
    assert run["create"]["edgecluster"]["spec"]["kubeconfig"] == "/etc/rancher/k3s/k3s.yaml"
    assert run["again"]["changed"] is False
    # b's labels were written by another owner (the stand-in agent): a conflict names the field.
    conflict = run["conflict"]
    assert conflict["failed"] is True and conflict["status"] == 409
    assert "409 Conflict" in conflict["msg"] and ".metadata.labels.zone" in conflict["msg"]
    assert run["label b"]["changed"] is True
    assert run["label b"]["diff"] == {
        "before": {
            "apiVersion": "edgeclusters.kubeedge.io/v1",
            "kind": "EdgeCluster",
            "metadata": {"name": "b", "labels": {"zone": "z1"}},
        },
        "after": {
            "apiVersion": "edgeclusters.kubeedge.io/v1",
            "kind": "EdgeCluster",
            "metadata": {"name": "b", "labels": {"zone": "z2"}},
        },
    }
    assert run["label b again"]["changed"] is False  # the agent's status is not our business
    assert "name: 'B!' must be a DNS-1123 label" in run["bad name"]["msg"]
    info = run["info"]
    assert [e["name"] for e in info["edgeclusters"]] == ["b", "e2"]
    b = info["edgeclusters"][0]
    assert b["health"] == "healthy"
    assert 25 <= b["heartbeat_age_seconds"] < 600
    assert b["sub_clusters"] == {"c": "healthy", "c/d": "unhealthy"}
    assert b["received_missions"] == ["m1", "m2"] and b["active_missions"] == ["m1"]
    assert info["tree"]["b"]["children"]["c"]["children"]["d"]["health"] == "unhealthy"
    assert info["health"] == {
        "healthy": 2,
        "unhealthy": 1,
        "disconnected": 0,
        "unknown": 1,  # e2: no agent has reported yet
        "clusters": 4,
    }
    assert [e["name"] for e in run["one"]["edgeclusters"]] == ["b"]
    assert run["remove"]["changed"] is True
    assert run["remove again"]["changed"] is False
    assert [e["name"] for e in run["after"]["edgeclusters"]] == ["b"]


def test_mission_info_tree_summary_and_walk_down(cluster, admin, cluster_factory, playbook):
    [kid] = cluster_factory(ClusterSpec("kid"))
    spec = {"missionresource": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
    body = {"apiVersion": "edgeclusters.kubeedge.io/v1", "kind": "Mission", "spec": spec}
    # Stand in for the agents: the root keeps kid's own state and folds kid/x's subtree...
    admin.create(f"{API}/missions", {**body, "metadata": {"name": "m"}})
    admin.patch(
        f"{API}/missions/m/status",
        {
            "status": {
                "states": {"kid": "applied", "other": "not match"},
                "subtreeSummaries": {
                    "kid/x": {"clusters": 2, "matched": 2, "ready": 1, "failed": 1}
                },
            }
        },
    )
    admin.create(f"{API}/missions", {**body, "metadata": {"name": "n"}})
    # ...while kid itself has the detail of its subtree.
    with kid.client() as kid_admin:
        kid_admin.create(f"{API}/missions", {**body, "metadata": {"name": "m"}})
        kid_admin.patch(
            f"{API}/missions/m/status",
            {"status": {"states": {"x": "applied", "x/y": "failed: image pull"}}},
        )
    kc = str(cluster.kubeconfig_path)
    port = free_port()
    run = playbook(
        [
            task("mission_info", "all", kubeconfig=kc),
            task(
                "mission_info",
                "walk",
                kubeconfig=kc,
                name="m",
                api_retries=0,
                children={
                    "kid": str(kid.kubeconfig_path),
                    "gone": {"host": f"https://127.0.0.1:{port}", "validate_certs": False},
                },
            ),
        ]
    )
    listed = run["all"]
    assert [m["name"] for m in listed["missions"]] == ["m", "n"]
    m = listed["missions"][0]
    assert m["tree"]["kid"] == {"state": "applied", "class": "ready", "children": {}}
    assert m["summary"] == {
        "clusters": 4,
        "matched": 3,
        "ready": 2,
        "failed": 1,
        "unreachable": 0,
        "notMatch": 1,
    }
    assert listed["summary"]["clusters"] == 4  # n has no states yet
    walked = run["walk"]["missions"][0]
    assert walked["walked"] == ["kid"]
    assert walked["states"] == {
        "kid": "applied",
        "other": "not match",
        "kid/x": "applied",
        "kid/x/y": "failed: image pull",
    }
    assert walked["subtree_summaries"] == {}
    node = walked["tree"]["kid"]["children"]["x"]["children"]["y"]
    assert node["state"] == "failed: image pull" and node["class"] == "failed"
    assert walked["summary"]["ready"] == 2 and walked["summary"]["failed"] == 1
    assert "did not answer" in run["walk"]["walk_errors"]["gone"]
