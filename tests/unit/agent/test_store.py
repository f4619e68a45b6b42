"""The agent's store of what it must remember across restarts."""

from __future__ import annotations

from fornax_agent.store import Store


def test_a_damaged_store_costs_what_it_held_not_the_start(tmp_path):
    (tmp_path / "agent-state.json").write_text('{"applied": [1, 2], "commands": {"m": {}}}')
    store = Store(str(tmp_path))
    assert store.get("applied") == {}
    assert store.get("commands") == {"m": {}}
    (tmp_path / "agent-state.json").write_text("[not json")
    assert Store(str(tmp_path)).get("applied") == {}
