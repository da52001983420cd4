"""HTTP/2 settings from the global ``tune.h2.*`` keywords and header conversions between
the message model (latin-1 ``str`` pairs, any case) and HTTP/2 header blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame

#: headers HTTP/2 forbids (connection-specific) and the HTTP/1 framing ones
_DROP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                   "upgrade", "host"})
_DROP_RES = _DROP - {"host"}


#: HAProxy's default tune.h2.fe.rxbuf and tune.h2.be.rxbuf (100 buffers of 16 kB)
DEFAULT_RXBUF = 1600 * 1024
#: the largest flow-control window HTTP/2 allows
MAX_WINDOW = 2**31 - 1


def _rxbuf(value: Any, bufsize: int) -> int:
    """An rxbuf setting rounded up to a multiple of tune.bufsize (as HAProxy), at least one
    buffer and at most the largest window."""
    size = int(value) if value else DEFAULT_RXBUF
    size = -(-size // bufsize) * bufsize
    return max(bufsize, min(size, MAX_WINDOW))


@dataclass(frozen=True)
class H2Params:
    """What one side (frontend or backend) of the HTTP/2 data path announces and enforces."""

    header_table_size: int = 4096
    fe_initial_window: int = 65535
    be_initial_window: int = 65535
    fe_max_streams: int = 100
    be_max_streams: int = 100
    max_frame_size: int = 16384
    fe_glitches: int = 0
    be_glitches: int = 0
    #: the connection window grows by this much beyond the 65535 of the protocol
    fe_conn_window_extra: int = 0
    #: idle-ping of the bind line (ms, 0: none)
    fe_idle_ping: int = 0
    #: tune.h2.fe.max-total-streams (0: no limit): GOAWAY once that many streams came
    fe_max_total_streams: int = 0
    #: tune.h2.fe.rxbuf / tune.h2.be.rxbuf: the receive budget of one connection (bytes)
    fe_rxbuf: int = DEFAULT_RXBUF
    be_rxbuf: int = DEFAULT_RXBUF
    #: tune.bufsize: the smallest share of the budget one stream gets
    bufsize: int = 16384

    @classmethod
    def from_global(cls, gset: dict[str, Any], bind: Any = None) -> H2Params:
        def num(*names: str, default: int) -> int:
            for n in names:
                v = gset.get(n)
                if v is not None:
                    return int(v)
            return default

        fe_win = num("tune.h2.fe.initial-window-size", "tune.h2.initial-window-size",
                     default=65535)
        ping = 0
        if bind is not None:
            ping = int(bind.opt("idle-ping") or 0)
        bufsize = int(gset.get("tune.bufsize") or 16384)
        fe_rxbuf = _rxbuf(gset.get("tune.h2.fe.rxbuf"), bufsize)
        return cls(
            header_table_size=num("tune.h2.header-table-size", default=4096),
            fe_initial_window=fe_win,
            be_initial_window=num("tune.h2.be.initial-window-size",
                                  "tune.h2.initial-window-size", default=65535),
            fe_max_streams=num("tune.h2.fe.max-concurrent-streams",
                               "tune.h2.max-concurrent-streams", default=100),
            be_max_streams=num("tune.h2.be.max-concurrent-streams",
                               "tune.h2.max-concurrent-streams", default=100),
            max_frame_size=num("tune.h2.max-frame-size", default=16384),
            fe_glitches=num("tune.h2.fe.glitches-threshold", default=0),
            be_glitches=num("tune.h2.be.glitches-threshold", default=0),
            # the connection's receive budget (tune.h2.fe.rxbuf) is its window
            fe_conn_window_extra=max(0, fe_rxbuf - 65535),
            fe_idle_ping=ping,
            fe_max_total_streams=num("tune.h2.fe.max-total-streams", default=0),
            fe_rxbuf=fe_rxbuf,
            be_rxbuf=_rxbuf(gset.get("tune.h2.be.rxbuf"), bufsize),
            bufsize=bufsize,
        )

    def stream_share(self, frontend: bool, receiving: int) -> int:
        """The window one of ``receiving`` streams receiving a body may have: an equal
        share of the connection's rxbuf, at least one buffer and at least the initial
        window (HAProxy divides tune.h2.fe/be.rxbuf between the active streams)."""
        rxbuf = self.fe_rxbuf if frontend else self.be_rxbuf
        initial = self.fe_initial_window if frontend else self.be_initial_window
        share = rxbuf // max(1, receiving)
        share -= share % self.bufsize
        return max(share, self.bufsize, initial)

    def local(self, frontend: bool) -> dict[int, int]:
        """The SETTINGS this side sends."""
        out = {
            SettingCodes.HEADER_TABLE_SIZE: self.header_table_size,
            SettingCodes.INITIAL_WINDOW_SIZE: (self.fe_initial_window if frontend
                                               else self.be_initial_window),
            SettingCodes.MAX_FRAME_SIZE: self.max_frame_size,
            SettingCodes.ENABLE_PUSH: 0,
        }
        streams = self.fe_max_streams if frontend else self.be_max_streams
        total = self.fe_max_total_streams
        if frontend and total and (not streams or total < streams):
            # a connection that will serve no more than this many streams in its life
            streams = total
        if frontend and streams:
            out[SettingCodes.MAX_CONCURRENT_STREAMS] = streams
        return out


def encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Trailers or plain fields as an HTTP/2 block (lower-case names)."""
    return [(n.lower().encode("latin-1"), v.encode("latin-1", "replace"))
            for n, v in headers if n.lower() not in _DROP_RES]


def response_headers(status: int, headers: list[tuple[str, str]]
                     ) -> list[tuple[bytes, bytes]]:
    """A response head as an HTTP/2 block: ``:status`` then the fields HTTP/2 allows."""
    out = [(b":status", str(status).encode())]
    for n, v in headers:
        low = n.lower()
        if low in _DROP_RES:
            continue
        if low == "te" and v.strip().lower() != "trailers":
            continue
        out.append((low.encode("latin-1"), v.encode("latin-1", "replace")))
    return out


def request_headers(method: str, uri: str, headers: list[tuple[str, str]],
                    scheme: str = "https") -> list[tuple[bytes, bytes]]:
    """A request head as an HTTP/2 block: the pseudo-headers from the request line.  An
    absolute URI gives ``:scheme`` and ``:authority`` (the Host header is dropped); an
    origin-form one (an HTTP/1 request) has no ``:authority`` and keeps its Host header,
    with ``:scheme`` https, as HAProxy sends them."""
    authority = None
    path = uri
    absolute = not uri.startswith("/") and "://" in uri
    if absolute:
        scheme, rest = uri.split("://", 1)
        slash = rest.find("/")
        authority, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    host = None
    fields: list[tuple[bytes, bytes]] = []
    for n, v in headers:
        low = n.lower()
        if low == "host":
            host = v
            if not absolute and method != "CONNECT":
                fields.append((b"host", v.encode("latin-1", "replace")))
            continue
        if low in _DROP:
            continue
        if low == "te" and v.strip().lower() != "trailers":
            continue
        fields.append((low.encode("latin-1"), v.encode("latin-1", "replace")))
    if authority is None and method == "CONNECT":
        authority = host
    out = [(b":method", method.encode()), (b":scheme", scheme.encode())]
    if method == "CONNECT":
        out = [(b":method", b"CONNECT")]
    else:
        out.append((b":path", (path or "/").encode("latin-1")))
    if authority:
        out.append((b":authority", authority.encode("latin-1")))
    out.extend(fields)
    return out


def goaway(last_stream_id: int, code: int) -> bytes:
    """A GOAWAY frame, serialized."""
    f = GoAwayFrame(0)
    f.last_stream_id = last_stream_id
    f.error_code = code
    return f.serialize()
