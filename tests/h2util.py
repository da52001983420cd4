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
