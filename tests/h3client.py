"""A small HTTP/3 client on aioquic's public API, for the tests: requests with streamed
bodies (the upload is fed as flow control lets it go, the download checked as it comes),
an optional delay line on received datagrams (20 ms, standing in for ``tc netem`` when the
kernel has no netem), and what the client observed of the upload: the most stream bytes in
flight (sent, not yet acknowledged) and the largest window the server granted."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamReset


@dataclass
class H3Response:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    body_len: int = 0
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    reset: int | None = None
    #: interim (1xx) responses received before the final one
    interim: list[list[tuple[bytes, bytes]]] = field(default_factory=list)
    #: upload observations
    max_in_flight: int = 0
    max_window: int = 0
    upload_seconds: float = 0.0

    @property
    def status(self) -> int:
        return int(dict(self.headers).get(b":status", b"0"))

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n == name.lower().encode():
                return v.decode("latin-1")
        return None


class H3Client(QuicConnectionProtocol):
    """One HTTP/3 connection; ``delay`` seconds are added to every received datagram."""

    delay = 0.0

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.h3 = H3Connection(self._quic)
        self.waiters: dict[int, tuple[asyncio.Future, H3Response, Any]] = {}
        self.progress = asyncio.Event()
        self.terminated: ConnectionTerminated | None = None

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        if self.delay:
            self._loop.call_later(self.delay, self._received, data, addr)
        else:
            self._received(data, addr)

    def _received(self, data: bytes | str, addr: Any) -> None:
        super().datagram_received(data, addr)
        self.progress.set()  # (acknowledgements make no event, yet free the send buffer)

    def quic_event_received(self, event: Any) -> None:
        self.progress.set()
        if isinstance(event, ConnectionTerminated):
            self.terminated = event
            for fut, _r, _s in self.waiters.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(event.reason_phrase or "closed"))
        if isinstance(event, StreamReset) and event.stream_id in self.waiters:
            fut, resp, _ = self.waiters[event.stream_id]
            resp.reset = event.error_code
            if not fut.done():
                fut.set_result(resp)
        for ev in self.h3.handle_event(event):
            if ev.stream_id not in self.waiters:
                continue
            fut, resp, sink = self.waiters[ev.stream_id]
            if isinstance(ev, HeadersReceived):
                status = dict(ev.headers).get(b":status", b"")
                if not resp.headers and status[:1] == b"1":
                    resp.interim.append(ev.headers)  # an interim response (1xx)
                elif resp.headers:
                    resp.trailers += ev.headers
                else:
                    resp.headers += ev.headers
            elif isinstance(ev, DataReceived):
                resp.body_len += len(ev.data)
                if sink is None:
                    resp.body += ev.data
                else:
                    sink(ev.data)
            if getattr(ev, "stream_ended", False) and not fut.done():
                fut.set_result(resp)

    def _observe(self, sid: int, resp: H3Response) -> None:
        stream = self._quic._streams.get(sid)
        if stream is None:
            return
        sender = stream.sender
        in_flight = sender.highest_offset - sender._buffer_start
        resp.max_in_flight = max(resp.max_in_flight, in_flight)
        resp.max_window = max(resp.max_window,
                              stream.max_stream_data_remote - sender._buffer_start)

    async def request(self, method: str, path: str, *, authority: str = "www.hapx.test",
                      headers: list[tuple[str, str]] = (), body: bytes | None = None,
                      body_iter: Any = None, sink: Callable[[bytes], None] | None = None,
                      timeout: float = 60.0, end: bool = True) -> H3Response:
        """Send a request; ``body_iter`` pieces are written while at most 1 MiB waits in
        the client's send buffer; the response body goes to ``sink`` when given."""
        sid = self._quic.get_next_available_stream_id()
        fields = [(b":method", method.encode()), (b":scheme", b"https"),
                  (b":authority", authority.encode()), (b":path", path.encode())]
        fields += [(n.lower().encode(), v.encode()) for n, v in headers]
        has_body = body is not None or body_iter is not None
        self.h3.send_headers(sid, fields, end_stream=not has_body and end)
        fut = self._loop.create_future()
        resp = H3Response()
        self.waiters[sid] = (fut, resp, sink)
        self.transmit()
        if body is not None:
            self.h3.send_data(sid, body, end_stream=True)
            self.transmit()
        elif body_iter is not None:
            start = time.monotonic()
            for piece in body_iter:
                while True:
                    stream = self._quic._streams.get(sid)
                    if stream is None or len(stream.sender._buffer) < (1 << 20) or fut.done():
                        break
                    self.progress.clear()
                    self._observe(sid, resp)
                    await asyncio.wait_for(self.progress.wait(), timeout)
                if fut.done():
                    break
                self.h3.send_data(sid, piece, end_stream=False)
                self.transmit()
                self._observe(sid, resp)
            if not fut.done():
                self.h3.send_data(sid, b"", end_stream=True)
                self.transmit()
            while not fut.done() and sid in self._quic._streams and \
                    len(self._quic._streams[sid].sender._buffer):
                self.progress.clear()
                self._observe(sid, resp)
                await asyncio.wait_for(self.progress.wait(), timeout)
            resp.upload_seconds = time.monotonic() - start
        return await asyncio.wait_for(fut, timeout)

    def reset(self, sid: int) -> None:
        """Cancel a request: STOP_SENDING (and RESET_STREAM while still sending)."""
        self._quic.stop_stream(sid, 0x10C)  # H3_REQUEST_CANCELLED
        try:
            self._quic.reset_stream(sid, 0x10C)
        except Exception:  # noqa: BLE001 - the request was sent whole already
            pass
        self.transmit()


def client_config(cafile: str | None, server_name: str = "www.hapx.test") -> QuicConfiguration:
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=server_name,
                            idle_timeout=10.0)
    if cafile:
        cfg.load_verify_locations(cafile)
    else:
        cfg.verify_mode = ssl.CERT_NONE
    return cfg


def h3_connect(port: int, cafile: str | None = None, server_name: str = "www.hapx.test",
               delay: float = 0.0, host: str = "127.0.0.1") -> Any:
    """``async with h3_connect(port, ca) as client:`` (an :class:`H3Client`)."""
    cls = type("DelayedH3Client", (H3Client,), {"delay": delay}) if delay else H3Client
    return connect(host, port, configuration=client_config(cafile, server_name),
                   create_protocol=cls)


async def wait_quic(port: int, cafile: str | None, deadline: float = 10.0,
                    server_name: str = "www.hapx.test", host: str = "127.0.0.1") -> None:
    """UDP has no connection refused: retry a handshake until the listener answers."""
    end = time.monotonic() + deadline
    while True:
        cfg = client_config(cafile, server_name)
        cfg.idle_timeout = 1.0
        try:
            async with connect(host, port, configuration=cfg,
                               create_protocol=H3Client, wait_connected=True):
                return
        except (TimeoutError, ConnectionError, OSError):
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.1)
