"""Packet builder for the data-path tests: outer Ethernet/IPv4/UDP/Geneve around an inner frame.

Independent of the BPF code on purpose: the tests compute the bytes they expect from here.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field, replace

GENEVE_PORT = 6081
GATEWAY_PORT = 2615


def mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


def ip4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_header(src: str, dst: str, proto: int, payload_len: int, ttl: int = 64) -> bytes:
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + payload_len,
        0x1234,
        0x4000,
        ttl,
        proto,
        0,
        ip4(src),
        ip4(dst),
    )
    return head[:10] + struct.pack("!H", csum(head)) + head[12:]


def inner_frame(src_ip: str, dst_ip: str, payload: bytes = b"fornax-ping") -> bytes:
    """An inner Ethernet/IPv4/UDP frame (pod to pod)."""
    udp = struct.pack("!HHHH", 40000, 7, 8 + len(payload), 0) + payload
    eth = mac("02:fe:00:00:00:01") + mac("02:aa:00:00:00:01") + struct.pack("!H", 0x0800)
    return eth + ipv4_header(src_ip, dst_ip, 17, len(udp)) + udp


@dataclass(frozen=True)
class Outer:
    """The outer headers of a Geneve packet, each field easy to change with ``replace``."""

    src_mac: str
    dst_mac: str
    src_ip: str
    dst_ip: str
    vni: int
    inner: bytes
    ttl: int = 64
    sport: int = 50000
    dport: int = GENEVE_PORT
    udp_csum: int = 0
    geneve_proto: int = 0x6558
    options: bytes = field(default=b"")

    def with_(self, **changes: object) -> Outer:
        return replace(self, **changes)  # type: ignore[arg-type]

    def build(self) -> bytes:
        geneve = struct.pack("!BBH", len(self.options) // 4, 0, self.geneve_proto)
        geneve += struct.pack("!I", self.vni << 8) + self.options
        payload = geneve + self.inner
        udp = struct.pack("!HHHH", self.sport, self.dport, 8 + len(payload), self.udp_csum)
        ip = ipv4_header(self.src_ip, self.dst_ip, 17, len(udp) + len(payload), self.ttl)
        return mac(self.dst_mac) + mac(self.src_mac) + b"\x08\x00" + ip + udp + payload
