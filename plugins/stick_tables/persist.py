"""Persistence through stick tables: ``stick on``, ``stick match``, ``stick store-request``
and ``stick store-response`` in backends.

Once the configuration is parsed, a backend with such rules gets its
``settings["server_switching"]`` wrapped (after any ``use-server`` rules): the store-request
keys are noted on the stream and the first match rule whose key has an entry sends the
stream to the entry's server (by ``server_id``) unless that server is down (kept with
``option persist`` or ``force-persist``; ``ignore-persist`` skips matching).  When the
stream ends, the noted keys and the store-response keys get the server that served it
(``server_id``, ``server_key``); ``non-stick`` servers are never stored.  A client whose
server went down is sent to another by the balancer and its entry then moves there.
"""

from __future__ import annotations

from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Directive, Point
from hapx.core.sample.cond import compile_condition, split_condition
from hapx.core.sample.expr import compile_expr

from . import runtime as rt
from .track import proxy_table_ref

RULES = "stick_rules"
PENDING = "stick_store"
_KINDS = ("on", "match", "store-request", "store-response")


class StickRule:
    __slots__ = ("kind", "expr", "ref", "cond", "make_key")

    def __init__(self, kind: str, expr: Any, ref: Any, cond: Any) -> None:
        self.kind, self.expr, self.ref, self.cond = kind, expr, ref, cond
        self.make_key: Any = None

    def key(self, strm: Any) -> tuple[Any, Any]:
        """(store, key) of the rule on this stream, or (None, None)."""
        cond = self.cond
        if cond is not None and not cond.eval(strm):
            return None, None
        st = self.ref.store
        if st is None:
            return None, None
        smp = self.expr.eval(strm)
        if smp is None:
            return None, None
        make = self.make_key
        if make is None:
            make = self.make_key = rt.key_maker(st.spec)
        key = make(smp)
        return (st, key) if key is not None else (None, None)


def _parse(kind: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> None:
        keyword = f"stick {kind}"
        words, cond_words = split_condition(args)
        if not words:
            raise ctx.error(f"'{keyword}': missing fetch method.")
        point = Point.BE_STO_RUL if kind == "store-response" else Point.BE_SET_SRV
        try:
            expr = compile_expr(words[0], ctx, point)
        except ConfigError as exc:
            raise ctx.error(f"'{keyword}': {exc.message}") from None
        table = None
        rest = words[1:]
        if rest:
            if rest[0] != "table" or len(rest) != 2:
                raise ctx.error(f"'{keyword}': unknown argument '{rest[0]}'.")
            table = rest[1]
        cond = None
        if cond_words:
            try:
                cond = compile_condition(cond_words, ctx, point)
            except ConfigError as exc:
                raise ctx.error(f"error detected while parsing sticking condition : "
                                f"{exc.message}") from None
        ref = proxy_table_ref(ctx, table)
        rules = ctx.section.settings.setdefault(RULES, [])
        if kind == "on":
            rules.append(StickRule("match", expr, ref, cond))
            rules.append(StickRule("store-request", expr, ref, cond))
        else:
            rules.append(StickRule(kind, expr, ref, cond))
    return parse


class StickSelector:
    """The backend's server choice: use-server rules first, then the stick match rules."""

    def __init__(self, prev: Any, backend: Any) -> None:
        self.prev = prev
        self.backend = backend
        rules = backend.settings[RULES]
        self.match = [r for r in rules if r.kind == "match"]
        self.store_req = [r for r in rules if r.kind == "store-request"]
        self.persist = bool(backend.options.get("persist"))
        self.decision = backend.settings.get("persist_decision")

    def _server(self, sid: Any) -> Any:
        for srv in self.backend.servers:
            if srv.id == sid:
                return srv
        return None

    def __call__(self, strm: Any) -> Any:
        ext = strm.ext
        if PENDING not in ext:
            pending: list[tuple[Any, Any]] = []
            for rule in self.store_req:
                st, key = rule.key(strm)
                if st is not None:
                    pending.append((st, key))
            ext[PENDING] = pending
        if self.prev is not None:
            srv = self.prev(strm)
            if srv is not None:
                return srv
        decision = self.decision(strm) if self.decision is not None else None
        if decision == "ignore":
            return None
        for rule in self.match:
            st, key = rule.key(strm)
            if st is None:
                continue
            e = st.lookup(key)
            if e is None:
                continue
            srv = self._server(e.d.get("server_id"))
            if srv is None:
                continue
            if getattr(srv, "up", True) or self.persist or decision == "force":
                return srv
            return None
        return None


def _store(st: Any, key: Any, srv: Any) -> None:
    e = st.get(key)
    if e is None:
        return
    d = e.d
    if "server_id" in d:
        d["server_id"] = srv.id
    if "server_key" in d:
        d["server_key"] = srv.name if st.spec.srvkey == "name" else _addr(srv)
    st.touch(e)


def _addr(srv: Any) -> str:
    a = srv.address
    return f"{a.ip}:{a.port}" if a.port else str(a.ip)


def stream_end(strm: Any) -> None:
    """Store the server that served the stream under the noted keys."""
    srv = strm.server
    be = strm.backend
    if srv is None or be is None or srv not in be.servers:
        strm.ext.pop(PENDING, None)
        return
    if srv.options.get("non-stick"):
        return
    for st, key in strm.ext.pop(PENDING, None) or ():
        _store(st, key, srv)
    rules = be.settings.get(RULES)
    if rules:
        for rule in rules:
            if rule.kind == "store-response":
                st, key = rule.key(strm)
                if st is not None:
                    _store(st, key, srv)


def build(config: Any) -> bool:
    """Wrap the server choice of backends with stick rules; True when one has some."""
    found = False
    for px in config.proxies:
        if px.is_backend and px.settings.get(RULES):
            found = True
            for rule in px.settings[RULES]:
                # as HAProxy, a table used by stick rules stores the server
                spec = rt.find_table(config, rule.ref.name)
                if spec is not None:
                    spec.store.setdefault("server_id", True)
                    spec.store.setdefault("server_key", True)
            if any(r.kind in ("match", "store-request") for r in px.settings[RULES]):
                px.settings["server_switching"] = StickSelector(
                    px.settings.get("server_switching"), px)
    return found


_BE = frozenset({"backend", "listen"})

DIRECTIVES = (
    Directive("stick on", sections=_BE, parse=_parse("on"),
              usage="stick on <pattern> [table <table>] [{if | unless} <condition>]",
              doc="stick on <pattern> [table <table>] [{if | unless} <condition>]\n\nMatch "
                  "and store: a request whose <pattern> is in the table goes to the server "
                  "stored there; the server that serves it is stored."),
    Directive("stick match", sections=_BE, parse=_parse("match"),
              usage="stick match <pattern> [table <table>] [{if | unless} <cond>]",
              doc="stick match <pattern> [table <table>] [{if | unless} <cond>]\n\nSend the "
                  "request to the server stored in the table for <pattern> (unless it is "
                  "down, or with option persist / force-persist)."),
    Directive("stick store-request", sections=_BE, parse=_parse("store-request"),
              usage="stick store-request <pattern> [table <table>] [{if | unless} <cond>]",
              doc="stick store-request <pattern> [table <table>] [{if | unless} <cond>]\n\n"
                  "Store the server that serves the request under <pattern> (taken from the "
                  "request)."),
    Directive("stick store-response", sections=_BE, parse=_parse("store-response"),
              usage="stick store-response <pattern> [table <table>] [{if | unless} <cond>]",
              doc="stick store-response <pattern> [table <table>] [{if | unless} <cond>]\n\n"
                  "Store the server that served the request under <pattern> (taken from the "
                  "response)."),
)
