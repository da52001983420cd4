"""One HTTP request through the proxy: rules, backend and server choice, the server
connection, the response, and the log data (timers, counters, termination state).

The transaction talks to its *client* (the object passed as ``client``: an HTTP/1
connection, an HTTP/2 or HTTP/3 stream) through one interface, each protocol encoding the
response its own way: ``send_interim``, ``send_head``, ``send_data``, ``send_end``,
``send_reply``, ``txn_done`` (docs/architecture.md section 6)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..proto.errors import error_message
from ..proto.h1 import (
    LAST_CHUNK,
    H1Limits,
    connection_tokens,
    encode_headers,
    forward_request_head,
    has_upgrade,
    head_info,
    last_chunk,
    response_scan,
    without_hop,
)
from ..records import ActResult
from ..rules import run_rules
from ..stream import HttpMessage, ServerConn, Stream
from ..trace import DEVELOPER, PROTO
from . import live, tevents
from .accounting import assign_backend, release
from .backend import picker_for
from .filters import FilterChain, filter_specs
from .http_server import AlpnChooser, ServerConnection, connect, pool_of, target_key
from .ktraces import STREAM_TRACE, stream_detail, stream_lock
from .queue import NoSlot, Pending, acquire, conn_limit, free_slot, hash_based, is_direct
from .retry import DISCARD, conn_error, policy_for, resp_error
from .waits import take_wake

_BUFFER_LIMIT = 256 * 1024
#: the request body a balancer waiting for it gets at most (HAProxy's buffer: tune.bufsize
#: less tune.maxrewrite)
_LB_BODY_LIMIT = 16384 - 1024
_CONT, _STOP, _YIELD = ActResult.CONT, ActResult.STOP, ActResult.YIELD
_ABORT, _DENY, _ERROR = ActResult.ABORT, ActResult.DENY, ActResult.ERROR
_PASS = frozenset({_CONT, _STOP, _YIELD})
_monotonic = time.monotonic
_time = time.time
#: the streams alive (live.add and live.discard work on it)
_STREAMS = live.STREAMS


class BackendInfo:
    """What the data path reads from a backend for every request, computed once."""

    __slots__ = ("backend", "close", "reuse", "retries", "t_server", "t_connect",
                 "rules_req", "rules_content", "rules_res", "rules_after", "port_less",
                 "res_sets", "after_sets", "fwd", "plain", "lb_body", "filters", "retry")

    def __init__(self, backend: Any, ctx: FrontendContext) -> None:
        self.backend = backend
        opts = backend.options
        self.close = bool(ctx.httpclose or ctx.server_close or opts.get("httpclose")
                          or opts.get("http-server-close"))
        self.reuse = str(backend.settings.get("http-reuse", "safe"))
        self.retries = int(backend.settings.get("retries", 3))
        #: retries, retry-on and redispatch, compiled once
        self.retry = policy_for(backend, ctx.bufsize)
        self.t_server = backend.timeouts.get("server")
        self.t_connect = backend.timeouts.get("connect")
        other = backend is not ctx.frontend
        self.rules_req = list(backend.rules.get("http-request") or ()) if other else []
        #: the backend's tcp-request content rules, run before its http-request rules
        self.rules_content = (list(backend.rules.get("tcp-request content") or ())
                              if other else [])
        self.rules_res = list(backend.rules.get("http-response") or ()) if other else []
        self.rules_after = (list(backend.rules.get("http-after-response") or ())
                            if other else [])
        #: the http-response rule lists to run (backend then frontend), and the
        #: http-after-response ones
        self.res_sets = [r for r in (self.rules_res, ctx.rules_res) if r]
        self.after_sets = [r for r in (self.rules_after, ctx.rules_after) if r]
        #: the forwardfor settings that apply (the backend's, else the frontend's), or None
        self.fwd = None
        for px in (backend, ctx.frontend):
            if px is not None and px.options.get("forwardfor"):
                self.fwd = px.settings.get("forwardfor") or {}
                break
        #: True when nothing changes the request headers before they are forwarded (no
        #: http-request rules, no forwardfor)
        self.plain = not ctx.rules_req and not self.rules_req and self.fwd is None
        #: the balancer's ``wants_body(strm)`` when it may need the request body to choose
        #: a server (url_param on POST requests), else None
        self.lb_body = getattr(picker_for(backend), "wants_body", None)
        #: the stream filters of the frontend then the backend (core/runtime/filters.py)
        self.filters = filter_specs(ctx.frontend, backend)


class FrontendContext:
    """What every connection of one frontend shares, computed once."""

    def __init__(self, engine: Any, frontend: Any, codec: Any, limits: H1Limits,
                 proc: Any) -> None:
        self.engine = engine
        self.frontend = frontend
        self.codec = codec
        self.limits = limits
        self.proc = proc
        config = getattr(engine, "config", None)
        gset = config.global_.settings if config is not None else {}
        #: tune.bufsize: a request larger than this is not kept for a retry
        self.bufsize = int(gset.get("tune.bufsize", 16384))
        t = frontend.timeouts
        self.t_client = t.get("client")
        self.t_request = t.get("http-request") or self.t_client
        self.t_keepalive = t.get("http-keep-alive") or self.t_request
        #: tcp-request connection and session rules, run at accept
        self.conn_rules = list(frontend.rules.get("tcp-request connection", []))
        self.sess_rules = list(frontend.rules.get("tcp-request session", []))
        #: tcp-request content rules, run on each request before the http-request rules
        self.rules_content = list(frontend.rules.get("tcp-request content", []))
        self.rules_req = list(frontend.rules.get("http-request", []))
        self.rules_res = list(frontend.rules.get("http-response", []))
        self.rules_after = list(frontend.rules.get("http-after-response", []))
        #: the http-after-response rule lists before a backend is chosen
        self.after_sets = [self.rules_after] if self.rules_after else []
        self.switching = frontend.settings.get("switching")
        self.httpclose = bool(frontend.options.get("httpclose"))
        self.server_close = bool(frontend.options.get("http-server-close"))
        self.private: dict[int, list[ServerConnection]] = {}
        #: the loop's timer wheel (set by the first connection)
        self.wheel: Any = None
        self.backends: dict[int, BackendInfo] = {}
        #: protocol ("h2") -> builder of the multiplexer of a client connection speaking it
        self.muxes: dict[str, Any] = {}
        #: protocol -> multiplexed codec factory (Codec records with ``multiplexed``)
        self.mux_codecs: dict[str, Any] = {}

    def server_mux(self, srv: Any) -> Any:
        """The multiplexed codec factory serving ``srv`` (``server … proto h2``), or None
        for HTTP/1; resolved once per server."""
        mux = getattr(srv, "_hapx_mux", False)
        if mux is False:
            proto = srv.options.get("proto")
            mux = self.mux_codecs.get(proto) if proto else None
            srv._hapx_mux = mux
        return mux

    def alpn_muxes(self, srv: Any) -> dict[str, Any]:
        """For a server without ``proto`` whose transport offers ALPN protocols
        (``srv.transport.alpn``) some of which are multiplexed codecs (``alpn h2`` or
        ``alpn h2,http/1.1``): those tokens and their codec factories, the server's
        choice at the handshake deciding; empty otherwise.  Resolved once per server."""
        muxes = getattr(srv, "_hapx_alpn_mux", None)
        if muxes is None:
            muxes = {}
            if not srv.options.get("proto"):
                offered = getattr(getattr(srv, "transport", None), "alpn", None) or ()
                muxes = {t: self.mux_codecs[t] for t in offered if t in self.mux_codecs}
            srv._hapx_alpn_mux = muxes
        return muxes

    def backend_info(self, backend: Any) -> BackendInfo:
        info = self.backends.get(id(backend))
        if info is None or info.backend is not backend:
            info = self.backends[id(backend)] = BackendInfo(backend, self)
        return info

    def stopping(self) -> bool:
        return bool(getattr(self.proc, "stopping", False))

    def release_private(self, client: Any) -> None:
        for conn in self.private.pop(id(client), ()):
            conn.close()


class _Tunnel:
    """Bidirectional forwarding once a 101 switched protocols (timeout tunnel)."""

    def __init__(self, txn: Transaction, srv: ServerConnection, timeout: int | None) -> None:
        self.txn = txn
        self.cli = txn.client
        self.srv = srv
        self.timeout = timeout
        self.timer: Any = None
        self.touch()

    def touch(self) -> None:
        if self.timeout:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = asyncio.get_running_loop().call_later(self.timeout / 1000, self.expire)

    def expire(self) -> None:
        self.txn.term("cD")
        self.end()

    def from_client(self, data: bytes) -> None:
        self.txn.strm.counters["bytes_in"] = self.txn.strm.counters.get("bytes_in", 0) + len(data)
        self.srv.write(data)
        self.touch()

    def from_server(self, data: bytes) -> None:
        self.txn.strm.counters["bytes_out"] = self.txn.strm.counters.get("bytes_out", 0) + len(data)
        self.cli.write(data)
        self.touch()

    def client_pause(self) -> None:
        if not self.srv.closed:
            self.srv.transport.pause_reading()

    def client_resume(self) -> None:
        if not self.srv.closed:
            self.srv.transport.resume_reading()

    def client_closed(self) -> None:
        self.end()

    def server_closed(self) -> None:
        self.end()

    def end(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.srv.close()
        self.cli.close()
        self.txn.finish_log()


class Transaction:
    """One request/response exchange of a client connection."""

    __slots__ = ("client", "ctx", "t_begin", "t_req", "req", "strm", "req_chunked",
                 "req_len", "req_upgrade", "req_done", "req_buf", "req_buffered",
                 "upgrade_rest", "started", "finished", "invalid", "pending_error",
                 "backend", "server", "sconn", "head_sent", "res_started",
                 "res_chunked_out", "interim", "t_connect", "t_sent", "server_ms",
                 "res_framed", "res_discard", "keep_alive", "srv_keep", "replay",
                 "replay_len", "logged", "binfo", "lb_wait", "waiting", "wait_handle", "body_wait",
                 "res_hold", "res_held_end", "res_info", "chain")

    def __init__(self, client: Any, method: str, uri: str, version: str,
                 headers: list[tuple[str, str]], first: bool, idle_since: float,
                 head_bytes: int) -> None:
        self.client = client
        ctx = self.ctx = client.ctx
        now = _monotonic()
        self.t_begin = idle_since
        self.t_req = now
        self.req = req = HttpMessage(method, uri, version, 0, "", headers, None, False, [])
        # timers and counters are passed in: their default factories are not run
        self.strm = Stream(client.sess, ctx.frontend, None, None, req, None, {}, {}, {},
                           b"", b"", 0, None, _time(), -1, None, [], [],
                           {"Th": 0, "Ti": int((now - idle_since) * 1000), "TR": 0,
                            "Tw": -1, "Tc": -1, "Tr": -1, "Ta": -1, "Tt": -1, "Td": -1},
                           {"bytes_in": head_bytes, "bytes_out": 0}, "--", {}, ctx.proc,
                           None, 0, False, None, first)
        _STREAMS[id(self)] = self  # (live.add)
        self.req_chunked, self.req_len, tokens, self.req_upgrade = head_info(headers)
        #: a request without a body is complete with its head
        self.req_done = not self.req_chunked and not self.req_len
        self.req_buf: list[bytes] = []
        self.req_buffered = 0
        self.upgrade_rest: bytes | None = None
        self.started = self.finished = self.invalid = False
        self.pending_error: tuple[int, str] | None = None
        self.backend: Any = None
        self.server: Any = None
        self.sconn: ServerConnection | None = None
        self.head_sent = self.res_started = self.res_chunked_out = self.interim = False
        self.t_connect = self.t_sent = now
        self.server_ms: int | None = None
        self.res_framed = True
        self.res_discard = False
        if ctx.httpclose:
            self.keep_alive = False
        elif version == "1.0":
            self.keep_alive = "keep-alive" in tokens
        else:
            self.keep_alive = "close" not in tokens
        self.srv_keep = True
        #: what was sent of the request (body pieces, the head counted in replay_len),
        #: kept for a retry while it fits in tune.bufsize; None once it does not
        self.replay: list[bytes] | None = []
        self.replay_len = 0
        self.logged = False
        self.binfo: BackendInfo | None = None
        #: True while the balancer waits for the request body before choosing a server
        self.lb_wait = False
        #: while a rule waits (core/runtime/waits.py): (rules, what to do after them)
        self.waiting: tuple[list[Any], Any] | None = None
        self.wait_handle: Any = None
        self.body_wait = False
        #: while a response rule waits: the response body chunks held back, whether the
        #: response ended meanwhile, and the response head's framing
        self.res_hold: list[bytes] | None = None
        self.res_held_end = False
        self.res_info: tuple[Any, ...] | None = None
        #: the stream's filters, when its proxies have some
        self.chain: FilterChain | None = None

    # -- request side ----------------------------------------------------------------------------

    def request_body(self, data: bytes) -> None:
        self.strm.counters["bytes_in"] += len(data)
        if self.finished:
            return
        if self.sconn is not None and self.head_sent:
            if self.chain is not None:
                data = self.chain.request_data(self.strm, data)
                self.replay = None  # filtered data cannot go through the filters again
                if not data:
                    return
            self.sconn.send_data(self, data)
            self.touch_server_timer()
            if self.replay is not None:
                self._keep(data)
            return
        self.req_buf.append(data)
        self.req_buffered += len(data)
        if self.req_buffered > _BUFFER_LIMIT:
            self.client.pause_reading("body")
        if self.lb_wait and self.req_buffered >= _LB_BODY_LIMIT:
            self._lb_body_ready()
        elif self.body_wait:
            self.req.body = b"".join(self.req_buf)
            self._wake()

    def request_complete(self) -> None:
        self.req_done = True
        self.req.body_complete = True
        if self.finished:
            return
        if self.lb_wait:
            self._lb_body_ready()
            return
        if self.body_wait:
            self.req.body = b"".join(self.req_buf)
            self._wake()
            return
        if self.sconn is not None and self.head_sent:
            if self.chain is not None:
                tail = self.chain.request_end(self.strm)
                if tail:
                    self.sconn.send_data(self, tail)
                    self.replay = None
            self.sconn.send_end(self)

    def request_upgrade(self, rest: bytes) -> None:
        self.upgrade_rest = rest
        self.keep_alive = False

    def client_eof(self) -> None:
        if not self.req_done and not self.finished:
            tevents.client_closed(self.strm, error=False, complete=False)
            self.term("CD" if self.head_sent else "CR")
            self.abort_all()

    def client_closed(self, error: bool = False) -> None:
        if not self.finished:
            tevents.client_closed(self.strm, error=error, complete=self.req_done)
            if self.sconn is not None:
                tevents.server_released(self.strm)
            if self.strm.term_state == "--":
                self.term("CD" if self.res_started else "CR" if not self.head_sent else "CD")
            self.finished = True
            self.cancel_timer()
            if self.sconn is not None:
                self.sconn.owner = None
                self.sconn.close()
                self.sconn = None
            self.finish_log()

    def client_protocol_error(self, status: int) -> None:
        """The body of the current request is malformed."""
        tevents.fse(self.strm, tevents.PROTO_ERR)
        tevents.front(self.strm, tevents.PROTO_ERR)
        if self.res_started or self.finished:
            self.term("CD")
            self.abort_all()
            return
        if self.sconn is not None:
            self.sconn.owner = None
            self.sconn.close()
            self.sconn = None
        self.local_error(status, "CR", close=True)

    def client_pause_writing(self) -> None:
        if self.sconn is not None and not self.sconn.closed:
            self.sconn.pause_reading()

    def client_resume_writing(self) -> None:
        if self.sconn is not None and not self.sconn.closed:
            self.sconn.resume_reading()

    # -- processing ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.started:
            return
        self.started = True
        strm = self.strm
        if STREAM_TRACE.on:
            STREAM_TRACE.trace(DEVELOPER, "strm_new", "new stream", stream_detail(strm),
                               stream_lock(strm))
        if self.pending_error is not None:
            status, term = self.pending_error
            self.local_error(status, term, close=True)
            return
        strm.timers["TR"] = int((_monotonic() - self.t_req) * 1000)
        ctx = self.ctx
        if ctx.rules_content:
            # each request goes through the tcp-request content rules first, as in HAProxy
            self._phase(ctx.rules_content, self._frontend_http_rules)
        elif ctx.rules_req:
            self._phase(ctx.rules_req, self._after_frontend_rules)
        else:
            self._after_frontend_rules()

    def _frontend_http_rules(self) -> None:
        rules = self.ctx.rules_req
        if rules:
            self._phase(rules, self._after_frontend_rules)
        else:
            self._after_frontend_rules()

    def _after_frontend_rules(self) -> None:
        """Backend switching, then the backend's http-request rules."""
        ctx = self.ctx
        strm = self.strm
        backend = ctx.switching(strm) if ctx.switching is not None else (
            ctx.frontend if ctx.frontend.servers else None)
        if backend is None:
            self.local_error(503, "SC")
            return
        self.backend = strm.backend = backend
        info = ctx.backends.get(id(backend))
        if info is None or info.backend is not backend:
            info = ctx.backend_info(backend)
        self.binfo = info
        assign_backend(strm, backend)
        if info.rules_content:
            self._phase(info.rules_content, self._backend_http_rules)
        elif info.rules_req:
            self._phase(info.rules_req, self._after_backend_rules)
        elif info.filters or info.fwd is not None or info.lb_body is not None:
            self._after_backend_rules()
        else:
            # nothing to do before the server choice (what _after_backend_rules does then)
            self._choose_and_connect()

    def _backend_http_rules(self) -> None:
        info = self.binfo
        assert info is not None
        if info.rules_req:
            self._phase(info.rules_req, self._after_backend_rules)
        else:
            self._after_backend_rules()

    def _after_backend_rules(self) -> None:
        """The request is ready for a server: forwardfor, server choice, connection."""
        strm = self.strm
        info = self.binfo
        assert info is not None
        if info.filters:
            chain = self.chain = FilterChain(info.filters, strm)
            if chain.request_headers(strm):
                # a filter changed the body's framing (compression): forward it chunked
                self.req_chunked, self.req_len, _tokens, _up = head_info(self.req.headers)
        if info.fwd is not None:
            self._forwardfor()
        if info.lb_body is not None and info.lb_body(strm):
            # the balancer reads the request body: wait for all of it or a buffer's worth
            self.lb_wait = True
            if self.req_done or self.req_buffered >= _LB_BODY_LIMIT:
                self._lb_body_ready()
            return
        self._choose_and_connect()

    def _lb_body_ready(self) -> None:
        """The body the balancer waited for is there: expose it and choose the server."""
        self.lb_wait = False
        self.req.body = b"".join(self.req_buf)[:_LB_BODY_LIMIT]
        self._choose_and_connect()

    # -- rules that wait (core/runtime/waits.py) ---------------------------------------------
    def _phase(self, rules: list[Any], then: Any) -> None:
        """Run request ``rules``, then ``then()`` unless they answered, aborted or wait."""
        done = self._rules(rules)
        if done is False:
            then()
        elif done is None:
            self.waiting = (rules, then)

    def _wake(self, _fut: Any = None) -> None:
        """What a waiting rule waited for happened: run its rule list again from it."""
        waiting = self.waiting
        handle = self.wait_handle
        if handle is not None:
            handle.cancel()
            self.wait_handle = None
        self.body_wait = False
        if waiting is None or self.finished:
            self.waiting = None
            return
        self.waiting = None
        rules, then = waiting
        if then is None:
            self._response_rules(rules)
        else:
            self._phase(rules, then)

    def _body_expired(self) -> None:
        self.wait_handle = None
        self.strm.ext["wait_for_body_expired"] = True
        self._wake()

    def _arm_wake(self, wake: Any) -> None:
        """Arrange for :meth:`_wake` once ``wake`` (a waits.Wake) happens (a request rule,
        or a response rule waiting for a future or a delay)."""
        loop = asyncio.get_running_loop()
        if wake.kind == "future":
            wake.future.add_done_callback(self._wake)
        elif wake.kind == "delay":
            self.wait_handle = loop.call_later(wake.ms / 1000, self._wake)
        elif self.req_done:
            # the request body is complete: nothing to wait for, run the rule again
            self.req.body = b"".join(self.req_buf)
            self.wait_handle = loop.call_soon(self._wake)
        else:
            self.req.body = b"".join(self.req_buf)
            self.body_wait = True
            if wake.ms:
                self.wait_handle = loop.call_later(wake.ms / 1000, self._body_expired)

    def _rules(self, rules: list[Any]) -> bool | None:
        """Run request rules; True when they answered or aborted the request, None when a
        rule waits (its wake-up is armed)."""
        strm = self.strm
        ret = run_rules(rules, strm)
        if ret is _YIELD:
            wake = take_wake(strm)
            if wake is not None:
                self._arm_wake(wake)
                return None
            # nothing to wait for: decide now, undecidable conditions not matching
            ret = run_rules(rules, strm, final=True)
            if ret is _YIELD:
                wake = take_wake(strm)
                if wake is not None:
                    self._arm_wake(wake)
                    return None
        if ret in _PASS:
            if "rule_resume" in strm.ext:
                del strm.ext["rule_resume"]
            return False
        reply = strm.ext.pop("http_reply", None)
        if ret == ActResult.ABORT:
            if strm.term_state == "--":
                self.term("PR")
            self.abort_all()
            return True
        if reply is not None:
            if strm.term_state == "--":
                self.term("PR" if ret == ActResult.DENY else "LR")
            self.send_reply(reply, counted=False)
            return True
        if ret == ActResult.INVALID:
            self.local_error(400, "PR")
        else:
            self.local_error(500 if ret == ActResult.ERROR else 403, "PR")
        return True

    def _forwardfor(self) -> None:
        info = self.binfo
        conf = info.fwd if info is not None else BackendInfo(self.backend, self.ctx).fwd
        if conf is None:
            return
        src = self.strm.sess.src
        if src is None:
            return
        exc = conf.get("except")
        if exc is not None and src.version == exc.version and src in exc:
            return
        name = conf.get("header") or "X-Forwarded-For"
        if conf.get("if-none") and self.req.get(name) is not None:
            return
        self.req.add(name, str(src))

    def _reuse_mode(self) -> str:
        info = self.binfo
        if info is not None:
            return info.reuse
        return str(self.backend.settings.get("http-reuse", "safe"))

    def _choose_and_connect(self, lb_only: bool = False, prev: Any = None) -> None:
        """Take a slot on a server (waiting in a queue when they are full), then use it.
        ``prev``: the server a redispatched retry leaves."""
        strm = self.strm
        try:
            srv = acquire(self.backend, strm, lb_only)
        except NoSlot as exc:
            self.local_error(503, exc.term)
            return
        if type(srv) is Pending:
            asyncio.get_running_loop().create_task(self._queued(srv, prev))
            return
        if strm.timers["Tw"] < 0:
            strm.timers["Tw"] = 0
        if prev is not None:
            self._policy().count(strm, prev, srv)
        self._use_server(srv)

    async def _queued(self, pending: Pending, prev: Any) -> None:
        try:
            srv = await pending
        except NoSlot as exc:
            if not self.finished:
                self.local_error(503, exc.term)
            return
        except asyncio.CancelledError:
            return
        if self.finished:
            return
        if prev is not None:
            self._policy().count(self.strm, prev, srv)
        self._use_server(srv)

    def _use_server(self, srv: Any) -> None:
        strm = self.strm
        self.server = strm.server = srv
        info = self.binfo
        mode = info.reuse if info is not None else self._reuse_mode()
        conn = self._private_conn(srv) if self.ctx.private else None
        target = target_key(srv, strm)
        if conn is not None and conn.target != target:
            conn.close()
            conn = None
        if conn is None and mode != "never":
            shared = mode in ("aggressive", "always") or not strm.first_req
            pool = getattr(srv, "_hapx_pool", None) or pool_of(srv)
            conn = pool.take(None, shared, target)
        if conn is not None:
            strm.timers["Tc"] = 0
            self.attach(conn, reused=True)
            return
        self.t_connect = _monotonic()
        asyncio.get_running_loop().create_task(self._connect(srv, 0, self._new_mux_conn(srv)))

    def _new_mux_conn(self, srv: Any) -> Any:
        """For a multiplexed server (HTTP/2): a new connection object and this
        transaction's stream on it; the connection is in the pool at once (unless
        http-reuse never) so that the streams arriving while it is being established
        share it.  A server whose ALPN choice decides (``alpn h2,http/1.1``) is expected
        to choose what it chose last time (HAProxy keeps the negotiated ALPN of a server
        the same way); the AlpnChooser fails that connection if it does not.  Returns
        (connection, stream, expected ALPN token or None), or None for HTTP/1."""
        mux = self.ctx.server_mux(srv)
        token = None
        if mux is None:
            token = getattr(srv, "_hapx_alpn_seen", None)
            mux = self.ctx.alpn_muxes(srv).get(token) if token else None
            if mux is None:
                return None
        shared = self._reuse_mode() != "never"
        proto = mux("backend", srv).new_connection(shared)
        proto.target = target_key(srv, self.strm)
        # this transaction's stream, reserved before other streams may fill the connection
        stream = proto.open_stream()
        if shared:
            pool_of(srv).idle.append(proto)
        return proto, stream, token

    def _private_conn(self, srv: Any) -> ServerConnection | None:
        lst = self.ctx.private.get(id(self.client))
        while lst:
            conn = lst.pop()
            if conn.closed:
                continue
            if conn.server is srv and not conn.closed:
                return conn
            conn.close()
        return None

    async def _connect(self, srv: Any, delay: int = 0, mux_conn: Any = None) -> None:
        ctx = self.ctx
        backend = self.backend
        t_conn = backend.timeouts.get("connect")

        relaxed = bool(backend.options.get("accept-unsafe-violations-in-http-response"))
        mux = ctx.server_mux(srv)
        alpn = ctx.alpn_muxes(srv) if mux is None else None
        expect = proto = stream = token = None
        if delay and (alpn or mux is not None):
            # a multiplexed connection joins the pool when made: only after the delay
            await asyncio.sleep(delay / 1000)
            delay = 0
            if self.finished:
                return
        if alpn:
            shared = self._reuse_mode() != "never"
            if mux_conn is None:
                mux_conn = self._new_mux_conn(srv)
            if mux_conn is not None:
                # the server is expected to choose the multiplexed protocol again
                expect, stream, token = mux_conn

            def h1() -> ServerConnection:
                return ServerConnection(srv, ctx.codec, ctx.limits, relaxed)

            def factory() -> Any:
                return AlpnChooser(srv, alpn, h1, shared, expect, token)
        elif mux is None:
            def factory() -> ServerConnection:
                return ServerConnection(srv, ctx.codec, ctx.limits, relaxed)
        else:
            proto, stream, _token = mux_conn if mux_conn is not None else \
                self._new_mux_conn(srv)

            def factory() -> Any:
                return proto

        if delay:
            await asyncio.sleep(delay / 1000)
            if self.finished:
                return
        limit = conn_limit(srv)
        try:
            if limit is not None:
                # something else than the streams counts against maxconn (a plugin's)
                await limit.reserve(srv, self.strm, t_conn)
                try:
                    conn = await connect(srv, factory, t_conn, self.strm)
                finally:
                    limit.done(srv)
            else:
                conn = await connect(srv, factory, t_conn, self.strm)
        except (TimeoutError, OSError) as exc:
            if mux is not None:
                proto.failed()
            elif expect is not None:
                expect.failed()
            if self.finished:
                return
            conn_error(self.strm, srv, backend)
            timeout = isinstance(exc, TimeoutError)
            tevents.new_server_conn(self.strm)
            tevents.bc(self.strm, tevents.CONN_ERR)
            if timeout:
                tevents.back(self.strm, tevents.TOUT)
            if not self._retry("conn", refused=not timeout):
                tevents.back(self.strm, tevents.SHUTW)
                self.local_error(503, "sC" if timeout else "SC")
            return
        if expect is not None and conn is expect:
            mux = conn  # the server chose by ALPN what was expected: the stream is ready
        elif expect is not None:
            # it chose otherwise: the expected connection failed (its other streams are
            # retried), this transaction uses what was negotiated
            stream.release()
        if mux is None and conn.multiplexed:
            # the server chose a multiplexed protocol by ALPN: this transaction's stream
            # on the new connection, which joins the pool while it can take more
            stream = conn.open_stream()
            if conn.shared and conn.available():
                pool_of(srv).idle.append(conn)
            if stream is None:
                conn.close()
                if not self.finished and not self._retry("conn", refused=True):
                    self.local_error(503, "SC")
                return
            mux = conn
        if mux is not None:
            if self.finished:
                stream.release()
                return
            conn = stream
        elif self.finished:
            conn.close()
            return
        self.strm.timers["Tc"] = int((_monotonic() - self.t_connect) * 1000)
        self.attach(conn, reused=False)

    # -- retries -----------------------------------------------------------------------------
    def _policy(self) -> Any:
        info = self.binfo
        return info.retry if info is not None else policy_for(self.backend, self.ctx.bufsize)

    def _keep(self, data: bytes) -> None:
        """Keep a piece of request body sent to the server, for a retry."""
        self.replay_len += len(data)
        if self.replay_len > self.ctx.bufsize:
            self.replay = None
        else:
            self.replay.append(data)  # type: ignore[union-attr]

    def _may_retry(self, kind: str) -> bool:
        """Does retry-on name ``kind`` ("conn", "empty", "junk", "timeout", "status"), with
        retries left and a request that can be sent again?"""
        pol = self._policy()
        strm = self.strm
        if strm.conn_retries >= pol.retries or self.finished or self.res_started:
            return False
        if kind == "conn":
            allowed = pol.conn
        elif kind == "empty":
            allowed = pol.empty
        elif kind == "junk":
            allowed = pol.junk
        elif kind == "timeout":
            allowed = pol.timeout
        else:
            allowed = bool(pol.statuses)
        if not allowed:
            return False
        # a request that went out is sent again only if kept whole, and only while nothing
        # of a response reached the client
        return not self.head_sent or (self.replay is not None and
                                      strm.counters.get("bytes_out", 0) == 0)

    def _retry(self, kind: str, refused: bool = False) -> bool:
        """Retry the request after a failure of ``kind`` if ``_may_retry``; True when a
        retry started."""
        if not self._may_retry(kind):
            return False
        pol = self._policy()
        strm = self.strm
        if self.head_sent:
            self.req_buf[:0] = self.replay  # type: ignore[misc]
            self.req_buffered = sum(len(d) for d in self.req_buf)
            self.replay = []
            self.replay_len = 0
            self.head_sent = False
        strm.conn_retries += 1
        strm.res = None
        strm.status = -1
        strm.timers["Tr"] = -1
        srv = self.server
        if pol.redispatch(strm, srv, is_direct(strm), hash_based(self.backend)):
            free_slot(strm)
            self.server = strm.server = None
            self._choose_and_connect(lb_only=True, prev=srv)
            return True
        pol.count(strm, srv, srv)
        self._use_server_retry(srv, pol.turn_around if refused else 0)
        return True

    def _use_server_retry(self, srv: Any, delay: int) -> None:
        if delay:
            self.t_connect = _monotonic()
            asyncio.get_running_loop().create_task(self._connect(srv, delay))
        else:
            self._use_server(srv)

    def attach(self, conn: ServerConnection, reused: bool) -> None:
        self.sconn = conn
        strm = self.strm
        # the stream uses another server connection: its log starts afresh
        # (tevents.new_server_conn, inline)
        strm.bc_evts = strm.bmux_evts = 0
        conn.owner = self
        conn.uses += 1
        transport = getattr(conn, "transport", None)
        strm.srv_conn = ServerConn(
            None, 0, None, conn.peer_port, reused, 0, conn.http_major,
            transport.get_extra_info("ssl_object") if transport is not None else None)
        self.t_sent = _monotonic()
        info = self.binfo
        # the request headers are those parsed when nothing could change them
        req = self.req
        upgrade = self.upgrade_rest is not None or (
            self.req_upgrade if info is not None and info.plain else has_upgrade(req.headers))
        sent = conn.send_head(self, upgrade)
        self.head_sent = True
        chain = self.chain
        if self.replay is not None:
            self.replay_len = sent
        if self.req_buf:
            data = b"".join(self.req_buf)
            self.req_buf = []
            self.req_buffered = 0
            if chain is not None:
                data = chain.request_data(self.strm, data)
                # what a filter produced cannot be sent through it again
                self.replay = None
            if data:
                conn.send_data(self, data)
                if self.replay is not None:
                    self._keep(data)
        client = self.client
        if client.read_paused:
            client.resume_reading("body")
        if self.req_done:
            if chain is not None:
                tail = chain.request_end(self.strm)
                if tail:
                    conn.send_data(self, tail)
            if self.req_chunked or type(conn) is not ServerConnection:
                # (an HTTP/1 server connection sends nothing at the end of a request
                # that is not chunked)
                conn.send_end(self)
        self.arm_server_timer()

    def _request_head(self, upgrade: bool) -> bytes:
        req = self.req
        info = self.binfo
        close = info.close if info is not None else BackendInfo(self.backend, self.ctx).close
        self.srv_keep = not close
        if upgrade and "upgrade" in connection_tokens(req.headers):
            last = "connection: upgrade\r\n"
        elif close:
            last = "connection: close\r\n"
        else:
            last = ""
        uri = req.uri
        if req.version[0] != "1" and uri[:1] != "/" and req.method != "CONNECT" and uri != "*":
            # an HTTP/2 or HTTP/3 request (scheme and authority): origin form towards HTTP/1
            slash = uri.find("/", uri.find("://") + 3)
            uri = uri[slash:] if slash > 0 else "/"
        return forward_request_head(req.method, uri, req.headers, last)

    # -- server timers -----------------------------------------------------------------------
    def arm_server_timer(self) -> None:
        timeouts = self.strm.ext.get("timeouts")
        ms = (timeouts.get("server") if timeouts else None) or (
            self.binfo.t_server if self.binfo is not None else
            self.backend.timeouts.get("server"))
        self.server_ms = ms
        if ms:
            self.client.arm_server(self, ms)
        else:
            self.cancel_timer()

    def touch_server_timer(self) -> None:
        if self.server_ms and self.client.srv_txn is self:
            self.client.arm_server(self, self.server_ms)

    def cancel_timer(self) -> None:
        client = self.client
        if client.srv_txn is self:
            client.srv_txn = None

    def server_timeout(self) -> None:
        if self.finished:
            return
        tevents.back(self.strm, tevents.TOUT)
        if self.res_started:
            self.term("sD")
            self.abort_all()
            return
        self._drop_server()
        if self._retry("timeout"):
            return
        resp_error(self.strm, self.server, self.backend)
        self.local_error(504, "sH")

    # -- response side (called by the server connection) -------------------------------------------
    def on_response_headers(self, status: int, reason: str, version: str,
                            headers: list[tuple[str, str]]) -> None:
        if self.finished:
            return
        if 100 <= status < 200 and status != 101:
            self.interim = True
            self.client.send_interim(self, status, reason, headers)
            return
        strm = self.strm
        sc = strm.srv_conn
        if sc is not None and not sc.dst_port:
            # a stream attached to a multiplexed connection still being established: its
            # port and TLS object are known now
            sconn = self.sconn
            transport = getattr(sconn, "transport", None)
            if transport is not None:
                sc.dst_port = sconn.peer_port
                sc.ssl = transport.get_extra_info("ssl_object")
        if self.replay is not None:
            binfo = self.binfo
            if binfo is not None and status in binfo.retry.statuses and self._retry_status():
                return
            self.replay = None
        strm.timers["Tr"] = int((_monotonic() - self.t_sent) * 1000)
        # (all fields passed: the dataclass's default factories are not run)
        res = HttpMessage("", "", version, status, reason, headers, None, False, [])
        strm.res = res
        strm.status = status
        chunked, length, tokens, lines = response_scan(headers)
        if self.srv_keep:
            if version == "1.0":
                self.srv_keep = "keep-alive" in tokens
            else:
                self.srv_keep = "close" not in tokens
        no_body = (status == 204 or status == 304 or status == 101
                   or self.req.method == "HEAD")
        if no_body or chunked or length is not None:
            self.res_framed = True
        else:
            self.res_framed = self.srv_keep = False
        chain = self.chain
        if chain is not None and chain.response_headers(strm):
            # a filter changed the body's framing (compression): scan the headers again
            chunked, length, _tokens, lines = response_scan(res.headers)
        # http-response rules: backend then frontend, then http-after-response
        info = self.binfo
        if info is not None and not info.res_sets and not info.after_sets:
            # no rule to run: _emit_response_head's common case, inlined
            self.res_started = True
            strm.counters["bytes_out"] += self.client.send_head(self, res, chunked, length,
                                                                no_body, lines)
            return
        self.res_info = (chunked, length, no_body, lines)
        res_sets = info.res_sets if info is not None else self._response_rulesets()
        if res_sets:
            self._response_rules(None)
        else:
            self._emit_response_head()

    def _response_rules(self, start: list[Any] | None) -> None:
        """Run the http-response rule sets (from the set ``start`` on, after a wait), then
        send the response head."""
        strm = self.strm
        info = self.binfo
        res_sets = info.res_sets if info is not None else self._response_rulesets()
        if start is not None:
            res_sets = res_sets[next(i for i, r in enumerate(res_sets) if r is start):]
        for rules in res_sets:
            ret = run_rules(rules, strm)
            if ret is _YIELD:
                wake = take_wake(strm)
                if wake is None:
                    ret = run_rules(rules, strm, final=True)
                    wake = take_wake(strm) if ret is _YIELD else None
                if wake is not None:
                    self._hold_response(rules, wake)
                    return
            if ret in _PASS:
                continue
            reply = strm.ext.pop("http_reply", None)
            self._drop_server()
            self.res_hold = None
            if ret == ActResult.ABORT:
                if strm.term_state == "--":
                    self.term("PH")
                self.abort_all()
                return
            if reply is None:
                reply = error_message(strm, 502, self.backend, self.ctx.frontend)
                strm.status = 502
            if strm.term_state == "--":
                self.term("PH" if ret == ActResult.DENY else "LR")
            self.res_discard = True
            self.send_reply(reply, counted=False)
            return
        self._emit_response_head()

    def _hold_response(self, rules: list[Any], wake: Any) -> None:
        """A response rule waits: hold the response back (body chunks kept, the server
        not read further unless the rule waits for the body, no server timeout)."""
        self.waiting = (rules, None)
        if self.res_hold is None:
            self.res_hold = []
            self.cancel_timer()
        conn = self.sconn
        if wake.kind == "body":
            res = self.strm.res
            assert res is not None
            res.body = b"".join(self.res_hold)
            if self.res_held_end:
                res.body_complete = True
            else:
                if conn is not None and not conn.closed:
                    conn.resume_reading()
                self.body_wait = True
                if wake.ms:
                    self.wait_handle = asyncio.get_running_loop().call_later(
                        wake.ms / 1000, self._body_expired)
                return
        elif conn is not None and not conn.closed:
            conn.pause_reading()
        self._arm_wake(wake)

    def _emit_response_head(self) -> None:
        """http-after-response rules, then the response head to the client (and what a
        waiting rule held back)."""
        strm = self.strm
        res = strm.res
        assert res is not None and self.res_info is not None
        chunked, length, no_body, lines = self.res_info
        info = self.binfo
        if self._after_rules(strm):
            return
        if (info.res_sets or info.after_sets) if info is not None else (
                self._response_rulesets() or self.ctx.after_sets):
            # rules may have changed the headers: scan them again
            lines = encode_headers(without_hop(res.headers, drop_te=True))
            if res.status == 101 or res.status == 204:
                # (3.2) no body: a Content-Length: 0 set by configuration is kept for
                # the peers that want one, any other value is dropped
                lines = [ln for ln in lines if not ln.startswith("content-length:")
                         or ln == "content-length: 0\r\n"]
        self.res_started = True
        strm.counters["bytes_out"] += self.client.send_head(self, res, chunked, length,
                                                            no_body, lines)
        held = self.res_hold
        if held is not None:
            self._release_held(held)

    def _release_held(self, held: list[bytes]) -> None:
        """After a wait: forward the body held back, read the server again."""
        self.res_hold = None
        for data in held:
            self.on_response_body(data)
        conn = self.sconn
        if conn is not None and not conn.closed:
            conn.resume_reading()
        if self.res_held_end:
            self.res_held_end = False
            self.on_response_complete()
        elif conn is not None and not conn.closed:
            self.arm_server_timer()

    def _response_rulesets(self) -> list[list[Any]]:
        out = []
        be = self.backend
        if be is not None and be is not self.ctx.frontend:
            rules = self.binfo.rules_res if self.binfo is not None else be.rules.get(
                "http-response")
            if rules:
                out.append(rules)
        if self.ctx.rules_res:
            out.append(self.ctx.rules_res)
        return out

    def _after_rules(self, strm: Stream) -> bool:
        """http-after-response rules (backend then frontend); True if they replaced the
        response with an error (500) or aborted."""
        info = self.binfo
        if info is not None:
            sets = info.after_sets
        elif self.backend is not None and self.backend is not self.ctx.frontend:
            rules = self.backend.rules.get("http-after-response")
            sets = [rules] if rules else []
            if self.ctx.rules_after:
                sets.append(self.ctx.rules_after)
        else:
            sets = self.ctx.after_sets
        if not sets:
            return False
        for rules in sets:
            ret = run_rules(rules, strm)
            if ret in _PASS:
                continue
            strm.ext.pop("http_reply", None)
            if ret == ActResult.ABORT:
                self._drop_server()
                self.abort_all()
                return True
            if ret == ActResult.ERROR:
                self._drop_server()
                self.res_discard = True
                msg = error_message(strm, 500, self.backend, self.ctx.frontend)
                self.send_reply(msg, counted=False, after=False)
                return True
        return False

    def on_response_body(self, data: bytes) -> None:
        if self.finished or self.res_discard:
            return
        hold = self.res_hold
        if hold is not None:
            # a response rule waits: keep the chunk (bounded: the server is not read
            # further past the buffer limit)
            hold.append(data)
            if self.body_wait:
                res = self.strm.res
                assert res is not None
                res.body = b"".join(hold)
                self._wake()
            elif sum(map(len, hold)) > _BUFFER_LIMIT and self.sconn is not None \
                    and not self.sconn.closed:
                self.sconn.pause_reading()
            return
        if self.chain is not None:
            data = self.chain.response_data(self.strm, data)
            if not data:
                return
        self.strm.counters["bytes_out"] += len(data)
        self.client.send_data(self, data)
        # (timeout server is pushed back once per server read, by the server connection)

    def on_response_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if self.res_hold is not None:
            # a response rule waits: the response ends once it is released
            self.res_held_end = True
            res = self.strm.res
            if res is not None:
                res.body_complete = True
            if self.body_wait:
                self._wake()
            return
        if self.finished or self.strm.status == 101:
            return
        if self.chain is not None:
            self._response_tail()
        client = self.client
        client.send_end(self)
        if client.srv_txn is self:  # (cancel_timer)
            client.srv_txn = None
        conn = self.sconn
        self.sconn = None
        if conn is not None:
            conn.owner = None
            if self.srv_keep and self.req_done and not conn.closed:
                info = self.binfo
                if info is not None and info.reuse != "never" and not conn.multiplexed:
                    # (_release's common case)
                    pool_of(conn.server).put(conn)
                else:
                    self._release(conn)
            else:
                conn.close()
        # complete(), inlined: the transaction is not finished (checked above)
        self.finished = True
        if not self.keep_alive:
            tevents.client_shut(self.strm)
        self.finish_log()
        if self.req_done or not self.started or self.invalid:
            client.txn_done(self, self.keep_alive)
        else:
            # the request body is still coming: the response is sent, stop here
            client.txn_done(self, False)

    def on_response_upgrade(self, rest: bytes) -> None:
        if self.finished or self.sconn is None or self.strm.status != 101:
            if self.sconn is not None and self.strm.status != 101:
                # the server switched without a 101: nothing sane to forward
                self._drop_server()
                self.local_error(502, "SH")
            return
        self.cancel_timer()
        conn = self.sconn
        conn.owner = None
        be_t = self.backend.timeouts
        timeout = (self.strm.ext.get("timeouts", {}).get("tunnel") or be_t.get("tunnel")
                   or self.ctx.frontend.timeouts.get("tunnel") or be_t.get("server"))
        tunnel = _Tunnel(self, conn, timeout)
        conn.tunnel = tunnel
        self.client.start_tunnel(tunnel)
        if rest:
            tunnel.from_server(rest)
        if self.upgrade_rest:
            tunnel.from_client(self.upgrade_rest)

    def _retry_status(self) -> bool:
        """retry-on names the response's status: drop the response and retry."""
        if not self._may_retry("status"):
            return False
        conn = self.sconn
        self.cancel_timer()
        if conn is not None:
            # the parser is still delivering this response: let it land nowhere
            conn.owner = DISCARD
            conn.close()
            self.sconn = None
        return self._retry("status")

    def server_error(self, conn: ServerConnection, why: str) -> None:
        if self.finished:
            return
        strm = self.strm
        tevents.bmux(strm, tevents.PROTO_ERR)
        tevents.bse(strm, tevents.PROTO_ERR)
        tevents.back(strm, tevents.PROTO_ERR)
        if self.res_started:
            self.term("SD")
            self.abort_all()
            return
        self._drop_server()
        if self._retry("junk"):
            return
        resp_error(self.strm, self.server, self.backend)
        self.local_error(502, "PH")

    def server_closed(self, conn: ServerConnection) -> None:
        if self.finished or conn is not self.sconn:
            return
        ended = (self.res_hold is not None and self.res_held_end) or \
            (self.res_started and not self.res_framed)
        tevents.server_closed(self.strm, error=conn.reset, complete=ended)
        if self.res_hold is not None and self.res_held_end:
            # the whole response is held back by a waiting rule: nothing more is needed
            conn.owner = None
            self.sconn = None
            self.srv_keep = False
            return
        if self.res_started and not self.res_framed:
            conn.owner = None
            self.sconn = None
            self.srv_keep = False
            self.on_response_complete_close()
            return
        self.sconn = None
        if self.res_started:
            self.term("SD")
            self.abort_all()
            return
        head = getattr(conn.parser, "head", None)
        empty = not getattr(head, "size", 0)
        if empty and self.strm.srv_conn is not None and self.strm.srv_conn.reused and \
                self._retry("conn"):
            # an idle connection closed by the server just as it was reused
            return
        if self._retry("empty" if empty else "junk"):
            return
        resp_error(self.strm, self.server, self.backend)
        self.local_error(502, "SH")

    def on_response_complete_close(self) -> None:
        if self.chain is not None:
            self._response_tail()
        self.client.send_end(self)
        self.cancel_timer()
        self.complete()

    def _req_last_chunk(self) -> bytes:
        """The request's last chunk, with its trailers unless the backend drops them
        (option http-drop-request-trailers)."""
        trailers = self.req.trailers
        if not trailers or self.backend.options.get("http-drop-request-trailers"):
            return LAST_CHUNK
        return last_chunk(trailers)

    def _res_last_chunk(self) -> bytes:
        """The response's last chunk, with its trailers unless the frontend drops them
        (option http-drop-response-trailers)."""
        res = self.strm.res
        trailers = res.trailers if res is not None else None
        if not trailers or self.ctx.frontend.options.get("http-drop-response-trailers"):
            return LAST_CHUNK
        return last_chunk(trailers)

    def _response_tail(self) -> None:
        """The response body ended: what the filters still held (a compressor's end)."""
        if self.res_discard or not self.res_started:
            return
        assert self.chain is not None
        tail = self.chain.response_end(self.strm)
        if tail:
            self.strm.counters["bytes_out"] += len(tail)
            self.client.send_data(self, tail)

    def server_pause_writing(self) -> None:
        self.client.pause_reading("server")

    def server_resume_writing(self) -> None:
        self.client.resume_reading("server")

    # -- endings ---------------------------------------------------------------------------
    def _release(self, conn: ServerConnection) -> None:
        if conn.multiplexed:
            conn.release()
            return
        info = self.binfo
        if (info.reuse if info is not None else self._reuse_mode()) == "never":
            conn.owner = None
            conn.reused = True
            self.ctx.private.setdefault(id(self.client), []).append(conn)
            return
        pool_of(conn.server).put(conn)

    def _drop_server(self) -> None:
        self.cancel_timer()
        if self.sconn is not None:
            tevents.server_released(self.strm)
            self.sconn.owner = None
            self.sconn.close()
            self.sconn = None

    def term(self, state: str) -> None:
        self.strm.term_state = state

    def local_error(self, status: int, term: str, close: bool = False) -> None:
        strm = self.strm
        if strm.term_state == "--":
            self.term(term)
        strm.status = status
        msg = error_message(strm, status, self.backend, self.ctx.frontend)
        self.send_reply(msg, counted=False, force_close=close)

    def send_reply(self, msg: HttpMessage, counted: bool = False, after: bool = True,
                   force_close: bool = False) -> None:
        """Send a response produced by hapx (rules, errors) and end the transaction."""
        strm = self.strm
        self.cancel_timer()
        if msg.status == 0:
            # an empty errorfile: close without answering
            self.abort_all()
            return
        strm.res = msg
        strm.status = msg.status
        if after and self._after_rules(strm):
            return
        if "close" in connection_tokens(msg.headers) or force_close or not self.req_done:
            self.keep_alive = False
        self.res_started = True
        strm.counters["bytes_out"] += self.client.send_reply(self, msg)
        self.complete()

    def complete(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.cancel_timer()
        if not self.keep_alive:
            tevents.client_shut(self.strm)
        self.finish_log()
        if self.req_done or not self.started or self.invalid:
            self.client.txn_done(self, self.keep_alive)
        else:
            # the request body is still coming: the response is sent, stop here
            self.client.txn_done(self, False)

    def kill(self) -> None:
        """``shutdown session``: abort the stream (termination state K)."""
        tevents.front(self.strm, tevents.ABORTED)
        if self.strm.term_state == "--":
            self.term("KD" if self.res_started else "KH" if self.sconn else "KR")
        self.abort_all()

    def abort_all(self) -> None:
        self.finished = True
        self.cancel_timer()
        tevents.client_shut(self.strm)
        if self.sconn is not None:
            tevents.server_released(self.strm)
            self.sconn.owner = None
            self.sconn.close()
            self.sconn = None
        self.finish_log()
        self.client.abort()

    def finish_log(self) -> None:
        if self.logged:
            return
        self.logged = True
        strm = self.strm
        now = _monotonic()
        t = strm.timers
        t["Ta"] = ta = int((now - self.t_req) * 1000)
        t["Tt"] = int((now - self.t_begin) * 1000)
        # (the timers dict holds every timer from __init__ on)
        tr = t["Tr"]
        if tr >= 0:
            t_r, t_w, t_c = t["TR"], t["Tw"], t["Tc"]
            if t_r > 0:
                tr += t_r
            if t_w > 0:
                tr += t_w
            if t_c > 0:
                tr += t_c
            td = ta - tr
            t["Td"] = td if td > 0 else 0
        else:
            t["Td"] = -1
        release(strm)
        _STREAMS.pop(id(self), None)  # (live.discard)
        if STREAM_TRACE.on:
            STREAM_TRACE.trace(PROTO, "strm_free", "releasing stream", stream_detail(strm),
                               stream_lock(strm))
        stream_end = self.ctx.frontend.stream_end
        if stream_end:
            for fn in stream_end:
                try:
                    fn(strm)
                except Exception:  # noqa: BLE001 - a log sender must not break the data path
                    pass
