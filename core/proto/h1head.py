"""HTTP/1 message heads parsed with HAProxy's rules (its h1 parser and the 3.2 checks).

Both HTTP/1 codecs share this: a complete head (start line, header lines and the empty
line) is parsed here, so that what is accepted, refused (and with which status) and
normalised before forwarding does not depend on the codec.  What HAProxy does, checked
against Debian's haproxy 2.6 and HAProxy 3.2's documentation:

- start line: a method of token characters, one or more spaces or tabs, a request target
  of visible ASCII characters (3.2 also refuses ``#`` and ``"<>\\^`{|}``), ``HTTP/x.y``;
  anything else is a 400 (502 for a status line).  Several spaces are accepted.
- header lines end with CRLF or a bare LF; a bare CR is refused; a name is made of token
  characters immediately followed by ``:`` (a space before the colon is refused); values
  lose their surrounding blanks; a NUL in a value is refused (3.2); other control
  characters pass.  An obs-fold continuation line is joined to the previous value, its
  line break turned into spaces (``a\\r\\n b`` becomes ``a   b``), as HAProxy does.
- Content-Length: digits, possibly a comma-separated list or repeated headers, all equal
  (one header forwarded); anything else is a 400 (502).
- Transfer-Encoding: for a request, codings other than a final ``chunked`` applied once
  are refused: 400, or 422 when ``chunked`` is last after other codings; for a response,
  ``chunked`` must be present once and last (502 otherwise).  With a Content-Length,
  the Content-Length is removed and the connection closed after the exchange.
- Host: repeated Host headers must be equal (one forwarded); the authority of an
  absolute-form target and the Host value may only hold the characters allowed in an
  authority (3.2: no control characters, spaces, non-ASCII, ``"#/<>?@\\^`{|}``); the
  default port of the scheme is removed; the authority must match the Host header.
- a WebSocket request (Connection: upgrade, Upgrade: websocket) needs a valid
  Sec-WebSocket-Key, a 101 switching to WebSocket a valid Sec-WebSocket-Accept (3.2).
- Content-Length and Transfer-Encoding are removed from 1xx and 204 responses.

``relaxed`` (``option accept-unsafe-violations-in-http-request|response``) accepts what
HAProxy then accepts: invalid characters (NUL included) in header names, NUL in values,
any character above 0x20 but DEL in the target (``#`` included), other version strings
and HTTP/0.9 ``GET <uri>`` requests, a CONNECT target that is not ``host:port``, an
authority differing from Host, a WebSocket request without Sec-WebSocket-Key; for
responses, an empty or repeated ``chunked`` and a WebSocket 101 without
Sec-WebSocket-Accept.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from .h1 import H1Error

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQ_LINE = re.compile(rb"([^ \t]+)[ \t]+([^ \t]+)(?:[ \t]+([^ \t]+))?")
_STATUS_LINE = re.compile(rb"([^ \t]+)[ \t]+([0-9]{3})(?:[ \t]+(.*))?", re.S)
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
#: the common request line on the decoded head (from its start to its CRLF): a token
#: method, a target of the characters of _URI_STRICT, HTTP/1.0 or HTTP/1.1 (the minor
#: digit is the group)
_REQ_FAST = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]+([!$-;=?-\[\]_a-z~]+)[ \t]+HTTP/1\.([01])\r\n")
#: the common status line on the decoded head (from its start to its CRLF): HTTP/1.0 or
#: HTTP/1.1 (the minor digit), a status, a reason without CR or LF (what _STATUS_LINE
#: reads on it)
_STATUS_FAST = re.compile(r"HTTP/1\.([01])[ \t]+([0-9]{3})(?:[ \t]+([^\r\n]*))?\r\n")
_VERSION_RELAXED = re.compile(rb"[A-Za-z]+/([0-9]+)\.([0-9]+)")
#: a request target with only the characters HAProxy 3.2 accepts by default
_URI_STRICT = re.compile(rb"[!$-;=?-\[\]_a-z~]+")
#: with the relaxed option: anything above 0x20 but DEL
_URI_RELAXED = re.compile(rb"[^\x00-\x20\x7f]+")
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)", re.S)
_CONNECT_TARGET = re.compile(r"[^\s/?#@]+:[0-9]+")
#: characters an authority (and the Host header) may not hold (HAProxy 3.2)
_AUTHORITY_BAD = re.compile(r"[\x00-\x20\x7f-\xff\"#/<>?@\\^`{|}]")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
#: one header line of the common case, from the line feed before it: a token name, a
#: colon, a value without CR, LF or NUL nor blanks at its end, CRLF; the blanks before
#: the value are left out of the group (what _fields strips)
_FIELD = re.compile(
    r"\n([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\x00]*)(?<![ \t])\r(?=\n)")


@dataclass(slots=True)
class Head:
    """A parsed head.  For a request ``method``/``uri`` are set, for a response
    ``status``/``reason``.  ``version`` is ``"1.0"`` or ``"1.1"``.  ``length`` is the
    Content-Length (None without one), ``chunked`` a final chunked coding, ``close``
    asks for the connection to close after the exchange (Transfer-Encoding with
    Content-Length), ``upgrade`` a protocol switch request (CONNECT, or Connection:
    upgrade with an Upgrade header), ``size`` the bytes of the head."""

    version: str
    headers: list[tuple[str, str]]
    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    length: int | None = None
    chunked: bool = False
    close: bool = False
    upgrade: bool = False
    size: int = 0
    tokens: set[str] = field(default_factory=set)


def head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """The offset just past the empty line ending the head in ``buf`` (searched from
    ``start``, the start line beginning at 0), or -1 when it is not there yet: the first
    line feed followed by a line feed or by CR LF."""
    crlf = buf.find(b"\n\r\n", start)
    if crlf < 0:
        lf = buf.find(b"\n\n", start)
        return lf + 2 if lf >= 0 else -1
    lf = buf.find(b"\n\n", start, crlf + 1)
    return lf + 2 if lf >= 0 else crlf + 3


def _lines(raw: bytes, bad: int) -> list[tuple[bytes, int]]:
    """The lines of a head (without the final empty line), each with the length of its
    line break; a CR not followed by LF is an error."""
    out = []
    for line in raw.split(b"\n")[:-2]:
        eol = 1
        if line.endswith(b"\r"):
            line = line[:-1]
            eol = 2
        if b"\r" in line:
            raise H1Error(bad, "bare CR in the head")
        out.append((line, eol))
    return out


def _fields(lines: list[tuple[bytes, int]], relaxed: bool, bad: int
            ) -> list[tuple[str, str]]:
    """Header fields from header lines, with HAProxy's checks; obs-fold lines joined."""
    raw: list[list[bytes | int]] = []
    token = _TOKEN.fullmatch
    for line, eol in lines:
        first = line[:1]
        if first == b" " or first == b"\t":
            if not raw:
                raise H1Error(bad, "folded first header line")
            prev = raw[-1]
            prev[1] = prev[1] + b" " * prev[2] + line  # type: ignore[operator]
            prev[2] = eol
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name:
            raise H1Error(bad, "header line without a name")
        if token(name) is None and not relaxed:
            raise H1Error(bad, "invalid character in a header name")
        raw.append([name, value, eol])
    out = []
    for name, value, _eol in raw:
        value = value.strip(b" \t")  # type: ignore[union-attr]
        if b"\x00" in value and not relaxed:
            raise H1Error(bad, "NUL in a header value")
        out.append((name.decode("latin-1"), value.decode("latin-1")))  # type: ignore[union-attr]
    return out


def _split(raw: bytes, bad: int
           ) -> tuple[bytes | None, list[tuple[str, str]] | None, list[tuple[bytes, int]]]:
    """(start line, header fields, header lines) of a complete head.  The common head
    (every line ending with CRLF, each header line a token name, a colon and a value
    without CR, LF or NUL, and no blank at its end) is read by one regular expression: its fields are returned, and no lines.  Any other head is split by
    :func:`_lines` (which refuses a bare CR): the fields are then None, to be read from
    the lines by :func:`_fields` (which refuses or normalises them) once the start line
    is checked.  Both give the same fields for a common head: each of its header lines
    matches ``_FIELD`` from its start to its CRLF (the number of matches is the number
    of lines), and ``_FIELD`` leaves out the blanks ``_fields`` strips."""
    nl = raw.find(b"\n")
    if nl > 0 and raw[nl - 1] == 13 and raw.endswith(b"\r\n\r\n"):
        first = raw[:nl - 1]
        if b"\r" not in first:
            headers = _FIELD.findall(raw.decode("latin-1"), nl)
            if len(headers) == raw.count(b"\n", nl + 1) - 1:
                return first, headers, []
    lines = _lines(raw, bad)
    if not lines:
        return None, None, []
    return lines[0][0], None, lines[1:]


def _content_length(values: list[str], bad: int) -> int:
    """HAProxy's h1_parse_cont_len_header: digits, comma lists and repeated headers all
    holding the same value."""
    found: int | None = None
    for value in values:
        words = value.split(",")
        for word in words:
            word = word.strip(" \t")
            if not word or not word.isdigit() or not word.isascii():
                raise H1Error(bad, "invalid content-length")
            n = int(word)
            if found is not None and n != found:
                raise H1Error(bad, "conflicting content-length")
            found = n
    assert found is not None
    return found


def _codings(values: list[str]) -> list[str]:
    return [w.strip(" \t").lower() for v in values for w in v.split(",")]


def _b64_len(value: str) -> int:
    try:
        return len(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError):
        return -1


def _scan(headers: list[tuple[str, str]]
          ) -> tuple[list[str], list[str], list[str], set[str], dict[str, str]]:
    """(content-length values, transfer-encoding values, host values, connection tokens,
    first value of the other interesting headers).  (Only names of the lengths of those
    headers are lower-cased.)"""
    cl: list[str] = []
    te: list[str] = []
    host: list[str] = []
    tokens: set[str] = set()
    other: dict[str, str] = {}
    lengths = _SCAN_LENGTHS
    for name, value in headers:
        if len(name) not in lengths:
            continue
        low = name.lower()
        if low == "content-length":
            cl.append(value)
        elif low == "transfer-encoding":
            te.append(value)
        elif low == "host":
            host.append(value)
        elif low == "connection":
            for t in value.split(","):
                tokens.add(t.strip(" \t").lower())
        elif low in ("upgrade", "sec-websocket-key", "sec-websocket-accept"):
            other.setdefault(low, value)
    tokens.discard("")
    return cl, te, host, tokens, other


#: the lengths of the names _scan reads
_SCAN_LENGTHS = frozenset(map(len, ("content-length", "transfer-encoding", "host",
                                    "connection", "upgrade", "sec-websocket-key",
                                    "sec-websocket-accept")))


def _drop(headers: list[tuple[str, str]], names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [h for h in headers if h[0].lower() not in names]


def _version(text: bytes, relaxed: bool) -> str | None:
    m = _VERSION.fullmatch(text) or (_VERSION_RELAXED.fullmatch(text) if relaxed else None)
    if m is None:
        return None
    major, minor = int(m.group(1)), int(m.group(2))
    return "1.1" if (major, minor) >= (1, 1) else "1.0"


def _strip_default_port(scheme: str, authority: str) -> str:
    """HAProxy's scheme-based normalisation: ``http://h:80`` is ``http://h``; an empty
    port goes too."""
    port = _DEFAULT_PORTS.get(scheme.lower())
    if port and authority.endswith(port):
        return authority[:-len(port)]
    if authority.endswith(":") and not authority.endswith("]:"):
        return authority[:-1]
    if authority.endswith("]:"):
        return authority[:-1]
    return authority


def _request_start(raw: bytes, relaxed: bool
                   ) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(method, target, version, header fields) of any request head, with every check of
    the start line and of the header lines (the general path of :func:`parse_request`)."""
    first, headers, rest = _split(raw, 400)
    m = _REQ_LINE.fullmatch(first) if first is not None else None
    if m is None:
        raise H1Error(400, "invalid request line")
    bmethod, buri, bversion = m.groups()
    if _TOKEN.fullmatch(bmethod) is None:
        raise H1Error(400, "invalid method")
    if (_URI_STRICT if not relaxed else _URI_RELAXED).fullmatch(buri) is None:
        raise H1Error(400, "invalid character in the request target")
    if bversion is None:
        # HTTP/0.9: "GET <uri>" turned into HTTP/1.0 when accepted
        if not relaxed or bmethod != b"GET" or headers or rest:
            raise H1Error(400, "HTTP/0.9 request")
        version = "1.0"
    else:
        version = "1.1" if bversion == b"HTTP/1.1" else _version(  # type: ignore[assignment]
            bversion, relaxed)
        if version is None:
            raise H1Error(400, "invalid HTTP version")
    if headers is None:
        headers = _fields(rest, relaxed, 400)
    return bmethod.decode("latin-1"), buri.decode("latin-1"), version, headers


def parse_request(raw: bytes, relaxed: bool = False, max_headers: int = 101) -> Head:
    """Parse a complete request head (``raw`` ends with its empty line; leading empty
    lines already skipped).  Raises H1Error (400, or 422) like HAProxy.

    The common head (CRLF line ends, a request line of a token method, a target of the
    characters accepted by default and HTTP/1.0 or HTTP/1.1, header lines ``_FIELD``
    reads) is read by two regular expressions on the decoded head; any other by
    :func:`_request_start`, which gives the same for a common head: the fast request
    line only matches lines its checks accept, with the same groups."""
    nl = raw.find(b"\n")
    m = None
    if nl > 0 and raw[nl - 1] == 13 and raw.endswith(b"\r\n\r\n"):
        text = raw.decode("latin-1")
        m = _REQ_FAST.match(text)
        if m is not None:
            headers = _FIELD.findall(text, nl)
            if len(headers) != raw.count(b"\n", nl + 1) - 1:
                m = None
    if m is not None:
        method, uri, minor = m.groups()
        version = "1.1" if minor == "1" else "1.0"
    else:
        method, uri, version, headers = _request_start(raw, relaxed)
    if len(headers) > max_headers:
        raise H1Error(400, "too many headers")
    cl, te, hosts, tokens, other = _scan(headers)
    head = Head(version, headers, method, uri, 0, "", None, False, False, False, len(raw),
                tokens)
    if te:
        codings = _codings(te)
        if "" in codings or codings.count("chunked") != 1:
            raise H1Error(400, "invalid transfer-encoding")
        if codings[-1] != "chunked":
            raise H1Error(400, "chunked is not the last transfer coding")
        if len(codings) > 1:
            raise H1Error(422, "unsupported transfer coding")
        head.chunked = True
        if cl:
            # RFC 9112 6.3: Transfer-Encoding wins, Content-Length goes, close after
            headers = _drop(headers, ("content-length",))
            head.close = True
    elif cl:
        one = cl[0]
        if len(cl) == 1 and one.isdigit() and one.isascii():
            head.length = int(one)  # (what _content_length gives for one plain number)
        else:
            head.length = _content_length(cl, 400)
        if len(cl) > 1 or "," in one:
            headers = _one_length(headers, head.length)
    host = hosts[0] if hosts else None
    if len(hosts) > 1:
        if any(h.lower() != host.lower() for h in hosts):  # type: ignore[union-attr]
            raise H1Error(400, "several different Host headers")
        headers = _one_host(headers)
    if host is not None and _AUTHORITY_BAD.search(host):
        raise H1Error(400, "invalid character in the Host header")
    if method == "CONNECT":
        if not relaxed and _CONNECT_TARGET.fullmatch(uri) is None:
            raise H1Error(400, "invalid CONNECT target")
        head.upgrade = True
    elif not uri.startswith("/") and uri != "*":
        am = _ABSOLUTE.fullmatch(uri)
        if am is not None:
            scheme, authority, rest = am.groups()
            if _AUTHORITY_BAD.search(authority):
                raise H1Error(400, "invalid character in the authority")
            norm = _strip_default_port(scheme, authority)
            if norm != authority:
                uri = head.uri = f"{scheme}://{norm}{rest}"
            if host is not None:
                nhost = _strip_default_port(scheme, host)
                if nhost != host:
                    headers = [(n, nhost) if n.lower() == "host" else (n, v)
                               for n, v in headers]
                if nhost.lower() != norm.lower() and not relaxed:
                    raise H1Error(400, "authority and Host differ")
    if "upgrade" in other and "upgrade" in tokens:
        head.upgrade = True
        if not relaxed and "websocket" in [t.strip().lower() for t in
                                           other["upgrade"].split(",")]:
            key = other.get("sec-websocket-key")
            if key is None or _b64_len(key) != 16:
                raise H1Error(400, "WebSocket request without a valid Sec-WebSocket-Key")
    if head.close:
        headers.append(("connection", "close"))
        tokens.add("close")
    head.headers = headers
    return head


def _one_length(headers: list[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    out = []
    seen = False
    for name, value in headers:
        if name.lower() == "content-length":
            if seen:
                continue
            seen = True
            value = str(n)
        out.append((name, value))
    return out


def _one_host(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    seen = False
    for name, value in headers:
        if name.lower() == "host":
            if seen:
                continue
            seen = True
        out.append((name, value))
    return out


def _response_start(raw: bytes, relaxed: bool
                    ) -> tuple[str, bytes, str, list[tuple[str, str]]]:
    """(version, status digits, reason, header fields) of any response head, with every
    check of the status line and of the header lines (the general path of
    :func:`parse_response`)."""
    first, headers, rest = _split(raw, 502)
    m = _STATUS_LINE.fullmatch(first) if first is not None else None
    if m is None:
        raise H1Error(502, "invalid status line")
    bversion, bstatus, breason = m.groups()
    version = "1.1" if bversion == b"HTTP/1.1" else _version(bversion, relaxed)
    if version is None:
        raise H1Error(502, "invalid HTTP version")
    if headers is None:
        headers = _fields(rest, relaxed, 502)
    return version, bstatus, (breason or b"").decode("latin-1"), headers


def parse_response(raw: bytes, relaxed: bool = False, max_headers: int = 101) -> Head:
    """Parse a complete response head; raises H1Error(502) like HAProxy.

    The common head (CRLF line ends, ``HTTP/1.0`` or ``HTTP/1.1``, a status, a reason,
    header lines ``_FIELD`` reads) is read by two regular expressions on the decoded
    head; any other by :func:`_response_start`, which gives the same for it."""
    nl = raw.find(b"\n")
    m = None
    if nl > 0 and raw[nl - 1] == 13 and raw.endswith(b"\r\n\r\n"):
        text = raw.decode("latin-1")
        m = _STATUS_FAST.match(text)
        if m is not None:
            headers = _FIELD.findall(text, nl)
            if len(headers) != raw.count(b"\n", nl + 1) - 1:
                m = None
    if m is not None:
        minor, bstatus, reason = m.groups()
        version = "1.1" if minor == "1" else "1.0"
        if reason is None:
            reason = ""
    else:
        version, bstatus, reason, headers = _response_start(raw, relaxed)
    if len(headers) > max_headers:
        raise H1Error(502, "too many headers")
    status = int(bstatus)
    head = Head(version, headers, "", "", status, reason, None, False, False, False,
                len(raw), set())
    if status < 200 or status == 204:
        # no body: the framing headers are removed when parsing (3.2)
        head.headers = _drop(headers, ("content-length", "transfer-encoding"))
        _cl, _te, _hosts, tokens, other = _scan(head.headers)
        head.tokens = tokens
        if status == 101 and not relaxed and "websocket" in [
                t.strip().lower() for t in other.get("upgrade", "").split(",")]:
            accept = other.get("sec-websocket-accept")
            if accept is None or _b64_len(accept) != 20:
                raise H1Error(502, "WebSocket 101 without a valid Sec-WebSocket-Accept")
        return head
    cl, te, _hosts, tokens, _other = _scan(headers)
    head.tokens = tokens
    if te:
        codings = _codings(te)
        if not relaxed and ("" in codings or codings.count("chunked") > 1):
            raise H1Error(502, "invalid transfer-encoding")
        codings = [c for c in codings if c]
        if codings:
            if codings[-1] != "chunked":
                raise H1Error(502, "chunked is not the last transfer coding")
            head.chunked = True
        if cl:
            headers = _drop(headers, ("content-length",))
            head.close = True
    elif cl:
        one = cl[0]
        if len(cl) == 1 and one.isdigit() and one.isascii():
            head.length = int(one)  # (what _content_length gives for one plain number)
        else:
            head.length = _content_length(cl, 502)
        if len(cl) > 1 or "," in one:
            headers = _one_length(headers, head.length)
    if head.close:
        headers.append(("connection", "close"))
        tokens.add("close")
    head.headers = headers
    return head
