"""The one-regex reading of common HTTP/1 heads (core/proto/h1head.py ``_split``) gives
exactly what the line-by-line parse gives: the same Head, or the same refusal.

Heads are built from pieces that exercise every rule of the line parse (bare LF, bare
CR, obs-fold, NUL, blanks around values, blanks before the colon, invalid name
characters, empty names, repeated framing headers) and parsed twice, once with the fast
path disabled (its pattern replaced by one that never matches), strict and relaxed.
"""

from __future__ import annotations

import itertools
import random
import re

import pytest
from hapx.core.proto import h1head
from hapx.core.proto.h1 import H1Error

_NEVER = re.compile(r"(?!)")

LINES = [
    b"Host: example.com", b"host:example.com", b"Host: \t example.com \t ",
    b"X-A: a b  c", b"X-Empty:", b"X-Empty2:  \t", b"Content-Length: 5",
    b"Content-Length: 5, 5", b"Transfer-Encoding: chunked", b"Connection: keep-alive",
    b"Connection: close, Upgrade", b"Upgrade: websocket", b"X-Ctl: a\x01b\x7f",
    b"X-Latin: caf\xe9", b"X-Nul: a\x00b", b"X Bad: v", b"X-Bad : v", b": v",
    b"X-\xe9: v", b" folded", b"\tfolded", b"X-CR: a\rb", b"Server: nginx/1.22.1",
    b"Date: Wed, 25 Nov 2026 21:00:00 GMT", b'ETag: "6925f0a0-64"',
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", b"Keep-Alive: timeout=5",
]
REQ_FIRST = [b"GET / HTTP/1.1", b"GET /a?b HTTP/1.0", b"POST  /x  HTTP/1.1",
             b"GET http://h:80/p HTTP/1.1", b"GET /", b"G\rET / HTTP/1.1",
             b"GET\t/\tHTTP/1.1", b"GET /a#b HTTP/1.1", b"GET /a{b} HTTP/1.1",
             b"G(T / HTTP/1.1", b"GET / HTTP/1.2", b"GET / HTTP/2.0", b"GET / http/1.1",
             b"GET / HTTP/1.1 ", b"GET / HTTP/1.10", b"GET /\xe9 HTTP/1.1",
             b"CONNECT h:443 HTTP/1.1", b"GET / FOO/1.1", b"OPTIONS * HTTP/1.0"]
RES_FIRST = [b"HTTP/1.1 200 OK", b"HTTP/1.0 204 No Content", b"HTTP/1.1 304",
             b"HTTP/1.1 101 Switching", b"HTTP/1.1 200 O\rK", b"HTTP/1.1 200 ",
             b"HTTP/1.1\t200\t\tOK \t", b"HTTP/1.1 200OK", b"HTTP/1.1 20 OK",
             b"HTTP/1.2 200 OK", b"HTTP/2.0 200 OK", b"http/1.1 200 OK", b"HTTP/1.1 2000",
             b"HTTP/1.1 200 caf\xe9 \x01", b"ICY 200 OK", b"HTTP/1.0 100 Continue"]


def _outcome(parse: object, raw: bytes, relaxed: bool) -> object:
    try:
        head = parse(raw, relaxed)  # type: ignore[operator]
    except H1Error as exc:
        return ("error", exc.status, str(exc))
    return ("head", head.version, head.method, head.uri, head.status, head.reason,
            head.headers, head.length, head.chunked, head.close, head.upgrade, head.size,
            sorted(head.tokens))


def _heads(first: list[bytes], seed: int, count: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        lines = [rnd.choice(first)] + rnd.sample(LINES, rnd.randint(0, 6))
        eols = [b"\r\n" if rnd.random() < 0.85 else b"\n" for _ in lines]
        out.append(b"".join(a + b for a, b in zip(lines, eols, strict=True)) + rnd.choice(
            [b"\r\n", b"\r\n", b"\n"]))
    return out


@pytest.mark.parametrize(("kind", "first"), [("request", REQ_FIRST),
                                             ("response", RES_FIRST)])
def test_fast_path_gives_what_the_line_parse_gives(monkeypatch: pytest.MonkeyPatch,
                                                   kind: str, first: list[bytes]) -> None:
    parse = h1head.parse_request if kind == "request" else h1head.parse_response
    heads = _heads(first, 7 if kind == "request" else 11, 3000)
    # every single line after each start line, with CRLF, is covered as well
    heads += [f + b"\r\n" + ln + b"\r\n\r\n" for f, ln in itertools.product(first, LINES)]
    fast = {(raw, relaxed): _outcome(parse, raw, relaxed)
            for raw in heads for relaxed in (False, True)}
    monkeypatch.setattr(h1head, "_FIELD", _NEVER)
    monkeypatch.setattr(h1head, "_REQ_FAST", _NEVER)
    monkeypatch.setattr(h1head, "_STATUS_FAST", _NEVER)
    slow = {(raw, relaxed): _outcome(parse, raw, relaxed)
            for raw in heads for relaxed in (False, True)}
    assert fast == slow
    # the fast path was taken for most heads and both outcomes occur
    assert any(v[0] == "head" for v in fast.values())
    assert any(v[0] == "error" for v in fast.values())


def test_fast_path_reads_a_common_head() -> None:
    raw = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 100\r\n"
           b"X-Blank:  \t a b\r\nConnection: keep-alive\r\n\r\n")
    first, fields, rest = h1head._split(raw, 502)
    assert first == b"HTTP/1.1 200 OK" and rest == []
    assert fields == [("Server", "nginx"), ("Content-Length", "100"), ("X-Blank", "a b"),
                      ("Connection", "keep-alive")]
    # an obs-fold line, a blank at the end of a value: the line parse reads the head
    for other in (raw.replace(b"X-Blank", b" X-Blank"), raw.replace(b"a b", b"a b \t")):
        first, fields, rest = h1head._split(other, 502)
        assert fields is None and len(rest) == 4


def _scan_every_header(headers: list[tuple[str, str]]) -> tuple[object, ...]:
    """The header loop _scan replaced (every name lower-cased): the reference."""
    cl: list[str] = []
    te: list[str] = []
    host: list[str] = []
    tokens: set[str] = set()
    other: dict[str, str] = {}
    for name, value in headers:
        low = name.lower()
        if low == "content-length":
            cl.append(value)
        elif low == "transfer-encoding":
            te.append(value)
        elif low == "host":
            host.append(value)
        elif low == "connection":
            tokens.update(t.strip(" \t").lower() for t in value.split(","))
        elif low in ("upgrade", "sec-websocket-key", "sec-websocket-accept"):
            other.setdefault(low, value)
    tokens.discard("")
    return cl, te, host, tokens, other


def test_scan_gives_what_the_header_loop_gives() -> None:
    pool = [("Host", "a"), ("host", "b"), ("Content-Length", "5"), ("content-length", "6"),
            ("Transfer-Encoding", "chunked"), ("Connection", "Keep-Alive, , Upgrade"),
            ("CONNECTION", "close"), ("Upgrade", "websocket"), ("upgrade", "h2c"),
            ("Sec-WebSocket-Key", "k"), ("Sec-WebSocket-Accept", "a"), ("X", "y"),
            ("Server", "s"), ("X\nY", "z")]
    rnd = random.Random(5)
    cases = [[]] + [[h] for h in pool] + [rnd.sample(pool, rnd.randint(1, 7))
                                        for _ in range(3000)]
    for headers in cases:
        assert h1head._scan(list(headers)) == _scan_every_header(list(headers)), headers


def _head_end_by_lines(buf: bytes, start: int = 0) -> int:
    """The line-by-line search head_end replaced (the reference)."""
    i = buf.find(b"\n", start)
    while i >= 0:
        nxt = buf[i + 1:i + 2]
        if nxt == b"\n":
            return i + 2
        if nxt == b"\r":
            if buf[i + 2:i + 3] == b"\n":
                return i + 3
            if len(buf) < i + 3:
                return -1
        elif not nxt:
            return -1
        i = buf.find(b"\n", i + 1)
    return -1


def test_head_end_finds_the_first_empty_line() -> None:
    rnd = random.Random(9)
    parts = [b"a", b"\r", b"\n", b"\r\n", b"b: c", b" "]
    for _ in range(20000):
        buf = b"".join(rnd.choice(parts) for _ in range(rnd.randint(0, 12)))
        for start in (0, 1, 3):
            assert h1head.head_end(buf, start) == _head_end_by_lines(buf, start), buf
