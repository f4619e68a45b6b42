# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Drive the kernel through bpftool's JSON interface.

Why bpftool and not a libbpf binding: it is a Debian package (``bpftool``) with a stable
``-j`` JSON output, it needs nothing installed in the Python environment of the managed host,
and every step it takes can be replayed by hand when debugging. Each call is one short
subprocess; the modules make a handful per run.

The runner is injectable (``Runner``: argv -> (rc, stdout, stderr)) so Ansible modules pass
``module.run_command`` and tests/benchmarks use ``subprocess``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from typing import Any, Callable, List, Optional, Tuple  # noqa: UP035 - aliases run on 3.8

Runner = Callable[[List[str]], Tuple[int, str, str]]  # noqa: UP006

XDP_MODES = {"generic": "xdpgeneric", "native": "xdpdrv", "offload": "xdpoffload"}
XDP_VERDICTS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}


class BpftoolError(RuntimeError):
    """bpftool failed; the message holds the command and its error output."""


def subprocess_runner(argv: list[str]) -> tuple[int, str, str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def _bytes(items: list[str]) -> bytes:
    return bytes(int(x, 16) for x in items)


class Bpftool:
    def __init__(self, runner: Optional[Runner] = None, binary: str = "bpftool") -> None:
        self.runner = runner or subprocess_runner
        self.binary = binary

    def run(self, *args: str, json_out: bool = True) -> Any:
        argv = [self.binary] + (["-j"] if json_out else []) + list(args)
        rc, out, err = self.runner(argv)
        if rc != 0:
            detail = (err or out).strip()
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(out).get("error", detail)
            raise BpftoolError(f"{' '.join(argv)}: {detail}")
        if not json_out or not out.strip():
            return None
        return json.loads(out)

    # maps ------------------------------------------------------------------------------
    def map_dump(self, pin: str) -> dict[bytes, bytes]:
        """Entries of a (non per-CPU) map as raw key -> value bytes."""
        return {
            _bytes(e["key"]): _bytes(e["value"]) for e in self.run("map", "dump", "pinned", pin)
        }

    def map_dump_percpu(self, pin: str) -> dict[bytes, list[bytes]]:
        """Entries of a per-CPU map: raw key -> one value per CPU."""
        return {
            _bytes(e["key"]): [_bytes(v["value"]) for v in e["values"]]
            for e in self.run("map", "dump", "pinned", pin)
        }

    def map_update(self, pin: str, key: bytes, value: bytes) -> None:
        self.run(
            "map",
            "update",
            "pinned",
            pin,
            "key",
            "hex",
            *(f"{b:02x}" for b in key),
            "value",
            "hex",
            *(f"{b:02x}" for b in value),
            json_out=False,
        )

    def map_delete(self, pin: str, key: bytes) -> None:
        self.run(
            "map", "delete", "pinned", pin, "key", "hex", *(f"{b:02x}" for b in key), json_out=False
        )

    # programs --------------------------------------------------------------------------
    def prog_load(
        self, obj: str, pin: str, maps_dir: str, reuse: Optional[dict[str, str]] = None
    ) -> None:
        """Load an XDP object, pin its program at ``pin`` and its maps under ``maps_dir``.

        ``reuse`` maps map names to pinned maps that the new program should use (keeps state
        across a program upgrade)."""
        args = ["prog", "load", obj, pin, "type", "xdp"]
        for name, path in sorted((reuse or {}).items()):
            args += ["map", "name", name, "pinned", path]
        self.run(*args, "pinmaps", maps_dir, json_out=False)

    def prog_show_pinned(self, pin: str) -> dict[str, Any]:
        return self.run("prog", "show", "pinned", pin)

    def prog_show_id(self, prog_id: int) -> dict[str, Any]:
        return self.run("prog", "show", "id", str(prog_id))

    def object_tag(self, obj: str, scratch_dir: str) -> str:
        """The kernel tag the object's program gets when loaded (load, read, unpin).

        bpffs refuses names with dots, hence ``tagprobe_<pid>``."""
        tmp = os.path.join(scratch_dir, f"tagprobe_{os.getpid()}")
        pin, maps = os.path.join(tmp, "prog"), os.path.join(tmp, "maps")
        os.mkdir(tmp)
        try:
            self.prog_load(obj, pin, maps)
            return str(self.prog_show_pinned(pin)["tag"])
        finally:
            for name in os.listdir(maps) if os.path.isdir(maps) else []:
                os.unlink(os.path.join(maps, name))
            if os.path.isdir(maps):
                os.rmdir(maps)
            if os.path.exists(pin):
                os.unlink(pin)
            os.rmdir(tmp)

    def prog_run(self, pin: str, data: bytes, repeat: int = 1) -> tuple[int, bytes, int]:
        """BPF_PROG_TEST_RUN: (return code, output packet, mean duration in ns)."""
        with tempfile.TemporaryDirectory(prefix="fornax-run-") as tmp:
            data_in = os.path.join(tmp, "in")
            data_out = os.path.join(tmp, "out")
            with open(data_in, "wb") as handle:
                handle.write(data)
            result = self.run(
                "prog",
                "run",
                "pinned",
                pin,
                "data_in",
                data_in,
                "data_out",
                data_out,
                "repeat",
                str(repeat),
            )
            with open(data_out, "rb") as handle:
                out = handle.read()
        return int(result["retval"]), out, int(result.get("duration", 0))

    # attachment ------------------------------------------------------------------------
    def xdp_attached(self, dev: str) -> Optional[tuple[str, int]]:
        """(mode, program id) of the XDP program on ``dev`` in this network namespace."""
        for entry in self.run("net", "show", "dev", dev):
            for xdp in entry.get("xdp", []):
                if xdp.get("devname") == dev:
                    return _mode_name(str(xdp.get("mode", ""))), int(xdp["id"])
        return None

    def xdp_attach(self, pin: str, dev: str, mode: str) -> None:
        self.run(
            "net", "attach", XDP_MODES[mode], "pinned", pin, "dev", dev, "overwrite", json_out=False
        )

    def xdp_detach(self, dev: str, mode: str) -> None:
        self.run("net", "detach", XDP_MODES[mode], "dev", dev, json_out=False)


def _mode_name(raw: str) -> str:
    return {"generic": "generic", "driver": "native", "offload": "offload"}.get(raw, raw)


def netns_runner(run: Runner, netns: Optional[str]) -> Runner:
    """Run every command inside the network namespace /run/netns/<netns> (bpffs stays visible:
    nsenter changes the network namespace only, unlike ``ip netns exec``)."""
    if not netns:
        return run
    prefix = ["nsenter", f"--net=/run/netns/{netns}"]
    return lambda argv: run(prefix + list(argv))


def module_bpftool(module: Any, netns: Optional[str] = None) -> Bpftool:
    """The bpftool of an Ansible module (required on the host), in ``netns`` when given.

    Map pins live in bpffs, which every network namespace sees: map work needs no ``netns``.
    """
    binary = module.get_bin_path("bpftool", required=True)
    return Bpftool(runner=netns_runner(module.run_command, netns), binary=binary)


def pinned_map(tool: Bpftool, path: str, check_mode: bool) -> dict[bytes, bytes]:
    """The entries of the map pinned at ``path``.

    In check mode a map that is not pinned yet reads as empty (the program that pins it has not
    been loaded on a fresh host); otherwise its absence is an error naming the path.
    """
    if os.path.exists(path):
        return tool.map_dump(path)
    if check_mode:
        return {}
    raise BpftoolError(f"no pinned map at {path}: attach the program that owns it first")


def link_info(run: Runner, dev: str) -> dict[str, Any]:
    """``ip -j link show dev`` of one interface: ifindex, address (MAC), ..."""
    rc, out, err = run(["ip", "-j", "link", "show", "dev", dev])
    if rc != 0:
        raise BpftoolError(f"interface {dev}: {err.strip() or out.strip()}")
    return json.loads(out)[0]
