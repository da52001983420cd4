"""One HTTP/3 request stream: the client side of a kernel Transaction.

The stream turns the HTTP/3 request (pseudo-headers, QPACK-decoded fields, DATA frames,
trailers) into the protocol-neutral message the Transaction works on, and encodes the
response it gets back (``send_head``, ``write``, ``txn_done``) as HTTP/3 frames.

Flow control, both ways, without buffering whole bodies:

- upload: while the Transaction has reading paused (its server connection's buffer is full,
  or it buffers a body before choosing a server), the bytes received are *held* by the QUIC
  connection, which then grants no new credit for them (see :mod:`.transport`); resuming
  releases them;
- download: when more than one stream window of response bytes waits for acknowledgement
  (or the process is over ``tune.quic.frontend.max-tx-mem``), the Transaction stops reading
  its server until acknowledgements bring it back under half of that.
"""

from __future__ import annotations

import time
from typing import Any

from aioquic.h3.connection import ErrorCode
from hapx.core.runtime.http_txn import Transaction
from hapx.core.runtime.timers import timers_of
from hapx.core.stream import HttpMessage

#: response header fields HTTP/3 forbids (connection-specific) and the pseudo-header prefix
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                  "upgrade", "te"})


def _text(b: bytes) -> str:
    return b.decode("latin-1")


class H3Stream:
    """A request stream of an HTTP/3 connection."""

    __slots__ = ("conn", "sid", "first", "ctx", "sess", "txn", "read_paused", "srv_txn",
                 "srv_timer", "corked", "req_ended", "res_ended", "closed", "tx_paused",
                 "tx_counted", "body", "__weakref__")

    def __init__(self, conn: Any, sid: int, first: bool) -> None:
        self.conn = conn
        self.sid = sid
        self.first = first
        self.ctx = conn.ctx
        self.sess = conn.sess
        self.txn: Transaction | None = None
        self.read_paused: set[str] = set()
        self.srv_txn: Transaction | None = None
        self.srv_timer: Any = None
        self.corked = False
        self.req_ended = False
        self.res_ended = False
        self.closed = False
        self.tx_paused = False
        #: response bytes counted in the process' transmit memory
        self.tx_counted = 0
        self.body: list[bytes] = []

    # -- request side (called by the connection) ----------------------------------------------
    def begin(self, fields: list[tuple[bytes, bytes]], ended: bool) -> None:
        """The request's HEADERS frame: start a Transaction."""
        pseudo: dict[str, str] = {}
        headers: list[tuple[str, str]] = []
        size = 0
        for name, value in fields:
            size += len(name) + len(value) + 4
            if name.startswith(b":"):
                pseudo[_text(name)] = _text(value)
            else:
                headers.append((_text(name), _text(value)))
        method = pseudo.get(":method", "")
        path = pseudo.get(":path", "")
        authority = pseudo.get(":authority")
        if not method or (not path and method != "CONNECT"):
            # a malformed request (RFC 9114 4.1.2): a stream error, and a glitch
            self.conn.glitch()
            self._reset(ErrorCode.H3_MESSAGE_ERROR)
            self.conn.stream_done(self)
            return
        if authority is not None and not any(n.lower() == "host" for n, _ in headers):
            headers.insert(0, ("host", authority))
        if not ended and not any(n.lower() == "content-length" for n, _ in headers):
            # the body's length is unknown: HTTP/1 servers get it chunked
            headers.append(("transfer-encoding", "chunked"))
        size += len(method) + len(path) + 12
        if self.ctx.wheel is None:
            self.ctx.wheel = timers_of()
        txn = self.txn = Transaction(self, method, path, "3.0", headers, self.first,
                                     self.conn.idle_since, size)
        txn.keep_alive = True
        if ended:
            self.req_ended = True
            txn.req.body_complete = True
            if not txn.req_done:
                txn.request_complete()
        txn.start()

    def data(self, data: bytes, ended: bool) -> None:
        """Request body data: kept until the connection flushes (once the datagrams ready
        now were read), so that the server gets one write per batch."""
        txn = self.txn
        if txn is None or self.closed:
            return
        if data:
            if self.read_paused:
                self.conn.quic.hold(self.sid, len(data))
            if not self.body:
                self.conn.body_ready.append(self)
            self.body.append(data)
        if ended:
            self.flush()
            self._request_end()

    def flush(self) -> None:
        """Forward the request body data received so far."""
        body = self.body
        if not body:
            return
        self.body = []
        txn = self.txn
        if txn is not None and not txn.finished:
            txn.request_body(body[0] if len(body) == 1 else b"".join(body))

    def trailers(self, fields: list[tuple[bytes, bytes]], ended: bool) -> None:
        self.flush()
        txn = self.txn
        if txn is not None:
            txn.req.trailers = [(_text(n), _text(v)) for n, v in fields]
        if ended:
            self._request_end()

    def _request_end(self) -> None:
        if self.req_ended:
            return
        self.req_ended = True
        txn = self.txn
        if txn is not None and not txn.finished:
            txn.request_complete()
        if self.res_ended:
            self._done()

    def client_reset(self) -> None:
        """The client reset its request stream."""
        txn = self.txn
        if txn is not None and not txn.res_started and not self.res_ended:
            self.conn.glitch()  # a request cancelled before its response: rapid reset
        self.req_ended = True
        self._abandon()

    def client_stop_sending(self) -> None:
        """The client does not want the response any more."""
        txn = self.txn
        if txn is not None and not txn.res_started and not self.res_ended:
            self.conn.glitch()  # a request cancelled before its response: rapid reset
        self._reset(ErrorCode.H3_REQUEST_CANCELLED)
        self._abandon()

    def connection_closed(self) -> None:
        self.closed = True
        self._abandon()

    def connection_killed(self) -> None:
        txn = self.txn
        if txn is not None and not txn.finished:
            txn.term("PR" if not txn.head_sent else "PD")
        self._abandon()

    def _abandon(self) -> None:
        txn = self.txn
        self.res_ended = True
        if txn is not None and not txn.finished:
            txn.client_closed()
        self._done()

    # -- what the Transaction calls (the HTTP/1 client connection's interface) ------------------
    def send_head(self, txn: Transaction, msg: Any, *_framing: Any) -> int:
        """Encode a response head (or an interim 1xx one: 100 Continue, 102, 103 ...,
        each its own HEADERS frame before the final one) as an HTTP/3 HEADERS frame.
        (HTTP/3 frames the body itself: the HTTP/1 framing arguments a transaction may
        pass after the message are not needed.)"""
        if self.closed or self.conn.h3 is None:
            return 0
        if msg.status == 101:
            return 0  # (no protocol switch inside an HTTP/3 stream)
        drop = set(_HOP)
        for n, v in msg.headers:
            if n.lower() == "connection":
                drop.update(t.strip().lower() for t in v.split(","))
        fields = [(b":status", str(msg.status).encode())]
        size = 0
        for n, v in msg.headers:
            low = n.lower()
            if low in drop or low.startswith(":"):
                continue
            fields.append((low.encode("latin-1"), v.encode("latin-1", "replace")))
            size += len(n) + len(v) + 4
        try:
            self.conn.h3.send_headers(self.sid, fields, end_stream=False)
        except Exception:  # noqa: BLE001 - the stream was reset meanwhile
            return 0
        self.kick()
        return size + 17  # (as much as an HTTP/1 status line would count)

    # the client-side interface spelled out (send_interim, send_data, send_end, send_reply)
    def send_interim(self, txn: Transaction, status: int, reason: str,
                     headers: list[tuple[str, str]]) -> None:
        self.send_head(txn, HttpMessage("", "", "3.0", status, reason, list(headers)))

    def send_data(self, txn: Transaction, data: bytes) -> None:
        self.write(data)

    def send_end(self, txn: Transaction) -> None:
        """The response ended: end the stream (with the trailers, if any)."""
        self._end_response(txn)

    def send_reply(self, txn: Transaction, msg: Any) -> int:
        """A whole response produced by hapx (rules, errors): head and body."""
        headers = list(msg.headers)
        body = msg.body or b""
        if msg.status not in (204, 304) and not any(
                n.lower() == "content-length" for n, _ in headers):
            headers.append(("content-length", str(len(body))))
        size = self.send_head(txn, HttpMessage("", "", "3.0", msg.status, msg.reason,
                                               headers))
        if body and txn.req.method != "HEAD" and msg.status not in (204, 304):
            self.write(body)
            size += len(body)
        return size

    def write(self, data: bytes) -> None:
        if self.closed or self.res_ended or not data or self.conn.h3 is None:
            return
        try:
            self.conn.h3.send_data(self.sid, data, end_stream=False)
        except Exception:  # noqa: BLE001 - the stream was reset meanwhile
            return
        mem = self.conn.listener.txmem
        mem.used += len(data)
        self.tx_counted += len(data)
        if mem.used > mem.peak:
            mem.peak = mem.used
        self.kick()
        if not self.tx_paused and (self.conn.unacked(self.sid) > self.conn.settings.stream_window
                                   or mem.over()):
            self.tx_paused = True
            self.conn.tx_paused.add(self)
            if self.txn is not None:
                self.txn.client_pause_writing()

    def tx_progress(self) -> None:
        """Acknowledgements came: account them, resume the server side if low enough."""
        pending = self.conn.unacked(self.sid)
        mem = self.conn.listener.txmem
        acked = self.tx_counted - pending
        if acked > 0:
            mem.used -= acked
            self.tx_counted = pending
        if self.tx_paused and pending <= self.conn.settings.stream_window // 2 \
                and not mem.over():
            self.tx_paused = False
            self.conn.tx_paused.discard(self)
            if self.txn is not None and not self.txn.finished:
                self.txn.client_resume_writing()

    def kick(self) -> None:
        if not self.corked:
            self.conn.kick()

    def cork(self) -> None:
        self.corked = True

    def uncork(self) -> None:
        self.corked = False
        self.conn.kick()

    def txn_done(self, txn: Transaction, keep_alive: bool) -> None:
        """The transaction is over: the response ends (if not yet) and so does the
        stream once the request is complete too."""
        self._end_response(txn)
        if self.req_ended:
            self._done()

    def _end_response(self, txn: Transaction) -> None:
        if self.res_ended:
            return
        self.res_ended = True
        if not self.closed and self.conn.h3 is not None:
            res = txn.strm.res
            trailers = res.trailers if res is not None else None
            try:
                if trailers and not self.ctx.frontend.options.get("http-drop-response-trailers"):
                    self.conn.h3.send_headers(
                        self.sid, [(n.lower().encode("latin-1"), v.encode("latin-1", "replace"))
                                   for n, v in trailers], end_stream=True)
                else:
                    self.conn.h3.send_data(self.sid, b"", end_stream=True)
            except Exception:  # noqa: BLE001 - the stream was reset meanwhile
                pass
            if not self.req_ended:
                # the response is complete before the request: stop the upload
                self.conn.quic.stop_stream(self.sid, ErrorCode.H3_NO_ERROR)
                self.req_ended = True
            self.kick()

    def abort(self) -> None:
        self._reset(ErrorCode.H3_INTERNAL_ERROR)
        self.res_ended = self.req_ended = True
        self._done()

    def close(self) -> None:
        txn = self.txn
        if txn is not None and not self.res_ended:
            self.txn_done(txn, False)

    def start_tunnel(self, tunnel: Any) -> None:
        """HTTP/3 has no connection upgrade: a 101 from a server cannot be relayed."""
        tunnel.end()

    def pause_reading(self, why: str) -> None:
        self.read_paused.add(why)

    def resume_reading(self, why: str) -> None:
        if why in self.read_paused:
            self.read_paused.discard(why)
            if not self.read_paused and self.conn.quic.release(self.sid):
                self.conn.kick()  # new credit (MAX_STREAM_DATA / MAX_DATA) goes out

    # -- server timeout (a timer of the wheel, kept for the stream's life) ------------------
    def arm_server(self, txn: Transaction, ms: int) -> None:
        self.srv_txn = txn
        wheel = self.ctx.wheel
        deadline = wheel.loop.time() * 1000 + ms
        if self.srv_timer is None:
            self.srv_timer = wheel.schedule(deadline, self._srv_timer_fired)
        else:
            self.srv_timer.reschedule(deadline)

    def _srv_timer_fired(self) -> None:
        txn = self.srv_txn
        self.srv_txn = None
        if txn is not None:
            txn.server_timeout()

    # -- ending -----------------------------------------------------------------------------
    def _reset(self, code: int) -> None:
        if self.closed:
            return
        quic = self.conn.quic
        try:
            if not self.res_ended:
                quic.reset_stream(self.sid, code)
            if not self.req_ended:
                quic.stop_stream(self.sid, code)
        except Exception:  # noqa: BLE001 - already finished on the QUIC side
            pass
        self.conn.kick()

    def _done(self) -> None:
        if self.srv_timer is not None:
            self.srv_timer.cancel()
            self.srv_timer = None
        self.srv_txn = None
        if self.tx_counted:
            mem = self.conn.listener.txmem
            mem.used -= self.tx_counted
            self.tx_counted = 0
        self.conn.stream_done(self)

    @property
    def age(self) -> float:
        txn = self.txn
        return time.monotonic() - txn.t_req if txn is not None else 0.0
