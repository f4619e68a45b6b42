"""Many Missions in one mission task, in real playbooks against a real API server: a directory,
a list, check mode, diff, idempotence, and sets with bad entries that change nothing."""

from __future__ import annotations

import yaml
from conftest import register

API = "/apis/edgeclusters.kubeedge.io/v1"


def mission(name: str, replicas: int = 1, clusters=None) -> dict:
    content = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"replicas": str(replicas)},
    }
    placement = {"clusters": clusters if clusters is not None else [{"name": "b"}]}
    return {
        "apiVersion": "edgeclusters.kubeedge.io/v1",
        "kind": "Mission",
        "metadata": {"name": name},
        "spec": {"missionresource": yaml.safe_dump(content), "placement": placement},
    }


def task(title: str, check_mode=None, **options) -> dict:
    found = {"name": title, "centaurus.fornax.mission": options, "ignore_errors": True}
    if check_mode is not None:
        found["check_mode"] = check_mode
    return found


def stored(admin) -> dict:
    return {m["metadata"]["name"]: m for m in admin.get(f"{API}/missions")["items"]}


def test_a_directory_and_a_list_apply_in_one_task_each(cluster, admin, playbook, tmp_path):
    register(admin, "b", {"zone": "a"})
    folder = tmp_path / "missions"
    folder.mkdir()
    (folder / "a.yaml").write_text(yaml.safe_dump_all([mission("m1"), mission("m2")]))
    (folder / "b.yml").write_text(yaml.safe_dump(mission("m3", clusters=[{"name": "ghost"}])))
    (folder / "README.md").write_text("not read")
    changed = [mission("m1", 2), mission("m2"), mission("m3", clusters=[{"name": "ghost"}])]
    kc = str(cluster.kubeconfig_path)
    run = playbook(
        [
            task("dir", kubeconfig=kc, src=str(folder)),
            task("dir again", kubeconfig=kc, src=str(folder)),
            task("list check", check_mode=True, kubeconfig=kc, definition=changed),
            task("list", kubeconfig=kc, definition=changed),
        ],
        diff=True,
    )
    first = run["dir"]
    assert first["changed"] is True, first
    assert [(m["name"], m["operation"]) for m in first["missions"]] == [
        ("m1", "created"),
        ("m2", "created"),
        ("m3", "created"),
    ]
    assert first["missions"][1]["source"] == f"src '{folder / 'a.yaml'}' document 2"
    assert first["missions"][0]["placement_preview"]["run"] == ["b"]
    assert any("mission m3: " in w and "'ghost'" in w for w in first["warnings"])
    assert isinstance(first["diff"], list) and len(first["diff"]) == 3
    again = run["dir again"]
    assert again["changed"] is False
    assert {m["operation"] for m in again["missions"]} == {"unchanged"}
    check = run["list check"]
    assert [m["changed"] for m in check["missions"]] == [True, False, False]
    assert "replicas: '2'" in check["missions"][0]["diff"]["after"]["spec"]["missionresource"]
    assert [m["operation"] for m in run["list"]["missions"]] == [
        "updated",
        "unchanged",
        "unchanged",
    ]
    assert "'2'" in stored(admin)["m1"]["spec"]["missionresource"]
    assert stored(admin)["m2"]["metadata"]["generation"] == 1


def test_bad_entries_are_named_and_nothing_is_applied(cluster, admin, playbook, tmp_path):
    kc = str(cluster.kubeconfig_path)
    bad_field = mission("n2")
    bad_field["spec"]["placement"] = {"clusters": "b"}
    refused = mission("Not_A_Name")  # passes our checks; the API server refuses the name
    src = tmp_path / "set.yaml"
    src.write_text(yaml.safe_dump_all([mission("n1"), bad_field, mission("n1")]))
    run = playbook(
        [
            task("checked", kubeconfig=kc, src=str(src)),
            task("refused", kubeconfig=kc, definition=[mission("n3"), refused]),
            task("named", kubeconfig=kc, name="x", definition=[mission("n4")]),
        ]
    )
    checked = run["checked"]
    assert checked["failed"] is True
    assert checked["problems"] == [
        f"src '{src}' document 2: spec.placement.clusters: 'b' is a str, not a list",
        f"src '{src}' document 3: metadata.name: 'n1' is also src '{src}' document 1",
    ], checked["problems"]
    assert "nothing was sent" in checked["msg"]
    refusal = run["refused"]
    assert refusal["failed"] is True
    assert refusal["problems"][0].startswith("definition[1]: the API server answered 422")
    assert "nothing was changed" in refusal["msg"]
    assert "name: names one Mission" in run["named"]["msg"]
    assert stored(admin) == {}, "no Mission of a refused set was stored"


def test_a_set_is_deleted_with_check_mode_first(cluster, admin, playbook):
    kc = str(cluster.kubeconfig_path)
    both = [mission("d1"), mission("d2")]
    run = playbook(
        [
            task("create", kubeconfig=kc, definition=both),
            task("delete check", check_mode=True, kubeconfig=kc, state="absent", definition=both),
            task("delete", kubeconfig=kc, state="absent", definition=both, wait=True),
            task("delete again", kubeconfig=kc, state="absent", definition=both),
        ]
    )
    assert run["create"]["changed"] is True
    assert [m["operation"] for m in run["delete check"]["missions"]] == ["deleted", "deleted"]
    deleted = run["delete"]
    assert deleted["changed"] is True and all(m["wait"]["met"] for m in deleted["missions"])
    assert deleted["missions"][0]["diff"]["before"]["metadata"] == {"name": "d1"}
    again = run["delete again"]
    assert again["changed"] is False
    assert [m["operation"] for m in again["missions"]] == ["absent", "absent"]
    assert stored(admin) == {}
