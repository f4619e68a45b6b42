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


class ListAndWatch:
    """Answers ``get`` with a listing and ``watch`` with the events given, then ends."""

    def __init__(self, listing, events=()) -> None:
        self.listing = listing
        self.events = list(events)

    def get(self, _path, **_query):
        return self.listing

    def watch(self, _path, **_kwargs):
        yield from self.events


def listed_informer(version="10", items=()):
    """An informer that has listed (no thread: its steps are called directly), and what it
    reported."""
    seen = []
    listing = {"metadata": {"resourceVersion": version}, "items": list(items)}
    informer = Informer(
        "things", lambda: None, "/things", lambda kind, obj: seen.append((kind, version_of(obj)))
    )
    informer._list(ListAndWatch(listing))
    informer.synced.set()
    return informer, seen


def version_of(obj):
    return (obj["metadata"]["name"], obj["metadata"]["resourceVersion"])


def test_an_offered_answer_is_reported_at_once_and_its_watch_event_not_again():
    informer, seen = listed_informer()
    assert informer.offer(item("a", "11"))
    assert seen == [("ADDED", ("a", "11"))]
    assert informer.get("a")["metadata"]["resourceVersion"] == "11"
    informer._watch(ListAndWatch({}, [{"type": "ADDED", "object": item("a", "11")}]), "10")
    assert seen == [("ADDED", ("a", "11"))]  # the watch caught up: nothing new
    informer._watch(ListAndWatch({}, [{"type": "MODIFIED", "object": item("a", "12")}]), "11")
    assert seen[-1] == ("MODIFIED", ("a", "12"))  # later changes are reported as ever


def test_an_answer_older_than_what_the_watch_brought_is_refused():
    """A delete (or a change) the watch already delivered is never undone by an answer."""
    informer, seen = listed_informer(items=[item("a", "9")])
    informer._watch(ListAndWatch({}, [{"type": "DELETED", "object": item("a", "12")}]), "10")
    assert not informer.offer(item("a", "11"))
    assert informer.get("a") is None
    assert seen == [("ADDED", ("a", "9")), ("DELETED", ("a", "12"))]


def test_an_older_event_after_an_offer_does_not_roll_the_cache_back():
    """Someone else's write (say a status) lands just before ours and its event comes after
    our answer was taken: the cache keeps our newer answer, and reports nothing older."""
    informer, seen = listed_informer(items=[item("a", "9")])
    assert informer.offer(item("a", "12"))
    events = [
        {"type": "MODIFIED", "object": item("a", "11")},
        {"type": "MODIFIED", "object": item("a", "12")},
    ]
    informer._watch(ListAndWatch({}, events), "10")
    assert informer.get("a")["metadata"]["resourceVersion"] == "12"
    assert seen == [("ADDED", ("a", "9")), ("MODIFIED", ("a", "12"))]


def test_a_list_read_before_an_answer_keeps_the_answer():
    """A re-list whose snapshot predates an offered answer must not report it deleted."""
    informer, seen = listed_informer()
    assert informer.offer(item("a", "11"))
    informer._list(ListAndWatch({"metadata": {"resourceVersion": "10"}, "items": []}))
    assert informer.get("a") is not None
    assert ("DELETED", ("a", "11")) not in seen
    informer._list(ListAndWatch({"metadata": {"resourceVersion": "13"}, "items": []}))
    assert informer.get("a") is None  # a list newer than the answer decides
    assert seen[-1] == ("DELETED", ("a", "11"))


def test_nothing_is_offered_before_the_first_list_or_without_a_numeric_version():
    informer = Informer("things", lambda: None, "/things", lambda kind, obj: None)
    assert not informer.offer(item("a", "11"))
    informer, seen = listed_informer()
    assert not informer.offer(item("a", "v11"))
    assert not informer.offer({"metadata": {"resourceVersion": "12"}})  # no name
    assert not informer.offer(item("a", "10"))  # not newer than the list
    assert seen == []
