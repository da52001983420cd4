"""Network test helpers: real servers and real processes for the data-path tests.

Import from tests as ``from netutil import ...`` (tests/ is on sys.path).

- ``free_port()`` / ``free_ports(n)``: ports on 127.0.0.1 nobody listens on right now.
- ``OriginServer``: an HTTP/1.1 origin in threads (one per connection) that counts connections
  and requests, records each request and serves ``Response``s per path or from a handler:
  any status/headers, content-length or chunked bodies of any size (generated, never held in
  memory), delays, close without answer, raw/malformed bytes, ``Connection: close``, 101
  upgrade then echo.
- ``TcpEchoServer``, ``TcpSinkServer`` (counts bytes, can send N bytes, can half-close).
- ``UdpSyslog``, ``TcpSyslog`` (RFC 6587 framing), ``UnixSyslog`` (unix datagram):
  ``wait_for(n, timeout)``.
- ``run_hapx(cfg_text, ...)`` / ``run_haproxy(cfg_text, ...)``: context managers starting the
  proxy as a real process in the foreground (``-db -f``), waiting until its ports listen,
  yielding a ``ProxyProcess`` and stopping it at the end (the test fails if it crashed).
- ``pattern(n, offset)`` / ``check_pattern(data, offset)``: the bytes generated bodies hold.
- ``raw_exchange(port, data)``: send raw bytes, read until the peer closes (or a timeout).
- ``recv_until_eof(sock)`` / ``recv_until(sock, marker)``: read a connected socket until the
  peer closes / until what was read ends with ``marker``.

Every wait here is bounded; nothing sleeps a fixed time to "let things settle".
"""

from __future__ import annotations

import abc
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- ports

# Under pytest-xdist every worker (PYTEST_XDIST_WORKER = "gw0", "gw1", ...) takes its ports
# from its own range below the kernel's ephemeral range (32768-60999 by default), so two
# workers can never be handed the same port, and no port the kernel picks for a bind(0) or
# an outgoing connection (those are ephemeral) can collide with one either.
_WORKER_BASE = 20000
_WORKER_SPAN = 1500
_worker_cursor: dict[int, int] = {}


def _xdist_worker() -> int | None:
    """This process's xdist worker number, or None when not running under xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    if name.startswith("gw") and name[2:].isdigit():
        return int(name[2:]) % ((32768 - _WORKER_BASE) // _WORKER_SPAN)
    return None


def _bindable(host: str, port: int) -> bool:
    """True when both a TCP and a UDP socket can bind ``host:port`` now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _worker_ports(worker: int, n: int, host: str) -> list[int]:
    """``n`` free ports from ``worker``'s range, cycling through it so a port just used
    (maybe still in TIME_WAIT) comes back last."""
    base = _WORKER_BASE + worker * _WORKER_SPAN
    ports: list[int] = []
    for _ in range(_WORKER_SPAN):
        offset = _worker_cursor.get(worker, 0)
        _worker_cursor[worker] = (offset + 1) % _WORKER_SPAN
        port = base + offset
        if port not in ports and _bindable(host, port):
            ports.append(port)
            if len(ports) == n:
                return ports
    raise OSError(f"no {n} free ports left in {base}-{base + _WORKER_SPAN - 1}")


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports that are free on ``host`` right now (also free for UDP
    as far as the kernel hands them out: ephemeral ports are chosen by bind(0)).  Under
    pytest-xdist, from this worker's own port range (see ``_WORKER_BASE``)."""
    worker = _xdist_worker()
    if worker is not None:
        return _worker_ports(worker, n, host)
    socks: list[socket.socket] = []
    try:
        ports: list[int] = []
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in ports:
                ports.append(port)
        return ports
    finally:
        for s in socks:
            s.close()


def free_port(host: str = "127.0.0.1") -> int:
    """One TCP port that is free on ``host`` right now."""
    return free_ports(1, host)[0]


# --------------------------------------------------------------------------- body patterns

_PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"  # 64 bytes
_BLOCK = _PATTERN * 1024  # 64 KiB


def pattern(n: int, offset: int = 0) -> bytes:
    """The ``n`` bytes of the generated body stream starting at ``offset``."""
    start = offset % len(_PATTERN)
    reps = (start + n) // len(_PATTERN) + 1
    return (_PATTERN * reps)[start:start + n]


def iter_pattern(n: int, chunk: int = 65536) -> Iterator[bytes]:
    """The generated body of ``n`` bytes in pieces of at most ``chunk`` bytes (a multiple
    of 64 keeps every piece identical, so nothing big is ever built)."""
    chunk = max(64, chunk - chunk % 64)
    block = (_BLOCK * (chunk // len(_BLOCK) + 1))[:chunk]
    sent = 0
    while sent < n:
        take = min(chunk, n - sent)
        yield block if take == chunk else block[:take]
        sent += take


def check_pattern(data: bytes, offset: int = 0) -> bool:
    """True if ``data`` is the generated stream from ``offset``."""
    return data == pattern(len(data), offset)


# --------------------------------------------------------------------------- small utilities

class WaitTimeout(AssertionError):
    """A bounded wait ran out."""


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005,
               message: str | Callable[[], str] = "condition not reached") -> Any:
    """Poll ``predicate`` until it returns a true value (returned) or ``timeout`` passes
    (raises WaitTimeout with ``message``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise WaitTimeout(f"{text} (after {timeout:g}s)")
        time.sleep(interval)


def raw_exchange(port: int, data: bytes, *, host: str = "127.0.0.1", timeout: float = 5.0,
                 shut_write: bool = False, until: bytes | None = None) -> bytes:
    """Connect, send ``data`` (optionally half-close), read until the peer closes, ``until``
    appears in what was read, or ``timeout`` passes.  Returns what was read."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                piece = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not piece:
                break
            out += piece
            if until is not None and until in out:
                break
        return bytes(out)


def recv_until_eof(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the peer sends until it closes its side (bounded by ``timeout`` per read)."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def recv_until(sock: socket.socket, marker: bytes, timeout: float = 30.0) -> bytes:
    """What the peer sends until it ends with ``marker`` (an interactive CLI's prompt, say);
    AssertionError when the peer closes first."""
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(marker):
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before {marker!r}: {data!r}")
        data += chunk
    return data


@dataclass
class RawResponse:
    """A parsed HTTP/1 response (from ``parse_response``)."""
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    rest: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default


class Incomplete(ValueError):
    """More bytes are needed to parse the response."""


def _parse_head(data: bytes) -> tuple[str, int, str, list[tuple[str, str]], bytes]:
    head, sep, after = data.partition(b"\r\n\r\n")
    if not sep:
        raise Incomplete(f"incomplete response head: {data[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    version, _, tail = lines[0].partition(" ")
    code, _, reason = tail.partition(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    return version, int(code), reason, headers, after


def _parse_chunked(data: bytes) -> tuple[bytes, list[tuple[str, str]], bytes]:
    body = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise Incomplete("incomplete chunk size")
        size = int(data[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            break
        if len(data) < pos + size + 2:
            raise Incomplete("incomplete chunk")
        body += data[pos:pos + size]
        pos += size + 2
    trailers = []
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise Incomplete("incomplete trailers")
        line = data[pos:eol].decode("latin-1")
        pos = eol + 2
        if not line:
            return bytes(body), trailers, data[pos:]
        name, _, value = line.partition(":")
        trailers.append((name, value.strip()))


def parse_response(data: bytes, *, head_request: bool = False, eof: bool = True,
                   interim: bool = False) -> RawResponse:
    """Parse one HTTP/1 response from ``data`` (content-length, chunked or read-to-close
    body).  Interim 1xx responses other than 101 are skipped unless ``interim``.  ``rest``
    holds what follows the response.  Raises Incomplete when ``data`` does not hold the
    whole response (a body delimited by the close needs ``eof``)."""
    while True:
        version, status, reason, headers, after = _parse_head(data)
        if 100 <= status < 200 and status != 101 and not interim:
            data = after
            continue
        break
    resp = RawResponse(version, status, reason, headers, b"")
    te = (resp.header("transfer-encoding") or "").lower()
    cl = resp.header("content-length")
    if head_request or status in (101, 204, 304) or status < 200:
        resp.rest = after
    elif "chunked" in te:
        resp.body, resp.trailers, resp.rest = _parse_chunked(after)
    elif cl is not None:
        n = int(cl)
        if len(after) < n:
            raise Incomplete(f"{len(after)} of {n} body bytes")
        resp.body, resp.rest = after[:n], after[n:]
    elif not eof:
        raise Incomplete("body delimited by the close")
    else:
        resp.body = after
    return resp


def read_response(sock: socket.socket, *, head_request: bool = False, timeout: float = 5.0,
                  buffer: bytearray | None = None, interim: bool = False) -> RawResponse:
    """Read one complete response from ``sock`` (keep-alive friendly: bytes after it stay in
    ``buffer`` when one is given, pass the same buffer to the next call).  Raises
    WaitTimeout, or Incomplete if the peer closes mid-response."""
    buf = buffer if buffer is not None else bytearray()
    deadline = time.monotonic() + timeout
    eof = False
    while True:
        if buf or eof:
            try:
                resp = parse_response(bytes(buf), head_request=head_request, eof=eof,
                                      interim=interim)
            except Incomplete:
                if eof:
                    raise
            else:
                buf[:] = resp.rest
                return resp
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"no complete response within {timeout:g}s: {bytes(buf[:300])!r}")
        sock.settimeout(left)
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            piece = b""
        if not piece:
            if not buf:
                raise Incomplete("connection closed before any response byte")
            eof = True
        buf += piece


# --------------------------------------------------------------------------- HTTP origin

@dataclass
class Request:
    """One request as the origin received it."""
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body_len: int = 0
    body: bytes = b""          # the first ``OriginServer.keep_body`` bytes of the body
    chunked: bool = False
    trailers: list[tuple[str, str]] = field(default_factory=list)
    conn_id: int = 0           # 1 for the first connection the server accepted, ...
    index: int = 0             # 0 for the first request on its connection
    peer: tuple[str, int] = ("", 0)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    def header_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]


Body = bytes | str | int | Iterable[bytes] | Callable[[], Iterable[bytes]] | None


@dataclass
class Response:
    """What the origin answers.

    ``body``: bytes/str, an int (that many generated ``pattern`` bytes, streamed), an
    iterable of bytes or a callable returning one.  ``chunked``: send it chunked
    (``chunk_size`` per chunk for generated bodies); otherwise a Content-Length is added
    unless ``headers`` has one or ``length=False`` (then the body ends with the close).
    ``delay_head``: seconds before the status line; ``delay_body``: seconds between the head
    and the body; ``chunk_delay``: seconds between body pieces.  ``close``: add
    ``Connection: close`` and close after the response.  ``action``: "respond" (default),
    "close" (close without answering), "reset" (close with a TCP RST), "raw" (send ``raw``
    bytes as they are, then close unless ``close=False``), "upgrade" (101, then echo every
    byte received until the peer closes).  A request's ``Expect: 100-continue`` is answered
    with a 100 before its body is read.  ``read_body=False``: answer without reading the
    request body (the connection closes after the answer).  ``truncate=N``: announce the
    whole body but send only its first N bytes (no last chunk), then close: an aborted
    response.
    """
    status: int = 200
    body: Body = b""
    headers: list[tuple[str, str]] | dict[str, str] = field(default_factory=list)
    reason: str | None = None
    chunked: bool = False
    chunk_size: int = 16384
    length: bool = True
    delay_head: float = 0.0
    delay_body: float = 0.0
    chunk_delay: float = 0.0
    close: bool = False
    action: str = "respond"
    raw: bytes = b""
    version: str = "HTTP/1.1"
    trailers: list[tuple[str, str]] = field(default_factory=list)
    read_body: bool = True
    truncate: int | None = None

    @classmethod
    def upgrade(cls, protocol: str = "websocket", **kw: Any) -> Response:
        return cls(status=101, action="upgrade",
                   headers=[("Connection", "Upgrade"), ("Upgrade", protocol)], **kw)


Handler = Callable[[Request], Response | None]

_REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
            204: "No Content", 206: "Partial Content", 301: "Moved Permanently", 302: "Found",
            304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
            413: "Payload Too Large", 429: "Too Many Requests",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


class _Closed(Exception):
    pass


class _Conn:
    """Buffered reading on a blocking socket."""

    def __init__(self, sock: socket.socket, stop: threading.Event):
        self.sock = sock
        self.buf = bytearray()
        self.stop = stop

    def _fill(self) -> None:
        while True:
            if self.stop.is_set():
                raise _Closed
            try:
                piece = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise _Closed from exc
            if not piece:
                raise _Closed
            self.buf += piece
            return

    def readline(self, limit: int = 65536) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                raise _Closed
            self._fill()

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (at least one)."""
        if not self.buf:
            self._fill()
        take = bytes(self.buf[:n])
        del self.buf[:len(take)]
        return take

    def read_any(self) -> bytes:
        if self.buf:
            data = bytes(self.buf)
            self.buf.clear()
            return data
        self._fill()
        return self.read_any()


class _ThreadedServer(abc.ABC):
    """A listening TCP socket on 127.0.0.1 with an accept thread and a thread per
    connection; counts connections.  Subclasses implement ``serve(conn_id, sock)``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, backlog: int = 128):
        self.host = host
        self._lsock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                    socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((host, port))
        self._lsock.listen(backlog)
        self.port: int = self._lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0          # accepted so far
        self.active = 0               # open right now
        self._stop = threading.Event()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"{type(self).__name__}:{self.port}")
        self._acceptor.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _peer = self._lsock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.active += 1
                conn_id = self.connections
                self._socks.add(sock)
            t = threading.Thread(target=self._run, args=(conn_id, sock), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, conn_id: int, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        try:
            self.serve(conn_id, sock)
        except (_Closed, OSError):
            pass
        finally:
            with self.lock:
                self.active -= 1
                self._socks.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()

    @abc.abstractmethod
    def serve(self, conn_id: int, sock: socket.socket) -> None:
        """Talk to one accepted client (runs in its own thread)."""

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up (raising _Closed) when the server closes."""
        if seconds > 0 and self._stop.wait(seconds):
            raise _Closed

    def wait_connections(self, n: int, timeout: float = 5.0) -> int:
        return wait_until(lambda: self.connections >= n and self.connections, timeout,
                          message=lambda: f"{self.connections} connections, wanted {n}")

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._lsock.shutdown(socket.SHUT_RDWR)
        self._lsock.close()
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(2)
        for t in self._threads:
            t.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut(pieces: Iterable[bytes], limit: int) -> Iterator[bytes]:
    left = limit
    for piece in pieces:
        if left <= 0:
            return
        yield piece[:left]
        left -= len(piece)


class OriginServer(_ThreadedServer):
    """An HTTP/1.1 origin server on 127.0.0.1:<ephemeral>.

    ``routes`` maps a path (the target without its query) to a Response or a handler;
    ``handler`` is asked for the others (None from it falls through); ``default`` answers
    the rest (200 "ok\\n").  Every response carries ``X-Origin: <name>`` unless
    ``tag=False``.  ``requests`` lists every Request received; ``connections`` counts
    accepted connections.  ``keep_body`` bounds the body bytes kept per request.
    """

    def __init__(self, routes: dict[str, Response | Handler] | None = None, *,
                 handler: Handler | None = None, default: Response | None = None,
                 name: str | None = None, tag: bool = True, keep_body: int = 1 << 20,
                 host: str = "127.0.0.1", port: int = 0):
        self.routes: dict[str, Response | Handler] = dict(routes or {})
        self.handler = handler
        self.default = default or Response(200, b"ok\n", [("Content-Type", "text/plain")])
        self.tag = tag
        self.keep_body = keep_body
        self.requests: list[Request] = []
        self.responses = 0
        super().__init__(host, port)
        self.name = name or f"origin:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, answer: Response | Handler) -> None:
        self.routes[path] = answer

    def wait_requests(self, n: int, timeout: float = 5.0) -> list[Request]:
        """Wait until ``n`` requests arrived; returns the list of all requests."""
        wait_until(lambda: len(self.requests) >= n, timeout,
                   message=lambda: f"{len(self.requests)} requests, wanted {n}")
        return list(self.requests)

    @property
    def last(self) -> Request:
        return self.requests[-1]

    # ---- request side
    def _read_request(self, conn: _Conn, conn_id: int, index: int,
                      peer: tuple[str, int]) -> Request | None:
        line = conn.readline()
        while line in (b"\r\n", b"\n"):
            line = conn.readline()
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise _Closed
        method, target, version = parts
        headers = self._read_headers(conn)
        return Request(method, target, version, headers, conn_id=conn_id, index=index,
                       peer=peer)

    @staticmethod
    def _read_headers(conn: _Conn) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        while True:
            h = conn.readline()
            if h in (b"\r\n", b"\n"):
                return headers
            name, _, value = h.decode("latin-1").rstrip("\r\n").partition(":")
            headers.append((name, value.strip()))

    def _keep(self, req: Request, data: bytes) -> None:
        req.body_len += len(data)
        room = self.keep_body - len(req.body)
        if room > 0:
            req.body += data[:room]

    def _read_body(self, conn: _Conn, req: Request) -> None:
        te = (req.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            req.chunked = True
            while True:
                size_line = conn.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    req.trailers = self._read_headers(conn)
                    return
                left = size
                while left:
                    piece = conn.read(min(left, 65536))
                    self._keep(req, piece)
                    left -= len(piece)
                conn.readline()
        cl = req.header("content-length")
        left = int(cl) if cl and cl.strip().isdigit() else 0
        while left:
            piece = conn.read(min(left, 65536))
            self._keep(req, piece)
            left -= len(piece)

    def _choose(self, req: Request) -> Response:
        answer = self.routes.get(req.path)
        if answer is None and self.handler is not None:
            answer = self.handler
        if callable(answer) and not isinstance(answer, Response):
            answer = answer(req)
        return answer if isinstance(answer, Response) else self.default

    # ---- response side
    def serve(self, conn_id: int, sock: socket.socket) -> None:
        conn = _Conn(sock, self._stop)
        peer = sock.getpeername()[:2]
        index = 0
        while True:
            req = self._read_request(conn, conn_id, index, peer)
            if req is None:
                return
            resp = self._choose(req)
            expects = (req.header("expect") or "").lower() == "100-continue"
            if expects and resp.read_body and resp.action not in ("close", "reset"):
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if resp.read_body:
                self._read_body(conn, req)
            with self.lock:
                self.requests.append(req)
            index += 1
            keep = self._respond(sock, conn, req, resp)
            with self.lock:
                self.responses += 1
            if not keep:
                return

    def _respond(self, sock: socket.socket, conn: _Conn, req: Request, resp: Response) -> bool:
        """Send ``resp``; True if the connection stays open for another request."""
        self.sleep(resp.delay_head)
        if resp.action == "close":
            return False
        if resp.action == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return False
        if resp.action == "raw":
            sock.sendall(resp.raw)
            return not resp.close
        headers = list(resp.headers.items()) if isinstance(resp.headers, dict) \
            else list(resp.headers)
        names = {k.lower() for k, _ in headers}
        if self.tag and "x-origin" not in names:
            headers.append(("X-Origin", self.name))
        reason = resp.reason if resp.reason is not None else _REASONS.get(resp.status, "Unknown")
        if resp.action == "upgrade":
            head = f"{resp.version} {resp.status} {reason}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
            sock.sendall(head.encode("latin-1"))
            if conn.buf:
                sock.sendall(bytes(conn.buf))
                conn.buf.clear()
            self._echo(sock)
            return False
        body = resp.body
        if isinstance(body, str):
            body = body.encode()
        size: int | None = None
        pieces: Iterable[bytes]
        if body is None:
            pieces, size = (), 0
        elif isinstance(body, bytes | bytearray):
            pieces, size = ((bytes(body),) if body else ()), len(body)
        elif isinstance(body, int):
            pieces, size = iter_pattern(body, resp.chunk_size), body
        elif callable(body):
            pieces = body()
        else:
            pieces = body
        if resp.truncate is not None:
            pieces = _cut(pieces, resp.truncate)
        no_body = req.method == "HEAD" or resp.status in (204, 304) or resp.status < 200
        close = resp.close or self._client_wants_close(req)   # announced
        # closed after the answer without saying so beforehand:
        silent_close = resp.truncate is not None or (not resp.read_body and (
            req.header("content-length") not in (None, "0")
            or req.header("transfer-encoding") is not None))
        if resp.status in (204, 304) or resp.status < 200:
            pass                       # never a body, never a length
        elif resp.chunked and req.method != "HEAD":
            headers.append(("Transfer-Encoding", "chunked"))
        elif resp.length and "content-length" not in names and size is not None:
            headers.append(("Content-Length", str(size)))
        elif not resp.length or size is None:
            close = close or "content-length" not in names
        if close and "connection" not in names:
            headers.append(("Connection", "close"))
        head = f"{resp.version} {resp.status} {reason}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        head_bytes = head.encode("latin-1")
        close = close or silent_close
        if no_body:
            sock.sendall(head_bytes)
            return not close
        first = True
        if resp.delay_body:
            sock.sendall(head_bytes)
            head_bytes = b""
            self.sleep(resp.delay_body)
        for piece in pieces:
            if not first:
                self.sleep(resp.chunk_delay)
            first = False
            if not piece:
                continue
            if resp.chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            if head_bytes and len(piece) < 65536:
                sock.sendall(head_bytes + piece)
            else:
                if head_bytes:
                    sock.sendall(head_bytes)
                sock.sendall(piece)
            head_bytes = b""
        tail = b""
        if resp.chunked and resp.truncate is None:
            tail = b"0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in resp.trailers).encode(
                "latin-1") + b"\r\n"
        if head_bytes or tail:
            sock.sendall(head_bytes + tail)
        return not close

    @staticmethod
    def _client_wants_close(req: Request) -> bool:
        conn_hdr = ",".join(req.header_all("connection")).lower()
        if "close" in conn_hdr:
            return True
        return req.version == "HTTP/1.0" and "keep-alive" not in conn_hdr

    def _echo(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                return
            sock.sendall(data)


# --------------------------------------------------------------------------- TCP servers

class TcpEchoServer(_ThreadedServer):
    """Echoes every byte back; when the client half-closes, half-closes too.
    ``bytes_in`` counts what it received over all connections."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.bytes_in = 0
        super().__init__(host, port)

    def serve(self, conn_id: int, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                sock.shutdown(socket.SHUT_WR)
                return
            with self.lock:
                self.bytes_in += len(data)
            sock.sendall(data)


@dataclass
class SinkConn:
    """One connection a TcpSinkServer served."""
    conn_id: int
    received: int = 0
    sent: int = 0
    eof: bool = False          # the client half-closed (or closed)
    head: bytes = b""          # the first bytes received (up to 64 KiB)


class TcpSinkServer(_ThreadedServer):
    """Reads and counts everything; on accept sends ``send`` generated bytes (``pattern``),
    then half-closes if ``half_close`` (or closes if ``close_after_send``).  Keeps reading
    until the client closes its side.  ``conns`` holds a SinkConn per connection."""

    def __init__(self, *, send: int = 0, half_close: bool = False,
                 close_after_send: bool = False, read: bool = True,
                 host: str = "127.0.0.1", port: int = 0):
        self.send = send
        self.half_close = half_close
        self.close_after_send = close_after_send
        self.read = read
        self.conns: list[SinkConn] = []
        super().__init__(host, port)

    @property
    def bytes_in(self) -> int:
        return sum(c.received for c in self.conns)

    def wait_bytes(self, n: int, timeout: float = 5.0) -> int:
        return wait_until(lambda: self.bytes_in >= n and self.bytes_in, timeout,
                          message=lambda: f"{self.bytes_in} bytes received, wanted {n}")

    def wait_eof(self, n_conns: int = 1, timeout: float = 5.0) -> None:
        wait_until(lambda: sum(c.eof for c in self.conns) >= n_conns, timeout,
                   message="clients did not close their side")

    def serve(self, conn_id: int, sock: socket.socket) -> None:
        rec = SinkConn(conn_id)
        with self.lock:
            self.conns.append(rec)
        for piece in iter_pattern(self.send):
            sock.sendall(piece)
            rec.sent += len(piece)
        if self.close_after_send:
            return
        if self.half_close:
            sock.shutdown(socket.SHUT_WR)
        if not self.read:
            self._stop.wait()
            return
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                rec.eof = True
                return
            if len(rec.head) < 65536:
                rec.head += data[:65536 - len(rec.head)]
            rec.received += len(data)


# --------------------------------------------------------------------------- syslog receivers

class _Collector(abc.ABC):
    """Messages received, raw (exact bytes of a datagram or frame payload) and as text
    (UTF-8, one trailing newline removed)."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()

    @property
    def messages(self) -> list[str]:
        with self._cond:
            return [m.decode("utf-8", "replace").removesuffix("\n") for m in self.raw]

    def _add(self, msg: bytes) -> None:
        with self._cond:
            self.raw.append(msg)
            self._cond.notify_all()

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[str]:
        """Wait until at least ``n`` messages arrived; returns all messages (text)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.raw) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(f"{len(self.raw)} syslog messages after {timeout:g}s, "
                                      f"wanted {n}: {self.raw!r}")
                self._cond.wait(left)
        return self.messages

    def clear(self) -> None:
        with self._cond:
            self.raw.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Stop receiving and release the socket."""


class _DgramSyslog(_Collector):
    def __init__(self, sock: socket.socket):
        super().__init__()
        self.sock = sock
        self.sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self._add(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class UdpSyslog(_DgramSyslog):
    """A UDP syslog receiver on 127.0.0.1:<ephemeral>; one datagram is one message.
    ``address`` is "127.0.0.1:PORT" for a `log` line."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((host, port))
        self.host = host
        self.port: int = sock.getsockname()[1]
        super().__init__(sock)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class UnixSyslog(_DgramSyslog):
    """A unix datagram syslog receiver bound at ``path`` (default: a new temp dir)."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        if path is None:
            self._tmp: str | None = tempfile.mkdtemp(prefix="hapx-log-")
            path = os.path.join(self._tmp, "log.sock")
        else:
            self._tmp = None
        self.path = str(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.path)
        super().__init__(sock)

    @property
    def address(self) -> str:
        return self.path

    def close(self) -> None:
        super().close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


class TcpSyslog(_Collector):
    """A TCP syslog receiver on 127.0.0.1:<ephemeral> splitting frames per RFC 6587:
    octet-counted (``LEN SP MSG``) when a frame starts with a digit, else LF-terminated.
    ``framing`` records "octet" or "lf" per message; ``connections`` counts accepted
    connections."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__()
        self.framing: list[str] = []
        self.connections = 0
        self.host = host
        self._lsock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                    socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((host, port))
        self._lsock.listen(64)
        self._lsock.settimeout(0.2)
        self.port: int = self._lsock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._lsock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            t = threading.Thread(target=self._conn, args=(sock,), daemon=True)
            self._threads.append(t)
            t.start()

    def _frame(self, buf: bytearray) -> bool:
        """Take one complete frame off ``buf``; False if none is complete."""
        if buf[:1].isdigit():
            sp = buf.find(b" ")
            if sp < 0 or not buf[:sp].isdigit():
                return False
            n = int(buf[:sp])
            if len(buf) < sp + 1 + n:
                return False
            msg = bytes(buf[sp + 1:sp + 1 + n])
            del buf[:sp + 1 + n]
            kind = "octet"
        else:
            nl = buf.find(b"\n")
            if nl < 0:
                return False
            msg = bytes(buf[:nl])
            del buf[:nl + 1]
            kind = "lf"
        with self._cond:
            self.framing.append(kind)
        self._add(msg)
        return True

    def _conn(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        buf = bytearray()
        with sock:
            while not self._stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    if buf:   # an unterminated last frame still counts
                        self._add(bytes(buf))
                        self.framing.append("eof")
                    return
                buf += data
                while buf and self._frame(buf):
                    pass

    def close(self) -> None:
        self._stop.set()
        self._lsock.close()
        self._acceptor.join(2)
        for t in self._threads:
            t.join(2)


# --------------------------------------------------------------------------- proxy processes

HAPX_CMD = [sys.executable, "-m", "hapx.core.cli.main"]
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def have_haproxy() -> bool:
    return os.access(HAPROXY, os.X_OK)


class ProxyFailure(AssertionError):
    """The proxy process failed to start, crashed or printed a traceback."""


def _listen_inodes(port: int) -> set[int]:
    """Inodes of TCP sockets in LISTEN state on local ``port`` (from /proc/net/tcp*)."""
    found: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        found.add(int(cols[9]))
        except OSError:
            continue
    return found


def _socket_inodes(pids: Iterable[int]) -> set[int]:
    inodes: set[int] = set()
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            try:
                target = os.readlink(f"{fd_dir}/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


ReadyPort = int | tuple[str, int] | str


class ProxyProcess:
    """A running proxy (hapx or haproxy) started by ``run_hapx``/``run_haproxy``."""

    def __init__(self, name: str, argv: list[str], workdir: Path, cfg_path: Path,
                 env: dict[str, str] | None, check_tracebacks: bool):
        self.name = name
        self.argv = argv
        self.dir = workdir
        self.cfg_path = cfg_path
        self.check_tracebacks = check_tracebacks
        self._out_path = workdir / "stdout.txt"
        self._err_path = workdir / "stderr.txt"
        self._out = open(self._out_path, "wb")  # noqa: SIM115 - closed in _finish
        self._err = open(self._err_path, "wb")  # noqa: SIM115
        full_env = dict(os.environ)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(argv, cwd=workdir, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self._stopping = False

    @property
    def workdir(self) -> Path:
        """The directory holding the configuration, ``files`` and the output (= ``dir``)."""
        return self.dir

    # ---- output
    @property
    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        return self._err_path.read_bytes().decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        return self._out_path.read_bytes().decode("utf-8", "replace")

    def output(self) -> str:
        return f"--- {self.name} stdout ---\n{self.stdout}--- {self.name} stderr ---\n" \
               f"{self.stderr}"

    def wait_output(self, text: str, timeout: float = 5.0, *, stream: str = "any") -> str:
        """Wait until ``text`` appears in stdout/stderr ("stdout", "stderr" or "any");
        returns that stream's text."""
        def found() -> str | None:
            for which in ("stdout", "stderr"):
                if stream in (which, "any"):
                    data = getattr(self, which)
                    if text in data:
                        return data
            return None
        return wait_until(found, timeout, message=lambda: f"{text!r} not in the output of "
                          f"{self.name}\n{self.output()}")

    # ---- state
    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def fail(self, why: str) -> None:
        raise ProxyFailure(f"{self.name} (pid {self.pid}): {why}\n"
                           f"command: {' '.join(self.argv)}\n{self.output()}")

    def wait_ready(self, ports: Iterable[ReadyPort], timeout: float = 10.0,
                   probe: str = "listen") -> None:
        """Wait until each port listens.  ``probe="listen"`` checks that a socket of this
        process (or a child) is in LISTEN state on the port, without connecting (so no
        connection is logged or forwarded); ``probe="connect"`` connects and closes.  A
        str is a unix socket path (connected to)."""
        deadline = time.monotonic() + timeout
        for port in ports:
            while True:
                if not self.alive:
                    self.fail(f"exited with status {self.returncode} before {port} listened")
                if self._ready(port, probe):
                    break
                if time.monotonic() >= deadline:
                    self.fail(f"{port} did not listen within {timeout:g}s")
                time.sleep(0.01)

    def _ready(self, port: ReadyPort, probe: str) -> bool:
        if isinstance(port, str):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(port)
                return True
            except OSError:
                return False
            finally:
                s.close()
        host, num = ("127.0.0.1", port) if isinstance(port, int) else port
        if probe == "listen" and os.path.exists("/proc/net/tcp"):
            listening = _listen_inodes(num)
            return bool(listening and listening & _socket_inodes(_process_tree(self.pid)))
        try:
            with socket.create_connection((host, num), timeout=0.5):
                return True
        except OSError:
            return False

    def cpu_ticks(self) -> int:
        """utime + stime of the process, in clock ticks (from /proc/<pid>/stat)."""
        with open(f"/proc/{self.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    # ---- stopping
    def signal(self, sig: int) -> None:
        if self.alive:
            os.kill(self.pid, sig)

    def stop(self, soft: bool = True, timeout: float = 10.0) -> int:
        """SIGUSR1 (soft) or SIGTERM (hard), then wait for the exit; returns its status.
        Fails if it has not exited within ``timeout`` (it is killed then)."""
        self._stopping = True
        self.signal(signal.SIGUSR1 if soft else signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.fail(f"did not exit within {timeout:g}s of "
                      f"{'SIGUSR1' if soft else 'SIGTERM'}")
        return -9

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait (a hard stop)."""
        return self.stop(soft=False, timeout=timeout)

    def kill(self) -> None:
        self._stopping = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def _finish(self) -> str | None:
        """Stop the process; returns a failure description, or None."""
        problem = None
        if not self._stopping and not self.alive:
            problem = f"exited on its own with status {self.returncode}"
        if self.alive:
            self._stopping = True
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                problem = "did not exit within 10s of SIGTERM (killed)"
        # children (a master's workers) that outlived it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._out.close()
        self._err.close()
        if problem is None and self.check_tracebacks and "Traceback (most recent call last)" \
                in self.stderr:
            problem = "printed a Python traceback"
        return problem


def _write_files(workdir: Path, files: dict[str, str | bytes] | None) -> None:
    for rel, content in (files or {}).items():
        path = workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@contextlib.contextmanager
def _run_proxy(name: str, argv_head: list[str], cfg_text: str, *, args: Iterable[str],
               env: dict[str, str] | None, ready_ports: Iterable[ReadyPort],
               timeout: float, workdir: str | os.PathLike[str] | None,
               files: dict[str, str | bytes] | None, probe: str,
               check_tracebacks: bool, precheck: list[str] | None) -> Iterator[ProxyProcess]:
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix=f"{name}-")
        workdir = tmp
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    cfg_path = wd / f"{name}.cfg"
    cfg_path.write_text(cfg_text)
    _write_files(wd, files)
    if precheck:
        chk = subprocess.run([*precheck, str(cfg_path)], cwd=wd, capture_output=True,
                             text=True, timeout=60)
        if chk.returncode != 0:
            raise ProxyFailure(f"{name} -c rejected the configuration (status "
                               f"{chk.returncode}):\n{chk.stdout}{chk.stderr}\n"
                               f"--- {cfg_path} ---\n{cfg_text}")
    argv = [*argv_head, "-db", "-f", str(cfg_path), *args]
    handle = ProxyProcess(name, argv, wd, cfg_path, env, check_tracebacks)
    try:
        handle.wait_ready(ready_ports, timeout, probe)
        yield handle
    except BaseException:
        handle._stopping = True
        handle._finish()
        raise
    else:
        problem = handle._finish()
        if problem:
            raise ProxyFailure(f"{name} (pid {handle.pid}): {problem}\n"
                               f"command: {' '.join(argv)}\n{handle.output()}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_hapx(cfg_text: str, *, args: Iterable[str] = (), env: dict[str, str] | None = None,
             ready_ports: Iterable[ReadyPort] = (), timeout: float = 15.0,
             workdir: str | os.PathLike[str] | None = None,
             files: dict[str, str | bytes] | None = None, probe: str = "listen",
             check_tracebacks: bool = True):
    """Run ``hapx -db -f <cfg>`` (plus ``args``) in ``workdir`` (default: a temp dir,
    removed afterwards) with ``files`` ({relative path: content}) written next to the
    configuration; wait until every ``ready_ports`` entry listens (int port on 127.0.0.1,
    (host, port), or a unix socket path); yield a ProxyProcess.  On exit it is stopped with
    SIGTERM; ProxyFailure (an AssertionError) is raised if it failed to start, exited by
    itself, or printed a Python traceback (``check_tracebacks``)."""
    return _run_proxy("hapx", HAPX_CMD, cfg_text, args=args, env=env,
                      ready_ports=ready_ports, timeout=timeout, workdir=workdir, files=files,
                      probe=probe, check_tracebacks=check_tracebacks, precheck=None)


def run_haproxy(cfg_text: str, *, args: Iterable[str] = (), env: dict[str, str] | None = None,
                ready_ports: Iterable[ReadyPort] = (), timeout: float = 15.0,
                workdir: str | os.PathLike[str] | None = None,
                files: dict[str, str | bytes] | None = None, probe: str = "listen",
                check: bool = True):
    """The same as ``run_hapx`` for Debian's haproxy (the oracle).  ``haproxy -c`` runs
    first (``check``) so a rejected configuration fails readably.  Skips the test when
    haproxy is not installed."""
    if not have_haproxy():
        import pytest
        pytest.skip("Debian's haproxy is not installed (apt-get install haproxy)")
    return _run_proxy("haproxy", [HAPROXY], cfg_text, args=args, env=env,
                      ready_ports=ready_ports, timeout=timeout, workdir=workdir, files=files,
                      probe=probe, check_tracebacks=False,
                      precheck=[HAPROXY, "-q", "-c", "-f"] if check else None)
