"""Fixtures of the data-path tests: prerequisites, built objects, loaded programs in bpffs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import fornax_netns
import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import Bpftool
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import layout
from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
BPFFS = Path("/sys/fs/bpf")


def _require_tools() -> None:
    require(os.geteuid() == 0, "root", "run the data-path tests as root (bpffs, netns, XDP)")
    for tool, pkg in (("clang", "clang"), ("bpftool", "bpftool"), ("make", "make")):
        require(shutil.which(tool) is not None, tool, f"apt-get install {pkg}")
    require(
        Path("/usr/include/bpf/bpf_helpers.h").exists(),
        "libbpf headers",
        "apt-get install libbpf-dev",
    )
    if not os.path.ismount(BPFFS):
        subprocess.run(["mount", "-t", "bpf", "bpf", str(BPFFS)], check=False)
    require(os.path.ismount(BPFFS), "bpffs at /sys/fs/bpf", "mount -t bpf bpf /sys/fs/bpf")


@pytest.fixture(scope="session")
def bpf_objects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bpf/*.bpf.o built by the project's make file into a private build dir."""
    _require_tools()
    build = tmp_path_factory.mktemp("bpf-build")
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "bpf"), f"BUILD={build}"], check=True, timeout=120
    )
    return build


@pytest.fixture(scope="session")
def bpftool() -> Bpftool:
    return Bpftool()


@pytest.fixture(scope="session")
def pin_root() -> Iterator[Path]:
    """A bpffs directory for this session under the tests' prefix, removed afterwards."""
    _require_tools()
    root = BPFFS / "fornax" / f"{fornax_netns.PREFIX}{os.getpid()}-unit"
    root.mkdir(parents=True, exist_ok=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


class Loaded:
    """One program loaded from an object, pinned with its maps; helpers to fill the maps."""

    def __init__(self, tool: Bpftool, pin: Path) -> None:
        self.tool = tool
        self.pin = pin
        self.maps = pin.parent / "maps"

    def put(self, map_name: str, key: dict, value: dict) -> None:
        raw_key, raw_value = layout(map_name).encode(key, value)
        self.tool.map_update(str(self.maps / map_name), raw_key, raw_value)

    def entries(self, map_name: str) -> list[tuple[dict, dict]]:
        lay = layout(map_name)
        dump = self.tool.map_dump(str(self.maps / map_name))
        return [(lay.key.decode(k), lay.value.decode(v)) for k, v in dump.items()]

    def stats(self, map_name: str, names: tuple[str, ...]) -> dict[str, int]:
        lay = layout(map_name)
        dump = self.tool.map_dump_percpu(str(self.maps / map_name))
        totals = {}
        for raw_key, per_cpu in dump.items():
            index = lay.key.decode(raw_key)["index"]
            totals[names[index]] = sum(lay.value.decode(v)["packets"] for v in per_cpu)
        return totals

    def run(self, packet: bytes) -> tuple[int, bytes]:
        retval, out, _duration = self.tool.prog_run(str(self.pin), packet)
        return retval, out


@pytest.fixture
def load(bpf_objects: Path, bpftool: Bpftool, pin_root: Path, request: pytest.FixtureRequest):
    """Factory: load('divider') -> Loaded, in a fresh pin dir removed after the test."""
    made: list[Path] = []

    def _load(name: str) -> Loaded:
        where = pin_root / f"{request.node.name[:40]}-{name}-{len(made)}"
        where.mkdir()
        made.append(where)
        bpftool.prog_load(
            str(bpf_objects / f"{name}.bpf.o"), str(where / "prog"), str(where / "maps")
        )
        return Loaded(bpftool, where / "prog")

    yield _load
    for where in made:
        shutil.rmtree(where, ignore_errors=True)
