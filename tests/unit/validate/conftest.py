"""Fleets and blueprints for the validation unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from validate_fleets import member

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import safe_load
from fornax_harness.binaries import repo_root

BLUEPRINT = repo_root() / "roles" / "validate" / "files" / "blueprint-fornax.yml"


@pytest.fixture
def chain_members() -> list[dict]:
    """The acceptance tree a -> b -> c -> d, d labelled company=futurewei."""
    return [
        member("a", None, "a", ["b"]),
        member("b", "a", "a/b", ["c"]),
        member("c", "b", "a/b/c", ["d"]),
        member("d", "c", "a/b/c/d", [], labels={"company": "futurewei"}),
    ]


@pytest.fixture
def wide_members() -> list[dict]:
    """root -> region -> site-a, site-b (the molecule tree), with a gateway host in site-b."""
    return [
        member("root", None, "root", ["region"], labels={"tier": "cloud"}),
        member("region", "root", "root/region", ["site-a", "site-b"], labels={"region": "eu"}),
        member("site-a", "region", "root/region/site-a", [], labels={"region": "eu", "site": "a"}),
        member("site-b", "region", "root/region/site-b", [], labels={"region": "eu", "site": "b"}),
        member(
            "site-b",
            "region",
            "root/region/site-b",
            [],
            host="site-b-gw",
            roles=["gateway"],
            labels={"region": "eu", "site": "b"},
        ),
    ]


@pytest.fixture
def shipped() -> dict:
    return safe_load(Path(BLUEPRINT).read_text(), str(BLUEPRINT))
