"""The cache of the agent's own Missions: one status object where the writer holds an equal one."""

from __future__ import annotations

import json
import threading
from typing import Any

from fornax_agent.missioncache import LocalMissions, compact_status
from fornax_agent.statuswriter import StatusWriter

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names


def folded(paths: int, state: str = "applied") -> dict[str, Any]:
    return {
        "observedGeneration": 1,
        "states": {f"b/c{i}": state for i in range(paths)},
        "subtreeSummaries": {"b/d/*": {"clusters": 3}},
        "summary": {"clusters": paths},
    }


def event(name: str, status: dict[str, Any]) -> dict[str, Any]:
    """A Mission as its watch sends it (decoded afresh: no object shared with anyone)."""
    obj = {
        "apiVersion": names.API_VERSION,
        "kind": "Mission",
        "metadata": {
            "name": name,
            "generation": 1,
            "resourceVersion": "7",
            "managedFields": [{"manager": "fornax-agent", "fieldsV1": {"f:status": {}}}],
        },
        "spec": {"placement": {}},
        "status": status,
    }
    return json.loads(json.dumps(obj))


class Writes:
    """Statuses written per Mission, as StatusWriter.known answers them."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}

    def known(self, name: str) -> list[dict[str, Any]]:
        return self.by_name.get(name, [])


def cache(known: Any = None) -> LocalMissions:
    informer = LocalMissions("missions", lambda: None, names.MISSIONS, lambda *_: None)
    informer.known = known
    return informer


def test_our_own_status_coming_back_is_the_writers_object_and_no_managed_fields_are_kept():
    writes = Writes()
    mine = folded(50)
    writes.by_name["m"] = [mine]
    kept = cache(writes.known).shape(event("m", mine))
    assert kept["status"] is mine
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["resourceVersion"] == "7" and kept["spec"] == {"placement": {}}


def test_another_status_is_kept_equal_with_its_paths_and_states_shared():
    writes = Writes()
    writes.by_name["m"] = [folded(50, "ready")]  # the server holds something else
    informer = cache(writes.known)
    first = informer.shape(event("m", folded(50)))["status"]
    second = informer.shape(event("n", folded(50)))["status"]
    assert first == folded(50) and second == folded(50) and first is not second
    for (k1, v1), (k2, v2) in zip(first["states"].items(), second["states"].items(), strict=True):
        assert k1 is k2 and v1 is v2  # one string for a path and a state across Missions
    assert next(iter(first["subtreeSummaries"])) is next(iter(second["subtreeSummaries"]))


def test_missions_without_status_or_without_a_writer_and_malformed_ones():
    assert cache().shape(event("m", {}))["status"] == {}
    assert cache().shape(event("m", folded(3)))["status"] == folded(3)
    assert cache().shape({"metadata": "x"}) == {"metadata": "x"}
    odd = {"metadata": {"name": "m"}, "status": {"states": ["not", "a", "map"]}}
    assert cache().shape(odd)["status"] == {"states": ["not", "a", "map"]}
    assert compact_status({"summary": {}}) == {"summary": {}}


def test_the_status_writer_knows_what_it_wrote_and_what_it_is_writing():
    landed = threading.Event()

    class Client:
        def patch(self, _path: str, _body: dict) -> None:
            landed.wait(5)

    writer = StatusWriter(Client, 1, lambda *_: None)
    try:
        status = folded(4)
        writer.submit_status("m", {"states": status["states"]}, status)
        assert writer.known("m") == [status]  # being written
        landed.set()
        writer.pool.shutdown(wait=True)
        known = writer.known("m")
        assert known == [status] and writer.base("m", {}) is known[0]
        assert writer.known("other") == []
    finally:
        writer.close()
