"""The Python copies of the C map layouts match the compiled objects (their BTF).

bpf/fornax.h and the programs define each map's key and value as C structs; layouts.py encodes
the same bytes in Python. A field added, moved or resized on one side only would make the
control plane write entries the kernel reads differently. This test reads the BTF that clang
leaves in bpf/build/*.bpf.o (``bpftool btf dump file``) and compares, for every map: its kind,
the key and value sizes, and the offset and size of every field.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import Bpftool
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import (
    BPF_MAP_TYPES,
    LAYOUTS,
)
from fornax_harness.binaries import repo_root
from fornax_harness.prereq import require

BUILD = repo_root() / "bpf" / "build"
QUALIFIERS = ("TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG")


class Btf:
    """The types of one object file, by id."""

    def __init__(self, obj: Path) -> None:
        dump = Bpftool().run("btf", "dump", "file", str(obj))
        self.types = {t["id"]: t for t in dump["types"]}

    def resolve(self, type_id: int) -> dict:
        t = self.types[type_id]
        while t["kind"] in QUALIFIERS:
            t = self.types[t["type_id"]]
        return t

    def size(self, type_id: int) -> int:
        t = self.resolve(type_id)
        if t["kind"] == "ARRAY":
            return t["nr_elems"] * self.size(t["type_id"])
        return int(t["size"])

    def spans(self, type_id: int) -> list[tuple[int, int]]:
        t = self.resolve(type_id)
        if t["kind"] != "STRUCT":
            return [(0, self.size(type_id))]
        return [(m["bits_offset"] // 8, self.size(m["type_id"])) for m in t["members"]]

    def maps(self) -> dict[str, dict]:
        """name -> {"type": map type number, "key": type id, "value": type id}."""
        found = {}
        for section in self.types.values():
            if section["kind"] != "DATASEC" or section["name"] != ".maps":
                continue
            for var in section["vars"]:
                variable = self.types[var["type_id"]]
                fields = {
                    m["name"]: m["type_id"] for m in self.resolve(variable["type_id"])["members"]
                }
                # __uint(type, N) is a pointer to an array of N ints; __type(key, T) a pointer to T
                kind = self.resolve(self.resolve(fields["type"])["type_id"])["nr_elems"]
                found[variable["name"]] = {
                    "type": kind,
                    "key": self.resolve(fields["key"])["type_id"],
                    "value": self.resolve(fields["value"])["type_id"],
                    "btf": self,
                }
        return found


@pytest.fixture(scope="module")
def compiled_maps() -> dict[str, dict]:
    require(shutil.which("bpftool") is not None, "bpftool", "apt-get install bpftool")
    objects = sorted(BUILD.glob("*.bpf.o"))
    require(bool(objects), f"compiled XDP objects in {BUILD}", "run make -C bpf")
    maps: dict[str, dict] = {}
    for obj in objects:
        for name, info in Btf(obj).maps().items():
            maps.setdefault(name, info)
    return maps


def test_every_map_has_a_layout_and_every_layout_a_map(compiled_maps):
    assert sorted(compiled_maps) == sorted(LAYOUTS)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_matches_the_compiled_map(compiled_maps, name):
    layout, info = LAYOUTS[name], compiled_maps[name]
    btf: Btf = info["btf"]
    assert info["type"] == BPF_MAP_TYPES[layout.kind], f"{name}: map kind"
    assert btf.size(info["key"]) == layout.key.size, f"{name}: key size"
    assert btf.size(info["value"]) == layout.value.size, f"{name}: value size"
    assert btf.spans(info["key"]) == layout.key.spans(), f"{name}: key fields"
    assert btf.spans(info["value"]) == layout.value.spans(), f"{name}: value fields"
