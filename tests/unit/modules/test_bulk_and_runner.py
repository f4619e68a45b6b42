"""The shared layer of the Kubernetes modules: one option table, the object service, Mission sets.

Pure logic: the API server is a small fake here (the integration tests in
tests/integration/modules run the same paths against a real kube-apiserver).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.doc_fragments.k8s_auth import ModuleDocFragment
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import mission_set
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s import args_common, config
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeApiError
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.service import (
    BulkError,
    ObjectService,
)

ROOT = Path(__file__).resolve().parents[3]


def mission(name, labels=None):
    return {
        "apiVersion": "edgeclusters.kubeedge.io/v1",
        "kind": "Mission",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
        "spec": {"missioncommand": {"command": "true"}},
    }


# -- one table of connection options ---------------------------------------------------------


def test_connection_options_are_written_once_and_derived_everywhere():
    assert config.ENV_FALLBACKS is args_common.ENV_FALLBACKS
    assert set(args_common.AUTH_OPTIONS) == set(args_common.CONNECTION)
    assert set(args_common.AUTH_ARG_SPEC) == set(args_common.CONNECTION) | {
        "api_timeout",
        "api_retries",
    }
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(doc) == set(args_common.AUTH_ARG_SPEC)
    for name, spec in args_common.AUTH_ARG_SPEC.items():
        for key in ("type", "aliases", "default", "elements"):
            assert doc[name].get(key) == spec.get(key), (name, key)
        for var in args_common.ENV_FALLBACKS.get(name, ()):
            assert f"E({var})" in " ".join(doc[name]["description"]), (name, var)
    subs = doc["proxy_headers"]["suboptions"]
    assert set(subs) == set(args_common.PROXY_HEADER_OPTIONS)
    assert "E(K8S_AUTH_PROXY_HEADERS_USER_AGENT)" in " ".join(subs["user_agent"]["description"])


def connection_table() -> list:
    text = (ROOT / "docs" / "modules.md").read_text()
    section = text.split("## Connection", 1)[1]
    rows, started = [], False
    for line in section.splitlines():
        if line.startswith("|"):
            started = True
            rows.append(line)
        elif started:
            break
    return rows[2:]  # past the header and its rule


def test_the_docs_table_lists_every_connection_option_and_variable():
    options, variables = set(), set()
    for row in connection_table():
        cells = row.split("|")
        options |= set(re.findall(r"`([a-z_]+)`", re.sub(r"\(`[a-z_]+`\)", "", cells[1])))
        variables |= set(re.findall(r"`(K8S_AUTH_[A-Z_]+)`", cells[2]))
    assert options == set(args_common.CONNECTION)
    assert variables == {v for env in args_common.CONNECTION.values() for v in env[1]}


# -- the object service ------------------------------------------------------------------------


class Server:
    """Objects by path; apply merges nothing (the desired object replaces), as a fake may."""

    def __init__(self, objects=None, refuse=()):
        self.objects = dict(objects or {})
        self.refuse = set(refuse)
        self.writes, self.dry_runs, self.lists = [], [], 0

    def get_or_none(self, path):
        return self.objects.get(path)

    def get(self, path, **query):
        self.lists += 1
        prefix = path.rstrip("/") + "/"
        return {"items": [o for p, o in self.objects.items() if p.startswith(prefix)]}

    def apply(self, path, obj, *, field_manager, force=False, dry_run=False):
        if path in self.refuse:
            raise KubeApiError(422, "Invalid", f"{path} is invalid")
        (self.dry_runs if dry_run else self.writes).append(path)
        if not dry_run:
            self.objects[path] = dict(obj)
        return dict(obj)

    def delete_if_exists(self, path, dry_run=False):
        (self.dry_runs if dry_run else self.writes).append(("delete", path))
        if not dry_run:
            self.objects.pop(path, None)
        return True


COLLECTION = "/apis/edgeclusters.kubeedge.io/v1/missions"


def items(*names):
    return [(f"definition[{i}]", f"{COLLECTION}/{n}", mission(n)) for i, n in enumerate(names)]


def test_present_all_dry_runs_everything_first_and_writes_only_changes():
    server = Server({f"{COLLECTION}/a": mission("a")})
    svc = ObjectService(server, field_manager="me")
    live = svc.read_all(COLLECTION, ["a", "b"])
    assert server.lists == 1 and live["a"] is not None and live["b"] is None
    changes = svc.present_all(items("a", "b"), {f"{COLLECTION}/{k}": v for k, v in live.items()})
    assert [c.operation for c in changes] == ["unchanged", "created"]
    assert server.dry_runs == [f"{COLLECTION}/a", f"{COLLECTION}/b"]
    assert server.writes == [f"{COLLECTION}/b"]


def test_present_all_names_every_refused_object_and_changes_nothing():
    server = Server(refuse={f"{COLLECTION}/b", f"{COLLECTION}/c"})
    svc = ObjectService(server, field_manager="me")
    with pytest.raises(BulkError) as caught:
        svc.present_all(items("a", "b", "c"), {})
    assert [p.split(":")[0] for p in caught.value.problems] == ["definition[1]", "definition[2]"]
    assert "nothing was changed" in str(caught.value)
    assert server.writes == []


def test_check_mode_is_dry_run_only_and_absent_shows_what_goes():
    server = Server({f"{COLLECTION}/a": mission("a")})
    svc = ObjectService(server, field_manager="me", check_mode=True)
    assert [c.changed for c in svc.present_all(items("a", "b"), {})] == [True, True]
    gone = svc.absent(f"{COLLECTION}/a")
    assert gone.operation == "deleted" and gone.diff["before"]["metadata"] == {"name": "a"}
    assert svc.absent(f"{COLLECTION}/zzz").operation == "absent"
    assert server.writes == [] and f"{COLLECTION}/a" in server.objects


# -- Mission sets ------------------------------------------------------------------------------


def test_one_mission_keeps_the_single_form():
    found, many = mission_set.load_missions(mission("a"), None, None, {})
    assert not many and found[0].mission["metadata"]["name"] == "a"
    found, many = mission_set.load_missions(yaml.safe_dump(mission("a")), None, None, {})
    assert not many


def test_a_list_multi_document_text_and_a_directory_are_sets(tmp_path):
    found, many = mission_set.load_missions([mission("a"), mission("b")], None, None, {})
    assert many and [m.source for m in found] == ["definition[0]", "definition[1]"]
    text = yaml.safe_dump_all([mission("a"), None, mission("b")])
    found, many = mission_set.load_missions(text, None, None, {})
    assert [m.source for m in found] == ["definition document 1", "definition document 3"]
    (tmp_path / "b.yaml").write_text(yaml.safe_dump_all([mission("c"), mission("d")]))
    (tmp_path / "a.yml").write_text(yaml.safe_dump(mission("e")))
    (tmp_path / "notes.txt").write_text("not a mission")
    found, many = mission_set.load_missions(None, str(tmp_path), None, {})
    assert many and [m.mission["metadata"]["name"] for m in found] == ["e", "c", "d"]
    assert found[2].source == f"src '{tmp_path / 'b.yaml'}' document 2"


def test_every_bad_entry_is_named_by_source_and_field(tmp_path):
    bad = mission("b")
    bad["spec"]["placement"] = {"clusters": "b"}
    entries = [mission("a"), bad, {"kind": "Mission", "spec": {}}, mission("a")]
    with pytest.raises(mission_set.MissionSetError) as caught:
        mission_set.load_missions(entries, None, None, {})
    problems = caught.value.problems
    assert problems[0].startswith("definition[1]: spec.placement.clusters:")
    assert problems[1].startswith("definition[2]: metadata.name: missing")
    assert problems[2] == "definition[3]: metadata.name: 'a' is also definition[0]"
    (tmp_path / "x.yaml").write_text(yaml.safe_dump_all([mission("a"), {"metadata": 1}]))
    with pytest.raises(
        mission_set.MissionSetError, match=r"x.yaml' document 2: metadata: 1 is not a mapping"
    ):
        mission_set.load_missions(None, str(tmp_path / "x.yaml"), None, {})


def test_a_set_takes_no_name_and_an_empty_directory_is_an_error(tmp_path):
    with pytest.raises(mission_set.MissionSpecError, match="name: names one Mission"):
        mission_set.load_missions([mission("a")], None, "x", {})
    with pytest.raises(mission_set.MissionSpecError, match=r"holds no \.yaml"):
        mission_set.load_missions(None, str(tmp_path), None, {})
    with pytest.raises(mission_set.MissionSetError, match="an empty list"):
        mission_set.load_missions([], None, None, {})
