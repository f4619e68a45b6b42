"""How the client puts a request on the wire: headers and body in one write, no Nagle delay."""

from __future__ import annotations

import io
import socket

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s import client


class RecordingSocket:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))


def connection_with(sock: RecordingSocket) -> client._PlainConnection:
    conn = client._PlainConnection("127.0.0.1", 1)
    conn.sock = sock
    return conn


def test_a_request_with_a_body_goes_out_in_one_write():
    sock = RecordingSocket()
    conn = connection_with(sock)
    conn.putrequest("PATCH", "/apis/x/v1/things/a", skip_accept_encoding=True)
    conn.putheader("Authorization", "Bearer " + "t" * 1200)  # a token: a large header block
    conn.putheader("Content-Length", "11")
    conn.endheaders(b'{"spec":{}}')
    assert len(sock.writes) == 1
    head, _blank, body = sock.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"PATCH /apis/x/v1/things/a HTTP/1.1\r\n")
    assert body == b'{"spec":{}}'


def test_other_requests_take_http_clients_own_path():
    sock = RecordingSocket()
    conn = connection_with(sock)
    conn.putrequest("GET", "/api/v1/namespaces", skip_accept_encoding=True)
    conn.endheaders()
    assert len(sock.writes) == 1 and sock.writes[0].endswith(b"\r\n\r\n")
    sock = RecordingSocket()
    conn = connection_with(sock)
    conn.putrequest("PUT", "/x", skip_accept_encoding=True)
    conn.putheader("Content-Length", "3")
    conn.endheaders(io.BytesIO(b"abc"))  # a file: headers, then the file's blocks
    assert sock.writes == [sock.writes[0], b"abc"]


def test_connections_send_without_delay():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        conn = client._PlainConnection("127.0.0.1", server.getsockname()[1], timeout=5)
        try:
            conn.connect()
            assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            conn.close()
