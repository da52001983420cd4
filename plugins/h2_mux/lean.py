"""A lean HTTP/2 frame codec for the server side of client connections (``h2-codec lean``,
the default): frames parsed with :mod:`struct` from the received bytes and handed straight
to the connection's multiplexer as method calls, without h2's per-frame objects, events
and per-stream state machines.

What it does (RFC 9113): the connection preface and first SETTINGS, SETTINGS (with ACK;
a smaller receive window of ours applies once acknowledged), PING, GOAWAY, RST_STREAM,
WINDOW_UPDATE, PRIORITY (checked, ignored), HEADERS with CONTINUATION, DATA with padding; flow control
both ways (the peer's windows and SETTINGS_INITIAL_WINDOW_SIZE changes; ours re-opened by
WINDOW_UPDATE as the multiplexer acknowledges data, as h2's window manager does);
SETTINGS_MAX_CONCURRENT_STREAMS (a stream past it is refused with REFUSED_STREAM).
Requests are validated as h2 does (lower-case token names, no connection-specific fields,
``te`` only ``trailers``, pseudo-headers first, known, once, and the required ones; no
NUL/CR/LF in values; ``content-length`` against the DATA
received): a malformed request is a stream error (RST_STREAM PROTOCOL_ERROR).  Connection
errors queue a GOAWAY and raise :class:`h2.exceptions.ProtocolError`.

HPACK: :mod:`.hpackdec` decodes (what a request block gives is cached while the dynamic
table is unchanged: h2load-like clients send the same indexed block again and again);
responses are encoded with the static table only
and literals without indexing and without Huffman coding (as HAProxy's encoder): no
dynamic table state to keep, and each field's encoding is cached.

The multiplexer (``mux``) receives ``_on_request_head(sid, method, scheme, authority,
path, headers, has_host, size, ended)``,
``_on_data(sid, data, flow_controlled_length, ended)``, ``_on_end(sid)``,
``_on_trailers(sid, headers)``, ``_on_window(sid)`` (0: every stream),
``_on_reset(sid)``, ``_on_goaway()``, ``_on_ping_ack()``, ``_on_glitch()``; it is read
for ``closed``.
"""

from __future__ import annotations

import struct
from typing import Any

from h2.exceptions import ProtocolError, StreamClosedError
from hpack.table import HeaderTable

from .hpackdec import Decoder, HPACKError, OversizedBlock
from .params import _DROP_RES

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types and flags
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
F_END_STREAM = 0x1
F_ACK = 0x1
F_END_HEADERS = 0x4
F_PADDED = 0x8
F_PRIORITY = 0x20

# error codes
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, \
    STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, \
    CONNECT_ERROR, ENHANCE_YOUR_CALM = range(12)

# settings
S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, \
    S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = range(1, 7)

MAX_WINDOW = 2**31 - 1
#: the largest header block gathered from HEADERS + CONTINUATION frames
MAX_BLOCK = 256 * 1024

_head = struct.Struct(">BHBBL")
_pack_head = _head.pack
_unpack_head = _head.unpack_from
_u32 = struct.Struct(">L")
_unpack_u32 = _u32.unpack_from
_pack_u32 = _u32.pack
_setting = struct.Struct(">HL")

_REQ_PSEUDO = frozenset({":method", ":scheme", ":path", ":authority"})
_CONN_FIELDS = frozenset({"connection", "keep-alive", "proxy-connection",
                          "transfer-encoding", "upgrade"})


class ConnectionError_(ProtocolError):
    """A connection error: the GOAWAY is queued, the connection must close."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.error_code = code


def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    return _pack_head(n >> 16, n & 0xFFFF, ftype, flags, sid) + payload


# -- HPACK encoding (static table only, no Huffman) -------------------------------------------
def _int(value: int, prefix_bits: int, first: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_STATIC_FULL: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAME: dict[bytes, int] = {}
for _i, (_n, _v) in enumerate(HeaderTable.STATIC_TABLE, 1):
    _STATIC_FULL.setdefault((_n, _v), _i)
    _STATIC_NAME.setdefault(_n, _i)


def encode_field(name: bytes, value: bytes) -> bytes:
    """One field: an indexed static entry, else a literal without indexing (with the
    static name index when there is one)."""
    idx = _STATIC_FULL.get((name, value))
    if idx is not None:
        return bytes((0x80 | idx,))
    idx = _STATIC_NAME.get(name)
    if idx is not None:
        return _int(idx, 4, 0) + _int(len(value), 7, 0) + value
    return b"\0" + _int(len(name), 7, 0) + name + _int(len(value), 7, 0) + value


class StaticEncoder:
    """Header blocks from (name, value) byte pairs, each field's encoding cached."""

    __slots__ = ("cache", "size_update")

    def __init__(self) -> None:
        self.cache: dict[tuple[bytes, bytes], bytes] = {}
        #: a dynamic table size update (to 0) is owed to the peer's decoder
        self.size_update = False

    def encode(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        cache = self.cache
        parts = [b"\x20"] if self.size_update else []
        self.size_update = False
        for f in fields:
            b = cache.get(f)
            if b is None:
                if len(cache) >= 4096:
                    cache.clear()
                b = cache[f] = encode_field(f[0], f[1])
            parts.append(b)
        return b"".join(parts)


def _response_field(name: str, value: str) -> tuple[bytes, int]:
    """A response field's encoding and its size as logged (name + value + 4); nothing
    for the fields HTTP/2 forbids."""
    low = name.lower()
    if low in _DROP_RES or (low == "te" and value.strip().lower() != "trailers"):
        return b"", 0
    n = low.encode("latin-1")
    v = value.encode("latin-1", "replace")
    return encode_field(n, v), len(n) + len(v) + 4


class ResponseEncoder:
    """Response heads from the message model's (name, value) str pairs, each field's
    encoding cached (as with :func:`.params.response_headers`: lower-case names, the
    connection-specific fields dropped), and whole heads too: a server answers many
    requests with the same head (its Date changes once a second)."""

    __slots__ = ("cache", "status", "heads")

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], tuple[bytes, int]] = {}
        self.status: dict[int, tuple[bytes, int]] = {}
        #: (status, *headers) -> (block, size as logged)
        self.heads: dict[tuple[Any, ...], tuple[bytes, int]] = {}

    def encode(self, status: int, headers: list[tuple[str, str]], prefix: bytes
               ) -> tuple[bytes, int]:
        key = (status, *headers)
        heads = self.heads
        hit = heads.get(key)
        if hit is None:
            hit = self._encode(status, headers)
            if len(heads) >= 64:
                heads.clear()
            heads[key] = hit
        if prefix:
            return prefix + hit[0], hit[1]
        return hit

    def _encode(self, status: int, headers: list[tuple[str, str]]) -> tuple[bytes, int]:
        st = self.status.get(status)
        if st is None:
            v = str(status).encode()
            st = self.status[status] = (encode_field(b":status", v), len(v) + 11)
        parts = [st[0]]
        size = st[1]
        cache = self.cache
        for h in headers:
            e = cache.get(h)
            if e is None:
                if len(cache) >= 4096:
                    cache.clear()
                e = cache[h] = _response_field(h[0], h[1])
            parts.append(e[0])
            size += e[1]
        return b"".join(parts), size


# -- streams ------------------------------------------------------------------------------------
class _Stream:
    __slots__ = ("send_win", "recv_win", "recv_open", "send_open", "unacked", "clen",
                 "got", "extra")

    def __init__(self, send_win: int, recv_win: int, recv_open: bool, clen: int = -1
                 ) -> None:
        self.send_win = send_win
        self.recv_win = recv_win
        self.recv_open = recv_open
        self.send_open = True
        self.unacked = 0
        self.clen = clen
        self.got = 0
        #: window granted beyond the initial one (tune.h2.fe.rxbuf share, limits.py)
        self.extra = 0


class LeanH2Server:
    """The server side of one HTTP/2 connection (see the module's docstring).  Its
    sending methods have the names and meaning of h2's ``H2Connection`` ones."""

    def __init__(self, mux: Any, local: dict[int, int], max_frame_size: int,
                 header_table_size: int) -> None:
        self.mux = mux
        self.local = {int(k): int(v) for k, v in local.items()}
        self.out: list[bytes] = []
        self.buf = b""
        self.preface = False
        self.got_settings = False
        self.closed = False
        self.highest_inbound_stream_id = 0
        self.streams: dict[int, _Stream] = {}
        # the peer's settings (what we send obeys)
        self.send_init = 65535
        self.max_outbound_frame_size = 16384
        self.conn_send = 65535
        # ours (what the peer sends obeys): a larger stream window applies at once (the
        # peer may use it as soon as it reads our SETTINGS), a smaller one once our
        # SETTINGS is acknowledged
        self.recv_init_acked = self.local.get(S_INITIAL_WINDOW_SIZE, 65535)
        self.recv_init = max(65535, self.recv_init_acked)
        self.max_in = max(max_frame_size, 16384)
        self.max_streams = self.local.get(S_MAX_CONCURRENT_STREAMS, 0) or (1 << 31)
        self.conn_recv = 65535
        self.conn_recv_max = 65535
        self.conn_unacked = 0
        self.settings_unacked = 0
        self.decoder = Decoder(header_table_size)
        self.encoder = StaticEncoder()
        self.rencoder = ResponseEncoder()
        #: request blocks already parsed: block -> (decoder.gen, parsed request)
        self.req_cache: dict[bytes, tuple[int, Any]] = {}
        # a header block being gathered from CONTINUATION frames
        self.cont_sid = 0
        self.cont_flags = 0
        self.cont_block: list[bytes] = []
        self.cont_len = 0
        # the last frame queued when it is a DATA frame (sid, index of its head in out)
        self.last_data = (0, -1)

    # -- output -------------------------------------------------------------------------------
    def initiate_connection(self) -> None:
        payload = b"".join(_setting.pack(k, v) for k, v in self.local.items())
        self.out.append(frame(SETTINGS, 0, 0, payload))
        self.settings_unacked += 1

    def increment_flow_control_window(self, n: int) -> None:
        """Open the connection's receive window by ``n`` beyond the protocol's 65535."""
        self.conn_recv += n
        self.conn_recv_max += n
        self.out.append(frame(WINDOW_UPDATE, 0, 0, _pack_u32(n)))

    def increment_stream_window(self, sid: int, n: int) -> None:
        """Open stream ``sid``'s receive window by ``n`` beyond the initial window, for
        the rest of its life (its share of tune.h2.fe.rxbuf: see limits.py)."""
        st = self.streams.get(sid)
        if st is None or not st.recv_open or n <= 0:
            return
        st.recv_win += n
        st.extra += n
        self.out.append(frame(WINDOW_UPDATE, 0, sid, _pack_u32(n)))
        self.last_data = (0, -1)

    def data_to_send(self) -> bytes:
        out = self.out
        if not out:
            return b""
        data = b"".join(out) if len(out) > 1 else out[0]
        out.clear()
        self.last_data = (0, -1)
        return data

    def local_flow_control_window(self, sid: int) -> int:
        st = self.streams.get(sid)
        if st is None or not st.send_open:
            raise StreamClosedError(sid)
        w = st.send_win
        c = self.conn_send
        return w if w < c else c

    def send_headers(self, sid: int, fields: list[tuple[bytes, bytes]],
                     end_stream: bool = False) -> None:
        st = self.streams.get(sid)
        if st is None or not st.send_open or self.closed:
            raise StreamClosedError(sid)
        self._send_block(sid, st, self.encoder.encode(fields), end_stream)

    def send_response(self, sid: int, status: int, headers: list[tuple[str, str]],
                      end_stream: bool) -> int:
        """A response head from str pairs; returns its size as logged."""
        st = self.streams.get(sid)
        if st is None or not st.send_open or self.closed:
            raise StreamClosedError(sid)
        enc = self.encoder
        prefix = b"\x20" if enc.size_update else b""
        enc.size_update = False
        block, size = self.rencoder.encode(status, headers, prefix)
        n = len(block)
        if n <= self.max_outbound_frame_size and not end_stream:
            # (_send_block's usual case)
            out = self.out
            out.append(_pack_head(n >> 16, n & 0xFFFF, HEADERS, F_END_HEADERS, sid))
            out.append(block)
            self.last_data = (0, -1)
        else:
            self._send_block(sid, st, block, end_stream)
        return size

    def _send_block(self, sid: int, st: _Stream, block: bytes, end_stream: bool) -> None:
        flags = F_END_STREAM if end_stream else 0
        n = len(block)
        mx = self.max_outbound_frame_size
        out = self.out
        if n <= mx:
            out.append(_pack_head(n >> 16, n & 0xFFFF, HEADERS, flags | F_END_HEADERS, sid))
            out.append(block)
        else:
            out.append(frame(HEADERS, flags, sid, block[:mx]))
            i = mx
            while i < n:
                chunk = block[i:i + mx]
                i += mx
                out.append(frame(CONTINUATION, F_END_HEADERS if i >= n else 0, sid, chunk))
        self.last_data = (0, -1)
        if end_stream:
            self._end_sending(sid, st)

    def send_data(self, sid: int, data: bytes) -> None:
        st = self.streams.get(sid)
        if st is None or not st.send_open or self.closed:
            raise StreamClosedError(sid)
        n = len(data)
        if n > st.send_win or n > self.conn_send or n > self.max_outbound_frame_size:
            raise ProtocolError("DATA beyond the flow-control window or frame size")
        st.send_win -= n
        self.conn_send -= n
        out = self.out
        self.last_data = (sid, len(out))
        out.append(_pack_head(n >> 16, n & 0xFFFF, DATA, 0, sid))
        out.append(data)

    def try_send_data(self, sid: int, data: bytes) -> bool:
        """:meth:`send_data` when the windows and the frame size allow all of ``data``
        in one frame; False (nothing sent) when they do not."""
        st = self.streams.get(sid)
        if st is None or not st.send_open:
            raise StreamClosedError(sid)
        n = len(data)
        if n > st.send_win or n > self.conn_send or n > self.max_outbound_frame_size:
            return False
        if self.closed:
            raise StreamClosedError(sid)
        st.send_win -= n
        self.conn_send -= n
        out = self.out
        self.last_data = (sid, len(out))
        out.append(_pack_head(n >> 16, n & 0xFFFF, DATA, 0, sid))
        out.append(data)
        return True

    def end_stream(self, sid: int) -> None:
        st = self.streams.get(sid)
        if st is None or not st.send_open or self.closed:
            raise StreamClosedError(sid)
        last_sid, at = self.last_data
        out = self.out
        if last_sid == sid and at == len(out) - 2:
            # END_STREAM on the DATA frame just queued
            n = len(out[at + 1])
            out[at] = _pack_head(n >> 16, n & 0xFFFF, DATA, F_END_STREAM, sid)
        else:
            out.append(_pack_head(0, 0, DATA, F_END_STREAM, sid))
        self.last_data = (0, -1)
        st.send_open = False  # (_end_sending)
        if not st.recv_open:
            del self.streams[sid]

    def _end_sending(self, sid: int, st: _Stream) -> None:
        st.send_open = False
        if not st.recv_open:
            del self.streams[sid]

    def reset_stream(self, sid: int, code: int) -> None:
        if self.streams.pop(sid, None) is None:
            raise StreamClosedError(sid)
        self.out.append(frame(RST_STREAM, 0, sid, _pack_u32(int(code))))
        self.last_data = (0, -1)

    def acknowledge_received_data(self, n: int, sid: int) -> None:
        """``n`` flow-controlled bytes of ``sid`` were consumed: WINDOW_UPDATEs as h2's
        window manager sends them (once half the window is consumed, or the window is
        empty and more than 1 KiB consumed)."""
        if self.closed:
            return
        self.conn_unacked += n
        inc = self._increment(self.conn_recv, self.conn_recv_max, self.conn_unacked)
        if inc:
            self.conn_recv += inc
            self.conn_unacked = 0
            self.out.append(frame(WINDOW_UPDATE, 0, 0, _pack_u32(inc)))
            self.last_data = (0, -1)
        st = self.streams.get(sid)
        if st is None or not st.recv_open:
            return
        st.unacked += n
        inc = self._increment(st.recv_win, self.recv_init + st.extra, st.unacked)
        if inc:
            st.recv_win += inc
            st.unacked = 0
            self.out.append(frame(WINDOW_UPDATE, 0, sid, _pack_u32(inc)))
            self.last_data = (0, -1)

    @staticmethod
    def _increment(window: int, size: int, done: int) -> int:
        if not done:
            return 0
        room = size - window
        if room <= 0:
            return 0
        if (window == 0 and done > min(1024, size // 4)) or done >= size // 2:
            return done if done < room else room
        return 0

    def close_connection(self, code: int = 0) -> None:
        if self.closed:
            return
        self.out.append(frame(GOAWAY, 0, 0, _pack_u32(self.highest_inbound_stream_id)
                              + _pack_u32(int(code))))
        self.closed = True

    def ping(self, payload: bytes) -> None:
        self.out.append(frame(PING, 0, 0, payload))
        self.last_data = (0, -1)

    # -- errors -------------------------------------------------------------------------------
    def _conn_error(self, code: int, why: str) -> ConnectionError_:
        self.close_connection(code)
        return ConnectionError_(code, why)

    def _stream_error(self, sid: int, code: int, known: bool) -> None:
        """RST_STREAM ``code``; the multiplexer hears of a stream it knew as reset."""
        self.streams.pop(sid, None)
        self.out.append(frame(RST_STREAM, 0, sid, _pack_u32(code)))
        self.last_data = (0, -1)
        self.mux._on_glitch()
        if known:
            self.mux._on_reset(sid)

    # -- input --------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Parse what arrived and call the multiplexer; raises ProtocolError on a
        connection error (the GOAWAY is then queued)."""
        if self.closed:
            return
        if self.buf:
            data = self.buf + data
            self.buf = b""
        pos = 0
        if not self.preface:
            if len(data) < 24:
                if not PREFACE.startswith(data):
                    raise self._conn_error(PROTOCOL_ERROR, "invalid connection preface")
                self.buf = data
                return
            if data[:24] != PREFACE:
                raise self._conn_error(PROTOCOL_ERROR, "invalid connection preface")
            self.preface = True
            pos = 24
        end = len(data)
        mux = self.mux
        streams = self.streams
        while end - pos >= 9:
            hi, lo, ftype, flags, sid = _unpack_head(data, pos)
            length = (hi << 16) | lo
            if length > self.max_in:
                raise self._conn_error(FRAME_SIZE_ERROR, "frame too large")
            nxt = pos + 9 + length
            if nxt > end:
                break
            payload = data[pos + 9:nxt]
            pos = nxt
            sid &= 0x7FFFFFFF
            if not self.got_settings:
                if ftype != SETTINGS or flags & F_ACK:
                    raise self._conn_error(PROTOCOL_ERROR, "the preface's SETTINGS missing")
                self.got_settings = True
            if self.cont_sid and ftype != CONTINUATION:
                raise self._conn_error(PROTOCOL_ERROR, "a header block was interrupted")
            if ftype == HEADERS:
                if flags & 0x2C == F_END_HEADERS and sid & 1:
                    # a whole block, neither padded nor with a priority (_headers' checks)
                    self._block(sid, flags, payload)
                else:
                    self._headers(sid, flags, payload)
            elif ftype == DATA:
                if sid == 0:
                    raise self._conn_error(PROTOCOL_ERROR, "DATA on stream 0")
                n = length
                if flags & F_PADDED:
                    if not payload or payload[0] >= length:
                        raise self._conn_error(PROTOCOL_ERROR, "bad padding")
                    payload = payload[1:length - payload[0]]
                self.conn_recv -= n
                if self.conn_recv < 0:
                    raise self._conn_error(FLOW_CONTROL_ERROR, "connection window exceeded")
                st = streams.get(sid)
                ended = bool(flags & F_END_STREAM)
                if st is None or not st.recv_open:
                    if sid > self.highest_inbound_stream_id:
                        raise self._conn_error(PROTOCOL_ERROR, "DATA on an idle stream")
                    # a stream we closed or reset: its bytes still count for the connection
                    self.acknowledge_received_data(n, 0)
                    if st is not None:
                        self._stream_error(sid, STREAM_CLOSED, True)
                    continue
                st.recv_win -= n
                if st.recv_win < 0:
                    self.acknowledge_received_data(n, 0)
                    self._stream_error(sid, FLOW_CONTROL_ERROR, True)
                    continue
                if st.clen >= 0:
                    st.got += len(payload)
                    if st.got > st.clen or (ended and st.got != st.clen):
                        self.acknowledge_received_data(n, 0)
                        self._stream_error(sid, PROTOCOL_ERROR, True)
                        continue
                if ended:
                    st.recv_open = False
                    if not st.send_open:
                        del streams[sid]
                mux._on_data(sid, payload, n, ended)
                if ended and not mux.closed:
                    mux._on_end(sid)
            elif ftype == WINDOW_UPDATE:
                self._window_update(sid, length, payload)
            elif ftype == SETTINGS:
                self._settings(sid, flags, length, payload)
            elif ftype == RST_STREAM:
                if length != 4:
                    raise self._conn_error(FRAME_SIZE_ERROR, "RST_STREAM of bad size")
                if sid == 0 or sid > self.highest_inbound_stream_id:
                    raise self._conn_error(PROTOCOL_ERROR, "RST_STREAM on an idle stream")
                if streams.pop(sid, None) is not None:
                    mux._on_reset(sid)
            elif ftype == PING:
                if length != 8:
                    raise self._conn_error(FRAME_SIZE_ERROR, "PING of bad size")
                if sid:
                    raise self._conn_error(PROTOCOL_ERROR, "PING on a stream")
                if flags & F_ACK:
                    mux._on_ping_ack()
                else:
                    self.out.append(frame(PING, F_ACK, 0, payload))
                    self.last_data = (0, -1)
            elif ftype == PRIORITY:
                if sid == 0:
                    raise self._conn_error(PROTOCOL_ERROR, "PRIORITY on stream 0")
                if length != 5:
                    self._stream_error(sid, FRAME_SIZE_ERROR, sid in streams)
                elif _unpack_u32(payload)[0] & 0x7FFFFFFF == sid:
                    self._stream_error(sid, PROTOCOL_ERROR, sid in streams)
            elif ftype == CONTINUATION:
                self._continuation(sid, flags, payload)
            elif ftype == GOAWAY:
                if sid:
                    raise self._conn_error(PROTOCOL_ERROR, "GOAWAY on a stream")
                if length < 8:
                    raise self._conn_error(FRAME_SIZE_ERROR, "GOAWAY too short")
                mux._on_goaway()
            elif ftype == PUSH_PROMISE:
                raise self._conn_error(PROTOCOL_ERROR, "PUSH_PROMISE from a client")
            # (frames of unknown types are ignored)
            if mux.closed or self.closed:
                return
        if pos < end:
            self.buf = data[pos:]

    def _window_update(self, sid: int, length: int, payload: bytes) -> None:
        if length != 4:
            raise self._conn_error(FRAME_SIZE_ERROR, "WINDOW_UPDATE of bad size")
        inc = _unpack_u32(payload)[0] & 0x7FFFFFFF
        if sid == 0:
            if inc == 0:
                raise self._conn_error(PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self.conn_send += inc
            if self.conn_send > MAX_WINDOW:
                raise self._conn_error(FLOW_CONTROL_ERROR, "connection window overflow")
            self.mux._on_window(0)
            return
        st = self.streams.get(sid)
        if st is None:
            if sid > self.highest_inbound_stream_id:
                raise self._conn_error(PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream")
            return  # a closed stream
        if inc == 0:
            self._stream_error(sid, PROTOCOL_ERROR, True)
            return
        st.send_win += inc
        if st.send_win > MAX_WINDOW:
            self._stream_error(sid, FLOW_CONTROL_ERROR, True)
            return
        self.mux._on_window(sid)

    def _settings(self, sid: int, flags: int, length: int, payload: bytes) -> None:
        if sid:
            raise self._conn_error(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & F_ACK:
            if length:
                raise self._conn_error(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            if self.settings_unacked:
                self.settings_unacked -= 1
                delta = self.recv_init_acked - self.recv_init
                if delta:
                    self.recv_init = self.recv_init_acked
                    for st in self.streams.values():
                        st.recv_win += delta
            return
        if length % 6:
            raise self._conn_error(FRAME_SIZE_ERROR, "SETTINGS of bad size")
        window_changed = False
        for i in range(0, length, 6):
            key, value = _setting.unpack_from(payload, i)
            if key == S_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise self._conn_error(FLOW_CONTROL_ERROR, "initial window too large")
                delta = value - self.send_init
                self.send_init = value
                for st in self.streams.values():
                    st.send_win += delta
                    if st.send_win > MAX_WINDOW:
                        raise self._conn_error(FLOW_CONTROL_ERROR, "window overflow")
                window_changed = window_changed or delta != 0
            elif key == S_MAX_FRAME_SIZE:
                if not 16384 <= value <= 16777215:
                    raise self._conn_error(PROTOCOL_ERROR, "bad SETTINGS_MAX_FRAME_SIZE")
                self.max_outbound_frame_size = value
            elif key == S_ENABLE_PUSH:
                if value > 1:
                    raise self._conn_error(PROTOCOL_ERROR, "bad SETTINGS_ENABLE_PUSH")
            elif key == S_HEADER_TABLE_SIZE:
                # we never index: a size update to 0 keeps the peer's decoder in step
                self.encoder.size_update = True
        self.out.append(frame(SETTINGS, F_ACK, 0))
        self.last_data = (0, -1)
        if window_changed:
            self.mux._on_window(0)

    # -- header blocks ------------------------------------------------------------------------
    def _headers(self, sid: int, flags: int, payload: bytes) -> None:
        if sid == 0 or not sid & 1:
            raise self._conn_error(PROTOCOL_ERROR, "HEADERS on a bad stream id")
        if flags & (F_PADDED | F_PRIORITY):
            start = 0
            stop = len(payload)
            if flags & F_PADDED:
                if not payload or payload[0] >= len(payload):
                    raise self._conn_error(PROTOCOL_ERROR, "bad padding")
                stop -= payload[0]
                start = 1
            if flags & F_PRIORITY:
                if stop - start < 5:
                    raise self._conn_error(FRAME_SIZE_ERROR, "HEADERS too short")
                dep = _unpack_u32(payload, start)[0] & 0x7FFFFFFF
                start += 5
                if dep == sid:
                    # the block is still decoded: the HPACK state goes on
                    flags |= 0x100
            payload = payload[start:stop]
        if not flags & F_END_HEADERS:
            self.cont_sid = sid
            self.cont_flags = flags
            self.cont_block = [payload]
            self.cont_len = len(payload)
            return
        self._block(sid, flags, payload)

    def _continuation(self, sid: int, flags: int, payload: bytes) -> None:
        if not self.cont_sid or sid != self.cont_sid:
            raise self._conn_error(PROTOCOL_ERROR, "unexpected CONTINUATION")
        self.cont_len += len(payload)
        if self.cont_len > MAX_BLOCK:
            raise self._conn_error(ENHANCE_YOUR_CALM, "header block too large")
        self.cont_block.append(payload)
        if flags & F_END_HEADERS:
            block = b"".join(self.cont_block)
            self.cont_sid = 0
            self.cont_block = []
            self._block(sid, self.cont_flags, block)

    def _block(self, sid: int, flags: int, block: bytes) -> None:
        ended = bool(flags & F_END_STREAM)
        dec = self.decoder
        if sid > self.highest_inbound_stream_id:
            hit = self.req_cache.get(block)
            if hit is not None and hit[0] == dec.gen:
                self._new_stream(sid, flags, ended, hit[1])
                return
        try:
            raw = dec.decode(block)
        except OversizedBlock as e:
            raise self._conn_error(ENHANCE_YOUR_CALM, str(e)) from e
        except HPACKError as e:
            raise self._conn_error(COMPRESSION_ERROR, str(e)) from e
        streams = self.streams
        st = streams.get(sid)
        if sid <= self.highest_inbound_stream_id:
            if st is None:
                # a stream we reset or closed (its block is decoded all the same)
                return
            if not st.recv_open:
                self._stream_error(sid, STREAM_CLOSED, True)
                return
            # trailers
            if not ended or _invalid(raw):
                self._stream_error(sid, PROTOCOL_ERROR, True)
                return
            if st.clen >= 0 and st.got != st.clen:
                self._stream_error(sid, PROTOCOL_ERROR, True)
                return
            st.recv_open = False
            if not st.send_open:
                del streams[sid]
            self.mux._on_trailers(sid, [(n, v) for n, v, _ok in raw])
            if not self.mux.closed:
                self.mux._on_end(sid)
            return
        req = _request(raw)
        if len(self.req_cache) >= 64:
            self.req_cache.clear()
        self.req_cache[block] = (dec.gen, req)
        self._new_stream(sid, flags, ended, req)

    def _new_stream(self, sid: int, flags: int, ended: bool, req: Any) -> None:
        self.highest_inbound_stream_id = sid
        streams = self.streams
        if flags & 0x100 or req is None:
            self._stream_error(sid, PROTOCOL_ERROR, False)
            return
        if len(streams) >= self.max_streams:
            self._stream_error(sid, REFUSED_STREAM, False)
            return
        method, scheme, authority, path, headers, has_host, size, clen = req
        if ended and clen > 0:
            self._stream_error(sid, PROTOCOL_ERROR, False)
            return
        streams[sid] = _Stream(self.send_init, self.recv_init, not ended, clen)
        self.mux._on_request_head(sid, method, scheme, authority, path, list(headers),
                                  has_host, size, ended)


def _invalid(raw: Any) -> bool:
    """A field of a trailer block is not acceptable."""
    for n, v, ok in raw:
        if not ok or n[0] == ":" or n in _CONN_FIELDS or (n == "te" and v != "trailers"):
            return True
    return False


def _request(raw: Any) -> tuple[Any, ...] | None:
    """(method, scheme, authority, path, headers, has_host, size, content-length) of a
    request block (headers: the regular fields; content-length -1: none; size: name +
    value + 4 per field), or None when the request is malformed."""
    out = []
    seen: set[str] = set()
    regular = False
    has_host = False
    method = path = scheme = authority = None
    clen = -1
    size = 0
    for n, v, ok in raw:
        if not ok:
            return None
        size += len(n) + len(v) + 4
        if n[0] == ":":
            if regular or n not in _REQ_PSEUDO or n in seen:
                return None
            seen.add(n)
            if n == ":method":
                method = v
            elif n == ":path":
                path = v
            elif n == ":authority":
                authority = v
            else:
                scheme = v
            continue
        regular = True
        if n in _CONN_FIELDS:
            return None
        if n == "host":
            has_host = True
        elif n == "te":
            if v != "trailers":
                return None
        elif n == "content-length":
            if not (v.isascii() and v.isdigit()):
                return None
            c = int(v)
            if clen >= 0 and c != clen:
                return None
            clen = c
        out.append((n, v))
    if method is None:
        return None
    if method == "CONNECT":
        if path is not None or scheme is not None or authority is None:
            return None
    elif not path or scheme is None:
        return None
    return (method, scheme or "", authority or "", path or "", tuple(out), has_host, size,
            clen)
