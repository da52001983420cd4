"""The HTTP cache (plugins/cache) on a real hapx with a real origin and real clients: hits
served from memory, HEAD from a GET entry, Vary, expiry, size limits, uncacheable
responses, the compression filter in both orders, ``show cache``, and the same headers and
log fields as Debian's haproxy for a hit."""

from __future__ import annotations

import gzip
import re
import socket

import pytest
from cliutil import cli
from netutil import (
    OriginServer,
    Response,
    free_port,
    read_response,
    run_haproxy,
    run_hapx,
    wait_until,
)

TEXT = b"cached text body " * 300  # 5100 bytes, compressible
PLAIN = [("Content-Type", "text/plain")]


def routes() -> dict[str, Response]:
    def r(*headers: tuple[str, str], body: bytes = b"hello cache\n") -> Response:
        return Response(200, body, [*PLAIN, *headers])
    return {
        "/fresh": r(("Cache-Control", "max-age=30")),
        "/head": r(("Cache-Control", "max-age=30")),
        "/short": r(("Cache-Control", "max-age=1")),
        "/big": r(("Cache-Control", "max-age=30"), body=b"x" * 10000),
        "/nostore": r(("Cache-Control", "no-store")),
        "/private": r(("Cache-Control", "private, max-age=30")),
        "/novalidator": r(),
        "/etag": r(("ETag", '"v1"')),
        "/referer": r(("Cache-Control", "max-age=30"), ("Vary", "Referer")),
        "/cookie": r(("Cache-Control", "max-age=30"), ("Vary", "Cookie")),
        "/text": Response(200, TEXT, [("Content-Type", "text/html"),
                                      ("Cache-Control", "max-age=30")]),
        "/notfound": Response(404, b"no\n", [*PLAIN, ("Cache-Control", "max-age=30")]),
    }


def cfg(port: int, origin: int, *fe_lines: str, cache: tuple[str, ...] = (),
        extra: str = "") -> str:
    fe = "".join(f"    {line}\n" for line in fe_lines)
    section = "".join(f"    {line}\n" for line in cache)
    return (f"global\n    log stderr format raw local0\n{extra}"
            "defaults\n    mode http\n    log global\n    option httplog\n"
            "    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n"
            f"cache c1\n    total-max-size 4\n    max-age 60\n    max-object-size 8000\n"
            f"{section}"
            f"frontend fe\n    bind 127.0.0.1:{port}\n{fe}    default_backend be\n"
            f"backend be\n    server s1 127.0.0.1:{origin}\n")


BASIC = ("http-request cache-use c1", "http-response cache-store c1",
         "http-after-response set-header x-cache-hit %[res.cache_hit]",
         "http-after-response set-header x-cache-name %[res.cache_name] "
         "if { res.cache_hit }")


def get(port: int, path: str, *headers: str, method: str = "GET"):
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\n" + "".join(f"{h}\r\n" for h in headers)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((head + "\r\n").encode())
        return read_response(s, head_request=method == "HEAD", timeout=10)


def hits(origin: OriginServer, path: str) -> int:
    return sum(1 for r in origin.requests if r.target == path)


@pytest.fixture(scope="module")
def proxy():
    with OriginServer(routes()) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, *BASIC, cache=("process-vary on",)),
                      ready_ports=[port]) as p:
            yield port, o, p


def test_second_request_served_from_cache(proxy) -> None:
    port, o, p = proxy
    first = get(port, "/fresh")
    second = get(port, "/fresh")
    assert first.status == second.status == 200
    assert first.body == second.body == b"hello cache\n"
    assert hits(o, "/fresh") == 1
    assert first.header("age") is None and first.header("x-cache-hit") == "0"
    assert second.header("age") is not None and int(second.header("age")) >= 0
    assert second.header("x-cache-hit") == "1"
    assert second.header("x-cache-name") == "c1"
    assert second.header("content-length") == str(len(b"hello cache\n"))
    # the log shows the hit as HAProxy does: the frontend as backend, server <CACHE>
    wait_until(lambda: "fe/<CACHE>" in p.output(), 5)
    line = next(ln for ln in p.output().splitlines() if "fe/<CACHE>" in ln)
    assert " 200 " in line and "LR--" in line and "GET /fresh HTTP/1.1" in line


def test_head_served_from_get_entry(proxy) -> None:
    port, o, _ = proxy
    get(port, "/head")
    r = get(port, "/head", method="HEAD")
    assert r.status == 200 and r.body == b""
    assert r.header("content-length") == str(len(b"hello cache\n"))
    assert r.header("age") is not None
    assert hits(o, "/head") == 1


def test_request_cache_control_bypasses(proxy) -> None:
    port, o, _ = proxy
    get(port, "/fresh")
    before = hits(o, "/fresh")
    r = get(port, "/fresh", "Cache-Control: no-cache")
    assert r.header("age") is None
    assert hits(o, "/fresh") == before + 1
    r = get(port, "/fresh", "Authorization: Basic eDp5")
    assert r.header("age") is None
    assert hits(o, "/fresh") == before + 2


@pytest.mark.parametrize("path", ["/nostore", "/private", "/novalidator", "/notfound",
                                  "/cookie"])
def test_uncacheable_responses_not_stored(proxy, path: str) -> None:
    port, o, _ = proxy
    for _ in range(2):
        r = get(port, path)
        assert r.header("age") is None
    assert hits(o, path) == 2


def test_validator_makes_response_cacheable_and_304(proxy) -> None:
    port, o, _ = proxy
    get(port, "/etag")
    r = get(port, "/etag")
    assert r.status == 200 and r.header("age") is not None
    r = get(port, "/etag", 'If-None-Match: "v1"')
    assert r.status == 304 and r.body == b""
    assert hits(o, "/etag") == 1


def test_object_too_large_not_cached(proxy) -> None:
    port, o, _ = proxy
    for _ in range(2):
        r = get(port, "/big")
        assert r.status == 200 and len(r.body) == 10000 and r.header("age") is None
    assert hits(o, "/big") == 2


def test_vary_referer_one_entry_per_variant(proxy) -> None:
    port, o, _ = proxy
    get(port, "/referer", "Referer: http://a/")
    r = get(port, "/referer", "Referer: http://a/")
    assert r.header("age") is not None
    assert hits(o, "/referer") == 1
    r = get(port, "/referer", "Referer: http://b/")
    assert r.header("age") is None
    assert hits(o, "/referer") == 2
    r = get(port, "/referer", "Referer: http://b/")
    assert r.header("age") is not None
    assert hits(o, "/referer") == 2


def test_expiry_honoured(proxy) -> None:
    port, o, _ = proxy
    get(port, "/short")
    assert get(port, "/short").header("age") is not None
    assert hits(o, "/short") == 1
    # max-age=1 from the response: a later request goes to the origin again

    def refetched() -> bool:
        get(port, "/short")
        return hits(o, "/short") >= 2
    wait_until(refetched, 5, interval=0.2)


def test_vary_off_not_cached() -> None:
    with OriginServer(routes()) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, *BASIC), ready_ports=[port]):
            for _ in range(2):
                get(port, "/referer", "Referer: http://a/")
            assert hits(o, "/referer") == 2
            get(port, "/fresh")
            get(port, "/fresh")
            assert hits(o, "/fresh") == 1


def test_lru_eviction_beyond_total_size() -> None:
    big = b"y" * 400_000
    paths = {f"/o{i}": Response(200, big, [*PLAIN, ("Cache-Control", "max-age=60")])
             for i in range(4)}
    with OriginServer(paths) as o:
        port = free_port()
        text = cfg(port, o.port, *BASIC).replace("total-max-size 4", "total-max-size 1")
        text = text.replace("max-object-size 8000", "max-object-size 500000")
        with run_hapx(text, ready_ports=[port]):
            for i in range(3):  # o0, o1, o2: o0 is evicted (1 MB holds two)
                get(port, f"/o{i}")
            assert get(port, "/o2").header("age") is not None
            assert get(port, "/o0").header("age") is None
            assert hits(o, "/o0") == 2 and hits(o, "/o2") == 1


COMP = ("compression algo gzip", "compression type text/html")


def test_cache_then_compression_implicit() -> None:
    """Implicit filter: the cache sits before compression, stores the plain body, and the
    hit is compressed for the clients that accept it."""
    with OriginServer(routes()) as o:
        port = free_port()
        with run_hapx(cfg(port, o.port, *BASIC, *COMP), ready_ports=[port]):
            r1 = get(port, "/text", "Accept-Encoding: gzip")
            assert r1.header("content-encoding") == "gzip"
            assert gzip.decompress(r1.body) == TEXT
            r2 = get(port, "/text", "Accept-Encoding: gzip")
            assert r2.header("age") is not None
            assert r2.header("content-encoding") == "gzip"
            assert gzip.decompress(r2.body) == TEXT
            r3 = get(port, "/text")
            assert r3.header("age") is not None
            assert r3.header("content-encoding") is None and r3.body == TEXT
            assert hits(o, "/text") == 1


def test_compression_then_cache_stores_compressed() -> None:
    """filter compression then filter cache: the stored body is the compressed one, a
    variant on Accept-Encoding (process-vary on)."""
    with OriginServer(routes()) as o:
        port = free_port()
        lines = ("filter compression", "filter cache c1", *BASIC, *COMP)
        with run_hapx(cfg(port, o.port, *lines, cache=("process-vary on",)),
                      ready_ports=[port]):
            r1 = get(port, "/text", "Accept-Encoding: gzip")
            assert r1.header("content-encoding") == "gzip"
            r2 = get(port, "/text", "Accept-Encoding: gzip")
            assert r2.header("age") is not None
            assert r2.header("content-encoding") == "gzip"
            assert gzip.decompress(r2.body) == TEXT
            assert hits(o, "/text") == 1
            r3 = get(port, "/text")  # identity: another variant, from the origin
            assert r3.header("age") is None and r3.body == TEXT
            assert hits(o, "/text") == 2


# 3.2 prints a 20-byte vary key (accept-encoding, referer, origin), 2.6 an 8-byte one
SHOW_HEAD = re.compile(r"^0x[0-9a-f]+: c1 \(shctx:0x[0-9a-f]+, available blocks:(\d+)\)$")
SHOW_ENTRY = re.compile(r"^0x[0-9a-f]+ hash:\d+ vary:0x[0-9a-f]{16,40} size:(\d+) "
                        r"\((\d+) blocks\), refcount:\d+, expire:(-?\d+)$")


@pytest.mark.parametrize("runner", [run_hapx, run_haproxy])
def test_show_cache(tmp_path, runner) -> None:
    with OriginServer(routes()) as o:
        port = free_port()
        sock = str(tmp_path / "admin.sock")
        text = cfg(port, o.port, *BASIC, extra=f"    stats socket {sock} level admin\n")
        with runner(text, ready_ports=[port, sock]):
            empty = cli(sock, "show cache").splitlines()
            m = SHOW_HEAD.match(empty[0])
            assert m and int(m.group(1)) == 4096
            get(port, "/fresh")
            lines = [ln for ln in cli(sock, "show cache").splitlines() if ln]
            assert SHOW_HEAD.match(lines[0])
            assert len(lines) == 2
            e = SHOW_ENTRY.match(lines[1])
            assert e, lines[1]
            assert int(e.group(2)) >= 1 and 0 < int(e.group(3)) <= 30
            get(port, "/fresh")
            stat = cli(sock, "show stat").splitlines()
            cols = stat[0][2:].split(",")
            fe = dict(zip(cols, next(ln for ln in stat if ln.startswith("fe,FRONTEND"))
                          .split(","), strict=False))
            assert (fe["cache_lookups"], fe["cache_hits"]) == ("2", "1")


def _hit_headers(runner) -> list[tuple[str, str]]:
    with OriginServer(routes(), tag=False) as o:
        port = free_port()
        with runner(cfg(port, o.port, *BASIC), ready_ports=[port]):
            get(port, "/fresh")
            r = get(port, "/fresh")
            return [(n.lower(), v) for n, v in r.headers]


def test_hit_headers_match_haproxy() -> None:
    theirs = _hit_headers(run_haproxy)
    ours = _hit_headers(run_hapx)
    assert ours == theirs
