"""A simple user-space gateway doing the XDP gateway's rewrite (the original's design: copy
every packet through user space). For the side-by-side benchmark only.

python3 fornax_usergw.py CONFIG.json SECONDS
CONFIG: {lan_ip, wan_ip, routes: [[vni, prefix, peer, remote_vni]], ingress: [[peer, vni, divider]]}
Geneve from dividers arrives on lan_ip:6081; it leaves from wan_ip:6081 to peer:2615 with the
VNI translated. From peers on wan_ip:2615 (known peer and VNI only) it goes to the divider:6081.
The kernel builds the outer headers; this process rewrites the Geneve header.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import selectors
import socket
import sys
import time


def main(config_path: str, seconds: float) -> None:
    with open(config_path) as handle:
        cfg = json.load(handle)
    # Routes as plain integers, longest prefix first: the per-packet lookup below compares
    # integers and creates no objects (the fairest simple version of a user-space copier).
    routes = []
    for v, p, peer, rv in cfg["routes"]:
        net = ipaddress.IPv4Network(p)
        routes.append((int(v), int(net.network_address), int(net.netmask), peer, int(rv)))
    routes.sort(key=lambda r: -bin(r[2]).count("1"))
    ingress = {(peer, int(v)): div for peer, v, div in cfg["ingress"]}
    lan = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lan.bind((cfg["lan_ip"], 6081))
    wan_in = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    wan_in.bind((cfg["wan_ip"], 2615))
    wan_out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    wan_out.bind((cfg["wan_ip"], 6081))
    for sock in (lan, wan_in, wan_out):
        sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lan, selectors.EVENT_READ, "lan")
    sel.register(wan_in, selectors.EVENT_READ, "wan")
    buf = bytearray(65535)  # one receive buffer, rewritten in place
    view = memoryview(buf)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _events in sel.select(timeout=0.5):
            for _round in range(64):  # bounded batch per wake-up
                try:
                    size, (src, _port) = key.fileobj.recvfrom_into(buf)
                except BlockingIOError:
                    break
                if size < 8 + 14 + 20 or buf[2:4] != b"\x65\x58":
                    continue
                vni = int.from_bytes(buf[4:7], "big")
                if key.data == "lan":
                    inner = 8 + (buf[0] & 0x3F) * 4 + 14
                    if size < inner + 20:
                        continue
                    dst = int.from_bytes(buf[inner + 16 : inner + 20], "big")
                    for rvni, net, mask, peer, remote_vni in routes:
                        if rvni == vni and dst & mask == net:
                            buf[4:7] = remote_vni.to_bytes(3, "big")
                            with contextlib.suppress(BlockingIOError):  # send buffer full: drop
                                wan_out.sendto(view[:size], (peer, 2615))
                            break
                else:
                    divider = ingress.get((src, vni))
                    if divider:
                        with contextlib.suppress(BlockingIOError):
                            lan.sendto(view[:size], (divider, 6081))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
