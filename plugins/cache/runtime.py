"""The per-stream part of the cache: ``cache-use`` (lookup, answer from memory),
``cache-store`` (cacheability, then the filter collects the body), the ``cache`` filter,
the fetches and ``show cache``.

Semantics follow HAProxy's src/cache.c and http_ana.c cacheability checks; differences:
a hit is answered at once (the http-request rules after cache-use do not run and the
http-response rules are skipped; http-after-response rules run), and filters declared after
the cache filter (compression) are applied to the object when it is served, as HAProxy's
cache applet output goes through them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from hapx.core.records import ActionRule, ActResult
from hapx.core.runtime.filters import FilterChain, filter_specs
from hapx.core.sample.types import Sample, SmpType
from hapx.core.stats import counters_of
from hapx.core.stream import HttpMessage

from .store import Cache, Entry, http_date, key_hash, primary_key, response_codings, vary_of

KIND = "cache"
#: strm.ext keys: the request's lookup state, the stream's cache filters, a hit
_REQ = "cache.req"
_FILTERS = "cache.filters"
_HIT = "cache.hit"
#: HAProxy's CACHE_ENTRY_MAX_AGE
_MAX_AGE = 2147483648
_LEADING_DIGITS = re.compile(r"\d+")
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                  "te", "upgrade", "trailer"})


class CacheServer:
    """What a cache hit shows as its server (HAProxy's cache applet, logged ``<CACHE>``)."""

    name = "<CACHE>"
    id = 0
    counters = None


_CACHE_SERVER = CacheServer()


def caches_of(config: Any) -> dict[str, Cache]:
    """The configuration's caches by name (created on first use)."""
    caches = config.ext.get(KIND)
    if caches is None:
        caches = config.ext[KIND] = {
            name: Cache(name, sec.settings)
            for name, sec in config.sections.get(KIND, {}).items()}
    return caches


@dataclass
class _ReqState:
    """What cache-use learnt of the request (HAProxy's txn cache flags and hash)."""

    key: str
    ignore: bool  # TX_CACHE_IGNORE: do not answer from the cache
    cacheable: bool  # TX_CACHEABLE for the request side (no Authorization, no no-store)


def _cc_tokens(msg: Any) -> list[str]:
    return [t.strip().lower() for v in msg.get_all("cache-control") for t in v.split(",")
            if t.strip()]


def request_state(req: Any) -> _ReqState | None:
    """http_check_request_for_cacheability + the primary key."""
    key = primary_key(req)
    if key is None:
        return None
    ignore = req.version != "1.1" and not req.version.startswith("2") or \
        req.method not in ("GET", "HEAD")
    cacheable = True
    pragma = any(v.strip().lower() == "no-cache" for v in req.get_all("pragma"))
    if req.get_all("authorization"):
        cacheable, ignore = False, True
    tokens = _cc_tokens(req)
    for t in tokens:
        if t.startswith(("max-age", "no-cache", "max-stale", "min-fresh")):
            ignore = True
        elif t.startswith("no-store"):
            cacheable = False
    if not tokens and pragma:
        ignore = True
    return _ReqState(key, ignore, cacheable)


def _counters(strm: Any) -> dict[str, int] | None:
    px = strm.backend or strm.frontend
    ext = getattr(px, "ext", None)
    if not isinstance(ext, dict):
        return None
    return counters_of(px).ext


@dataclass
class CacheRef(ActionRule):
    """A ``cache-use``/``cache-store`` action or a ``filter cache``: the cache it names."""

    cache: str
    store: bool = False
    implicit: bool = False
    obj: Cache | None = None

    def check(self, config: Any) -> None:
        """Resolve the cache object once the configuration is parsed."""
        self.obj = caches_of(config).get(self.cache)

    def run(self, strm: Any) -> ActResult:
        cache = self.obj
        if cache is None or strm.req is None:
            return ActResult.CONT
        return self._store(strm, cache) if self.store else self._use(strm, cache)

    # -- cache-use ---------------------------------------------------------------------------
    def _use(self, strm: Any, cache: Cache) -> ActResult:
        req = strm.req
        st = request_state(req)
        if st is None:
            return ActResult.CONT
        strm.ext[_REQ] = st
        if st.ignore:
            return ActResult.CONT
        ctr = _counters(strm)
        if ctr is not None:
            ctr["cache_lookups"] = ctr.get("cache_lookups", 0) + 1
        entry = cache.lookup(st.key, req)
        if entry is None:
            return ActResult.CONT
        if ctr is not None:
            ctr["cache_hits"] = ctr.get("cache_hits", 0) + 1
        strm.ext[_HIT] = cache.name
        strm.ext["http_reply"] = self._reply(strm, entry)
        strm.server = _CACHE_SERVER
        # as HAProxy's cache applet: no wait, no connect, an immediate response
        strm.timers.update(Tw=0, Tc=0, Tr=0)
        strm.status = entry.status
        return ActResult.DONE

    def _reply(self, strm: Any, entry: Entry) -> HttpMessage:
        msg = HttpMessage(version="1.1", status=entry.status, reason=entry.reason,
                          headers=[(n, v) for n, v in entry.headers if n.lower() not in _HOP])
        body = entry.body
        msg.set("content-length", str(len(body)))
        after = _filters_after(strm, self.cache)
        if after:
            # the filters placed after the cache one (compression) work on the object
            chain = FilterChain(after, strm)
            chain.request_headers(strm)
            strm.res = msg
            chain.response_headers(strm)
            body = chain.response_data(strm, body) + chain.response_end(strm)
            msg.remove("transfer-encoding")
            msg.set("content-length", str(len(body)))
        age = max(0, int(time.time() - entry.created)) + entry.age
        msg.add("age", str(min(age, _MAX_AGE)))
        if _not_modified(strm.req, entry):
            msg.status, msg.reason = 304, "Not Modified"
            body = b""
        msg.body = body
        msg.body_complete = True
        return msg

    # -- cache-store -------------------------------------------------------------------------
    def _store(self, strm: Any, cache: Cache) -> ActResult:
        req, res = strm.req, strm.res
        st: _ReqState | None = strm.ext.get(_REQ)
        if res is None or strm.ext.get(_HIT) or req.version == "1.0":
            return ActResult.CONT
        if req.method != "GET":
            if st is not None and 200 <= res.status < 400 and req.method not in (
                    "OPTIONS", "HEAD", "TRACE"):
                cache.invalidate(st.key)
            return ActResult.CONT
        if st is None or not st.cacheable or res.status != 200:
            return ActResult.CONT
        flt = (strm.ext.get(_FILTERS) or {}).get(cache.name)
        if flt is None:
            return ActResult.CONT
        headers = flt.stored_headers(res)
        msg = HttpMessage(status=res.status, reason=res.reason, headers=list(headers))
        length = msg.get("content-length")
        if length is not None and length.strip().isdigit() and \
                int(length) + sum(len(n) + len(v) for n, v in headers) > cache.max_object:
            return ActResult.CONT
        vary: tuple[str, ...] = ()
        if cache.process_vary:
            found = vary_of(msg)
            if found is None:
                return ActResult.CONT
            vary = found
        elif msg.get_all("vary"):
            return ActResult.CONT
        fresh = _freshness(msg, cache)
        if fresh is None:
            return ActResult.CONT
        effective, true_max = fresh
        age = 0
        age_hdr = msg.get_all("age")
        if age_hdr:
            value = age_hdr[0].strip()
            if not value.isdigit() or int(value) <= 0:
                return ActResult.CONT
            age = min(int(value), _MAX_AGE)
            if age > true_max:
                return ActResult.CONT
            msg.remove("age")
        seckey: dict[str, Any] = {}
        for name in vary:
            if name == "accept-encoding":
                codings = response_codings(msg.get_all("content-encoding"))
                if codings is None:
                    return ActResult.CONT
                seckey[name] = codings
            else:
                seckey[name] = req.get(name) or ""
        pending = (st.key, tuple(sorted((k, str(v)) for k, v in seckey.items())))
        if pending in cache.pending:
            return ActResult.CONT
        now = time.time()
        etag = msg.get("etag")
        lm = http_date(msg.get("last-modified")) or http_date(msg.get("date")) or now
        flt.begin(Entry(st.key, key_hash(st.key), vary, seckey, res.status, res.reason,
                        msg.headers, created=now, expire=now + effective, age=age,
                        etag=etag.strip() if etag else None, last_modified=lm), pending,
                  cache)
        return ActResult.CONT


def _freshness(msg: Any, cache: Cache) -> tuple[int, int] | None:
    """(effective max age, the response's own max age) as HAProxy's http_calc_maxage, or
    None when the response is not cacheable (http_check_response_for_cacheability)."""
    if any(v.strip().lower() == "no-cache" for v in msg.get_all("pragma")[:1]):
        return None
    cacheable, cookie_ok, has_fresh = True, True, False
    smaxage = maxage = -1
    for t in _cc_tokens(msg):
        if t == "public":
            cacheable = cookie_ok = True
        elif t in ("private", "no-cache", "no-store", "max-age=0", "s-maxage=0"):
            cacheable = cookie_ok = False
        elif t.startswith('no-cache="set-cookie'):
            cookie_ok = False
        elif t.startswith(("s-maxage", "max-age")):
            has_fresh = True
            name, _, value = t.partition("=")
            value = value.strip().strip('"')
            lead = _LEADING_DIGITS.match(value)
            num = int(lead.group()) if lead else -1
            if num < 0:
                return None
            if name == "s-maxage":
                smaxage = num
            elif name == "max-age":
                maxage = num
    if not (cacheable and cookie_ok):
        return None
    expires = -1
    if maxage == -1 and smaxage == -1:
        exp = msg.get_all("expires")
        if exp:
            has_fresh = True
            when = http_date(exp[0])
            expires = 0 if when is None else max(0, int(when - time.time()))
    if not has_fresh and msg.get("etag") is None and msg.get("last-modified") is None:
        return None
    for own in (smaxage, maxage):
        if own > 0:
            return min(own, cache.max_age), own
    if expires >= 0:
        return min(expires, cache.max_age), expires
    return cache.max_age, _MAX_AGE


def _not_modified(req: Any, entry: Entry) -> bool:
    """HAProxy's should_send_notmodified_response."""
    inm = [t.strip() for v in req.get_all("if-none-match") for t in v.split(",")
           if t.strip()]
    if inm:
        if "*" in inm:
            return True
        if entry.etag is None:
            return False
        weak = entry.etag[2:] if entry.etag.startswith("W/") else entry.etag
        return any((t[2:] if t.startswith("W/") else t) == weak for t in inm)
    ims = http_date(req.get("if-modified-since"))
    return ims is not None and entry.last_modified <= ims


def _filters_after(strm: Any, name: str) -> list[tuple[type, Any]]:
    specs = filter_specs(strm.frontend, strm.backend)
    for i, (ops, conf) in enumerate(specs):
        if ops is CacheFilter and getattr(conf, "cache", None) == name:
            return specs[i + 1:]
    return []


class CacheFilter:
    """The per-stream ``cache`` filter: remembers the response headers as the filters
    before it left them, and once cache-store accepted the response, collects the body
    they produce into the entry (dropped past max-object-size)."""

    def __init__(self, conf: Any, strm: Any) -> None:
        self.name = conf.cache
        self.conf = conf
        strm.ext.setdefault(_FILTERS, {}).setdefault(self.name, self)
        after = _filters_after(strm, self.name) if strm.frontend is not None else []
        self.later = any(hasattr(ops, "on_response_headers") for ops, _ in after)
        self.snapshot: list[tuple[str, str]] | None = None
        self.entry: Entry | None = None
        self.parts: list[bytes] = []
        self.size = 0
        self.pending: Any = None
        self.cache: Cache | None = None

    def on_response_headers(self, strm: Any) -> bool:
        res = strm.res
        if res is not None and self.later:
            self.snapshot = list(res.headers)
        return False

    def stored_headers(self, res: Any) -> list[tuple[str, str]]:
        """The headers that go with the body this filter sees: the current ones, unless
        later filters rewrote them (then as they were when this filter saw them)."""
        return self.snapshot if self.snapshot is not None else res.headers

    def begin(self, entry: Entry, pending: Any, cache: Cache) -> None:
        """cache-store accepted the response: collect its body from now on."""
        self.cache = cache
        self.entry = entry
        self.pending = pending
        self.size = entry.size
        cache.pending.add(pending)

    def on_response_data(self, strm: Any, data: bytes) -> bytes:
        if self.entry is not None:
            self.size += len(data)
            if self.size > self.cache.max_object:
                self._drop()
            else:
                self.parts.append(data)
        return data

    def on_response_end(self, strm: Any) -> bytes:
        entry, cache = self.entry, self.cache
        if entry is not None and cache is not None:
            entry.body = b"".join(self.parts)
            self._drop()
            cache.insert(entry)
        return b""

    def _drop(self) -> None:
        if self.cache is not None and self.pending is not None:
            self.cache.pending.discard(self.pending)
        self.entry = None
        self.parts = []

    def __del__(self) -> None:
        # a stream that ended before its response did: release the pending key
        if self.entry is not None:
            self._drop()


def fetch_hit(args: list[Any], strm: Any) -> Sample | None:
    return Sample(SmpType.BOOL, bool(strm.ext.get(_HIT)))


def fetch_name(args: list[Any], strm: Any) -> Sample | None:
    name = strm.ext.get(_HIT)
    return Sample(SmpType.STR, name) if name else None


def show_cache(cli: Any, args: list[str]) -> str:
    return "".join(c.show() for c in caches_of(cli.config).values())
