"""HTTP health checks over HTTP/2, as HAProxy runs them when the check connection's
multiplexer is h2: ``check-proto h2`` on the server (or, without it, the server's own
``proto h2``), ``http-check connect proto h2``, or a TLS check whose ALPN negotiation chose
``h2`` (``check-alpn h2`` / ``http-check connect ssl alpn h2``).

The ``option httpchk`` / ``http-check send`` request becomes one HTTP/2 stream (h2
library): ``:method``, ``:scheme``, ``:path`` and ``:authority`` from the request line and
its Host header, the other headers lower-cased, the body in DATA frames; the response's
``:status`` and body feed the same ``http-check expect`` rules as HTTP/1 (an HTTP/2
response has no reason phrase: HAProxy's check description is then empty).  A GOAWAY or a
reset of the stream before the response is a broken response (L7RSP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions

#: multiplexer names of check-proto / connect proto that run here
H1_NAMES = ("h1", "http/1.1", "http/1.0")
H2_NAMES = ("h2",)

#: headers HTTP/2 forbids
_DROP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                   "upgrade", "host"})


@dataclass
class H2Response:
    """What ``http-check expect`` reads of the response (as h11's Response offers it)."""

    status_code: int
    reason: bytes = b""


class H2CheckExchange:
    """One request/response over an HTTP/2 check connection."""

    def __init__(self, scheme: str) -> None:
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="latin-1",
                                        validate_inbound_headers=False,
                                        validate_outbound_headers=False)
        self.conn = h2.connection.H2Connection(cfg)
        self.started = False
        self.scheme = scheme
        self.sid = 0
        self.head: H2Response | None = None
        self.body = bytearray()
        self.complete = False
        self.broken = False

    def request(self, meth: str, uri: str, headers: list[tuple[str, str]],
                body: bytes | None) -> bytes:
        """The request as a new stream (after the connection preface on the first one),
        serialized."""
        conn = self.conn
        if not self.started:
            self.started = True
            conn.initiate_connection()
        self.head, self.body, self.complete, self.broken = None, bytearray(), False, False
        authority = ""
        fields: list[tuple[str, str]] = []
        for name, value in headers:
            low = name.lower()
            if low == "host":
                authority = value
            elif low not in _DROP:
                fields.append((low, value))
        if body:
            fields.append(("content-length", str(len(body))))
        pseudo = [(":method", meth), (":scheme", self.scheme), (":path", uri or "/")]
        if authority:
            pseudo.append((":authority", authority))
        self.sid = conn.get_next_available_stream_id()
        conn.send_headers(self.sid, pseudo + fields, end_stream=not body)
        if body:
            conn.send_data(self.sid, body, end_stream=True)
        return conn.data_to_send()

    def feed(self, data: bytes) -> bytes:
        """Frames received: what to send back (SETTINGS ACK, WINDOW_UPDATE ...)."""
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.broken = self.complete = True
            return b""
        for ev in events:
            sid = getattr(ev, "stream_id", None)
            if isinstance(ev, h2.events.ResponseReceived) and sid == self.sid:
                status = next((v for n, v in ev.headers if n == ":status"), "")
                try:
                    self.head = H2Response(int(status))
                except ValueError:
                    self.broken = self.complete = True
            elif isinstance(ev, h2.events.DataReceived) and sid == self.sid:
                self.body += ev.data
                if ev.flow_controlled_length:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and sid == self.sid:
                self.complete = True
            elif isinstance(ev, h2.events.StreamReset) and sid == self.sid or \
                    isinstance(ev, h2.events.ConnectionTerminated) and not self.complete:
                self.complete = True
                if self.head is None:
                    self.broken = True
        return self.conn.data_to_send()


def check_proto(srv: Any, rule: Any) -> str | None:
    """The multiplexer a check connection is forced to speak (None: the ALPN decides,
    else HTTP/1): the ``connect`` rule's ``proto``, else for the default connection the
    server's ``check-proto``, else its ``proto``."""
    proto = getattr(rule, "proto", None)
    if proto:
        return proto
    if rule.implicit or rule.default:
        return srv.opt("check-proto") or srv.opt("proto")
    return None
