"""HTTP compression (plugins/compression) on a real hapx with a real origin and real
clients: negotiation, what is never compressed, header rewrites, streamed bodies with
bounded memory, request compression, and the same headers as Debian's haproxy."""

from __future__ import annotations

import gzip
import socket
import zlib

import httpx
import pytest
from netutil import (
    OriginServer,
    Response,
    check_pattern,
    free_port,
    read_response,
    run_haproxy,
    run_hapx,
)

TEXT = b"hello compression " * 500  # 9000 bytes, compressible


def cfg(port: int, origin: int, *lines: str) -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return ("defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n"
            f"    timeout server 10s\nfrontend fe\n    bind 127.0.0.1:{port}\n{body}"
            f"    default_backend be\nbackend be\n    server s1 127.0.0.1:{origin}\n")


def routes() -> dict[str, Response]:
    html = [("Content-Type", "text/html; charset=utf-8"), ("ETag", '"abc"')]
    return {
        "/text": Response(200, TEXT, html),
        "/small": Response(200, b"tiny", [("Content-Type", "text/html")]),
        "/image": Response(200, TEXT, [("Content-Type", "image/png")]),
        "/encoded": Response(200, TEXT, [("Content-Type", "text/html"),
                                         ("Content-Encoding", "br")]),
        "/notransform": Response(200, TEXT, [("Content-Type", "text/html"),
                                             ("Cache-Control", "public, no-transform")]),
        "/chunked": Response(200, TEXT, [("Content-Type", "text/html")], chunked=True,
                             chunk_size=1000),
        "/vary": Response(200, TEXT, [("Content-Type", "text/html"), ("Vary", "Cookie")]),
        "/created": Response(201, TEXT, [("Content-Type", "text/html")]),
        "/missing": Response(404, TEXT, [("Content-Type", "text/html")]),
    }


COMPRESSION = ("compression algo gzip deflate", "compression type text/html text/plain",
               "compression minsize-res 100")


def raw_get(port: int, path: str, accept: str | None, method: str = "GET"):
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if accept is not None:
        head += f"Accept-Encoding: {accept}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((head + "\r\n").encode())
        return read_response(s, head_request=method == "HEAD", timeout=10)


@pytest.fixture(scope="module")
def proxy():
    with OriginServer(routes()) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, *COMPRESSION), ready_ports=[port]):
            yield port, o


def test_gzip_response_rewrites_headers(proxy) -> None:
    port, _ = proxy
    r = raw_get(port, "/text", "gzip")
    assert r.status == 200
    assert r.header("content-encoding") == "gzip"
    assert r.header("content-length") is None
    assert r.header("transfer-encoding") == "chunked"
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("etag") == 'W/"abc"'
    assert gzip.decompress(r.body) == TEXT and len(r.body) < len(TEXT) // 5


def test_negotiation_q_values_and_star(proxy) -> None:
    port, _ = proxy
    r = raw_get(port, "/text", "gzip;q=0.5, deflate;q=0.8")
    assert r.header("content-encoding") == "deflate" and zlib.decompress(r.body) == TEXT
    r = raw_get(port, "/text", "br, *;q=0.1")
    assert r.header("content-encoding") == "gzip"
    r = raw_get(port, "/text", "gzip;q=0, br")
    assert r.header("content-encoding") is None and r.body == TEXT
    r = raw_get(port, "/text", None)
    assert r.header("content-encoding") is None and r.body == TEXT


@pytest.mark.parametrize("path", ["/small", "/image", "/encoded", "/notransform",
                                  "/missing"])
def test_never_compressed(proxy, path: str) -> None:
    port, _ = proxy
    r = raw_get(port, path, "gzip")
    assert r.header("content-encoding") in (None, "br")
    assert r.header("vary") is None


def test_head_request_not_compressed(proxy) -> None:
    port, _ = proxy
    r = raw_get(port, "/text", "gzip", method="HEAD")
    assert r.status == 200 and r.header("content-encoding") is None


def test_chunked_origin_and_vary_appended(proxy) -> None:
    port, _ = proxy
    r = raw_get(port, "/chunked", "gzip")
    assert r.header("content-encoding") == "gzip" and gzip.decompress(r.body) == TEXT
    r = raw_get(port, "/vary", "gzip")
    assert r.header("vary") == "Cookie,Accept-Encoding"
    r = raw_get(port, "/created", "gzip")
    assert r.status == 201 and r.header("content-encoding") == "gzip"


def test_httpx_client_keep_alive(proxy) -> None:
    port, _ = proxy
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as c:
        for _ in range(3):
            r = c.get(f"http://127.0.0.1:{port}/text")
            assert r.headers["content-encoding"] == "gzip" and r.content == TEXT


def test_offload_removes_accept_encoding() -> None:
    with OriginServer(routes()) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, *COMPRESSION, "compression offload"),
                      ready_ports=[port]):
            r = raw_get(port, "/text", "gzip")
            assert r.header("content-encoding") == "gzip"
            assert o.last.header("accept-encoding") is None


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_large_response_streams_with_bounded_memory() -> None:
    size = 200 * 1024 * 1024
    big = {"/big": Response(200, size, [("Content-Type", "text/plain")], chunked=True,
                            chunk_size=65536)}
    with OriginServer(big) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, *COMPRESSION), ready_ports=[port]) as p:
            before = _rss_kb(p.pid)
            peak = before
            d = zlib.decompressobj(31)
            total = 0
            ok = True
            with httpx.Client(timeout=60) as c, c.stream(
                    "GET", f"http://127.0.0.1:{port}/big",
                    headers={"Accept-Encoding": "gzip"}) as r:
                assert r.headers["content-encoding"] == "gzip"
                for n, piece in enumerate(r.iter_raw(1 << 20)):
                    plain = d.decompress(piece)
                    ok = ok and check_pattern(plain, total)
                    total += len(plain)
                    if n % 16 == 0:
                        peak = max(peak, _rss_kb(p.pid))
            total += len(d.flush())
            assert total == size and ok
            # the proxy's memory stayed flat while 200 MiB went through it
            assert peak - before < 40 * 1024


def test_request_compression() -> None:
    with OriginServer() as o:
        port = free_port()
        conf = cfg(port, o.port, "compression direction both", "compression algo-req gzip",
                   "compression type-req text/plain", "compression algo gzip")
        with run_hapx(conf, ready_ports=[port]):
            r = httpx.post(f"http://127.0.0.1:{port}/up", content=TEXT,
                           headers={"Content-Type": "text/plain"})
            assert r.status_code == 200
            req = o.last
            assert req.header("content-encoding") == "gzip"
            assert gzip.decompress(req.body) == TEXT
            # another type is sent as it is
            r = httpx.post(f"http://127.0.0.1:{port}/up", content=TEXT,
                           headers={"Content-Type": "application/json"})
            assert o.last.header("content-encoding") is None and o.last.body == TEXT


def test_same_headers_as_haproxy() -> None:
    with OriginServer(routes()) as o:
        port = free_port()
        got = {}
        for name, runner in (("hapx", run_hapx), ("haproxy", run_haproxy)):
            # (haproxy 2.6 has no minsize-res: the 3.2 keyword is left out here)
            with runner(cfg(port, o.port, *COMPRESSION[:2]), ready_ports=[port]):
                r = raw_get(port, "/text", "deflate;q=0.9, gzip")
                got[name] = ({k.lower(): v for k, v in r.headers
                              if k.lower() not in ("date", "x-origin")},
                             gzip.decompress(r.body))
        assert got["hapx"] == got["haproxy"]


def test_br_and_zstd_extensions_stream_and_negotiate() -> None:
    """br and zstd (hapx extensions, with the brotli and zstandard packages): chosen by
    q-value like HAProxy's algorithms, streamed piece by piece from a chunked origin."""
    brotli = pytest.importorskip("brotli")
    zstandard = pytest.importorskip("zstandard")
    with OriginServer(routes()) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, "compression algo zstd br gzip",
                          "compression type text/html"), ready_ports=[port]):
            r = raw_get(port, "/chunked", "gzip;q=0.5, br")
            assert r.header("content-encoding") == "br"
            assert r.header("vary") == "Accept-Encoding"
            assert brotli.decompress(r.body) == TEXT
            r = raw_get(port, "/text", "br;q=0.9, zstd")
            assert r.header("content-encoding") == "zstd"
            out = zstandard.ZstdDecompressor().decompressobj().decompress(r.body)
            assert out == TEXT
            # '*' takes the first configured algorithm
            r = raw_get(port, "/text", "*")
            assert r.header("content-encoding") == "zstd"


def test_unknown_or_missing_algorithm_is_a_config_error(tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "c.cfg"
    path.write_text(cfg(free_port(), 9, "compression algo gzip lzma"))
    res = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-c", "-f", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "'lzma' is not a supported algorithm" in res.stderr
