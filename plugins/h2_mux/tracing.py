"""The ``h2`` trace source (HAProxy's ``mux_h2.c`` traces): HTTP/2 connections, frames,
streams and messages on both sides.

The multiplexers call these functions only behind ``if H2_TRACE.on:`` (one attribute check
per read, write or connection event while the source is stopped):

- :func:`conn_new` / :func:`conn_end` when a connection starts and ends (``h2c_new``,
  ``h2c_end``);
- :func:`rx` with the bytes read and the h2 library's events, :func:`tx` with the bytes
  written: the frame headers are decoded from the bytes themselves (``rx_*``/``tx_*``
  events: ``received H2 SETTINGS frame`` ...), streams are reported when they open and
  close (``h2s_new``, ``h2s_end``), received messages with their start line (``rcvd H2
  request  ``, ``rcvd H2 response ``);
- :func:`tx_headers` when a message is sent (``sent H2 response `` / ``sent H2 request  ``);
- :func:`error` on a connection-level protocol error (``proto_err``).

A connection that was already open when the source started is traced from its next
message on, without its frames (their boundaries in the byte stream are unknown).

Lines are laid out as haproxy 2.6's ``h2`` traces (checked against it): from verbosity
``minimal`` ``h2c=<ptr>(<side>,<state>)``, ``h2s=<ptr>(<id>,<state>)`` or ``dsi=<id>``;
``simple`` adds frame headers (``dft=<type>/<flags> dfl=<len>``); messages end with
``: [<id>] H2 REQ: <method> <uri> HTTP/2.0`` (or ``H2 RES:``); ``advanced`` adds one
``rcvh``/``sndh`` line per header field and decoded SETTINGS, WINDOW_UPDATE, RST_STREAM
and GOAWAY fields; ``complete`` the first bytes of DATA payloads.
"""

from __future__ import annotations

import weakref
from typing import Any

from hapx.core.trace import DATA, ERROR, PROTO, STATE, USER, TraceSource, register_source

CLEAN, MINIMAL, SIMPLE, ADVANCED, COMPLETE = 1, 2, 3, 4, 5

H2_TRACE = register_source(TraceSource(
    "h2", "HTTP/2 multiplexer",
    events=(
        ("h2c_new", "new H2 connection"), ("h2c_recv", "Rx on H2 connection"),
        ("h2c_send", "Tx on H2 connection"), ("h2c_fctl", "H2 connection flow-controlled"),
        ("h2c_blk", "H2 connection blocked"), ("h2c_wake", "H2 connection woken up"),
        ("h2c_end", "H2 connection terminated"), ("h2c_err", "error on H2 connection"),
        ("rx_fhdr", "H2 frame header received"), ("rx_frame", "receipt of any H2 frame"),
        ("rx_eoi", "receipt of end of H2 input (ES or RST)"),
        ("rx_preface", "receipt of H2 preface"), ("rx_data", "receipt of H2 DATA frame"),
        ("rx_hdr", "receipt of H2 HEADERS frame"),
        ("rx_prio", "receipt of H2 PRIORITY frame"),
        ("rx_rst", "receipt of H2 RST_STREAM frame"),
        ("rx_settings", "receipt of H2 SETTINGS frame"),
        ("rx_push", "receipt of H2 PUSH_PROMISE frame"),
        ("rx_ping", "receipt of H2 PING frame"), ("rx_goaway", "receipt of H2 GOAWAY frame"),
        ("rx_wu", "receipt of H2 WINDOW_UPDATE frame"),
        ("rx_cont", "receipt of H2 CONTINUATION frame"),
        ("tx_frame", "transmission of any H2 frame"),
        ("tx_eoi", "transmission of H2 end of input (ES or RST)"),
        ("tx_preface", "transmission of H2 preface"),
        ("tx_data", "transmission of H2 DATA frame"),
        ("tx_hdr", "transmission of H2 HEADERS frame"),
        ("tx_prio", "transmission of H2 PRIORITY frame"),
        ("tx_rst", "transmission of H2 RST_STREAM frame"),
        ("tx_settings", "transmission of H2 SETTINGS frame"),
        ("tx_push", "transmission of H2 PUSH_PROMISE frame"),
        ("tx_ping", "transmission of H2 PING frame"),
        ("tx_goaway", "transmission of H2 GOAWAY frame"),
        ("tx_wu", "transmission of H2 WINDOW_UPDATE frame"),
        ("tx_cont", "transmission of H2 CONTINUATION frame"),
        ("h2s_new", "new H2 stream"), ("h2s_recv", "Rx for H2 stream"),
        ("h2s_send", "Tx for H2 stream"), ("h2s_fctl", "H2 stream flow-controlled"),
        ("h2s_blk", "H2 stream blocked"), ("h2s_wake", "H2 stream woken up"),
        ("h2s_end", "H2 stream terminated"), ("h2s_err", "error on H2 stream"),
        ("strm_new", "app-layer stream creation"),
        ("strm_recv", "receiving data for stream"), ("strm_send", "sending data for stream"),
        ("strm_full", "stream buffer full"), ("strm_wake", "stream woken up"),
        ("strm_shut", "stream shutdown"), ("strm_end", "detaching app-layer stream"),
        ("strm_err", "stream error"), ("proto_err", "protocol error"),
    ),
    verbosities=(
        ("clean", 'only user-friendly stuff, generally suitable for level "user"'),
        ("minimal", "report only h2c/h2s state and flags, no real decoding"),
        ("simple", "add request/response status line or frame info when available"),
        ("advanced", "add header fields or frame decoding when available"),
        ("complete", "add full data dump when available"),
    ),
    own_locks=(("h2s", "H2 stream"),),
))

#: frame type -> (name, event suffix)
FRAME_TYPES = {
    0: ("DATA", "data"), 1: ("HEADERS", "hdr"), 2: ("PRIORITY", "prio"),
    3: ("RST_STREAM", "rst"), 4: ("SETTINGS", "settings"), 5: ("PUSH_PROMISE", "push"),
    6: ("PING", "ping"), 7: ("GOAWAY", "goaway"), 8: ("WINDOW_UPDATE", "wu"),
    9: ("CONTINUATION", "cont"),
}
SETTINGS_NAMES = {1: "header_table_size", 2: "enable_push", 3: "max_concurrent_streams",
                  4: "initial_window_size", 5: "max_frame_size",
                  6: "max_header_list_size", 8: "enable_connect_protocol"}
ERROR_NAMES = ("NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
               "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
               "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
               "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED")
#: h2 library stream states -> HAProxy's h2s state names
STREAM_STATES = {"IDLE": "IDL", "RESERVED_REMOTE": "RSV", "RESERVED_LOCAL": "RSV",
                 "OPEN": "OPN", "HALF_CLOSED_REMOTE": "HCR", "HALF_CLOSED_LOCAL": "HCL",
                 "CLOSED": "CLO"}
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
END_STREAM, ACK = 0x1, 0x1


class _Scanner:
    """Splits one direction's byte stream into frames (type, flags, stream id, payload);
    the payload kept is cut to 64 bytes (enough for every control frame we decode)."""

    __slots__ = ("buf", "need_preface", "skip")

    def __init__(self, preface: bool) -> None:
        self.buf = b""
        self.need_preface = preface
        self.skip = 0

    def feed(self, data: bytes) -> tuple[bool, list[tuple[int, int, int, int, bytes]]]:
        """(preface seen now, frames completed by ``data``)."""
        buf = self.buf + data
        saw_preface = False
        if self.need_preface:
            if len(buf) < len(PREFACE):
                self.buf = buf
                return False, []
            buf = buf[len(PREFACE):]
            self.need_preface = False
            saw_preface = True
        frames = []
        pos = 0
        while len(buf) - pos >= 9:
            length = int.from_bytes(buf[pos:pos + 3], "big")
            ftype, flags = buf[pos + 3], buf[pos + 4]
            sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
            if len(buf) - pos - 9 < length:
                break
            frames.append((ftype, flags, sid, length, buf[pos + 9:pos + 9 + min(length, 64)]))
            pos += 9 + length
        self.buf = buf[pos:]
        return saw_preface, frames


class _Tracer:
    """The trace state of one connection (kept out of the multiplexer's objects)."""

    __slots__ = ("side", "rx", "tx", "state", "open", "__weakref__")

    def ptr(self, mux: Any, sid: int) -> int:
        """The stream's address as traced (the same for all its lines)."""
        p = self.open.get(sid)
        if p is None:
            st = mux.h2.streams.get(sid) or mux.streams.get(sid)
            p = id(st) if st is not None else 0
        return p

    def __init__(self, side: str, synced: bool) -> None:
        self.side = side
        #: scanners when the connection is traced from its start
        self.rx = _Scanner(side == "F") if synced else None
        self.tx = _Scanner(side == "B") if synced else None
        self.state = ("PRF" if side == "F" else "STG") if synced else "FRH"
        #: the streams seen open, by id: their traced address (h2s_end once closed)
        self.open: dict[int, int] = {}


#: the connections' trace states, keyed by their h2 library connection object
_TRACERS: weakref.WeakKeyDictionary[Any, _Tracer] = weakref.WeakKeyDictionary()


def _tracer(mux: Any, side: str) -> _Tracer:
    tr = _TRACERS.get(mux.h2)
    if tr is None:
        tr = _TRACERS[mux.h2] = _Tracer(side, False)
    return tr


def _lock(mux: Any, side: str, sid: int = 0) -> dict[str, Any]:
    st = mux.streams.get(sid) if sid else None
    if side == "F":
        conn = mux.conn
        return {"frontend": getattr(mux.ctx, "frontend", None), "connection": mux,
                "h2c": mux, "h2s": st, "session": getattr(conn, "sess", None),
                "listener": getattr(conn, "listener", None)}
    strm = getattr(getattr(st, "owner", None), "strm", None)
    return {"server": mux.server, "connection": mux, "h2c": mux, "h2s": st,
            "backend": getattr(strm, "backend", None),
            "frontend": getattr(strm, "frontend", None)}


def _h2s_state(mux: Any, sid: int) -> str:
    s = mux.h2.streams.get(sid)
    if s is None:
        return "CLO"
    machine = getattr(s, "state_machine", None)
    if machine is not None:  # the h2 library's stream
        return STREAM_STATES.get(machine.state.name, "???")
    # the lean codec's stream: which directions are still open
    return {(True, True): "OPN", (False, True): "HCR", (True, False): "HCL",
            (False, False): "CLO"}[(bool(s.recv_open), bool(s.send_open))]


def _detail(mux: Any, tr: _Tracer, sid: int = 0, *, dsi: int | None = None,
            frame: str = "", decoded: str = "", msg: str = "", dump: bytes = b"") -> Any:
    """The detail of a line as HAProxy's ``h2_trace`` lays it out, built when written:
    from ``minimal`` ``h2c=<ptr>(<side>,<state>)``, ``h2s=<ptr>(<id>,<state>)`` for a
    stream's line, ``dsi=<id>`` for a frame's; from ``simple`` the frame header (``dft``,
    ``dfl``), then ``: <msg>`` (a message's first line); ``advanced`` adds decoded frame
    fields, ``complete`` DATA payloads."""
    state = tr.state

    def detail() -> str:
        v = H2_TRACE.verbosity
        parts = []
        if v >= MINIMAL:
            parts.append(f"h2c={id(mux):#x}({tr.side},{state})")
            if sid:
                parts.append(f"h2s={tr.ptr(mux, sid):#x}({sid},{_h2s_state(mux, sid)})")
            if dsi is not None:
                parts.append(f"dsi={dsi}" + (f" h2s={_h2s_state(mux, dsi)}" if dsi else ""))
        if v >= SIMPLE and frame:
            parts.append(frame)
        if v >= ADVANCED and decoded:
            parts.append(decoded)
        if v >= COMPLETE and dump:
            parts.append(f"data={dump!r}")
        text = " ".join(parts)
        if msg:
            text = f"{text} : {msg}" if text else msg
        return text
    return detail


def conn_new(mux: Any, side: str) -> None:
    """A connection starts (before its preface/SETTINGS are written)."""
    tr = _TRACERS[mux.h2] = _Tracer(side, True)
    if side == "F":
        where = f"fe={getattr(mux.ctx.frontend, 'name', '')}"
    else:
        where = f"be={getattr(mux.server, 'proxy', '')} srv={getattr(mux.server, 'name', '')}"
    H2_TRACE.trace(USER, "h2c_new", "new H2 connection",
                   _detail(mux, tr, msg=f"conn={id(mux):#x} {where}"), _lock(mux, side))


def conn_end(mux: Any, side: str) -> None:
    tr = _tracer(mux, side)
    _streams_closed(mux, tr)
    H2_TRACE.trace(PROTO, "h2c_end", "releasing H2 connection", _detail(mux, tr),
                   _lock(mux, side))
    _TRACERS.pop(mux.h2, None)


def error(mux: Any, side: str, exc: BaseException) -> None:
    """A connection-level protocol error from the peer."""
    tr = _tracer(mux, side)
    tr.state = "ERR"
    H2_TRACE.trace(ERROR, ("h2c_err", "proto_err"), "protocol error",
                   _detail(mux, tr, msg=str(exc)), _lock(mux, side))


def _frame_detail(ftype: int, flags: int, length: int, payload: bytes) -> tuple[str, str]:
    name = FRAME_TYPES.get(ftype, ("UNKNOWN", ""))[0]
    frame = f"dft={name}/{flags:02x} dfl={length}"
    decoded = ""
    if ftype == 4 and not flags & ACK:
        decoded = " ".join(
            f"{SETTINGS_NAMES.get(int.from_bytes(payload[i:i + 2], 'big'), 'unknown')}="
            f"{int.from_bytes(payload[i + 2:i + 6], 'big')}"
            for i in range(0, len(payload) - 5, 6))
    elif ftype == 3 and len(payload) >= 4:
        code = int.from_bytes(payload[:4], "big")
        frame += f" err={ERROR_NAMES[code] if code < len(ERROR_NAMES) else code}"
    elif ftype == 7 and len(payload) >= 8:
        last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        code = int.from_bytes(payload[4:8], "big")
        frame += (f" last_sid={last} err="
                  f"{ERROR_NAMES[code] if code < len(ERROR_NAMES) else code}")
    elif ftype == 8 and len(payload) >= 4:
        decoded = f"increment={int.from_bytes(payload[:4], 'big') & 0x7FFFFFFF}"
    return frame, decoded


def stream_new(mux: Any, side: str, sid: int, tr: Any = None) -> None:
    """``new H2 stream``: stream ``sid`` now exists on the multiplexer."""
    if tr is None:
        tr = _tracer(mux, side)
    if sid in tr.open:
        return
    tr.open[sid] = tr.ptr(mux, sid)
    # reported while its HEADERS frame is being processed (HAProxy's FRAME_P state)
    saved, tr.state = tr.state, "FRP"
    try:
        H2_TRACE.trace(STATE, "h2s_new", "new H2 stream", _detail(mux, tr, sid),
                       _lock(mux, side, sid))
    finally:
        tr.state = saved

def _frames(mux: Any, tr: _Tracer, frames: list[Any], way: str) -> None:
    """The lines of each frame: ``rcvd H2 frame header`` (state) then ``receiving H2
    <TYPE> frame`` as HAProxy's demux reports them, ``sending H2 <TYPE> frame`` out."""
    verb = "receiving" if way == "rx" else "sending"
    lock = _lock(mux, tr.side)
    for ftype, flags, sid, length, payload in frames:
        name, suffix = FRAME_TYPES.get(ftype, ("UNKNOWN", ""))
        frame, decoded = _frame_detail(ftype, flags, length, payload)
        flock = lock if not sid else _lock(mux, tr.side, sid)
        if way == "rx":
            H2_TRACE.trace(STATE, ("rx_fhdr", "rx_frame"), "rcvd H2 frame header, switching "
                           "to FRAME_P state", _detail(mux, tr, frame=frame), flock)
            tr.state = "FRP"
        if ftype in (1, 5) and sid and sid not in tr.open and sid in mux.streams:
            # (a stream the peer opens is reported by the multiplexer once it exists:
            # stream_new)
            stream_new(mux, tr.side, sid, tr)
        events: tuple[str, ...] = (f"{way}_frame",)
        if suffix:
            events += (f"{way}_{suffix}",)
        if (ftype in (0, 1) and flags & END_STREAM) or ftype == 3:
            events += (f"{way}_eoi",)
        ack = " ACK" if ftype in (4, 6) and flags & ACK else ""
        H2_TRACE.trace(DATA if ftype == 0 else PROTO, events, f"{verb} H2 {name}{ack} frame",
                       _detail(mux, tr, dsi=sid, frame=frame if way == "tx" else "",
                               decoded=decoded, dump=payload if ftype == 0 else b""), flock)
        if way == "rx":
            tr.state = "FRH"


def _streams_closed(mux: Any, tr: _Tracer) -> None:
    for sid in [s for s in tr.open if _h2s_state(mux, s) == "CLO"]:
        H2_TRACE.trace(STATE, "h2s_end", "H2 stream closed", _detail(mux, tr, sid),
                       _lock(mux, tr.side, sid))
        del tr.open[sid]


def rx(mux: Any, side: str, data: bytes, events: list[Any]) -> None:
    """Bytes read and the events the h2 library decoded from them."""
    tr = _tracer(mux, side)
    if tr.rx is not None:
        H2_TRACE.trace(DATA, "h2c_recv", "received data", _detail(mux, tr), _lock(mux, side))
        preface, frames = tr.rx.feed(data)
        if preface:
            H2_TRACE.trace(PROTO, "rx_preface", "received preface", _detail(mux, tr),
                           _lock(mux, side))
            tr.state = "STG"
        _frames(mux, tr, frames, "rx")
    for ev in events:
        headers = getattr(ev, "headers", None)
        if headers is None or not hasattr(ev, "stream_id"):
            continue
        kind = type(ev).__name__
        rx_fields(mux, side, ev.stream_id, headers,
                  "request" if kind == "RequestReceived" else
                  "response" if kind in ("ResponseReceived", "InformationalResponseReceived")
                  else "trailers", tr)
    _streams_closed(mux, tr)



def rx_fields(mux: Any, side: str, sid: int, headers: Any, kind: str,
              tr: Any = None) -> None:
    """A header block received on stream ``sid``: ``kind`` is "request", "response" or
    "trailers" (called by the codecs that decode blocks themselves, and by :func:`rx`)."""
    if tr is None:
        tr = _tracer(mux, side)
    if kind == "request":
        msg, events_ = "rcvd H2 request  ", ("rx_hdr", "strm_new")
    elif kind == "response":
        msg, events_ = "rcvd H2 response ", ("rx_hdr", "strm_recv")
    else:
        msg, events_ = "rcvd H2 trailers ", ("rx_hdr", "strm_recv")
    _fields(mux, tr, side, sid, headers, "h2c_decode_headers", "rcvh")
    H2_TRACE.trace(USER, events_, msg,
                   _detail(mux, tr, msg=_start_line(sid, headers)) if side == "F" else
                   _detail(mux, tr, sid, msg=_start_line(sid, headers)),
                   _lock(mux, side, sid))

def _start_line(sid: int, headers: Any) -> str:
    """``[<id>] H2 REQ: <method> <uri> HTTP/2.0`` or ``[<id>] H2 RES: HTTP/2.0 <status>``
    (the URI absolute when the request has an authority, as HAProxy builds it)."""
    pseudo = {(n.decode("latin-1") if isinstance(n, bytes) else n):
              (v.decode("latin-1") if isinstance(v, bytes) else v)
              for n, v in headers if (n[:1] in (":", b":"))}
    if ":status" in pseudo:
        return f"[{sid}] H2 RES: HTTP/2.0 {pseudo[':status']}"
    if ":method" in pseudo:
        path, auth = pseudo.get(":path", ""), pseudo.get(":authority")
        uri = f"{pseudo.get(':scheme', 'http')}://{auth}{path}" if auth else path
        return f"[{sid}] H2 REQ: {pseudo[':method']} {uri} HTTP/2.0"
    return f"[{sid}] H2 trailers"


def _fields(mux: Any, tr: _Tracer, side: str, sid: int, headers: Any, func: str,
            tag: str) -> None:
    """From verbosity ``advanced``, one line per header field (HAProxy's ``rcvh``/``sndh``
    lines)."""
    if H2_TRACE.verbosity < ADVANCED:
        return
    lock = _lock(mux, side, sid)
    stream = f"dsi={sid}" if tag == "rcvh" else \
        f"h2s={tr.ptr(mux, sid):#x}({sid},{_h2s_state(mux, sid)})"
    for n, v in headers:
        n = n.decode("latin-1") if isinstance(n, bytes) else n
        v = v.decode("latin-1") if isinstance(v, bytes) else v
        H2_TRACE.trace(USER, ("rx_hdr",) if tag == "rcvh" else ("tx_hdr",),
                       f"{func}(): h2c={id(mux):#x}({tr.side},{tr.state}) {stream} "
                       f"{tag} {n}: {v}", "", lock)


def tx(mux: Any, side: str, data: bytes) -> None:
    """Bytes written on the connection."""
    tr = _tracer(mux, side)
    if tr.tx is not None:
        preface, frames = tr.tx.feed(data)
        if preface:
            H2_TRACE.trace(PROTO, "tx_preface", "sent H2 preface", _detail(mux, tr),
                           _lock(mux, side))
        _frames(mux, tr, frames, "tx")
        H2_TRACE.trace(DATA, "h2c_send", "sent data", _detail(mux, tr), _lock(mux, side))
    _streams_closed(mux, tr)


def tx_headers(mux: Any, side: str, sid: int, block: Any) -> None:
    """A message's HEADERS (a response from the frontend side, a request from the
    backend side) given to the h2 library."""
    tr = _tracer(mux, side)
    line = _start_line(sid, block)
    if " H2 RES: " in line:
        func, msg = "h2s_frt_make_resp_headers", "sent H2 response "
    elif " H2 REQ: " in line:
        func, msg = "h2s_bck_make_req_headers", "sent H2 request  "
    else:
        func, msg = "h2s_make_trailers", "sent H2 trailers "
    _fields(mux, tr, side, sid, block, func, "sndh")
    H2_TRACE.trace(USER, ("tx_hdr", "strm_send"), msg, _detail(mux, tr, sid, msg=line),
                   _lock(mux, side, sid))
