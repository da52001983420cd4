"""``mode tcp`` through a real hapx process, real clients and real backend servers:
forwarding both ways with backpressure and half-close, rules, balancing, retries,
timeouts and termination states."""

from __future__ import annotations

import socket
import subprocess
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
from netutil import (
    recv_until_eof as recv_all,
)

DEFAULTS = """
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""



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
        fe, fe2 = free_ports(2)
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
    bind 127.0.0.1:{fe2}
    default_backend onlydead
backend onlydead
    server dead 127.0.0.1:{dead}
"""
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
                with socket.create_connection(("127.0.0.1", fe2)) as sock:
                    sock.sendall(b"quick")
                    sock.shutdown(socket.SHUT_WR)
                    assert recv_all(sock, timeout=3) == b"quick"
                for s in stuck:
                    s.close()
        finally:
            blackhole.close()




LOGGED = """
global
    log {syslog} local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client {client}
    timeout server {server}
"""


def _term(line: str) -> str:
    """The termination state of a tcplog line (after the byte count)."""
    words = line.split()
    idx = next(i for i, w in enumerate(words) if w.count("/") == 2 and w[0].isdigit()
               or w.startswith("-1/"))
    return words[idx + 2]


def test_timeouts_give_haproxy_termination_states():
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    with TcpSinkServer() as sink, TcpEchoServer() as echo, UdpSyslog() as syslog:
        p_cli, p_srv, p_tun, p_conn = free_ports(4)
        cfg = LOGGED.format(syslog=syslog.address, client="300ms", server="10s") + f"""
frontend fe_cli
    bind 127.0.0.1:{p_cli}
    default_backend sink
frontend fe_srv
    timeout client 10s
    bind 127.0.0.1:{p_srv}
    default_backend sink_short
frontend fe_tun
    timeout client 10s
    bind 127.0.0.1:{p_tun}
    default_backend tunnel
frontend fe_conn
    timeout client 10s
    bind 127.0.0.1:{p_conn}
    default_backend hole
backend sink
    server s {sink.address}
backend sink_short
    timeout server 300ms
    server s {sink.address}
backend tunnel
    timeout server 100ms
    timeout tunnel 1s
    server s {echo.address}
backend hole
    timeout connect 200ms
    retries 0
    server s 127.0.0.1:{blackhole.getsockname()[1]}
"""
        try:
            with run_hapx(cfg, ready_ports=[p_cli, p_srv, p_tun, p_conn]):
                blocked = []
                for _ in range(3):  # fill the backlog: later connects hang
                    s = socket.socket()
                    s.setblocking(False)
                    s.connect_ex(blackhole.getsockname())
                    blocked.append(s)
                for port, term in ((p_cli, "cD"), (p_srv, "sD")):
                    with socket.create_connection(("127.0.0.1", port)) as sock:
                        sock.sendall(b"x")
                        t0 = time.monotonic()
                        assert recv_all(sock, timeout=3) == b""
                        assert time.monotonic() - t0 > 0.25  # not before its timeout
                    line = syslog.wait_for(1, timeout=5)[-1]
                    assert _term(line) == term, line
                    syslog.clear()
                # the tunnel timeout replaces the shorter server timeout
                with socket.create_connection(("127.0.0.1", p_tun)) as sock:
                    sock.settimeout(5)
                    for _ in range(3):
                        time.sleep(0.3)
                        sock.sendall(b"t")
                        assert sock.recv(1) == b"t"
                    t0 = time.monotonic()
                    assert recv_all(sock, timeout=3) == b""
                    assert time.monotonic() - t0 > 0.8  # not before its timeout
                with socket.create_connection(("127.0.0.1", p_conn)) as sock:
                    assert recv_all(sock) == b""
                lines = syslog.wait_for(2, timeout=5)
                for s in blocked:
                    s.close()
        finally:
            blackhole.close()
        assert any(" fe_tun tunnel/s " in x and _term(x) == "cD" for x in lines), lines
        assert any(" fe_conn hole/s " in x and _term(x) == "sC" for x in lines), lines


class _SilentServer:
    """Accepts one connection, reads until the client's EOF, then holds the connection open
    without answering (a server that never closes its side)."""

    def __init__(self) -> None:
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.address = f"127.0.0.1:{self.lsock.getsockname()[1]}"
        self.got_eof = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            conn, _ = self.lsock.accept()
        except OSError:
            return
        self.conns.append(conn)
        while conn.recv(65536):
            pass
        self.got_eof.set()

    def close(self) -> None:
        self.lsock.close()
        for c in self.conns:
            c.close()


def test_server_fin_timeout_after_a_half_close():
    """Once the client's half-close has been passed to the server, ``timeout server-fin``
    bounds the wait for the server instead of the longer ``timeout server``."""
    silent = _SilentServer()
    with UdpSyslog() as syslog:
        fe = free_port()
        cfg = LOGGED.format(syslog=syslog.address, client="10s", server="10s") + f"""
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    timeout server-fin 300ms
    server s {silent.address}
"""
        try:
            with run_hapx(cfg, ready_ports=[fe]):
                with socket.create_connection(("127.0.0.1", fe)) as sock:
                    sock.sendall(b"bye")
                    sock.shutdown(socket.SHUT_WR)
                    t0 = time.monotonic()
                    assert recv_all(sock, timeout=3) == b""
                    assert time.monotonic() - t0 > 0.25  # not before its timeout
                line = syslog.wait_for(1, timeout=5)[0]
            assert silent.got_eof.is_set()  # our half-close reached the server
        finally:
            silent.close()
        assert _term(line) == "sD", line


def test_server_address_forms_disabled_servers_and_live_counters():
    """A port-less server uses the client's destination port, ``+N`` is relative to it;
    disabled servers get no traffic."""
    with TcpEchoServer() as echo:
        port = int(echo.address.rsplit(":", 1)[1])
        fe = free_port()
        cfg = DEFAULTS + f"""
frontend same
    bind 127.0.0.1:{port - 1}
    default_backend plus_one
backend plus_one
    server off 127.0.0.1:9 disabled
    server s 127.0.0.1:+1
listen portless
    bind 127.0.0.2:{port}
    server s 127.0.0.1
frontend fe
    bind 127.0.0.1:{fe}
    default_backend plus_one
"""
        with run_hapx(cfg, ready_ports=[port - 1, ("127.0.0.2", port), fe]):
            for _ in range(3):
                with socket.create_connection(("127.0.0.1", port - 1)) as sock:
                    sock.sendall(b"relative")
                    sock.shutdown(socket.SHUT_WR)
                    assert recv_all(sock) == b"relative"
            with socket.create_connection(("127.0.0.2", port)) as sock:
                sock.sendall(b"same port")
                sock.shutdown(socket.SHUT_WR)
                assert recv_all(sock) == b"same port"


def test_session_backend_and_response_rules():
    with TcpEchoServer() as echo, TcpSinkServer(send=5, half_close=True) as sink:
        p1, p2, p3 = free_ports(3)
        cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{p1}
    tcp-request session reject if {{ dst_port {p1} }} {{ src 127.0.0.2 }}
    tcp-request inspect-delay 1s
    tcp-request content accept if {{ req.len ge 2 }}
    use_backend picky if {{ req.payload(0,2) -m str ok no }}
    default_backend be
backend picky
    tcp-request inspect-delay 1s
    tcp-request content reject if {{ req.payload(0,2) -m str no }}
    server s {echo.address}
backend be
    server s {echo.address}
listen answers
    bind 127.0.0.1:{p2}
    tcp-response inspect-delay 1s
    tcp-response content reject if {{ res.payload(0,3) -m str 012 }}
    server s {sink.address}
listen passes
    bind 127.0.0.1:{p3}
    tcp-response inspect-delay 1s
    tcp-response content accept if {{ res.len ge 5 }}
    tcp-response content reject
    server s {sink.address}
"""
        with run_hapx(cfg, ready_ports=[p1, p2, p3]):
            for payload, expected in ((b"ok!", b"ok!"), (b"no!", b""), (b"zz", b"zz")):
                with socket.create_connection(("127.0.0.1", p1)) as sock:
                    sock.sendall(payload)
                    sock.shutdown(socket.SHUT_WR)
                    try:
                        got = recv_all(sock)
                    except ConnectionResetError:
                        got = b""
                    assert got == expected, payload
            with socket.create_connection(("127.0.0.1", p1),
                                          source_address=("127.0.0.2", 0)) as sock:
                try:
                    assert recv_all(sock) == b""  # rejected at session level
                except ConnectionResetError:
                    pass
            with socket.create_connection(("127.0.0.1", p2)) as sock:
                try:
                    assert recv_all(sock) == b""  # the server's answer was rejected
                except ConnectionResetError:
                    pass
            with socket.create_connection(("127.0.0.1", p3)) as sock:
                assert recv_all(sock) == b"01234"


def test_socat_and_curl_clients_through_tcp_mode():
    """Real clients: socat pipes a file through, curl speaks HTTP to an HTTP origin behind a
    tcp-mode proxy."""
    from netutil import OriginServer, Response

    with TcpEchoServer() as echo, OriginServer({"/": Response(body=b"hello curl")}) as web:
        p1, p2 = free_ports(2)
        cfg = DEFAULTS + f"""
listen echo
    bind 127.0.0.1:{p1}
    server s {echo.address}
listen web
    bind 127.0.0.1:{p2}
    server s {web.address}
"""
        payload = b"".join(iter_pattern(3 * 1024 * 1024))
        with run_hapx(cfg, ready_ports=[p1, p2]):
            res = subprocess.run(["socat", "-t", "5", "-", f"TCP:127.0.0.1:{p1}"],
                                 input=payload, capture_output=True, timeout=30)
            assert res.stdout == payload
            res = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{p2}/"],
                                 capture_output=True, timeout=30)
            assert res.stdout == b"hello curl"


def test_timer_wheel_fires_never_early_and_follows_reschedules():
    import asyncio

    from hapx.core.runtime.timers import TICK_MS, now_ms, timers_of

    async def scenario() -> list[tuple[str, float]]:
        wheel = timers_of()
        fired: list[tuple[str, float]] = []
        t0 = now_ms()

        def note(name: str) -> None:
            fired.append((name, now_ms() - t0))
        wheel.schedule(t0 + 50, note, "plain")
        later = wheel.schedule(t0 + 30, note, "pushed back")
        earlier = wheel.schedule(t0 + 200, note, "pulled in")
        gone = wheel.schedule(t0 + 40, note, "cancelled")
        revived = wheel.schedule(t0 + 20, note, "revived")
        later.reschedule(t0 + 120)
        earlier.reschedule(t0 + 10)
        gone.cancel()
        revived.cancel()
        revived.reschedule(t0 + 80)
        await asyncio.sleep(0.3)
        assert len(wheel) == 0
        return fired

    fired = asyncio.run(scenario())
    assert [name for name, _ in fired] == ["pulled in", "plain", "revived", "pushed back"]
    for (_name, at), due in zip(fired, (10, 50, 80, 120), strict=True):
        assert due <= at < due + TICK_MS + 40


def test_retries_wait_the_turn_around_timer_on_a_refusing_server():
    """A refused connection is retried on the same server after min(timeout connect, 1s),
    ``retries`` times, then the client is closed with SC; a redispatch goes elsewhere at
    once."""
    dead = free_port()
    with TcpEchoServer() as echo, UdpSyslog() as syslog:
        p1, p2 = free_ports(2)
        cfg = LOGGED.format(syslog=syslog.address, client="10s", server="10s") + f"""
frontend fe
    bind 127.0.0.1:{p1}
    default_backend dead
frontend fe2
    bind 127.0.0.1:{p2}
    default_backend spread
backend dead
    timeout connect 200ms
    retries 2
    server s 127.0.0.1:{dead}
backend spread
    retries 1
    option redispatch 1
    balance static-rr
    server d 127.0.0.1:{dead}
    server live {echo.address}
"""
        with run_hapx(cfg, ready_ports=[p1, p2]):
            with socket.create_connection(("127.0.0.1", p1)) as sock:
                t0 = time.monotonic()
                assert recv_all(sock, timeout=3) == b""
                assert time.monotonic() - t0 > 0.35  # two waits of 200ms, at least
            with socket.create_connection(("127.0.0.1", p2)) as sock:
                sock.sendall(b"again")
                sock.shutdown(socket.SHUT_WR)
                assert recv_all(sock, timeout=3) == b"again"
            lines = syslog.wait_for(2, timeout=5)
        failed = next(x for x in lines if " fe dead/s " in x)
        assert _term(failed) == "SC" and " 1/1/0/0/2 " in failed, failed
        moved = next(x for x in lines if " fe2 spread/live " in x)
        assert _term(moved) == "--" and "/+1 " in moved, moved
