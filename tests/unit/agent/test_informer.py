"""An informer survives callbacks that raise and objects without a name.

The API server is replaced by a stub here (it never sends such objects); the agent's handling
of real hostile Missions is tested against real clusters in tests/integration/fornax_tree.
"""

from __future__ import annotations

import threading

from fornax_agent.informer import Informer, wait_synced


class StubClient:
    """Answers one list and one watch, then blocks the next watch until closed."""

    def __init__(self, listing, events, done: threading.Event) -> None:
        self.listing = listing
        self.events = events
        self.done = done
        self.watched = 0

    def get(self, _path, **_query):
        return self.listing

    def watch(self, _path, **_kwargs):
        self.watched += 1
        if self.watched == 1:
            yield from self.events
        self.done.set()
        threading.Event().wait(0.05)

    def close(self) -> None:
        pass


def item(name, version="1"):
    return {"metadata": {"name": name, "resourceVersion": version}}


def test_a_raising_callback_and_malformed_objects_do_not_stop_the_informer():
    stop = threading.Event()
    done = threading.Event()
    seen = []

    def on_event(kind, obj):
        seen.append((kind, obj["metadata"]["name"]))
        if obj["metadata"]["name"] == "bomb":
            raise RecursionError("maximum recursion depth exceeded")

    listing = {
        "kind": "ThingList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": [item("a"), item("bomb"), {"metadata": {"name": 7}}, {"nothing": 1}],
    }
    events = [
        {"type": "ADDED", "object": {"metadata": {}}},
        {"type": "WEIRD", "object": item("x")},
        "not an event at all",
        {"type": "MODIFIED", "object": item("bomb", "2")},
        {"type": "ADDED", "object": item("b", "3")},
    ]
    client = StubClient(listing, events, done)
    informer = Informer("things", lambda: client, "/api/v1/things", on_event, stop=stop)
    informer.start()
    try:
        assert wait_synced([informer], 5)
        assert done.wait(5)
        assert seen == [("ADDED", "a"), ("ADDED", "bomb"), ("MODIFIED", "bomb"), ("ADDED", "b")]
        assert set(informer.snapshot()) == {"a", "bomb", "b"}
        assert informer.is_alive()
    finally:
        stop.set()
        informer.join(5)
