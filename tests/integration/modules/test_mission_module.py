"""The mission module in real playbooks: check mode with placement preview, diff, idempotence,
waits met and timed out, deletion, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

from conftest import register

from fornax_harness.process import free_port

API = "/apis/edgeclusters.kubeedge.io/v1"
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "missions"


TEXT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: it's\n  namespace: default\n"


def deployment(replicas: int) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def mission(title: str, ignore_errors: bool = False, check_mode=None, **options) -> dict:
    task = {"name": title, "centaurus.fornax.mission": options}
    if ignore_errors:
        task["ignore_errors"] = True
    if check_mode is not None:
        task["check_mode"] = check_mode
    return task


def defaults(cluster) -> dict:
    # The action group sets the connection of every module at once.
    return {
        "module_defaults": {
            "group/centaurus.fornax.k8s": {"kubeconfig": str(cluster.kubeconfig_path)}
        }
    }


WEB = {"name": "web", "match_labels": {"company": "futurewei"}, "clusters": ["c", "ghost"]}


def test_check_mode_previews_placement_and_errors_name_the_field(cluster, admin, playbook):
    register(admin, "b", {"company": "futurewei"}, {"c": "healthy", "c/d": "unhealthy"})
    register(admin, "e", {"zone": "x"})
    run = playbook(
        [
            mission("preview", resource=deployment(2), **WEB),
            mission("bad yaml", ignore_errors=True, name="y", resource="kind: [\n"),
            mission(
                "bad content",
                ignore_errors=True,
                definition={
                    "apiVersion": "edgeclusters.kubeedge.io/v1",
                    "kind": "Mission",
                    "metadata": {"name": "z"},
                    "spec": {"missionresource": "apiVersion: v1\nmetadata: {name: x}\n"},
                },
            ),
            mission("admission", ignore_errors=True, name="w", command={"command": " "}),
        ],
        check=True,
        diff=True,
        play=defaults(cluster),
    )
    preview = run["preview"]
    assert preview["changed"] is True
    assert preview["diff"]["before"] == {}
    assert preview["mission"]["metadata"]["name"] == "web"  # the server's dry-run answer
    pp = preview["placement_preview"]
    assert pp["run"] == ["b", "b/c"]
    assert pp["not_match"] == ["e"]
    assert pp["unknown"] == ["b/c/d"]
    assert pp["clusters"]["b/c/d"] == {
        "decision": "unknown (labels not visible from here)",
        "health": "unhealthy",
    }
    assert pp["unknown_names"] == ["ghost"]
    assert any("spec.placement.clusters[1].name: 'ghost'" in w for w in preview["warnings"])
    assert admin.get_or_none(f"{API}/missions/web") is None, "check mode stored nothing"
    assert run["bad yaml"]["failed"] is True
    assert "spec.missionresource: not valid YAML" in run["bad yaml"]["msg"]
    assert run["bad content"]["msg"].endswith(
        "spec.missionresource document 1: kind is missing or not a string"
    )
    assert run["admission"]["failed"] is True
    assert "spec: a Mission needs a resource" in run["admission"]["msg"]


def test_apply_is_idempotent_and_diffs_only_applied_fields(cluster, admin, playbook):
    sample = SAMPLES / "deployment-to-all.yaml"
    port = free_port()
    run = playbook(
        [
            mission("create", resource=deployment(2), **WEB),
            mission("again", resource=deployment(2), **WEB),
            mission("check unchanged", check_mode=True, resource=deployment(2), **WEB),
            mission("update", resource=deployment(3), **WEB),
            mission(
                "command",
                name="cmd",
                labels={"team": "edge"},
                command={"command": "touch /tmp/x", "trigger": "test -f /tmp/x"},
                statecheck="test -f /tmp/x && echo present",
                clusters=["b"],
            ),
            mission("yaml text", name="text", resource=TEXT),
            mission("yaml text again", name="text", resource=TEXT),
            mission("from src", src=str(sample)),
            mission("src again", src=str(sample)),
            mission(
                "bad kubeconfig",
                ignore_errors=True,
                kubeconfig="/nonexistent/kc",
                name="web",
                resource=deployment(1),
            ),
            mission(
                "unreachable",
                ignore_errors=True,
                kubeconfig=None,
                host=f"https://127.0.0.1:{port}",
                validate_certs=False,
                api_retries=1,
                name="web",
                resource=deployment(1),
            ),
        ],
        diff=True,
        play=defaults(cluster),
    )
    assert run["create"]["changed"] is True
    assert run["again"]["changed"] is False, run["again"]["diff"]
    assert run["again"]["diff"]["before"] == run["again"]["diff"]["after"]
    assert run["check unchanged"]["changed"] is False
    update = run["update"]
    assert update["changed"] is True
    assert "replicas: 2" in update["diff"]["before"]["spec"]["missionresource"]
    assert "replicas: 3" in update["diff"]["after"]["spec"]["missionresource"]
    assert "status" not in update["diff"]["after"]
    assert "managedFields" not in update["diff"]["after"]["metadata"]
    cmd = admin.get(f"{API}/missions/cmd")
    assert cmd["metadata"]["labels"] == {"team": "edge"}
    assert cmd["spec"]["missioncommand"] == {"command": "touch /tmp/x", "trigger": "test -f /tmp/x"}
    assert cmd["spec"]["statecheck"] == {"command": "test -f /tmp/x && echo present"}
    assert cmd["spec"]["placement"] == {"clusters": [{"name": "b"}]}
    assert run["yaml text"]["changed"] is True
    assert run["yaml text again"]["changed"] is False
    assert admin.get(f"{API}/missions/text")["spec"]["missionresource"] == TEXT
    assert run["from src"]["changed"] is True
    assert run["src again"]["changed"] is False
    assert "kubeconfig: cannot read '/nonexistent/kc'" in run["bad kubeconfig"]["msg"]
    assert run["bad kubeconfig"]["field"] == "kubeconfig"
    msg = run["unreachable"]["msg"]
    assert f"API server https://127.0.0.1:{port} did not answer" in msg and "2 attempts" in msg
    stored = admin.get(f"{API}/missions/web")
    assert "replicas: 3" in stored["spec"]["missionresource"]
    assert stored["metadata"]["generation"] == 2


def test_waits_met_timed_out_and_deletion(cluster, admin, playbook):
    register(admin, "b", {"company": "futurewei"}, {"c": "healthy", "c/d": "healthy"})
    run = playbook(
        [
            mission("create", resource=deployment(2), **WEB),
            mission(
                "wait times out",
                ignore_errors=True,
                resource=deployment(2),
                wait=True,
                wait_timeout=2,
                wait_sleep=0.5,
                wait_for={"clusters": ["b", "b/c"]},
                **WEB,
            ),
        ],
        play=defaults(cluster),
    )
    timed_out = run["wait times out"]
    assert timed_out["failed"] is True
    assert "wait_timeout: Mission web not there after 2 s" in timed_out["msg"]
    assert "behind: b (no state yet), b/c (no state yet)" in timed_out["msg"]
    assert [b["path"] for b in timed_out["behind"]] == ["b", "b/c"]

    # Stands in for the agent: the Mission's status as the agent would write it.
    generation = admin.get(f"{API}/missions/web")["metadata"]["generation"]
    admin.patch(
        f"{API}/missions/web/status",
        {
            "status": {
                "observedGeneration": generation,
                "states": {"b": "2/2", "b/c": "2/2", "b/c/d": "1/2", "e": "not match"},
            }
        },
    )
    wait = {"wait": True, "wait_timeout": 3, "wait_sleep": 0.5, "resource": deployment(2), **WEB}
    run = playbook(
        [
            mission("named clusters", wait_for={"clusters": ["b", "b/c"]}, **wait),
            mission("exact state", wait_for={"clusters": ["b/c/d"], "state": "1/2"}, **wait),
            mission("two thirds", wait_for={"min_ready": "60%"}, **wait),
            mission("count in subtree", wait_for={"subtree": "b/c", "min_ready": 1}, **wait),
            mission("all", ignore_errors=True, wait_for={"min_ready": "100%"}, **wait),
            mission("bad min_ready", ignore_errors=True, wait_for={"min_ready": "most"}, **wait),
            mission("delete check", check_mode=True, name="web", state="absent"),
            mission("delete", name="web", state="absent", wait=True, wait_timeout=30),
            mission("delete again", name="web", state="absent"),
        ],
        play=defaults(cluster),
    )
    assert run["named clusters"]["wait"]["met"] is True
    assert run["named clusters"]["changed"] is False
    assert run["exact state"]["wait"]["met"] is True
    assert run["two thirds"]["wait"]["detail"] == (
        "2 of 3 selected clusters of the tree are ready, need 2"
    )
    assert run["count in subtree"]["wait"]["met"] is True
    everything = run["all"]
    assert everything["failed"] is True
    assert "2 of 3 selected clusters of the tree are ready, need 3" in everything["msg"]
    assert everything["behind"] == [{"path": "b/c/d", "state": "1/2"}]
    assert "wait_for.min_ready: 'most'" in run["bad min_ready"]["msg"]
    assert run["delete check"]["changed"] is True
    assert run["delete"]["changed"] is True and run["delete"]["wait"]["met"] is True
    assert run["delete again"]["changed"] is False
    assert admin.get_or_none(f"{API}/missions/web") is None
