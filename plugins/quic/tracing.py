"""The ``quic`` and ``h3`` trace sources (HAProxy's ``quic_trace.c`` and ``h3.c`` traces),
fed by aioquic's own event log (qlog).

Every QUIC bind's configuration carries :data:`TRACE_LOGGER` as aioquic's ``quic_logger``.
When a connection is created aioquic asks it for a per-connection log: while both sources
are stopped it gets none, and aioquic's own ``if self._quic_logger is not None`` checks are
all the tracing costs on its packets.  While one runs, the connection gets a
:class:`ConnTrace`, which turns aioquic's events into trace lines:

- ``quic``: the connection (``new_conn``, ``conn_close``), each packet received and sent
  (``rx_pkt``/``tx_pkt``: its type, number, length and frames), dropped packets, the
  transport parameters, keys (``read_secs``/``write_secs``), RTT samples and lost packets;
- ``h3``: the HTTP/3 connection (``h3c_new``/``h3c_end``), request streams (``h3s_new``)
  and the HEADERS, DATA and SETTINGS frames received and sent, with the request or status
  line of headers (and their fields from verbosity ``default``).

A connection created while both sources were stopped is not traced.
"""

from __future__ import annotations

from typing import Any

from aioquic.quic.logger import QuicLogger, QuicLoggerTrace
from hapx.core.trace import (
    DATA,
    DEVELOPER,
    ERROR,
    PROTO,
    STATE,
    USER,
    TraceSource,
    register_source,
)

QUIC_TRACE = register_source(TraceSource(
    "quic", "QUIC xprt",
    events=(
        ("new_conn", "new QUIC connection"),
        ("new_conn_init", "new QUIC connection initialization"),
        ("init_secs", "initial secrets derivation"), ("read_secs", "read secrets derivation"),
        ("write_secs", "write secrets derivation"),
        ("lstnr_packet", "new listener received packet"),
        ("srv_packet", "new server received packet"),
        ("enc_hdshk_pkt", "handhshake packet encryption"), ("tx_pkt", "TX packet"),
        ("phdshk_apkt", "post handhshake application packet preparation"),
        ("phdshk_apkts", "post handhshake application packets preparation"),
        ("qc_io_cb", "QUIC conn. I/O processing"), ("rm_hp", "Remove header protection"),
        ("parse_hpkt", "parse handshake packet"), ("parse_apkt", "parse application packet"),
        ("parse_frm", "parse frame"), ("parse_ack_frm", "parse ACK frame"),
        ("build_frm", "build frame"), ("phdshk_pkts", "handhshake packets preparation"),
        ("rm_hp_try", "header protection removing try"),
        ("el_rm_hp", "handshake enc. level header protection removing"),
        ("rx_pkt", "RX packet"), ("ssldata", "CRYPTO data buffer"),
        ("el_treat_rx_cfrms", "enc. level RX CRYPTO frames processing"),
        ("add_hdshk_data", "TLS stack ->add_handshake_data() call"),
        ("flush_flight", "TLS stack ->flush_flight() call"),
        ("enc_lvl_sel", "enc. level selection"), ("rtt_updt", "RTT sampling"),
        ("sppkts", "send prepared packets"), ("pktloss", "detect packet loss"),
        ("stimer", "set timer"), ("ptimer", "process timer"), ("spto", "set PTO"),
        ("bcfrms", "build CRYPTO data frames"), ("xprt_send", "sending XRPT subscription"),
        ("xprt_recv", "receiving XRPT subscription"),
        ("conn_freed", "releasing conn. memory"), ("conn_close", "closing conn."),
        ("ack_strm", "STREAM ack."), ("frm_list", "frame list"),
        ("stateless_reset", "stateless reset sent"),
        ("transport_params", "transport parameters"), ("idle_timer", "idle timer task"),
        ("xprt_sub", "RX/TX subscription or unsubscription to QUIC xprt"),
        ("conn_recv", "RX on connection"),
    ),
    verbosities=(("clean", 'only user-friendly stuff, generally suitable for level "user"'),),
    locks=("connection", "frontend", "listener", "thread"),
))

H3_TRACE = register_source(TraceSource(
    "h3", "HTTP/3 transcoder",
    events=(
        ("rx_frame", "receipt of any H3 frame"), ("rx_data", "receipt of H3 DATA frame"),
        ("rx_hdr", "receipt of H3 HEADERS frame"),
        ("rx_settings", "receipt of H3 SETTINGS frame"),
        ("tx_frame", "transmission of any H3 frame"),
        ("tx_data", "transmission of H3 DATA frame"),
        ("tx_hdr", "transmission of H3 HEADERS frame"),
        ("tx_settings", "transmission of H3 SETTINGS frame"),
        ("h3s_new", "new H3 stream"), ("h3s_end", "H3 stream terminated"),
        ("h3c_new", "new H3 connection"), ("h3c_end", "H3 connection terminated"),
        ("strm_send", "sending data for stream"),
    ),
    locks=("connection", "frontend", "listener", "thread"),
))


def _frames(frames: list[dict[str, Any]]) -> str:
    """``frames=<type>[,<type>...]`` (STREAM frames with their stream id)."""
    names = []
    for f in frames:
        kind = f.get("frame_type", "?")
        if kind == "stream":
            kind = f"stream({f.get('stream_id')}{',fin' if f.get('fin') else ''})"
        elif kind == "crypto":
            kind = f"crypto({f.get('length')})"
        names.append(kind)
    return ",".join(names)


class ConnTrace(QuicLoggerTrace):
    """The trace of one QUIC connection (aioquic's per-connection log)."""

    def __init__(self, logger: TraceLogger, is_client: bool, odcid: bytes) -> None:
        super().__init__(is_client=is_client, odcid=odcid)
        self.client = is_client
        self.who = f"qc@{id(self):#x} odcid={odcid.hex()}"
        self.lock = {"connection": self, "frontend": logger.frontend,
                     "listener": logger.listener}
        #: a packet received whose frames aioquic is still decoding
        self.pending: dict[str, Any] | None = None
        self.h3 = False
        self.h3_streams: set[int] = set()

    # -- quic ------------------------------------------------------------------------------
    def _quic(self, level: int, event: str, message: str, detail: str = "") -> None:
        if QUIC_TRACE.on:
            QUIC_TRACE.trace(level, event, message, self.who + (f" {detail}" if detail
                                                                else ""), self.lock)

    def _packet(self, event: str, message: str, data: dict[str, Any]) -> None:
        head = data.get("header", {})
        self._quic(PROTO, event, message,
                   f"type={head.get('packet_type')} pn={head.get('packet_number')} "
                   f"len={data.get('raw', {}).get('length')} "
                   f"frames={_frames(data.get('frames') or [])}")

    def flush(self) -> None:
        """Write the received packet whose frames are now all known."""
        pending, self.pending = self.pending, None
        if pending is not None:
            self._packet("rx_pkt", "RX packet", pending)

    def log_event(self, *, category: str, event: str, data: dict) -> None:
        if self.pending is not None and category in ("transport", "http"):
            self.flush()  # (the frames of a packet come with recovery and key events)
        if category == "http":
            self._http(event, data)
            return
        if not QUIC_TRACE.on:
            return
        if event == "packet_received":
            self.pending = data
        elif event == "packet_sent":
            self._packet("tx_pkt", "TX packet", data)
        elif event == "packet_dropped":
            self._quic(ERROR, "rx_pkt", "packet dropped",
                       f"trigger={data.get('trigger')}")
        elif event == "parameters_set":
            params = " ".join(f"{k}={v}" for k, v in data.items() if k != "owner")
            self._quic(STATE, "transport_params", f"{data.get('owner', '')} transport "
                       "parameters", params)
        elif event == "key_updated":
            kind = str(data.get("key_type", ""))
            self._quic(DEVELOPER, "read_secs" if kind.startswith(
                "client" if not self.client else "server") else "write_secs",
                "secrets derivation", f"key_type={kind}")
        elif event == "metrics_updated" and "latest_rtt" in data:
            self._quic(DEVELOPER, "rtt_updt", "RTT sampling",
                       f"latest_rtt={data['latest_rtt']}ms smoothed_rtt="
                       f"{data.get('smoothed_rtt')}ms")
        elif event == "packet_lost":
            self._quic(STATE, "pktloss", "packet lost",
                       f"type={data.get('type')} pn={data.get('packet_number')}")

    # -- h3 --------------------------------------------------------------------------------
    def _h3(self, level: int, event: tuple[str, ...], message: str, sid: Any = None,
            line: str = "", fields: Any = None, extra: str = "") -> None:
        def detail() -> str:
            text = f"qcc={id(self):#x}(F)"
            if sid is not None:
                text += f" qcs=({sid})"
            if line:
                text += f' "{line}"'
            if extra:
                text += f" {extra}"
            if fields and H3_TRACE.verbosity >= 1:
                text += "".join(f" {n}: {v}" for n, v in fields)
            return text
        H3_TRACE.trace(level, event, message, detail, self.lock)

    def _http(self, event: str, data: dict[str, Any]) -> None:
        if not H3_TRACE.on:
            return
        if not self.h3:
            self.h3 = True
            self._h3(PROTO, ("h3c_new",), "new H3 connection")
        frame = data.get("frame", {})
        kind = frame.get("frame_type")
        sid = data.get("stream_id")
        way = "rx" if event == "frame_parsed" else "tx"
        verb = "rcvd" if way == "rx" else "sent"
        if kind == "headers":
            headers = [(h["name"], h["value"]) for h in frame.get("headers", [])]
            pseudo = dict(h for h in headers if h[0][:1] == ":")
            fields = [h for h in headers if h[0][:1] != ":"]
            if ":method" in pseudo:
                line = f"{pseudo[':method']} {pseudo.get(':path', '')} HTTP/3.0"
                if sid not in self.h3_streams:
                    self.h3_streams.add(sid)
                    self._h3(STATE, ("h3s_new",), "new H3 stream", sid)
            elif ":status" in pseudo:
                line = f"HTTP/3.0 {pseudo[':status']}"
            else:
                line = ""
            self._h3(USER, (f"{way}_frame", f"{way}_hdr"), f"{verb} H3 HEADERS frame", sid,
                     line, fields)
        elif kind == "data":
            self._h3(DATA, (f"{way}_frame", f"{way}_data") + (("strm_send",) if way == "tx"
                                                              else ()),
                     f"{verb} H3 DATA frame", sid, extra=f"len={data.get('length')}")
        elif kind == "settings":
            values = " ".join(f"{s.get('name')}={s.get('value')}"
                              for s in frame.get("settings", []))
            self._h3(PROTO, (f"{way}_frame", f"{way}_settings"), f"{verb} H3 SETTINGS frame",
                     sid, extra=values)
        elif kind is not None:
            self._h3(PROTO, (f"{way}_frame",), f"{verb} H3 {str(kind).upper()} frame", sid)

    def end(self) -> None:
        self.flush()
        if self.h3 and H3_TRACE.on:
            self._h3(PROTO, ("h3c_end",), "H3 connection terminated")
        self._quic(PROTO, "conn_close", "closing conn.")


class TraceLogger(QuicLogger):
    """aioquic's ``quic_logger`` of one QUIC bind: a :class:`ConnTrace` for the
    connections created while the ``quic`` or ``h3`` source runs, none otherwise."""

    def __init__(self, frontend: Any = None, listener: Any = None) -> None:
        super().__init__()
        self.frontend = frontend
        self.listener = listener

    def start_trace(self, is_client: bool, odcid: bytes) -> Any:  # type: ignore[override]
        if not (QUIC_TRACE.on or H3_TRACE.on):
            return None
        trace = ConnTrace(self, is_client, odcid)
        trace._quic(PROTO, "new_conn", "new QUIC connection")
        return trace

    def end_trace(self, trace: QuicLoggerTrace) -> None:
        if isinstance(trace, ConnTrace):
            trace.end()

    def to_dict(self) -> dict[str, Any]:
        return {}
