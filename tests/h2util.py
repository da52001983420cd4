"""A raw HTTP/2 client for the tests (h2 library over a blocking socket): it sends what a
test wants frame by frame and reads events with a deadline, and it can stop reading (to
leave PINGs unanswered)."""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


class RawH2:
    """One client connection; ``events`` keeps every event received."""

    def __init__(self, port: int, *, host: str = "127.0.0.1",
                 ctx: ssl.SSLContext | None = None, server_hostname: str | None = None,
                 settings: dict[int, int] | None = None) -> None:
        sock = socket.create_connection((host, port), timeout=5)
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_hostname=server_hostname or host)
        self.sock = sock
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.events: list[Any] = []
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: list[tuple[str, str]] | None = None, end: bool = True) -> int:
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "http"), (":authority", "h2.test"),
                (":path", path)] + list(headers or [])
        self.conn.send_headers(sid, hdrs, end_stream=end and not body)
        if body:
            self.conn.send_data(sid, body, end_stream=end)
        self.flush()
        return sid

    def read_once(self, timeout: float) -> bool:
        """Read what arrives within ``timeout``; False once the peer closed."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        evs = self.conn.receive_data(data)
        for ev in evs:
            if isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        self.events.extend(evs)
        self.flush()
        return True

    def wait(self, pred: Any, timeout: float = 5.0) -> Any:
        """Read until ``pred(events)`` is true (returned) or the deadline (AssertionError)."""
        deadline = time.monotonic() + timeout
        while True:
            got = pred(self.events)
            if got:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such event; got {self.events!r}")
            if not self.read_once(min(left, 0.2)) and not pred(self.events):
                raise AssertionError(f"connection closed; got {self.events!r}")

    def response(self, sid: int, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
        """Wait for stream ``sid`` to end: (status, headers, body)."""
        self.wait(lambda evs: any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))
                                  and e.stream_id == sid for e in evs), timeout)
        status, headers, body = 0, {}, b""
        for e in self.events:
            if getattr(e, "stream_id", None) != sid:
                continue
            if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                for n, v in e.headers:
                    if n == ":status":
                        status = int(v)
                    else:
                        headers[n] = v
            elif isinstance(e, h2.events.DataReceived):
                body += e.data
        return status, headers, body

    def wait_closed(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the connection stayed open")
            self.read_once(min(left, 0.2))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def read_frames(sock: socket.socket, until: Any, timeout: float = 5.0) -> list[Any]:
    """Frames as they arrive (hyperframe objects, not interpreted), until ``until(frames)``
    or the peer closes; AssertionError at the deadline."""
    from hyperframe.frame import Frame

    buf = b""
    frames: list[Any] = []
    deadline = time.monotonic() + timeout
    while not until(frames):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"frames so far: {frames!r}")
        sock.settimeout(min(left, 0.2))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            data = b""
        if not data:
            frames.append(None)  # the peer closed
            return frames
        buf += data
        while len(buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            frames.append(frame)
    return frames


class H2Origin:
    """An HTTP/2 origin server in a thread, with the h2 library: h2c (prior knowledge),
    or over TLS with ``ssl_ctx`` (which should offer ALPN h2).

    ``GET /size/<n>``: n generated bytes; ``POST`` anything: answers with the body's length
    and its bytes echoed when ``/echo``; ``/grpc/...``: a gRPC-like answer (content-type
    application/grpc, one length-prefixed message echoing the request's, then trailers
    grpc-status 0 and grpc-message); other paths: "h2 ok\\n".  Every response has
    ``x-h2-conn: <n>`` (the connection number).  A POST to ``/pattern…`` records in
    ``pattern_ok`` whether its body is ``netutil.pattern`` (the body is not kept).  ``connections``, ``streams`` and
    ``max_concurrent`` count what it saw, ``open`` the connections open now; ``pings``
    counts PINGs received; ``answer_pings`` False makes it ignore every frame (no PING is
    acknowledged)."""

    def __init__(self, max_streams: int = 100, delay: float = 0.0,
                 ssl_ctx: ssl.SSLContext | None = None) -> None:
        import asyncio
        import threading

        #: with ``ssl_ctx``: TLS (its ALPN list offered); ``alpns`` lists what each
        #: connection negotiated
        self.ssl_ctx = ssl_ctx
        self.alpns: list[str | None] = []

        self.max_streams = max_streams
        self.delay = delay
        self.connections = 0
        #: connections currently open
        self.open = 0
        self.streams = 0
        self.active = 0
        self.max_concurrent = 0
        #: the most streams in progress at once on one connection
        self.max_per_conn = 0
        self.pings = 0
        self.answer_pings = True
        self.requests: list[dict[str, Any]] = []
        self.protos: set[Any] = set()
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.server: Any = None

    def __enter__(self) -> H2Origin:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def close_connections(self) -> None:
        """Close every open connection (as a server ending idle connections does)."""
        def close() -> None:
            for p in list(self.protos):
                p.transport.close()
        self.loop.call_soon_threadsafe(close)

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            self.loop.create_server(lambda: _H2OriginProto(self), sock=self.sock,
                                    ssl=self.ssl_ctx))
        self.loop.run_forever()
        self.server.close()


class _H2OriginProto:
    def __init__(self, origin: H2Origin) -> None:
        import asyncio

        self.origin = origin
        origin.connections += 1
        origin.open += 1
        self.num = origin.connections
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(cfg)
        self.bodies: dict[int, bytearray] = {}
        self.active = 0
        self.heads: dict[int, dict[str, str]] = {}
        self.pending: dict[int, Any] = {}
        self.transport: Any = None
        self.asyncio = asyncio

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.origin.protos.add(self)
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self.origin.alpns.append(tls.selected_alpn_protocol())
        self.conn.local_settings = h2.settings.Settings(
            client=False, initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.origin.max_streams})
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def connection_lost(self, exc: Any) -> None:
        self.origin.open -= 1
        self.origin.protos.discard(self)

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        o = self.origin
        if not o.answer_pings:
            return  # read and ignored: no PING is acknowledged any more
        try:
            events = self.conn.receive_data(data)
        except Exception:  # noqa: BLE001 - a broken peer: drop it
            self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.PingReceived):
                o.pings += 1
            elif isinstance(ev, h2.events.RequestReceived):
                self.heads[ev.stream_id] = dict(ev.headers)
                self.bodies[ev.stream_id] = bytearray()
                o.streams += 1
                o.active += 1
                o.max_concurrent = max(o.max_concurrent, o.active)
                self.active += 1
                o.max_per_conn = max(o.max_per_conn, self.active)
            elif isinstance(ev, h2.events.DataReceived):
                self.bodies[ev.stream_id] += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                self.heads[ev.stream_id].update({"trailer:" + k: v for k, v in ev.headers})
            elif isinstance(ev, h2.events.StreamEnded):
                self._answer(ev.stream_id)
            elif isinstance(ev, h2.events.WindowUpdated):
                for sid in list(self.pending):
                    self._push(sid)
            elif isinstance(ev, h2.events.StreamReset):
                self.pending.pop(ev.stream_id, None)
        self.transport.write(self.conn.data_to_send())

    def _answer(self, sid: int) -> None:
        if self.origin.delay:
            self.asyncio.get_running_loop().call_later(self.origin.delay, self._answer_now, sid)
        else:
            self._answer_now(sid)

    def _answer_now(self, sid: int) -> None:
        from netutil import check_pattern, pattern

        o = self.origin
        head = self.heads.pop(sid, {})
        body = bytes(self.bodies.pop(sid, b""))
        path = head.get(":path", "/")
        entry = {**head, "body_len": len(body), "conn": self.num}
        if path.startswith("/pattern"):
            # a body checked against netutil.pattern (not kept: it may be large)
            entry["pattern_ok"] = check_pattern(body)
            body = b""
        o.requests.append(entry)
        o.active -= 1
        self.active -= 1
        trailers = None
        hdrs = [("x-h2-conn", str(self.num))]
        if path.startswith("/grpc/"):
            out = body  # echo the length-prefixed message
            hdrs += [("content-type", "application/grpc")]
            trailers = [("grpc-status", "0"), ("grpc-message", "echoed")]
        elif path.startswith("/size/"):
            out = pattern(int(path[6:]))
            hdrs += [("content-length", str(len(out)))]
        elif head.get(":method") == "POST":
            out = body if path == "/echo" else f"{entry['body_len']}\n".encode()
            hdrs += [("content-length", str(len(out)))]
        else:
            out = b"h2 ok\n"
            hdrs += [("content-length", str(len(out)))]
        self.conn.send_headers(sid, [(":status", "200")] + hdrs)
        self.pending[sid] = memoryview(out)
        self._trailers = getattr(self, "_trailers", {})
        self._trailers[sid] = trailers
        self._push(sid)
        self.transport.write(self.conn.data_to_send())

    def _push(self, sid: int) -> None:
        data = self.pending.get(sid)
        if data is None:
            return
        try:
            while data:
                n = min(self.conn.local_flow_control_window(sid),
                        self.conn.max_outbound_frame_size, len(data))
                if n <= 0:
                    break
                self.conn.send_data(sid, bytes(data[:n]))
                data = data[n:]  # a memoryview: no copy of the rest
            if data:
                self.pending[sid] = data
                return
            del self.pending[sid]
            trailers = self._trailers.pop(sid, None)
            if trailers:
                self.conn.send_headers(sid, trailers, end_stream=True)
            else:
                self.conn.end_stream(sid)
        except h2.exceptions.StreamClosedError:
            self.pending.pop(sid, None)
