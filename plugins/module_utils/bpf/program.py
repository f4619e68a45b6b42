# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Declarative XDP attachment: an object file's program on an interface, pinned in bpffs.

Layout of a pin directory (default ``/sys/fs/bpf/fornax/<interface>``): ``prog`` (the
program) and ``maps/<map name>`` (its maps). Several interfaces may share one pin directory
(the gateway's LAN and WAN): the program is loaded once and attached to each.

Idempotence is by program tag (the kernel's hash of the instructions): the object is loaded
once, briefly, under ``<pin_dir>/tagprobe_<pid>`` to learn its tag, even in check mode;
nothing stays.
When a new version replaces the pinned one, maps with the same name are carried over, so map
contents survive upgrades.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Optional

from .bpftool import Bpftool

DEFAULT_ROOT = "/sys/fs/bpf/fornax"


def default_pin_dir(interface: str) -> str:
    return os.path.join(DEFAULT_ROOT, interface)


def observe(tool: Bpftool, interface: str, pin_dir: str) -> dict[str, Any]:
    """What is there now: attached program (mode, id, tag) and the pinned program's id/tag."""
    state: dict[str, Any] = {"interface": interface, "pin_dir": pin_dir, "attached": False}
    attached = tool.xdp_attached(interface)
    if attached:
        mode, prog_id = attached
        state.update(
            attached=True, mode=mode, prog_id=prog_id, tag=tool.prog_show_id(prog_id)["tag"]
        )
    pin = os.path.join(pin_dir, "prog")
    if os.path.exists(pin):
        info = tool.prog_show_pinned(pin)
        state.update(pinned_id=int(info["id"]), pinned_tag=str(info["tag"]))
    return state


def pinned_maps(pin_dir: str) -> list[str]:
    maps = os.path.join(pin_dir, "maps")
    return sorted(os.listdir(maps)) if os.path.isdir(maps) else []


def ensure_present(
    tool: Bpftool, obj: str, interface: str, pin_dir: str, *, mode: str, check_mode: bool
) -> dict[str, Any]:
    """Load (if the tag differs) and attach; returns {changed, before, after}."""
    before = observe(tool, interface, pin_dir)
    tag = tool.object_tag(obj, _existing_ancestor(pin_dir))
    reload_needed = before.get("pinned_tag") != tag
    attach_needed = (
        reload_needed
        or not before["attached"]
        or before.get("mode") != mode
        or before.get("prog_id") != before.get("pinned_id")
    )
    after = dict(before, attached=True, mode=mode, tag=tag, pinned_tag=tag)
    if check_mode or not (reload_needed or attach_needed):
        return {"changed": reload_needed or attach_needed, "before": before, "after": after}
    if reload_needed:
        os.makedirs(pin_dir, exist_ok=True)
        _reload(tool, obj, pin_dir)
    pin = os.path.join(pin_dir, "prog")
    if before["attached"] and before.get("mode") != mode:
        tool.xdp_detach(interface, before["mode"])
    tool.xdp_attach(pin, interface, mode)
    return {"changed": True, "before": before, "after": observe(tool, interface, pin_dir)}


def _existing_ancestor(path: str) -> str:
    """``path`` or its closest existing parent: where the tag probe may go without creating
    directories (check mode leaves nothing behind)."""
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def _reload(tool: Bpftool, obj: str, pin_dir: str) -> None:
    """Pin the object's program at <pin_dir>/prog, reusing same-named pinned maps."""
    maps_dir = os.path.join(pin_dir, "maps")
    reuse = {name: os.path.join(maps_dir, name) for name in pinned_maps(pin_dir)}
    new_prog, new_maps = os.path.join(pin_dir, "prog_new"), os.path.join(pin_dir, "maps_new")
    _remove(new_prog)
    shutil.rmtree(new_maps, ignore_errors=True)
    try:
        tool.prog_load(obj, new_prog, new_maps, reuse=reuse)
    except Exception:
        _remove(new_prog)
        shutil.rmtree(new_maps, ignore_errors=True)
        raise
    # maps_new pins the new program's maps (the reused ones too): swap the directories in
    shutil.rmtree(maps_dir, ignore_errors=True)
    os.rename(new_maps, maps_dir)
    _remove(os.path.join(pin_dir, "prog"))
    os.rename(new_prog, os.path.join(pin_dir, "prog"))


def _remove(path: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)


def ensure_absent(
    tool: Bpftool, interface: str, pin_dir: str, check_mode: bool, remove_pins: bool
) -> dict[str, Any]:
    before = (
        observe(tool, interface, pin_dir)
        if _link_exists(tool, interface)
        else {"interface": interface, "pin_dir": pin_dir, "attached": False}
    )
    pins = os.path.isdir(pin_dir) and remove_pins
    after = {"interface": interface, "pin_dir": pin_dir, "attached": False}
    changed = bool(before["attached"] or pins)
    if check_mode or not changed:
        return {"changed": changed, "before": before, "after": after if changed else before}
    if before["attached"]:
        tool.xdp_detach(interface, before["mode"])
    if pins:
        shutil.rmtree(pin_dir)
    return {"changed": True, "before": before, "after": after}


def _link_exists(tool: Bpftool, interface: str) -> bool:
    return tool.runner(["ip", "link", "show", "dev", interface])[0] == 0


def summary(state: dict[str, Any]) -> dict[str, Optional[Any]]:
    return {k: state.get(k) for k in ("interface", "attached", "mode", "prog_id", "tag", "pin_dir")}
