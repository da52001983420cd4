"""Stick counters: ``track-sc0..2`` (and ``track-sc <n>``) attach a stream to an entry, and
the ``sc-*`` actions update the tracked entries' general purpose counters and tags.

A stream's trackers are ``strm.ext["stkctr"]``: a list of :class:`Tracker` (or None) per
counter number.  Starting to track counts a connection (conn_cnt, conn_cur, conn_rate); in
tcp-request connection/session rules a session too (sess_cnt, sess_rate); in http-request
rules an HTTP request (http_req_cnt, http_req_rate).  When the stream ends
(:func:`stream_end`, a frontend ``stream_end`` observer) the bytes are added, a request
denied by an http-request rule or a 4xx response from a server counts as an HTTP error, a
5xx from a server (but 501 and 505) as a failure, conn_cur is decremented and the entries
are released (their expiry restarts).  Trackers started by tcp-request connection/session
rules belong to the connection (``strm.sess.ext``): every stream of the connection sees and
feeds them, and they are released when the connection closes.
"""

from __future__ import annotations

import abc
import asyncio
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Action, ActionRule, ActResult, RuleSet
from hapx.core.rules import UnexpectedWord
from hapx.core.sample.expr import compile_expr

from . import runtime as rt
from .store import Entry, Store, now_ms

STKCTR = "stkctr"
#: HAProxy's default tune.stick-counters
NB_CTR = 3
_CONT = ActResult.CONT

_EARLY = frozenset({RuleSet.TCP_REQ_CONN, RuleSet.TCP_REQ_SESS})


class Tracker:
    """One stick counter of a stream: the entry it tracks in a table."""

    __slots__ = ("store", "entry")

    def __init__(self, store: Store, entry: Entry) -> None:
        self.store = store
        self.entry = entry


class Trackers(list):
    """A stream's stick counters.  Streams dropped without reaching their end (a connection
    rejected by a later tcp-request rule) release what they still track when they are
    freed, so conn_cur and the entries' references do not leak."""

    __slots__ = ()

    def __del__(self) -> None:
        for tr in self:
            if tr is not None:
                _release(tr)


def _release(tr: Tracker) -> None:
    e = tr.entry
    cur = e.d.get("conn_cur")
    if cur:
        e.d["conn_cur"] = cur - 1
    if e.use:
        e.use -= 1
    tr.store.touch(e)


def trackers(strm: Any) -> list[Any] | None:
    return strm.ext.get(STKCTR)


def tracked(strm: Any, idx: int) -> Tracker | None:
    """The entry stick counter ``idx`` tracks for this stream: its own, or its
    connection's (tcp-request connection/session rules)."""
    if idx >= NB_CTR:
        return None
    slots = strm.ext.get(STKCTR)
    if slots is not None and slots[idx] is not None:
        return slots[idx]
    slots = strm.sess.ext.get(STKCTR)
    return slots[idx] if slots is not None else None


class CountRequest(ActionRule):
    """Put first in the http-request rules of a frontend whose connections are tracked:
    each request counts on the connection's entries (http_req_cnt, http_req_rate) before
    any rule reads them, as HAProxy counts a request when it starts."""

    def run(self, strm: Any) -> ActResult:
        slots = strm.sess.ext.get(STKCTR)
        if slots:
            now = now_ms()
            for tr in slots:
                if tr is not None:
                    rt.add(tr.store, tr.entry, "http_req_cnt", 1)
                    rt.add(tr.store, tr.entry, "http_req_rate", 1, now)
        return _CONT


def proxy_table_ref(ctx: Any, name: str | None) -> rt.TableRef:
    """The table named in a rule (default: the rule's proxy's own), checked once the
    configuration is complete."""
    proxy = ctx.section
    target = name or proxy.name
    ref = rt.TableRef(target, ctx.config)
    keyword = ctx.keyword

    def check(config: Any) -> None:
        if rt.find_table(config, target) is None:
            if name:
                raise ConfigError(f"'{keyword}': unable to find table '{name}' referenced by "
                                  f"{proxy.kind} '{proxy.name}'.")
            raise ConfigError(f"'{keyword}': table '{target}' used but not configured "
                              f"({proxy.kind} '{proxy.name}' has no stick-table).")
    ctx.defer(check)
    return ref


# -- track-sc --------------------------------------------------------------------------------------

class TrackSc(ActionRule):
    def __init__(self, idx: int, expr: Any, ref: rt.TableRef, ruleset: RuleSet) -> None:
        self.idx = idx
        self.expr = expr
        self.ref = ref
        self.session = ruleset in _EARLY
        self.http = ruleset == RuleSet.HTTP_REQ
        #: tcp-request content rules also run on HTTP requests (counted as such)
        self.content = ruleset == RuleSet.TCP_REQ_CONT
        self.make_key: Any = None

    def run(self, strm: Any) -> ActResult:
        idx = self.idx
        sess_slots = strm.sess.ext.get(STKCTR)
        if sess_slots is not None and sess_slots[idx] is not None:
            return _CONT  # tracked for the whole connection
        ext = strm.sess.ext if self.session else strm.ext
        slots = ext.get(STKCTR)
        if slots is None:
            slots = ext[STKCTR] = Trackers([None] * NB_CTR)
        elif slots[idx] is not None:
            return _CONT
        store = self.ref.store
        if store is None:
            return _CONT
        make = self.make_key
        if make is None:
            make = self.make_key = rt.key_maker(store.spec)
        smp = self.expr.eval(strm)
        if smp is None:
            return _CONT
        key = make(smp)
        if key is None:
            return _CONT
        e = store.get(key)
        if e is None:
            return _CONT
        e.use += 1
        slots[idx] = Tracker(store, e)
        now = now_ms()
        add = rt.add
        add(store, e, "conn_cnt", 1)
        add(store, e, "conn_cur", 1)
        add(store, e, "conn_rate", 1, now)
        if self.session:
            # counted once the connection is accepted as a session (after the tcp-request
            # connection and session rules), as HAProxy's session_count_new()
            asyncio.get_running_loop().call_soon(_count_session, strm, slots, idx)
        if self.http or (self.content and strm.req is not None):
            add(store, e, "http_req_cnt", 1)
            add(store, e, "http_req_rate", 1, now)
        store.touch(e)
        return _CONT


def _count_session(strm: Any, slots: Trackers, idx: int) -> None:
    if strm.sess.ext.get(STKCTR) is not slots:
        return  # rejected: the stream's data was let go
    tr = slots[idx]
    if tr is not None:
        rt.add(tr.store, tr.entry, "sess_cnt", 1)
        rt.add(tr.store, tr.entry, "sess_rate", 1)


def _parse_track(ctx: Any, args: list[str], idx: int) -> ActionRule:
    name = ctx.keyword.split()[-1]
    if not args:
        raise ConfigError(f"'{name}' expects a sample expression and an optional "
                          "'table <name>' argument")
    expr = compile_expr(args[0], ctx, ctx.point)
    table = None
    rest = args[1:]
    if rest:
        if rest[0] != "table":
            raise UnexpectedWord(rest[0])
        if len(rest) < 2:
            raise ConfigError(f"'{name}' : missing table name after 'table'")
        table = rest[1]
        if len(rest) > 2:
            raise UnexpectedWord(rest[2])
    return TrackSc(idx, expr, proxy_table_ref(ctx, table), ctx.ruleset)


def _track_n(n: int) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        return _parse_track(ctx, args, n)
    return parse


def _parse_track_any(ctx: Any, args: list[str]) -> ActionRule:
    """``track-sc <n> <key> [table <t>]``"""
    if not args or not args[0].isdigit():
        raise ConfigError("'track-sc' expects a stick counter number (0 to "
                          f"{NB_CTR - 1}), a sample expression and an optional "
                          "'table <name>' argument")
    n = int(args[0])
    if n >= NB_CTR:
        raise ConfigError(f"'track-sc' : invalid stick counter {n} (must be between 0 and "
                          f"{NB_CTR - 1}, see tune.stick-counters)")
    return _parse_track(ctx, args[1:], n)


# -- stream end ------------------------------------------------------------------------------------

def stream_end(strm: Any) -> None:
    """Account the ended stream on its tracked entries and release them."""
    slots = strm.ext.get(STKCTR)
    sess_slots = strm.sess.ext.get(STKCTR)
    if not slots and not sess_slots:
        return
    counters = strm.counters
    b_in = counters.get("bytes_in", 0)
    b_out = counters.get("bytes_out", 0)
    status = strm.status if strm.req is not None else -1
    from_server = strm.srv_conn is not None
    # as haproxy 2.6: a request denied by a rule is an error whatever its status; of the
    # responses, only the server's count (return, redirect and haproxy's own errors not)
    err = bool(counters.get("denied_req")) or (from_server and 400 <= status < 500)
    fail = from_server and 500 <= status < 600 and status not in (501, 505)
    now = now_ms()
    add = rt.add
    todo = [(tr, slots, i) for i, tr in enumerate(slots or ()) if tr is not None]
    todo += [(tr, None, 0) for tr in sess_slots or () if tr is not None]
    for tr, own, i in todo:
        if own is not None:
            own[i] = None
        store, e = tr.store, tr.entry
        if b_in:
            add(store, e, "bytes_in_cnt", b_in)
            add(store, e, "bytes_in_rate", b_in, now)
        if b_out:
            add(store, e, "bytes_out_cnt", b_out)
            add(store, e, "bytes_out_rate", b_out, now)
        if err:
            add(store, e, "http_err_cnt", 1)
            add(store, e, "http_err_rate", 1, now)
        if fail:
            add(store, e, "http_fail_cnt", 1)
            add(store, e, "http_fail_rate", 1, now)
        if own is not None:
            _release(tr)  # the connection's trackers go when it closes


# -- sc-* actions ----------------------------------------------------------------------------------

def _ints(ctx: Any, name: str, want: int) -> list[int]:
    param = ctx.param
    usage = {1: "(<sc-id>)", 2: "(<idx>,<sc-id>)"}[want]
    if param is None:
        raise ConfigError(f"'{name}' expects '{name}{usage}'")
    parts = param.split(",")
    if len(parts) != want or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"'{name}' expects '{name}{usage}' with integer arguments")
    vals = [int(p) for p in parts]
    if vals[-1] >= NB_CTR:
        raise ConfigError(f"invalid stick table track ID '{vals[-1]}'. The max allowed ID is "
                          f"{NB_CTR - 1} (tune.stick-counters)")
    if want == 2 and vals[0] >= 100:
        raise ConfigError(f"invalid gpc ID '{vals[0]}'. gpc ID must be between 0 and 99")
    return vals


def _value(ctx: Any, args: list[str], name: str) -> tuple[int | None, Any]:
    """An integer or a sample expression (``sc-set-gpt``/``sc-add-gpc`` argument)."""
    if not args:
        raise ConfigError(f"'{name}': expects an integer or a sample expression")
    if len(args) > 1:
        raise UnexpectedWord(args[1])
    word = args[0]
    try:
        return int(word), None
    except ValueError:
        return None, compile_expr(word, ctx, ctx.point)


def _eval_int(const: int | None, expr: Any, strm: Any) -> int | None:
    if expr is None:
        return const
    smp = expr.eval(strm)
    if smp is None:
        return None
    v = smp.value
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


class _ScArrayWrite(ActionRule, abc.ABC):
    """An action writing element ``idx`` of a gpc/gpt array (``legacy``: the gpc0/gpc1/gpt0
    slots) of the entry tracked by stick counter ``ctr``, with ``const`` or ``expr``'s
    integer value; the entry is touched when something was written."""

    def __init__(self, idx: int, ctr: int, legacy: bool, const: int | None, expr: Any) -> None:
        self.idx, self.ctr, self.legacy = idx, ctr, legacy
        self.const, self.expr = const, expr

    def run(self, strm: Any) -> ActResult:
        tr = tracked(strm, self.ctr)
        if tr is None:
            return _CONT
        if self.write(tr, _eval_int(self.const, self.expr, strm)):
            tr.store.touch(tr.entry)
        return _CONT

    @abc.abstractmethod
    def write(self, tr: Any, value: int | None) -> bool:
        """Write ``value`` into the tracked entry ``tr``; False when nothing is to write."""


class ScGpc(_ScArrayWrite):
    """sc-inc-gpc / sc-inc-gpc0/1 / sc-add-gpc."""

    def write(self, tr: Any, value: int | None) -> bool:
        if not value:
            return False
        rt.gpc_add(tr.store, tr.entry, self.idx, value, self.legacy)
        return True


class ScSetGpt(_ScArrayWrite):
    """sc-set-gpt / sc-set-gpt0."""

    def write(self, tr: Any, value: int | None) -> bool:
        if value is None:
            return False
        rt.gpt_set(tr.store, tr.entry, self.idx, value, self.legacy)
        return True


def _parse_inc_gpc(ctx: Any, args: list[str]) -> ActionRule:
    idx, ctr = _ints(ctx, "sc-inc-gpc", 2)
    if args:
        raise UnexpectedWord(args[0])
    return ScGpc(idx, ctr, False, 1, None)


def _inc_legacy(n: int) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        (ctr,) = _ints(ctx, f"sc-inc-gpc{n}", 1)
        if args:
            raise UnexpectedWord(args[0])
        return ScGpc(n, ctr, True, 1, None)
    return parse


def _parse_add_gpc(ctx: Any, args: list[str]) -> ActionRule:
    idx, ctr = _ints(ctx, "sc-add-gpc", 2)
    const, expr = _value(ctx, args, "sc-add-gpc")
    return ScGpc(idx, ctr, False, const, expr)


def _parse_set_gpt(ctx: Any, args: list[str]) -> ActionRule:
    idx, ctr = _ints(ctx, "sc-set-gpt", 2)
    const, expr = _value(ctx, args, "sc-set-gpt")
    return ScSetGpt(idx, ctr, False, const, expr)


def _parse_set_gpt0(ctx: Any, args: list[str]) -> ActionRule:
    (ctr,) = _ints(ctx, "sc-set-gpt0", 1)
    const, expr = _value(ctx, args, "sc-set-gpt0")
    return ScSetGpt(0, ctr, True, const, expr)


_TRACK_SETS = frozenset({RuleSet.TCP_REQ_CONN, RuleSet.TCP_REQ_SESS, RuleSet.TCP_REQ_CONT,
                         RuleSet.HTTP_REQ})
_SC_SETS = frozenset({RuleSet.TCP_REQ_CONN, RuleSet.TCP_REQ_SESS, RuleSet.TCP_REQ_CONT,
                      RuleSet.TCP_RES_CONT, RuleSet.HTTP_REQ, RuleSet.HTTP_RES,
                      RuleSet.HTTP_AFTER_RES})

_TRACK_DOC = ("\n\nTrack the entry of <key> (a sample expression) in the table (this proxy's "
              "by default) as stick counter {n}: it counts a connection (conn_cnt, conn_cur, "
              "conn_rate), a session in tcp-request connection/session rules, an HTTP "
              "request in http-request rules; bytes, HTTP errors (4xx) and failures (5xx) "
              "are added when the stream ends, and conn_cur decremented.")

ACTIONS = (
    *(Action(f"track-sc{n}", rulesets=_TRACK_SETS, parse=_track_n(n),
             doc=f"track-sc{n} <key> [table <table>]" + _TRACK_DOC.format(n=n))
      for n in range(NB_CTR)),
    Action("track-sc", rulesets=_TRACK_SETS, parse=_parse_track_any,
           doc="track-sc <n> <key> [table <table>]" + _TRACK_DOC.format(n="<n>")),
    Action("sc-inc-gpc", rulesets=_SC_SETS, parse=_parse_inc_gpc, takes_param=True,
           doc="sc-inc-gpc(<idx>,<sc-id>)\n\nIncrement element <idx> of the gpc array (and "
               "of gpc_rate) of the entry tracked by stick counter <sc-id>."),
    Action("sc-inc-gpc0", rulesets=_SC_SETS, parse=_inc_legacy(0), takes_param=True,
           doc="sc-inc-gpc0(<sc-id>)\n\nIncrement gpc0 (and gpc0_rate) of the tracked entry "
               "(gpc[0] when the table stores the gpc array)."),
    Action("sc-inc-gpc1", rulesets=_SC_SETS, parse=_inc_legacy(1), takes_param=True,
           doc="sc-inc-gpc1(<sc-id>)\n\nIncrement gpc1 (and gpc1_rate) of the tracked entry "
               "(gpc[1] when the table stores the gpc array)."),
    Action("sc-add-gpc", rulesets=_SC_SETS, parse=_parse_add_gpc, takes_param=True,
           doc="sc-add-gpc(<idx>,<sc-id>) {<int> | <expr>}\n\nAdd the value to element <idx> "
               "of the gpc array (and gpc_rate) of the tracked entry."),
    Action("sc-set-gpt", rulesets=_SC_SETS, parse=_parse_set_gpt, takes_param=True,
           doc="sc-set-gpt(<idx>,<sc-id>) {<int> | <expr>}\n\nSet element <idx> of the gpt "
               "array of the tracked entry."),
    Action("sc-set-gpt0", rulesets=_SC_SETS, parse=_parse_set_gpt0, takes_param=True,
           doc="sc-set-gpt0(<sc-id>) {<int> | <expr>}\n\nSet gpt0 of the tracked entry "
               "(gpt[0] when the table stores the gpt array)."),
)
