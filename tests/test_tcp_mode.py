"""``mode tcp`` through a real hapx process, real clients and real backend servers:
forwarding both ways with backpressure and half-close, rules, balancing, retries,
timeouts and termination states."""

from __future__ import annotations

import socket
import threading
import time

from netutil import (
    TcpEchoServer,
    TcpSinkServer,
    UdpSyslog,
    check_pattern,
    free_port,
    free_ports,
    iter_pattern,
    run_hapx,
    wait_until,
)

DEFAULTS = """
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""


def recv_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def test_forwards_large_data_both_ways_with_half_close():
    with TcpEchoServer() as echo:
        fe = free_port()
        cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[fe]):
            size = 20 * 1024 * 1024
            with socket.create_connection(("127.0.0.1", fe)) as sock:
                received: list[bytes] = []
                reader = threading.Thread(target=lambda: received.append(recv_all(sock)))
                reader.start()
                for piece in iter_pattern(size):
                    sock.sendall(piece)
                sock.shutdown(socket.SHUT_WR)  # half-close: the echo answers then closes
                reader.join(30)
            assert len(received[0]) == size and check_pattern(received[0])


def test_server_half_close_reaches_the_client():
    with TcpSinkServer(send=100_000, half_close=True) as sink:
        fe = free_port()
        cfg = DEFAULTS + f"""
listen li
    bind 127.0.0.1:{fe}
    server s1 {sink.address}
"""
        with run_hapx(cfg, ready_ports=[fe]):
            with socket.create_connection(("127.0.0.1", fe)) as sock:
                sock.settimeout(10)
                data = b""
                while len(data) < 100_000:
                    part = sock.recv(65536)
                    assert part, "closed before the server's data arrived"
                    data += part
                assert sock.recv(1) == b""  # the server's FIN came through
                sock.sendall(b"still writable")  # our direction stays open
                sock.shutdown(socket.SHUT_WR)
            sink.wait_bytes(len(b"still writable"))
            sink.wait_eof()


def test_round_robin_across_servers_and_weights():
    with TcpSinkServer() as a, TcpSinkServer() as b:
        fe = free_port()
        cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    balance roundrobin
    server a {a.address} weight 1
    server b {b.address} weight 3
"""
        with run_hapx(cfg, ready_ports=[fe]):
            for _ in range(8):
                with socket.create_connection(("127.0.0.1", fe)) as sock:
                    sock.sendall(b"x")
                    sock.shutdown(socket.SHUT_WR)
                    sock.settimeout(5)
                    sock.recv(1)
            wait_until(lambda: len(a.conns) + len(b.conns) == 8)
            assert (len(a.conns), len(b.conns)) == (2, 6)


def test_connect_failure_retries_then_redispatches_and_logs():
    dead = free_port()
    with TcpEchoServer() as echo, UdpSyslog() as syslog:
        fe = free_port()
        cfg = f"""
global
    log {syslog.address} local0
""" + DEFAULTS + f"""
    log global
    option tcplog
    retries 1
    option redispatch
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    balance static-rr
    server dead 127.0.0.1:{dead}
    server live {echo.address}
frontend fe2
    bind 127.0.0.1:{fe + 1 if fe < 65000 else fe - 1}
    default_backend onlydead
backend onlydead
    server dead 127.0.0.1:{dead}
"""
        fe2 = fe + 1 if fe < 65000 else fe - 1
        with run_hapx(cfg, ready_ports=[fe, fe2]):
            with socket.create_connection(("127.0.0.1", fe)) as sock:
                sock.sendall(b"hello")
                sock.shutdown(socket.SHUT_WR)
                assert recv_all(sock) == b"hello"
            with socket.create_connection(("127.0.0.1", fe2)) as sock:
                assert recv_all(sock) == b""  # no server: closed
            lines = syslog.wait_for(2, timeout=10)
        ok = next(line for line in lines if " fe be/" in line)
        failed = next(line for line in lines if " fe2 onlydead/" in line)
        assert " fe be/live " in ok and " -- " in ok
        assert " SC " in failed


def test_content_rules_with_inspect_delay():
    with TcpEchoServer() as echo:
        fe = free_port()
        cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{fe}
    tcp-request inspect-delay 2s
    tcp-request content reject if {{ req.payload(0,4) -m bin 42414400 }}
    tcp-request content accept if {{ req.len ge 4 }}
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[fe]):
            with socket.create_connection(("127.0.0.1", fe)) as sock:
                sock.sendall(b"BAD\x00rest")
                assert recv_all(sock) == b""
            with socket.create_connection(("127.0.0.1", fe)) as sock:
                sock.sendall(b"GO")  # too short to decide: the rules wait
                time.sleep(0.2)
                sock.sendall(b"OD!")
                sock.shutdown(socket.SHUT_WR)
                assert recv_all(sock) == b"GOOD!"


def test_tcp_request_connection_reject():
    fe = free_port()
    cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{fe}
    tcp-request connection reject if {{ src 127.0.0.1 }}
    default_backend be
backend be
    server s1 127.0.0.1:9
"""
    with run_hapx(cfg, ready_ports=[fe]), socket.create_connection(("127.0.0.1", fe)) as sock:
        try:
            assert recv_all(sock) == b""
        except ConnectionResetError:
            pass


def test_a_dead_server_does_not_stall_other_clients():
    blackhole = socket.socket()  # accepts nothing: connections to it hang in the backlog
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    with TcpEchoServer() as echo:
        fe1, fe2 = free_ports(2)
        cfg = DEFAULTS.replace("timeout connect 2s", "timeout connect 5s") + f"""
frontend slow
    bind 127.0.0.1:{fe1}
    default_backend hole
frontend fast
    bind 127.0.0.1:{fe2}
    default_backend be
backend hole
    server s1 127.0.0.1:{blackhole.getsockname()[1]}
backend be
    server s1 {echo.address}
"""
        try:
            with run_hapx(cfg, ready_ports=[fe1, fe2]):
                stuck = [socket.create_connection(("127.0.0.1", fe1)) for _ in range(5)]
                t0 = time.monotonic()
                with socket.create_connection(("127.0.0.1", fe2)) as sock:
                    sock.sendall(b"quick")
                    sock.shutdown(socket.SHUT_WR)
                    assert recv_all(sock) == b"quick"
                assert time.monotonic() - t0 < 3
                for s in stuck:
                    s.close()
        finally:
            blackhole.close()


