# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""IP addresses and CIDRs: parsing with a reason, overlap detection over many ranges."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any, Optional, Tuple, Union  # noqa: UP035 - runtime aliases on 3.8

IpNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
# (version, first address, last address) as integers: comparable across all ranges
Span = Tuple[int, int, int]  # noqa: UP006

_API_ENDPOINT = re.compile(
    r"https://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?):(\d{1,5})\Z"
)


# A host name as DNS has it (RFC 1123): labels of letters, digits and '-' joined by '.', the
# last one not all digits (198.18.0.999 is a mistyped address, not a name).
_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)*"
    r"(?![0-9]+\Z)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\Z"
)
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}\Z")
# a dotted-quad address (its four octets captured) and a prefix length of one or two digits
_IPV4_CIDR = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(\d{{1,2}})\Z")


def ipv4_text(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def cidr_span(text: str) -> tuple[Optional[Span], Optional[str]]:
    """(span, None) or (None, reason) for a CIDR; IPv4 without building ipaddress objects."""
    found = _IPV4_CIDR.match(text)  # one match, no second pass over the address
    if found:
        a, b, c, d, prefix = found.groups()
        first = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
        if int(prefix) <= 32:
            size = 1 << (32 - int(prefix))
            if first % size == 0:
                return (4, first, first + size - 1), None
    network, reason = parse_cidr(text)
    if network is None:
        return None, reason
    return span(network), None


def normalized_cidr(text: str) -> tuple[Optional[str], Optional[str]]:
    """(canonical text, None) or (None, reason)."""
    found, reason = cidr_span(text)
    if found is None:
        return None, reason
    version, first, last = found
    if version == 4:
        return f"{ipv4_text(first)}/{32 - (last - first + 1).bit_length() + 1}", None
    network, reason = parse_cidr(text)
    return str(network), None


def parse_cidr(text: str) -> tuple[Optional[IpNetwork], Optional[str]]:
    """(network, None) or (None, reason). Host bits must be zero: 10.0.0.1/24 is a typo."""
    try:
        return ipaddress.ip_network(text, strict=True), None
    except ValueError as exc:
        return None, f"{text!r} is not a CIDR ({exc})"


def address_problem(text: str) -> Optional[str]:
    if _IPV4.match(text):
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"{text!r} is not an IP address"
    if "%" in text:  # an IPv6 zone: '%' is special in systemd units, and no peer can use it
        return f"{text!r}: an IPv6 zone index (%...) is not supported"
    return None


# An Ethernet address as the gateway maps take it (plugins/module_utils/bpf/layouts.py): six
# colon-separated hex bytes.
_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\Z")


def mac_problem(text: str) -> Optional[str]:
    if not _MAC.match(text):
        return f"{text!r} is not a MAC address (six colon-separated hex bytes, 02:00:00:00:00:01)"
    return None


def ipv4_problem(text: str) -> Optional[str]:
    """The data path (bpf/) carries IPv4 underlay addresses only."""
    if not _IPV4.match(text):
        return f"{text!r} is not an IPv4 address (the XDP data path is IPv4)"
    return None


def is_ip_address(text: str) -> bool:
    return address_problem(text) is None


def host_address_problem(text: str) -> Optional[str]:
    """Why ``text`` is neither an IP address nor a DNS name, or None.

    A host's address ends up in systemd units, certificates and command lines: nothing but
    an address or a name may get there (``evil.example;id`` is refused).
    """
    if address_problem(text) is None or _DNS_NAME.match(text):
        return None
    shown = repr(text) if len(text) <= 80 else repr(text[:77] + "...")
    return f"{shown} is neither an IP address nor a DNS name (letters, digits, '-' and '.')"


def api_endpoint_problem(text: str) -> Optional[str]:
    found = _API_ENDPOINT.match(text)
    if not found or not 1 <= int(found.group(3)) <= 65535:
        return f"{text!r} is not an API endpoint of the form https://host:port"
    return None


def api_endpoint(address: str, port: int) -> str:
    """``https://address:port``, with IPv6 addresses in brackets."""
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}"


def span(network: IpNetwork) -> Span:
    first = int(network.network_address)
    return (network.version, first, first + network.num_addresses - 1)


def overlapping_pairs(ranges: Iterable[tuple[Span, Any]]) -> list[tuple[Any, Any]]:
    """Pairs of owners whose ranges overlap, each overlapping range reported once.

    Sort by start, sweep keeping the range reaching furthest so far: O(n log n) for any count.
    """
    ordered = sorted(ranges, key=lambda item: item[0])
    pairs: list[tuple[Any, Any]] = []
    reach: Optional[Span] = None
    reach_owner: Any = None
    for current, owner in ordered:
        if reach is not None and current[0] == reach[0] and current[1] <= reach[2]:
            pairs.append((reach_owner, owner))
        if reach is None or current[0] != reach[0] or current[2] > reach[2]:
            reach, reach_owner = current, owner
    return pairs
