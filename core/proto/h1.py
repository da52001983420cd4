"""The HTTP/1 codec interface shared by the pluggable parsers, and HTTP/1 serialization.

A codec is a :class:`~hapx.core.records.Codec` record (protocol ``"h1"``) whose ``factory``
builds one parser per connection::

    parser = codec.factory(callbacks, response=False, limits=H1Limits(...), relaxed=False)
    parser.feed(data)              # bytes as they arrive; raises H1Error on a bad message
    parser.expect(method, upgrade) # response mode: the request the next response answers

``relaxed`` is ``option accept-unsafe-violations-in-http-request`` (request mode) or
``...-response`` (response mode).  Both codecs build a
:class:`~hapx.core.proto.h1stream.H1Stream`: heads are parsed with HAProxy's rules by
shared code (:mod:`hapx.core.proto.h1head`), the codec decodes chunked bodies.

The parser calls, on ``callbacks`` (an :class:`H1Callbacks`):

- ``on_message_begin()``: optional, a codec may skip it (the shared H1Stream does)
- ``on_headers(a, b, version, headers)``: for a request ``a`` is the method and ``b`` the
  request target; for a response ``a`` is the status (int) and ``b`` the reason.  ``version``
  is ``"1.0"`` or ``"1.1"``; ``headers`` a list of (name, value) as latin-1 ``str``.
- ``on_body(chunk)``: decoded body bytes (chunked framing removed)
- ``on_trailers(fields)``: the trailer fields of a chunked message, when it has some,
  just before ``on_message_complete``
- ``on_message_complete()``
- ``on_upgrade(rest)``: the message asked for a protocol switch (Upgrade, CONNECT, 101); the
  parser stops and ``rest`` holds the bytes received after the head.

Interim responses (1xx other than 101) produce on_headers then on_message_complete, and the
final response follows.  Errors carry the status HAProxy answers: 400 malformed (502 for a
response), 414 URI too long, 431 header block too large, 400 too many headers, 422 a
transfer coding other than chunked before a final chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class H1Error(Exception):
    """A message the HTTP/1 parser refuses; ``status`` is what HAProxy answers."""

    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(text or f"invalid HTTP/1 message ({status})")
        self.status = status


@dataclass(frozen=True)
class H1Limits:
    """Limits of one message head: ``head_max`` bytes for the start line and headers
    (HAProxy's tune.bufsize minus tune.maxrewrite) and ``max_headers`` header lines
    (tune.http.maxhdr)."""

    head_max: int = 16384 - 1024
    max_headers: int = 101

    @classmethod
    def from_global(cls, settings: dict[str, Any]) -> H1Limits:
        bufsize = int(settings.get("tune.bufsize", 16384))
        rewrite = settings.get("tune.maxrewrite")
        if rewrite is None:
            rewrite = min(1024, bufsize // 2)
        return cls(head_max=max(bufsize - int(rewrite), 256),
                   max_headers=int(settings.get("tune.http.maxhdr", 101)))


class H1Callbacks(Protocol):
    def on_message_begin(self) -> None: ...
    def on_headers(self, a: Any, b: str, version: str, headers: list[tuple[str, str]]) -> None: ...
    def on_body(self, chunk: bytes) -> None: ...
    def on_trailers(self, fields: list[tuple[str, str]]) -> None: ...
    def on_message_complete(self) -> None: ...
    def on_upgrade(self, rest: bytes) -> None: ...


class H1Parser(Protocol):
    def feed(self, data: bytes) -> None: ...
    def expect(self, method: str, upgrade: bool = False) -> None: ...


class HeadTracker:
    """Counts the bytes of the current message head, to answer 414/431 like HAProxy when
    the head outgrows the buffer before it is complete."""

    __slots__ = ("limit", "size", "in_head", "line_done")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.in_head = True
        self.line_done = False

    def add(self, data: bytes) -> None:
        if not self.in_head:
            return
        if not self.line_done and b"\n" in data:
            self.line_done = True
        self.size += len(data)

    def check(self, response: bool) -> None:
        if self.in_head and self.size > self.limit:
            if response:
                raise H1Error(502, "response head too large")
            raise H1Error(431 if self.line_done else 414,
                          "header block too large" if self.line_done else "URI too long")

    def done(self) -> None:
        self.in_head = False

    def restart(self) -> None:
        self.size = 0
        self.in_head = True
        self.line_done = False


# -- serialization --------------------------------------------------------------------------------

def encode_headers(headers: list[tuple[str, str]]) -> list[str]:
    """Header lines as HAProxy writes them on HTTP/1: names in lower case."""
    return [f"{n.lower()}: {v}\r\n" for n, v in headers]


def request_head(method: str, uri: str, version: str, headers: list[tuple[str, str]]) -> bytes:
    lines = "".join([f"{n.lower()}: {v}\r\n" for n, v in headers])
    return f"{method} {uri} HTTP/{version}\r\n{lines}\r\n".encode("latin-1", "replace")


def forward_request_head(method: str, uri: str, headers: list[tuple[str, str]],
                         last: str = "") -> bytes:
    """``request_head(method, uri, "1.1", without_hop(headers) + [last])`` in one pass:
    ``last`` is a complete extra header line (``"connection: close\r\n"``) or empty."""
    lines = [f"{method} {uri} HTTP/1.1\r\n"]
    add = lines.append
    hop = HOP_HEADERS
    for n, v in headers:
        k = len(n)
        if (k == 10 or k == 16) and n.lower() in hop:
            continue
        add(f"{n.lower()}: {v}\r\n")
    add(last)
    add("\r\n")
    return "".join(lines).encode("latin-1", "replace")


def response_head(status: int, reason: str, headers: list[tuple[str, str]],
                  version: str = "1.1") -> bytes:
    lines = "".join([f"{n.lower()}: {v}\r\n" for n, v in headers])
    return f"HTTP/{version} {status} {reason}\r\n{lines}\r\n".encode("latin-1", "replace")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def last_chunk(trailers: list[tuple[str, str]] | None) -> bytes:
    """The last chunk, with the trailer fields when there are some."""
    if not trailers:
        return LAST_CHUNK
    lines = "".join([f"{n.lower()}: {v}\r\n" for n, v in trailers])
    return f"0\r\n{lines}\r\n".encode("latin-1", "replace")


LAST_CHUNK = b"0\r\n\r\n"


_NO_TOKENS: frozenset[str] = frozenset()


def connection_tokens(headers: list[tuple[str, str]]) -> set[str] | frozenset[str]:
    out: set[str] | None = None
    for name, value in headers:
        if len(name) == 10 and name.lower() == "connection":
            if out is None:
                out = set()
            out.update(t.strip().lower() for t in value.split(",") if t.strip())
    return _NO_TOKENS if out is None else out


def body_framing(headers: list[tuple[str, str]]) -> tuple[bool, int | None]:
    """(chunked, content-length) of a message from its headers."""
    chunked, length, _tokens, _upgrade = head_info(headers)
    return chunked, length


def head_info(headers: list[tuple[str, str]]
              ) -> tuple[bool, int | None, set[str] | frozenset[str], bool]:
    """One pass over a message's headers: (chunked, content-length, Connection tokens,
    whether an Upgrade header is present)."""
    chunked = False
    length: int | None = None
    tokens: set[str] | None = None
    upgrade = False
    for name, value in headers:
        n = len(name)
        if n == 10:
            if name.lower() == "connection":
                if tokens is None:
                    tokens = set()
                for t in value.split(","):
                    t = t.strip()
                    if t:
                        tokens.add(t.lower())
        elif n == 14:
            if name.lower() == "content-length":
                v = value.strip()
                if v.isdigit():
                    length = int(v)
        elif n == 17:
            if name.lower() == "transfer-encoding":
                chunked = value.replace(" ", "").lower().endswith("chunked")
        elif n == 7 and name.lower() == "upgrade":
            upgrade = True
    if chunked:
        length = None
    return chunked, length, _NO_TOKENS if tokens is None else tokens, upgrade


#: response_scan's memo: (name, value) -> the line to forward (str), or for the headers it
#: reads, (kind, what it reads, the line to forward or None); cleared when it grows past
#: _SCAN_MEMO_MAX (servers repeat most of their header lines from one response to the next)
_SCAN_MEMO: dict[tuple[str, str], Any] = {}
_SCAN_MEMO_MAX = 1024
#: longer values (cookies, tokens) are not remembered: they rarely repeat, and the memo's
#: memory stays under _SCAN_MEMO_MAX short lines
_SCAN_MEMO_VALUE_MAX = 256
_SCAN_LENGTH, _SCAN_CONNECTION, _SCAN_TE, _SCAN_HOP = 1, 2, 3, 0
_SCAN_NAMES = {"content-length": _SCAN_LENGTH, "connection": _SCAN_CONNECTION,
               "transfer-encoding": _SCAN_TE, "keep-alive": _SCAN_HOP,
               "proxy-connection": _SCAN_HOP}


def _scan_entry(header: tuple[str, str]) -> Any:
    """What response_scan does with one header line (memoized)."""
    name, value = header
    low = name.lower()
    kind = _SCAN_NAMES.get(low)
    entry: Any
    if kind is None:
        entry = f"{low}: {value}\r\n"
    elif kind == _SCAN_LENGTH:
        v = value.strip()
        entry = (kind, int(v) if v.isdigit() else None, f"{low}: {value}\r\n")
    elif kind == _SCAN_CONNECTION:
        tokens = set()
        for t in value.split(","):
            t = t.strip()
            if t:
                tokens.add(t.lower())
        entry = (kind, frozenset(tokens), None)
    elif kind == _SCAN_TE:
        entry = (kind, value.replace(" ", "").lower().endswith("chunked"), None)
    else:
        entry = (kind, None, None)
    if len(value) <= _SCAN_MEMO_VALUE_MAX:
        if len(_SCAN_MEMO) >= _SCAN_MEMO_MAX:
            _SCAN_MEMO.clear()
        _SCAN_MEMO[header] = entry
    return entry


def response_scan(headers: list[tuple[str, str]]
                  ) -> tuple[bool, int | None, set[str] | frozenset[str], list[str]]:
    """One pass over a response's headers: :func:`head_info`'s (chunked, content-length,
    Connection tokens) and the header lines to forward (``encode_headers`` of
    ``without_hop(headers, drop_te=True)``)."""
    chunked = False
    length: int | None = None
    tokens: set[str] | None = None
    lines: list[str] = []
    add = lines.append
    memo = _SCAN_MEMO.get
    for header in headers:
        try:
            entry = memo(header)
        except TypeError:  # a header that is not a tuple (unhashable): no memo
            return _response_scan_plain(headers)
        if entry is None:
            entry = _scan_entry(header)
        if entry.__class__ is str:
            add(entry)
            continue
        kind = entry[0]
        if kind == _SCAN_LENGTH:
            if entry[1] is not None:
                length = entry[1]
            add(entry[2])
        elif kind == _SCAN_CONNECTION:
            if tokens is None:
                tokens = set(entry[1])
            else:
                tokens |= entry[1]
        elif kind == _SCAN_TE:
            chunked = entry[1]
    if chunked:
        length = None
    return chunked, length, _NO_TOKENS if tokens is None else tokens, lines


def _response_scan_plain(headers: list[tuple[str, str]] | list[list[str]]
                         ) -> tuple[bool, int | None, set[str] | frozenset[str], list[str]]:
    """response_scan without its memo."""
    chunked = False
    length: int | None = None
    tokens: set[str] | None = None
    lines: list[str] = []
    for name, value in headers:
        entry = _scan_entry((name, value))
        if entry.__class__ is str:
            lines.append(entry)
            continue
        kind = entry[0]
        if kind == _SCAN_LENGTH:
            if entry[1] is not None:
                length = entry[1]
            lines.append(entry[2])
        elif kind == _SCAN_CONNECTION:
            tokens = set(entry[1]) if tokens is None else tokens | entry[1]
        elif kind == _SCAN_TE:
            chunked = entry[1]
    if chunked:
        length = None
    return chunked, length, _NO_TOKENS if tokens is None else tokens, lines


def has_upgrade(headers: list[tuple[str, str]]) -> bool:
    """Whether an Upgrade header is present."""
    for name, _value in headers:
        if len(name) == 7 and name.lower() == "upgrade":
            return True
    return False


#: hop-by-hop headers hapx never forwards (lower case)
HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection"})


def without_hop(headers: list[tuple[str, str]], drop_te: bool = False
                ) -> list[tuple[str, str]]:
    """``headers`` without the hop-by-hop ones (and without Transfer-Encoding when
    ``drop_te``)."""
    out = []
    for h in headers:
        n = len(h[0])
        if n == 10 or n == 16 or (drop_te and n == 17):
            low = h[0].lower()
            if low in HOP_HEADERS or (drop_te and low == "transfer-encoding"):
                continue
        out.append(h)
    return out
