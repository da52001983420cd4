"""Log senders: header layouts of every format, framing, truncation, sampling, level
filtering, and the transports (UDP, unix datagram, TCP, file descriptors) against real
receivers."""

from __future__ import annotations

import asyncio
import datetime
import os
import select
import socket
import time

import pytest
from hapx.plugins.logs.emit import LogRuntime, ProxyLog
from hapx.plugins.logs.senders import (
    FdSender,
    Sampler,
    TcpSender,
    build_header,
    frame,
    udp_sender,
    unix_sender,
)
from hapx.plugins.logs.targets import LogTarget

NOW = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1)) + 0.089123
LEGACY = time.strftime("%b %e %H:%M:%S", time.localtime(NOW))
ISO = datetime.datetime.fromtimestamp(NOW).astimezone().isoformat(timespec="microseconds")


def hdr(fmt: str, *, host: str | None = None, sd: str = "", level: int = 6) -> str:
    return build_header(fmt, 16, level, now=NOW, tag="haproxy", pid="123", host=host, sd=sd)


def test_header_layouts():
    assert LEGACY == "Mar  4 05:06:07"  # the day is padded with a space
    assert hdr("") == f"<134>{LEGACY} haproxy[123]: "
    assert hdr("local") == f"<134>{LEGACY} haproxy[123]: "
    assert hdr("rfc3164") == f"<134>{LEGACY} localhost haproxy[123]: "
    assert hdr("rfc3164", host="vm") == f"<134>{LEGACY} vm haproxy[123]: "
    assert hdr("", host="vm") == f"<134>{LEGACY} vm haproxy[123]: "
    assert hdr("local", host="vm") == f"<134>{LEGACY} haproxy[123]: "
    assert hdr("rfc5424") == f"<134>1 {ISO} - haproxy 123 - - "
    assert hdr("rfc5424", host="vm", sd='[x@1 a="b"]  ') == \
        f'<134>1 {ISO} vm haproxy 123 - [x@1 a="b"] '
    assert hdr("priority") == "<134>"
    assert hdr("short") == "<6>"
    assert hdr("timed") == f"<6>{ISO} "
    assert hdr("iso") == f"{ISO} "
    assert hdr("raw") == ""
    assert hdr("short", level=3) == "<3>"
    assert build_header("local", 0, 0, now=NOW, tag="", pid="1", host=None) == f"<0>{LEGACY} "


def test_iso_time_layout():
    assert len(ISO) == 32 and ISO[10] == "T" and ISO[19] == "." and ISO[26] in "+-"
    assert hdr("iso")[:-1] == ISO


def test_frame_truncates_to_len_with_the_final_lf():
    line = frame("<134>", b"x" * 200 + b"\n\x00", 80)
    assert line == b"<134>" + b"x" * 74 + b"\n" and len(line) == 80
    assert frame("", b"abc\n", 1024) == b"abc\n"
    assert frame("h ", b"abc", 6) == b"h abc\n"


def test_sampler_follows_haproxy_ranges():
    s = Sampler(((1, 2), (4, 4)), 5)
    assert [s.take() for _ in range(10)] == [True, True, False, True, False] * 2
    one = Sampler(((3, 3),), 3)
    assert [one.take() for _ in range(6)] == [False, False, True] * 2


def target(**kw) -> LogTarget:
    base = {"kind": "udp", "facility": 16, "host": "127.0.0.1"}
    base.update(kw)
    return LogTarget(**base)


@pytest.fixture
def udp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def recv_all(sock: socket.socket, wait: float = 0.2) -> list[bytes]:
    out = []
    sock.settimeout(wait)
    try:
        while True:
            out.append(sock.recv(65535))
    except TimeoutError:
        return out


def test_udp_datagrams_and_level_filtering(udp):
    port = udp.getsockname()[1]
    rt = LogRuntime()
    log = ProxyLog(rt, [target(port=port),
                        target(port=port, format="raw", level=4),
                        target(port=port, format="short", level=6, minlevel=6)],
                   tag="hapx", host=None)
    pid = os.getpid()
    assert log.send(6, b"hello", now=NOW) == 2
    assert udp.recv(65535) == f"<134>{LEGACY} hapx[{pid}]: hello\n".encode()
    assert udp.recv(65535) == b"<6>hello\n"
    assert log.send(3, b"bad", now=NOW) == 3  # err: every logger, minlevel raises it
    got = recv_all(udp)
    assert got == [f"<131>{LEGACY} hapx[{pid}]: bad\n".encode(), b"bad\n", b"<6>bad\n"]
    assert log.send(7, b"debug", now=NOW) == 1  # only the first (max level debug)
    assert recv_all(udp) == [f"<135>{LEGACY} hapx[{pid}]: debug\n".encode()]
    assert sum(s.sent for s in rt.senders.values()) == 6
    assert len(rt.senders) == 1  # one destination, one sender
    rt.close()


def test_udp_len_and_sample(udp):
    port = udp.getsockname()[1]
    log = ProxyLog(LogRuntime(), [target(port=port, format="raw", maxlen=80,
                                         sample=(((1, 1), (3, 3)), 3))],
                   tag="t", host=None)
    for i in range(6):
        log.send(6, b"%d" % i + b"y" * 100)
    got = recv_all(udp)
    assert got == [b"0" + b"y" * 78 + b"\n", b"2" + b"y" * 78 + b"\n",
                   b"3" + b"y" * 78 + b"\n", b"5" + b"y" * 78 + b"\n"]


def test_udp6_and_rfc5424_with_hostname():
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    sock.settimeout(5)
    port = sock.getsockname()[1]
    log = ProxyLog(LogRuntime(), [target(host="::1", port=port, format="rfc5424",
                                         facility=1)], tag="mytag", host="myhost")
    log.send(5, b"msg", sd='[a@1 k="v"]', now=NOW)
    assert sock.recv(65535) == \
        f'<13>1 {ISO} myhost mytag {os.getpid()} - [a@1 k="v"] msg\n'.encode()
    sock.close()


def test_unix_datagram(tmp_path):
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(5)
    log = ProxyLog(LogRuntime(), [LogTarget(kind="unix", facility=3, path=path,
                                            format="priority")], tag="t", host=None)
    log.send(6, b"via unix")
    assert rx.recv(65535) == b"<30>via unix\n"
    rx.close()


def test_unix_datagram_missing_socket_is_counted(tmp_path, capfd):
    sender = unix_sender(str(tmp_path / "none.sock"), "cfg:1")
    sender.send(b"x\n")
    sender.send(b"y\n")
    assert sender.dropped == 2 and sender.sent == 0
    err = capfd.readouterr().err
    assert err.count("[ALERT]") == 1 and "failed in logger cfg:1" in err
    sender.close()


def test_udp_sender_resolves_once():
    s = udp_sender("localhost", 514, "x")
    assert s.address[1] == 514
    s.close()


class TcpReceiver:
    """An asyncio syslog receiver: LF-framed lines, per connection."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.conns = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conns += 1
        self.writers.append(writer)
        while True:
            line = await reader.readline()
            if not line:
                break
            self.lines.append(line)
        writer.close()

    async def wait(self, n: int, timeout: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.lines) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"got {self.lines}")
            await asyncio.sleep(0.005)
        return self.lines

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        await self.server.wait_closed()


def test_tcp_keeps_one_connection_and_reconnects():
    async def main() -> None:
        rx = TcpReceiver()
        await rx.start()
        sender = TcpSender("127.0.0.1", rx.port, "t", retry=0.05)
        sender.send(b"early\n")  # before start: kept until connected
        sender.start()
        for i in range(3):
            sender.send(b"line %d\n" % i)
        assert await rx.wait(4) == [b"early\n", b"line 0\n", b"line 1\n", b"line 2\n"]
        assert rx.conns == 1
        # the receiver restarts on the same port: the sender reconnects
        port = rx.port
        await rx.close()
        await asyncio.sleep(0.1)
        rx2 = TcpReceiver()
        await rx2.start(port)
        deadline = time.monotonic() + 5
        while sender.transport is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        sender.send(b"after\n")
        assert await rx2.wait(1) == [b"after\n"]
        assert sender.connects == 2
        sender.close()
        await rx2.close()

    asyncio.run(main())


def test_tcp_bounded_buffer_drops_and_counts(capfd):
    async def main() -> None:
        port = socket.socket()
        port.bind(("127.0.0.1", 0))
        num = port.getsockname()[1]
        port.close()  # nobody listens there
        sender = TcpSender("127.0.0.1", num, "cfg:9", limit=30, retry=0.05)
        sender.start()
        for _ in range(5):
            sender.send(b"0123456789\n")
        assert sender.pending_bytes == 22 and sender.dropped == 3
        await asyncio.sleep(0.2)  # connection attempts fail, nothing blocks
        rx = TcpReceiver()
        await rx.start(num)
        assert await rx.wait(2) == [b"0123456789\n"] * 2
        sender.close()
        await rx.close()

    asyncio.run(main())
    assert "cannot connect logger cfg:9" in capfd.readouterr().err


def test_fd_sender_writes_through_a_thread():
    r, w = os.pipe()
    sender = FdSender(w, "pipe")
    for i in range(3):
        sender.send(b"l%d\n" % i)
    sender.close()
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        assert fh.read() == b"l0\nl1\nl2\n"
    assert sender.sent == 3 and sender.dropped == 0


def test_fd_sender_never_blocks_the_caller():
    r, w = os.pipe()
    sender = FdSender(w, "pipe", limit=4)
    line = b"z" * 32767 + b"\n"
    start = time.monotonic()
    for _ in range(20):  # the pipe holds 64 KiB: the writer thread blocks, the queue fills
        sender.send(line)
    assert time.monotonic() - start < 0.5
    assert sender.dropped >= 20 - 4 - 3
    expected = (20 - sender.dropped) * len(line)
    received = 0
    deadline = time.monotonic() + 5
    while received < expected and time.monotonic() < deadline:
        if select.select([r], [], [], 0.1)[0]:
            received += len(os.read(r, 1 << 20))
    sender.close()
    os.close(w)
    os.close(r)
    assert received == expected
    assert sender.sent == 20 - sender.dropped
