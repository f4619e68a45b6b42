# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Byte layouts of the Fornax XDP maps: the one place that encodes keys and values.

Mirrors the comments on every map in bpf/*.bpf.c; tests/bpf/test_btf_layouts.py checks each
layout against the BTF of the compiled objects (map kind, sizes, field offsets).
Entries are plain dicts with typed fields (``vni: 1001``, ``prefix: 10.2.0.0/24``,
``ip: 198.18.1.4``, ``mac: 02:00:00:00:00:01``);
``encode`` turns one into the bytes the kernel stores, ``decode`` turns bytes back into the
canonical dict (so ``decode(encode(x))`` normalises user input, e.g. upper-case MACs).
Addresses and VNIs are big endian on the wire and in the maps; LPM prefix lengths, interface
indexes and counters are host byte order.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any, Dict  # noqa: UP035 - the alias below runs on Python 3.8

Entry = Dict[str, Any]  # noqa: UP006

MAX_VNI = (1 << 24) - 1
# Map kinds as the kernel numbers them (enum bpf_map_type): what BTF records for each map.
BPF_MAP_TYPES = {"hash": 1, "array": 2, "percpu_array": 6, "lru_hash": 9, "lpm_trie": 11}


class LayoutError(ValueError):
    """A key or value does not fit its map's layout."""


class Field:
    """One fixed-size field of a key or value."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind
        self.size = {"ipv4": 4, "mac": 6, "vni": 4, "u32": 4, "u64": 8, "pad2": 2}[kind]

    def encode(self, value: Any) -> bytes:
        if self.kind == "pad2":
            return b"\0\0"
        if value is None:
            raise LayoutError(f"field {self.name!r} is required")
        try:
            return _ENCODERS[self.kind](value)
        except (ValueError, TypeError, struct.error) as exc:
            raise LayoutError(
                f"field {self.name!r}: {value!r} is not a valid {self.kind}: {exc}"
            ) from exc

    def decode(self, raw: bytes) -> Any:
        return _DECODERS[self.kind](raw)


def _ipv4(value: Any) -> bytes:
    return ipaddress.IPv4Address(str(value)).packed


def _mac(value: Any) -> bytes:
    parts = str(value).replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError("expected six colon-separated bytes")
    return bytes(int(p, 16) for p in parts)


def _vni(value: Any) -> bytes:
    number = int(value)
    if not 0 <= number <= MAX_VNI:
        raise ValueError(f"VNI must be 0..{MAX_VNI}")
    return struct.pack(">I", number)


_ENCODERS = {
    "ipv4": _ipv4,
    "mac": _mac,
    "vni": _vni,
    "u32": lambda v: struct.pack("=I", int(v)),
    "u64": lambda v: struct.pack("=Q", int(v)),
}
_DECODERS = {
    "ipv4": lambda b: str(ipaddress.IPv4Address(b)),
    "mac": lambda b: ":".join(f"{x:02x}" for x in b),
    "vni": lambda b: struct.unpack(">I", b)[0],
    "u32": lambda b: struct.unpack("=I", b)[0],
    "u64": lambda b: struct.unpack("=Q", b)[0],
    "pad2": lambda b: None,
}


class Struct:
    """A key or value made of fixed fields in order (C struct without implicit padding)."""

    def __init__(self, *fields: Field) -> None:
        self.fields = fields
        self.size = sum(f.size for f in fields)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields if f.kind != "pad2"]

    def spans(self) -> list[tuple[int, int]]:
        """(offset, size) of every field, padding included: compared with the C struct's BTF."""
        out, offset = [], 0
        for f in self.fields:
            out.append((offset, f.size))
            offset += f.size
        return out

    def encode(self, entry: Entry) -> bytes:
        if not isinstance(entry, dict):
            raise LayoutError(f"expected a dict with {self.names}, got {entry!r}")
        unknown = sorted(set(entry) - set(self.names))
        if unknown:
            raise LayoutError(f"unknown field(s) {unknown}; this layout has {self.names}")
        return b"".join(f.encode(entry.get(f.name)) for f in self.fields)

    def decode(self, raw: bytes) -> Entry:
        if len(raw) != self.size:
            raise LayoutError(f"expected {self.size} bytes, got {len(raw)}")
        out: Entry = {}
        offset = 0
        for f in self.fields:
            if f.kind != "pad2":
                out[f.name] = f.decode(raw[offset : offset + f.size])
            offset += f.size
        return out


class VnetKey:
    """LPM trie key (struct vnet_key): prefixlen (host u32, 32 + mask), VNI (be32), IPv4.

    The entry form is ``{vni: 1001, prefix: 10.2.0.0/24}``; host bits in the prefix are an
    error (they would be silently ignored by the trie).
    """

    size = 12
    names = ("vni", "prefix")

    @staticmethod
    def spans() -> list[tuple[int, int]]:
        return [(0, 4), (4, 4), (8, 4)]  # prefix length, VNI, address

    def encode(self, entry: Entry) -> bytes:
        if not isinstance(entry, dict) or set(entry) != set(self.names):
            raise LayoutError(f"expected a dict with exactly {list(self.names)}, got {entry!r}")
        try:
            net = ipaddress.IPv4Network(str(entry["prefix"]), strict=True)
        except ValueError as exc:
            raise LayoutError(f"field 'prefix': {entry['prefix']!r}: {exc}") from exc
        vni = Field("vni", "vni").encode(entry["vni"])
        return struct.pack("=I", 32 + net.prefixlen) + vni + net.network_address.packed

    def decode(self, raw: bytes) -> Entry:
        if len(raw) != self.size:
            raise LayoutError(f"expected {self.size} bytes, got {len(raw)}")
        plen = struct.unpack("=I", raw[:4])[0] - 32
        vni = struct.unpack(">I", raw[4:8])[0]
        net = ipaddress.IPv4Network((ipaddress.IPv4Address(raw[8:12]), plen), strict=False)
        return {"vni": vni, "prefix": str(net)}


class MapLayout:
    """Everything the control plane needs to know about one map."""

    def __init__(self, name: str, kind: str, key: Any, value: Any, writable: bool = True) -> None:
        self.name = name
        self.kind = kind  # lpm_trie, hash, lru_hash, array, percpu_array
        self.key = key
        self.value = value
        self.writable = writable

    @property
    def deletable(self) -> bool:
        return self.kind not in ("array", "percpu_array")

    def encode(self, key: Entry, value: Entry) -> tuple[bytes, bytes]:
        return self.key.encode(key), self.value.encode(value)

    def normalise_key(self, key: Entry) -> Entry:
        return self.key.decode(self.key.encode(key))

    def normalise_value(self, value: Entry) -> Entry:
        return self.value.decode(self.value.encode(value))


HOP = Struct(Field("ip", "ipv4"), Field("mac", "mac"), Field("pad", "pad2"))
VNI_ADDR = Struct(Field("vni", "vni"), Field("ip", "ipv4"))
INDEX = Struct(Field("index", "u32"))
COUNTER = Struct(Field("packets", "u64"))

LAYOUTS: dict[str, MapLayout] = {
    m.name: m
    for m in (
        # divider (bpf/divider.bpf.c)
        MapLayout("div_vnets", "lpm_trie", VnetKey(), HOP),
        MapLayout("div_endpoints", "lru_hash", VNI_ADDR, HOP),
        MapLayout("div_stats", "percpu_array", INDEX, COUNTER, writable=False),
        # gateway (bpf/gateway.bpf.c)
        MapLayout(
            "gw_config",
            "array",
            INDEX,
            Struct(
                Field("lan_ip", "ipv4"),
                Field("wan_ip", "ipv4"),
                Field("lan_ifindex", "u32"),
                Field("wan_ifindex", "u32"),
                Field("lan_mac", "mac"),
                Field("wan_mac", "mac"),
            ),
        ),
        MapLayout(
            "gw_peers",
            "hash",
            Struct(Field("ip", "ipv4")),
            Struct(Field("mac", "mac"), Field("pad", "pad2")),
        ),
        MapLayout(
            "gw_routes",
            "lpm_trie",
            VnetKey(),
            Struct(Field("peer", "ipv4"), Field("remote_vni", "vni")),
        ),
        MapLayout("gw_ingress", "hash", Struct(Field("peer", "ipv4"), Field("vni", "vni")), HOP),
        MapLayout("gw_stats", "percpu_array", INDEX, COUNTER, writable=False),
        # host encapsulation (bpf/host.bpf.c)
        MapLayout(
            "host_pods",
            "hash",
            Struct(Field("ip", "ipv4")),
            Struct(
                Field("vni", "vni"),
                Field("divider_ip", "ipv4"),
                Field("host_ip", "ipv4"),
                Field("uplink_ifindex", "u32"),
                Field("veth_ifindex", "u32"),
                Field("divider_mac", "mac"),
                Field("uplink_mac", "mac"),
                Field("pod_mac", "mac"),
                Field("veth_mac", "mac"),
            ),
        ),
    )
}

# Counter indexes (enum div_stat / enum gw_stat in the C sources).
DIVIDER_STATS = ("pass", "malformed", "to_gateway", "to_host", "ttl", "learned", "from_gateway")
GATEWAY_STATS = (
    "pass",
    "lan_to_wan",
    "wan_to_lan",
    "malformed",
    "no_route",
    "unknown_peer",
    "unknown_vni",
    "ttl",
)


def layout(name: str) -> MapLayout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise LayoutError(f"unknown map layout {name!r}; known: {sorted(LAYOUTS)}") from None
