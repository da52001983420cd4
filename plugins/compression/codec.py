"""The compressing filter of HTTP bodies: the algorithm choice from Accept-Encoding, the
rules of what is never compressed, the header rewrites; the compressors are streams.py's.

Semantics follow HAProxy (../shared/spec/features-3.2.md, "HTTP compression"); the global
compression rate limit (``maxcomprate``) is not implemented."""

from __future__ import annotations

import re
from typing import Any

from .streams import ALGORITHMS, Stream

_COMPRESSIBLE_STATUS = frozenset({200, 201, 202, 203})
_MSIE = re.compile(r"MSIE (\d+)")
#: the stream's mark that one compression filter already took the stream
_TAKEN = "compression"


def settings_of(strm: Any) -> dict[str, Any]:
    """The compression settings of the stream: the backend's win over the frontend's for
    algorithms, types and minimum sizes."""
    fe = (strm.frontend.settings.get("compression") or {}) if strm.frontend else {}
    be = (strm.backend.settings.get("compression") or {}) if strm.backend else {}
    out = dict(fe)
    for key, value in be.items():
        out[key] = value
    return out


def accept_encoding_choice(values: list[str], algos: list[str]) -> str | None:
    """The configured algorithm the client prefers: highest q wins, the first token on a
    tie, ``*`` stands for the first configured one; identity when configured and nothing
    else matched."""
    best: str | None = None
    best_q = -1.0
    for value in values:
        for part in value.split(","):
            token, _, params = part.strip().partition(";")
            token = token.strip().lower()
            if not token:
                continue
            q = 1.0
            for p in params.split(";"):
                name, _, val = p.strip().partition("=")
                if name.strip().lower() == "q":
                    try:
                        q = float(val.strip())
                    except ValueError:
                        q = 0.0
            if q <= 0:
                continue
            match = _match(token, algos)
            if match is not None and q > best_q:
                best, best_q = match, q
    if best is None and "identity" in algos:
        return "identity"
    return best


def _match(token: str, algos: list[str]) -> str | None:
    if token == "*":
        return algos[0] if algos else None
    for algo in algos:
        spec = ALGORITHMS.get(algo)
        name = algo if spec is None else spec[0]
        if token == name:
            return algo
    return None


def old_browser(ua: str | None) -> bool:
    """HAProxy's User-Agent rule: Mozilla/4 browsers get no compression, except MSIE 7+
    and MSIE 6 on XP SP2 (SV1)."""
    if not ua or not ua.startswith("Mozilla/4"):
        return False
    m = _MSIE.search(ua)
    if m is None:
        return True
    version = int(m.group(1))
    return not (version >= 7 or (version == 6 and "SV1" in ua))


def _type_ok(msg: Any, types: list[str] | None) -> bool:
    ctype = msg.get("content-type")
    if ctype is not None and ctype.split(",")[0].strip().lower().startswith("multipart"):
        return False
    if not types:
        return True
    if ctype is None:
        return False
    low = ctype.lower()
    return any(low.startswith(t) for t in types)


def _no_transform(msg: Any) -> bool:
    for value in msg.get_all("cache-control"):
        if any(t.strip().lower() == "no-transform" for t in value.split(",")):
            return True
    return False


def _length(msg: Any) -> tuple[bool, int | None]:
    """(chunked, content-length) of the message."""
    chunked = any(v.replace(" ", "").lower().endswith("chunked")
                  for v in msg.get_all("transfer-encoding"))
    if chunked:
        return True, None
    cl = msg.get("content-length")
    return False, int(cl.strip()) if cl is not None and cl.strip().isdigit() else None


def _rewrite(msg: Any, token: str, chunked: bool) -> None:
    """HAProxy's header changes on a message it compresses."""
    msg.remove("content-length")
    if not chunked:
        msg.add("transfer-encoding", "chunked")
    etags = msg.get_all("etag")
    if len(etags) == 1 and etags[0].startswith('"'):
        msg.set("etag", "W/" + etags[0])
    varies = msg.get_all("vary")
    if not any(v.strip().lower() == "accept-encoding"
               for value in varies for v in value.split(",")):
        if varies:
            # appended to the last Vary header
            last = max(i for i, (n, _) in enumerate(msg.headers) if n.lower() == "vary")
            name, value = msg.headers[last]
            msg.headers[last] = (name, f"{value},Accept-Encoding")
        else:
            msg.add("vary", "Accept-Encoding")
    msg.add("content-encoding", token)


def _etag_valid(msg: Any) -> bool:
    etags = msg.get_all("etag")
    if len(etags) > 1:
        return False
    if not etags:
        return True
    tag = etags[0].strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"'


class CompressionFilter:
    """The per-stream ``compression`` filter (core/runtime/filters.py interface)."""

    def __init__(self, conf: Any, strm: Any) -> None:
        self.active = _TAKEN not in strm.ext
        strm.ext[_TAKEN] = True
        self.conf = settings_of(strm) if self.active else {}
        self.res_algo: str | None = None
        self.req_z: Stream | None = None
        self.res_z: Stream | None = None

    # -- request ------------------------------------------------------------------------------
    def on_request_headers(self, strm: Any) -> bool:
        if not self.active:
            return False
        conf, req = self.conf, strm.req
        direction = conf.get("direction", "response")
        algos = conf.get("algo-res") or []
        if direction in ("response", "both") and algos and not old_browser(
                req.get("user-agent")):
            self.res_algo = accept_encoding_choice(req.get_all("accept-encoding"), algos)
            if self.res_algo is not None and conf.get("offload"):
                req.remove("accept-encoding")
        if direction not in ("request", "both"):
            return False
        algo = (conf.get("algo-req") or [None])[0]
        spec = ALGORITHMS.get(algo) if algo else None
        if spec is None or req.version == "1.0" or req.method == "HEAD":
            return False
        chunked, length = _length(req)
        if not chunked and not length:
            return False
        if (length is not None and length < conf.get("minsize-req", 0)) or \
                req.get("content-encoding") is not None or _no_transform(req) or \
                not _etag_valid(req) or not _type_ok(req, conf.get("type-req")):
            return False
        _rewrite(req, spec[0], chunked)
        self.req_z = spec[1]()
        return True

    def on_request_data(self, strm: Any, data: bytes) -> bytes:
        return data if self.req_z is None else self.req_z.data(data)

    def on_request_end(self, strm: Any) -> bytes:
        return b"" if self.req_z is None else self.req_z.end()

    # -- response -----------------------------------------------------------------------------
    def on_response_headers(self, strm: Any) -> bool:
        algo = self.res_algo
        spec = ALGORITHMS.get(algo) if algo else None
        res, req = strm.res, strm.req
        if spec is None or res is None or req.method == "HEAD" or req.version == "1.0" \
                or res.version == "1.0" or res.status not in _COMPRESSIBLE_STATUS:
            return False
        chunked, length = _length(res)
        if not chunked and length is None:
            return False
        if length is not None and (length == 0 or length < self.conf.get("minsize-res", 0)):
            return False
        if res.get("content-encoding") is not None or _no_transform(res) or \
                not _etag_valid(res) or not _type_ok(res, self.conf.get("type-res")):
            return False
        _rewrite(res, spec[0], chunked)
        self.res_z = spec[1]()
        return True

    def on_response_data(self, strm: Any, data: bytes) -> bytes:
        return data if self.res_z is None else self.res_z.data(data)

    def on_response_end(self, strm: Any) -> bytes:
        return b"" if self.res_z is None else self.res_z.end()
