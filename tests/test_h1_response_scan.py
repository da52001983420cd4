"""h1.response_scan (memoized) gives what its definition says: head_info's framing and
the forwarded lines of encode_headers(without_hop(headers, drop_te=True)), whatever the
memo holds (empty, filled by earlier responses, cleared when full)."""

from __future__ import annotations

import random

from hapx.core.proto import h1
from hapx.core.proto.h1 import encode_headers, head_info, response_scan, without_hop

NAMES = ["Connection", "connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding",
         "Content-Length", "content-LENGTH", "Server", "X-A", "Set-Cookie", "User-Agent",
         "Content-Encoding", "If-Modified-Since", "Upgrade"]
VALUES = ["close", "keep-alive", " Keep-Alive , Upgrade ", "gzip, chunked", "chunked",
          "chunked ,", "100", " 42 ", "abc", "", "x,,y", "\x0bclose", "7"]


def expected(headers: list[tuple[str, str]]) -> tuple[object, ...]:
    chunked, length, tokens, _upgrade = head_info(headers)
    return chunked, length, tokens, encode_headers(without_hop(headers, drop_te=True))


def test_response_scan_matches_its_definition(monkeypatch) -> None:
    monkeypatch.setattr(h1, "_SCAN_MEMO_MAX", 40)
    rnd = random.Random(7)
    for _ in range(20000):
        headers = [(rnd.choice(NAMES), rnd.choice(VALUES)) for _ in range(rnd.randint(0, 9))]
        assert response_scan(headers) == expected(headers), headers
    assert len(h1._SCAN_MEMO) <= 40


def test_response_scan_nginx_head() -> None:
    headers = [("Server", "nginx/1.22.1"), ("Content-Type", "text/plain"),
               ("Content-Length", "100"), ("Connection", "keep-alive"),
               ("Accept-Ranges", "bytes")]
    for _ in range(2):  # the second time from the memo
        assert response_scan(headers) == (
            False, 100, {"keep-alive"},
            ["server: nginx/1.22.1\r\n", "content-type: text/plain\r\n",
             "content-length: 100\r\n", "accept-ranges: bytes\r\n"])


def test_response_scan_unhashable_header() -> None:
    headers = [["Connection", "close"], ["Transfer-Encoding", "chunked"], ["X-Y", "z"]]
    assert response_scan(headers) == (True, None, {"close"}, ["x-y: z\r\n"])  # type: ignore[arg-type]
