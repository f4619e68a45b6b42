"""Down and up, in parts: where a content object is looked up, when a heartbeat is sent.

The API servers are stubs here that count what is asked of them (the point is how many trips
the agent makes); the real trips are exercised by the scenarios in tests/integration.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from fornax_agent.content import Applied, Content, ContentConflict, Planned
from fornax_agent.downward import Downward, object_key
from fornax_agent.upward import Heartbeat, Kept, Reporter
from fornax_agent.workqueue import WorkQueue

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.policy import parse_policy
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.resource import ResourceInfo
from fornax_harness.stubs import StubInformer

CM = "/api/v1/namespaces/default/configmaps/web"
DEPLOY = "/apis/apps/v1/namespaces/shop/deployments/web"


def test_object_key_names_the_watch_and_its_key():
    assert object_key(CM) == ("v1|configmaps", "default/web")
    assert object_key(DEPLOY) == ("apps/v1|deployments", "shop/web")
    assert object_key("/api/v1/namespaces/shop") == ("v1|namespaces", "shop")
    assert object_key("/apis/rbac.authorization.k8s.io/v1/clusterroles/x") == (
        "rbac.authorization.k8s.io/v1|clusterroles",
        "x",
    )
    assert object_key("/healthz") is None


class CountingClient:
    def __init__(self, objects: dict) -> None:
        self.objects = objects
        self.gets = 0

    def get_or_none(self, path: str):
        self.gets += 1
        return self.objects.get(path)


def obj(generation: int, ready: int = 1) -> dict:
    return {
        "kind": "ConfigMap",
        "metadata": {"name": "web", "generation": generation},
        "data": {"ready": str(ready)},
    }


def content_with(cache: dict, server: dict, known: bool = True) -> tuple[Content, CountingClient]:
    client = CountingClient(server)
    content = Content(client, "b", parse_policy(None), lambda p: (known, cache.get(p)))
    content.discovery = None
    return content, client


def test_inspect_reads_the_watch_cache_not_the_server():
    content, client = content_with({CM: obj(1)}, {CM: obj(1)})
    assert content.inspect(Applied(1, {CM: 1})) == (False, content.inspect(Applied(1, {CM: 1}))[1])
    assert client.gets == 0


def test_inspect_sees_drift_in_the_cache():
    content, client = content_with({CM: obj(2)}, {CM: obj(2)})
    assert content.inspect(Applied(1, {CM: 1}))[0] is True  # someone changed its spec
    content, client = content_with({}, {})
    assert content.inspect(Applied(1, {CM: 1}))[0] is True  # gone: the server confirms
    assert client.gets == 1


def test_our_apply_answer_serves_until_the_watch_catches_up():
    content, client = content_with({CM: obj(1)}, {CM: obj(2)})
    content.answers[CM] = obj(2)  # what our apply of generation 2 answered
    assert content.inspect(Applied(2, {CM: 2}))[0] is False
    assert client.gets == 0
    # Not in the cache at all (a new object): the answer serves once, then the server is asked.
    content, client = content_with({}, {CM: obj(1)})
    content.answers[CM] = obj(1)
    assert content.inspect(Applied(1, {CM: 1}))[0] is False
    assert client.gets == 0
    content.inspect(Applied(1, {CM: 1}))
    assert client.gets == 1


def test_a_kind_not_watched_yet_is_read_from_the_server():
    content, client = content_with({}, {CM: obj(1)}, known=False)
    assert content.inspect(Applied(1, {CM: 1}))[0] is False
    assert client.gets == 1


def marked(mission: str, cluster: str = "b") -> dict:
    made = obj(1)
    made["metadata"]["labels"] = {names.MISSION_LABEL: mission}
    made["metadata"]["annotations"] = {names.APPLIED_BY_ANNOTATION: cluster}
    return made


CM_PLANNED = [Planned(obj(1), ResourceInfo("v1", "ConfigMap", "configmaps", True), "default", CM)]


def test_an_object_the_watch_holds_as_this_missions_is_not_read_again():
    content, client = content_with({CM: marked("web")}, {CM: marked("web")})
    content.check_owners("web", CM_PLANNED)
    assert client.gets == 0


def test_ownership_the_watch_cannot_vouch_for_is_read_from_the_server():
    # Not in the cache (a stranger's object has no Mission label, so the watch never sees it).
    content, client = content_with({}, {CM: obj(1)})
    with pytest.raises(ContentConflict, match="was not created by Fornax on b"):
        content.check_owners("web", CM_PLANNED)
    assert client.gets == 1
    # Another Mission's, or marked by another cluster: read, and refused.
    for cached in (marked("shop"), marked("web", cluster="c")):
        content, client = content_with({CM: cached}, {CM: cached})
        with pytest.raises(ContentConflict):
            content.check_owners("web", CM_PLANNED)
        assert client.gets == 1
    # A kind not watched yet.
    content, client = content_with({CM: marked("web")}, {CM: marked("web")}, known=False)
    content.check_owners("web", CM_PLANNED)
    assert client.gets == 1


class StubProbe:
    def __init__(self) -> None:
        self.made = 0

    def request(self, _method, _path):
        return "ok"

    def get(self, _path):
        return {"items": []}

    def close(self) -> None:
        pass


def test_kept_reuses_one_client_until_its_settings_change():
    made = []
    version = [object()]
    kept = Kept(lambda: made.append(StubProbe()) or made[-1], lambda: version[0])
    assert kept.get() is kept.get()
    assert len(made) == 1
    version[0] = object()  # a renewed token: new settings
    kept.get()
    assert len(made) == 2


class StubParent:
    def __init__(self) -> None:
        self.applied: list[str] = []

    def apply(self, path, _body, **_kwargs):
        self.applied.append(path)

    def close(self) -> None:
        pass


def heartbeat_with(parent: StubParent, sub_states: dict) -> Heartbeat:
    config = SimpleNamespace(
        cluster="b", labels={}, kubeconfig="/k", kube_distro="k8s", token_renewal=False
    )
    link = SimpleNamespace(client=lambda: parent, settings=object())
    missions = SimpleNamespace(snapshot=dict)
    side = SimpleNamespace(sub_states=lambda: dict(sub_states))
    down = SimpleNamespace(selects=lambda _spec: True)
    beat = Heartbeat(
        config,
        link,
        local_settings=None,
        missions=missions,
        downward=down,
        parent_side=side,
        stop=threading.Event(),
    )
    beat.probe = Kept(StubProbe, lambda: None)
    return beat


def test_a_heartbeat_between_periods_is_sent_only_when_it_says_something_new():
    parent = StubParent()
    sub = {"c": "healthy"}
    beat = heartbeat_with(parent, sub)
    assert beat.heartbeat(force=False)  # registration and the first status
    sent = len(parent.applied)
    assert not beat.heartbeat(force=False)  # a child's heartbeat changed nothing here
    assert len(parent.applied) == sent
    sub["c"] = "unhealthy"
    beat.parent_side = SimpleNamespace(sub_states=lambda: dict(sub))
    assert beat.heartbeat(force=False)
    assert beat.heartbeat(force=True)  # the period: always
    assert len(parent.applied) == sent + 2


def test_downward_copy_marks_the_parent_generation():
    config = SimpleNamespace(parent="a")
    upstream = {"metadata": {"name": "m", "generation": 3, "labels": {"x": "y"}}, "spec": {}}
    copy = Downward.copy_of(SimpleNamespace(cfg=config), upstream)
    assert copy["metadata"]["annotations"]["edgeclusters.kubeedge.io/parent-generation"] == "3"
    assert Downward.same_copy(copy, copy)


def test_work_before_the_watches_listed_goes_as_soon_as_they_have():
    # A Mission arriving while this cluster's own Missions are still being listed (an agent
    # just started) waits for the list, not for a fixed retry: the first Mission after a
    # start was 0.5 s late at every hop.
    queue = WorkQueue()
    local = StubInformer({})
    local.synced.clear()
    down = Downward.__new__(Downward)
    down.queue = queue
    down.missions = local
    down.parent_missions = StubInformer({})
    down.deferred, down.deferred_lock = set(), threading.Lock()
    down.copy("m")
    down.execute("m")
    assert queue.get(timeout=0.0) is None  # nothing to do before the list (nor busy-looping)
    local.synced.set()
    down.listed()
    assert {queue.get(timeout=0.0), queue.get(timeout=0.0)} == {("copy", "m"), ("exec", "m")}
    assert not down.deferred


def test_no_report_before_this_clusters_missions_are_listed():
    # An agent just started: a report now would tell the parent this cluster has no Missions.
    queue = WorkQueue()
    local = StubInformer({})
    local.synced.clear()
    parent = StubParent()
    reporter = Reporter(
        SimpleNamespace(cluster="b", max_paths=100, report_delay_seconds=0.02),
        queue,
        link=SimpleNamespace(client=lambda: parent, settings=object()),
        missions=local,
        downward=SimpleNamespace(own_states={}, copy_failures={}, executed={}),
        parent_side=SimpleNamespace(status_of=lambda _name: None),
    )
    reporter.report()
    assert reporter.writer.writes == 0 and queue.get(timeout=0.0) is None
