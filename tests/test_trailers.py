"""Trailers forwarded both ways, and the 3.2 options that drop them, on a real hapx with
a real origin (both HTTP/1 codecs)."""

from __future__ import annotations

import socket

import pytest
from netutil import OriginServer, Response, free_port, read_response, run_hapx

TRAILED = Response(200, b"x" * 3000, [("Content-Type", "text/plain")], chunked=True,
                   chunk_size=1000, trailers=[("X-Checksum", "abc123"), ("X-Done", "yes")])


def cfg(port: int, origin: int, codec: str, fe: str = "", be: str = "") -> str:
    return (f"global\n    h1-codec {codec}\ndefaults\n    mode http\n    timeout connect 2s\n"
            f"    timeout client 5s\n    timeout server 5s\nfrontend fe\n"
            f"    bind 127.0.0.1:{port}\n{fe}    default_backend be\nbackend be\n{be}"
            f"    server s1 127.0.0.1:{origin}\n")


def get(port: int, path: str = "/t"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return read_response(s, timeout=5)


def post_with_trailers(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n0\r\nX-Sig: s1\r\n\r\n")
        return read_response(s, timeout=5).status


@pytest.mark.parametrize("codec", ["httptools", "h11"])
def test_response_trailers_forwarded_then_dropped(codec: str) -> None:
    with OriginServer({"/t": TRAILED}) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, codec), ready_ports=[port]):
            r = get(port)
            assert r.body == b"x" * 3000
            assert [(n.lower(), v) for n, v in r.trailers] == [("x-checksum", "abc123"),
                                                                ("x-done", "yes")]
            # the next request on a fresh connection is not polluted by the trailers
            assert get(port, "/other").status == 200
            assert o.last.header("x-checksum") is None
        fe = "    option http-drop-response-trailers\n"
        with run_hapx(cfg(port, o.port, codec, fe=fe), ready_ports=[port]):
            r = get(port)
            assert r.body == b"x" * 3000 and r.trailers == []


@pytest.mark.parametrize("codec", ["httptools", "h11"])
def test_request_trailers_forwarded_then_dropped(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, codec), ready_ports=[port]):
            assert post_with_trailers(port) == 200
            req = o.last
            assert req.body == b"hello"
            assert [(n.lower(), v) for n, v in req.trailers] == [("x-sig", "s1")]
        be = "    option http-drop-request-trailers\n"
        with run_hapx(cfg(port, o.port, codec, be=be), ready_ports=[port]):
            assert post_with_trailers(port) == 200
            assert o.last.body == b"hello" and o.last.trailers == []
