"""Health checks and server states against real servers: DOWN after ``fall`` failed checks
and UP after ``rise`` good ones, no request sent to a DOWN server, backups, HTTP and
tcp-check rules, the log lines compared with haproxy 2.6 on the same configuration,
``check-reuse-pool``, ``shutdown-sessions``, ``slowstart`` and ``init-state``."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import pytest
from netutil import (
    OriginServer,
    Response,
    TcpEchoServer,
    UdpSyslog,
    free_port,
    free_ports,
    run_haproxy,
    run_hapx,
    wait_until,
)

HEADER = re.compile(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+\[\d+\]: ")


def lines(syslog: UdpSyslog) -> list[str]:
    """The messages with their priority kept, date/tag/pid and check durations blanked."""
    out = []
    for m in syslog.messages:
        m = HEADER.sub(lambda g: f"<{g.group(1)}>", m)
        out.append(re.sub(r"check duration: \d+ms", "check duration: Nms", m))
    return out


def wait_line(syslog: UdpSyslog, text: str, count: int = 1, timeout: float = 10.0) -> list[str]:
    wait_until(lambda: sum(text in m for m in syslog.messages) >= count, timeout,
               message=lambda: f"{text!r} x{count} not logged; got {syslog.messages}")
    return lines(syslog)


def http_cfg(syslog: UdpSyslog, port: int, backend: str, mode: str = "http") -> str:
    return f"""
global
    log {syslog.address} local0
defaults
    mode {mode}
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
{backend}
"""


def get(client: httpx.Client, port: int, n: int) -> list[str]:
    """``n`` requests; the X-Origin of each answer."""
    out = []
    for _ in range(n):
        r = client.get(f"http://127.0.0.1:{port}/app")
        assert r.status_code == 200, r.text
        out.append(r.headers["x-origin"])
    return out


def app_requests(origin: OriginServer) -> int:
    return sum(1 for r in list(origin.requests) if r.path == "/app")


class Switch:
    """A /health answer that a test can flip between 200 and 503."""

    def __init__(self) -> None:
        self.ok = True

    def __call__(self, req):  # noqa: ANN001, ANN204
        return Response(200, b"alive\n") if self.ok else Response(503, b"sick\n")


# -- states, rise and fall, traffic ------------------------------------------------------------

def test_fall_then_rise_and_no_request_while_down():
    health = Switch()
    a = OriginServer(name="A")
    b = OriginServer({"/health": health}, name="B")
    port = free_port()
    with UdpSyslog() as syslog, a, b, httpx.Client() as client:
        cfg = http_cfg(syslog, port, f"""
    option httpchk GET /health
    option log-health-checks
    server a 127.0.0.1:{a.port}
    server b 127.0.0.1:{b.port} check inter 100ms rise 2 fall 3""")
        with run_hapx(cfg, ready_ports=[port]):
            wait_until(lambda: len(b.requests) >= 2, 10)
            assert set(get(client, port, 20)) == {"A", "B"}
            health.ok = False
            got = wait_line(syslog, "Server be/b is DOWN")
            fails = [m for m in got if m.startswith("<133>Health check for server be/b failed")]
            assert [m.rsplit("status: ", 1)[1] for m in fails] == \
                ["2/3 UP.", "1/3 UP.", "0/2 DOWN."]
            assert got[-1] == ("<129>Server be/b is DOWN. 1 active and 0 backup servers "
                               "left. 0 sessions active, 0 requeued, 0 remaining in queue.")
            before = app_requests(b)
            assert set(get(client, port, 30)) == {"A"}
            assert app_requests(b) == before          # nothing reached b while DOWN
            health.ok = True
            got = wait_line(syslog, "Server be/b is UP")
            got = got[got.index(next(m for m in got if "is DOWN" in m)):]
            oks = [m for m in got if "Health check for server be/b succeeded" in m]
            assert [m.rsplit("status: ", 1)[1] for m in oks] == ["1/2 DOWN.", "3/3 UP."]
            assert got[-1] == ("<133>Server be/b is UP. 2 active and 0 backup servers "
                               "online. 0 sessions requeued, 0 total in queue.")
            assert "B" in get(client, port, 20)


def test_stopped_server_process_goes_down_and_comes_back():
    a = OriginServer(name="A")
    b = OriginServer(name="B")
    b_port = b.port
    port = free_port()
    with UdpSyslog() as syslog, a, httpx.Client() as client:
        cfg = http_cfg(syslog, port, f"""
    server a 127.0.0.1:{a.port} check inter 100ms
    server b 127.0.0.1:{b_port} check inter 100ms rise 2 fall 2""")
        with run_hapx(cfg, ready_ports=[port]) as proc:
            assert set(get(client, port, 10)) == {"A", "B"}
            b.close()
            got = wait_line(syslog, "Server be/b is DOWN")
            assert got[-1] == ('<129>Server be/b is DOWN, reason: Layer4 connection problem, '
                               'info: "Connection refused", check duration: Nms. 1 active and '
                               '0 backup servers left. 0 sessions active, 0 requeued, 0 '
                               'remaining in queue.')
            assert set(get(client, port, 20)) == {"A"}  # all 200: b is never tried
            b = OriginServer(name="B", port=b_port)
            with b:
                got = wait_line(syslog, "Server be/b is UP")
                assert got[-1] == ("<133>Server be/b is UP, reason: Layer4 check passed, "
                                   "check duration: Nms. 2 active and 0 backup servers online."
                                   " 0 sessions requeued, 0 total in queue.")
                assert "B" in get(client, port, 10)
            assert "Server be/b is DOWN" in proc.stderr


def test_backup_serves_only_when_all_actives_are_down():
    a1, a2 = OriginServer(name="A1"), OriginServer(name="A2")
    k = OriginServer(name="K")
    a1_port = a1.port
    port = free_port()
    with UdpSyslog() as syslog, a2, k, httpx.Client() as client:
        cfg = http_cfg(syslog, port, f"""
    balance roundrobin
    server a1 127.0.0.1:{a1_port} check inter 100ms fall 1 rise 1
    server a2 127.0.0.1:{a2.port} check inter 100ms fall 1 rise 1
    server k 127.0.0.1:{k.port} check inter 100ms backup""")
        with run_hapx(cfg, ready_ports=[port]):
            assert set(get(client, port, 10)) == {"A1", "A2"}
            a1.close()
            wait_line(syslog, "Server be/a1 is DOWN")
            assert set(get(client, port, 10)) == {"A2"}
            a2.close()
            got = wait_line(syslog, "Server be/a2 is DOWN")
            assert got[-1].endswith("0 active and 1 backup servers left. Running on backup. "
                                    "0 sessions active, 0 requeued, 0 remaining in queue.")
            assert set(get(client, port, 10)) == {"K"}
            with OriginServer(name="A1", port=a1_port):
                wait_line(syslog, "Server be/a1 is UP")
                assert set(get(client, port, 10)) == {"A1"}
        assert app_requests(k) == 10


def test_no_server_available():
    port, dead = free_ports(2)
    with UdpSyslog() as syslog:
        cfg = http_cfg(syslog, port, f"    server s 127.0.0.1:{dead} check inter 100ms")
        with run_hapx(cfg, ready_ports=[port]) as proc:
            got = wait_line(syslog, "has no server available")
            assert got[-1] == "<128>backend be has no server available!"
            r = httpx.get(f"http://127.0.0.1:{port}/")
            assert r.status_code == 503
            proc.wait_output("[ALERT]    ", stream="stderr")
            assert re.search(r"\[ALERT\]    \(\d+\) : backend 'be' has no server available!",
                             proc.stderr)


# -- the log lines, compared with haproxy 2.6 ---------------------------------------------------

CASES = {
    "l4-refused": ("http", "dead", "", "is DOWN"),
    "http-status": ("http", "origin", "option httpchk GET /bad", "is DOWN"),
    "http-string": ("http", "origin", "option httpchk\n    http-check send meth GET uri /nf "
                    "ver HTTP/1.1 hdr Host www\n    http-check expect string yes", "is DOWN"),
    "http-rstatus-logged": ("http", "origin", "option httpchk GET /\n    http-check expect "
                            "rstatus ^3\n    option log-health-checks", "is DOWN"),
    "http-not-rstring": ("http", "origin", "option httpchk GET /\n    http-check expect ! "
                         "rstring ok", "is DOWN"),
    "http-body-string": ("http", "origin", "option httpchk GET /body\n    http-check expect "
                         "string missing comment look", "is DOWN"),
    "disable-on-404": ("http", "origin", "option httpchk GET /nf\n    http-check "
                       "disable-on-404\n    option log-health-checks", "no server available"),
    "tcp-check-ok": ("tcp", "echo", "option tcp-check\n    tcp-check connect\n    tcp-check "
                     "send ping\\r\\n\n    tcp-check expect string ping\n    option "
                     "log-health-checks", "Health check for"),
    "tcp-check-timeout": ("tcp", "echo", "option tcp-check\n    tcp-check comment hello\n    "
                          "tcp-check send ping\\r\\n\n    tcp-check expect string pong",
                          "is DOWN"),
    "tcp-check-binary": ("tcp", "echo", "option tcp-check\n    tcp-check send-binary 50494e47\n"
                         "    tcp-check expect ! binary 50494e47 comment nobin", "is DOWN"),
    "tcp-check-rstring": ("tcp", "echo", "option tcp-check\n    tcp-check send PING\n    "
                          "tcp-check expect rstring ^P.NG\n    option log-health-checks",
                          "Health check for"),
    "tcp-check-connect": ("http", "dead", "option tcp-check\n    tcp-check connect port 1 "
                          "comment cc\n    tcp-check send x", "is DOWN"),
    "tcp-check-initial": ("http", "dead", "option tcp-check\n    tcp-check send x", "is DOWN"),
}


def _run_case(runner, name: str) -> list[str]:  # noqa: ANN001
    mode, target, extra, until = CASES[name]
    origin = OriginServer({"/bad": Response(503), "/nf": Response(404),
                           "/body": Response(200, b"some body\n")})
    echo = TcpEchoServer()
    port, dead = free_ports(2)
    srv_port = {"origin": origin.port, "echo": echo.port, "dead": dead}[target]
    with UdpSyslog() as syslog, origin, echo:
        cfg = http_cfg(syslog, port, f"""
    {extra}
    server s1 127.0.0.1:{srv_port} check inter 100ms rise 2 fall 2""", mode)
        with runner(cfg, ready_ports=[port]):
            wait_line(syslog, until)
            # a state change logs several lines at once ("is DOWN", then "has no server
            # available!"): collect until no new one arrived for a while
            settled(syslog)
            return lines(syslog)


def settled(syslog: UdpSyslog, quiet: float = 0.5, timeout: float = 5.0) -> None:
    """Wait until the collector received nothing new for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    count = -1
    while count != len(syslog.messages) and time.monotonic() < deadline:
        count = len(syslog.messages)
        time.sleep(quiet)


@pytest.mark.parametrize("name", sorted(CASES))
def test_log_lines_match_haproxy(name):
    theirs = _run_case(run_haproxy, name)
    ours = _run_case(run_hapx, name)
    assert ours == theirs


# -- tcp-check with traffic -------------------------------------------------------------------

def test_tcp_check_send_expect_against_tcp_server():
    echo = TcpEchoServer()
    port = free_port()
    with UdpSyslog() as syslog, echo:
        cfg = http_cfg(syslog, port, f"""
    option tcp-check
    option log-health-checks
    tcp-check send-binary 68656c6c6f0a
    tcp-check expect string hello
    server s1 127.0.0.1:{echo.port} check inter 100ms""", "tcp")
        with run_hapx(cfg, ready_ports=[port]):
            got = wait_line(syslog, "Health check for server be/s1 succeeded")
            assert got[0] == ('<133>Health check for server be/s1 succeeded, reason: Layer7 '
                              'check passed, code: 0, info: "(tcp-check)", check duration: '
                              'Nms, status: 3/3 UP.')
            wait_until(lambda: echo.bytes_in >= 12, 5)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"data")
                assert s.recv(16) == b"data"


# -- check-reuse-pool -------------------------------------------------------------------------

@pytest.mark.parametrize("reuse", [True, False])
def test_check_reuse_pool(reuse):
    origin = OriginServer(name="O")
    port = free_port()
    flag = "check-reuse-pool" if reuse else ""
    with UdpSyslog() as syslog, origin, httpx.Client() as client:
        cfg = http_cfg(syslog, port, f"""
    http-reuse always
    option httpchk GET /health HTTP/1.1
    http-check send hdr Host checks
    server s1 127.0.0.1:{origin.port} check inter 100ms {flag}""")
        with run_hapx(cfg, ready_ports=[port]):
            wait_until(lambda: origin.requests, 5)
            r = client.get(f"http://127.0.0.1:{port}/app")
            assert r.status_code == 200
            pooled = next(q.conn_id for q in origin.requests if q.path == "/app")

            def on_pooled() -> list:
                return [q for q in list(origin.requests)
                        if q.path == "/health" and q.conn_id == pooled]
            if reuse:
                wait_until(on_pooled, 5)
                opened = origin.connections
                wait_until(lambda: len(on_pooled()) >= 6, 10)
                assert origin.connections == opened   # checks opened no connection
                assert on_pooled()[-1].header("connection") is None
            else:
                opened = origin.connections
                wait_until(lambda: origin.connections >= opened + 5, 10)
                assert not on_pooled()


# -- shutdown-sessions, slowstart, init-state --------------------------------------------------

def test_on_marked_down_shutdown_sessions():
    echo = TcpEchoServer()
    checker = TcpEchoServer()                 # what the check connects to (port option)
    port = free_port()
    with UdpSyslog() as syslog, echo:
        cfg = http_cfg(syslog, port, f"""
    server s1 127.0.0.1:{echo.port} check port {checker.port} inter 100ms fall 1 """
                       "on-marked-down shutdown-sessions", "tcp")
        with run_hapx(cfg, ready_ports=[port]):
            wait_until(lambda: checker.connections >= 1, 5)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"abc")
                assert s.recv(16) == b"abc"
                checker.close()
                wait_line(syslog, "Server be/s1 is DOWN")
                s.settimeout(5)
                try:
                    data = s.recv(16)
                except ConnectionResetError:
                    data = b""
                assert data == b""                # the session was shut down


def test_slowstart_ramps_weight_after_up():
    health = Switch()
    a = OriginServer(name="A")
    b = OriginServer({"/health": health}, name="B")
    port = free_port()
    with UdpSyslog() as syslog, a, b, httpx.Client() as client:
        cfg = http_cfg(syslog, port, f"""
    balance roundrobin
    option httpchk GET /health
    server a 127.0.0.1:{a.port} weight 100
    server b 127.0.0.1:{b.port} weight 100 check inter 100ms fall 1 rise 1 slowstart 20s""")
        with run_hapx(cfg, ready_ports=[port]):
            wait_until(lambda: b.requests, 5)
            health.ok = False
            wait_line(syslog, "Server be/b is DOWN")
            health.ok = True
            wait_line(syslog, "Server be/b is UP")
            # weight 1 (of 100) just after coming back: a small share at first
            share = get(client, port, 100).count("B")
            assert 1 <= share <= 15


def test_init_state_fully_down_needs_rise_successes():
    origin = OriginServer(name="O")
    port = free_port()
    with UdpSyslog() as syslog, origin, httpx.Client() as client:
        cfg = http_cfg(syslog, port, f"""
    option log-health-checks
    server s1 127.0.0.1:{origin.port} check inter 100ms rise 3 init-state fully-down""")
        with run_hapx(cfg, ready_ports=[port]):
            got = wait_line(syslog, "Server be/s1 is UP")
            progress = [m.rsplit("status: ", 1)[1] for m in got if "Health check" in m]
            assert progress == ["1/3 DOWN.", "2/3 DOWN.", "3/3 UP."]
            assert client.get(f"http://127.0.0.1:{port}/").status_code == 200


def test_requests_during_down_get_503_not_the_dead_server():
    port, dead = free_ports(2)
    with UdpSyslog() as syslog:
        cfg = http_cfg(syslog, port, f"    server s 127.0.0.1:{dead} check inter 100ms")
        with run_hapx(cfg, ready_ports=[port]):
            wait_line(syslog, "is DOWN")
            results = []

            def hit() -> None:
                results.append(httpx.get(f"http://127.0.0.1:{port}/").status_code)
            threads = [threading.Thread(target=hit) for _ in range(5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert results == [503] * 5


# -- administrative states (what the runtime API will drive) -----------------------------------

def test_maint_and_drain_transitions_as_haproxy_logs_them():
    """The lines haproxy 2.6 logs for ``set server be/s1 state maint|ready|drain|ready``
    with two checked servers (captured from its stats socket)."""
    from hapx.core.config.address import parse_address
    from hapx.core.config.model import Proxy
    from hapx.core.runtime.backend import picker_for, server_state
    from hapx.plugins.health_checks import health_of, set_server_state
    from hapx.plugins.servers.model import Server

    be = Proxy("be", "backend")
    s1, s2 = (Server(n, parse_address("127.0.0.1:80"), "be") for n in ("s1", "s2"))
    be.servers = [s1, s2]
    logged: list[tuple[int, str, str]] = []
    for s in be.servers:
        st = health_of(s)
        st.backend = be
        st.notify = lambda px, level, text, label: logged.append((level, text, label))
    picker = picker_for(be)
    set_server_state(s1, add_admin="MAINT")
    assert not s1.up and not server_state(s1).up
    assert {picker.pick() for _ in range(4)} == {s2}
    set_server_state(s1, del_admin="MAINT")
    set_server_state(s1, add_admin="DRAIN")
    assert {picker.pick() for _ in range(4)} == {s2}
    assert health_of(s1).status_text() == "DRAIN"
    set_server_state(s1, del_admin="DRAIN")
    assert s1.up and server_state(s1).up
    assert {picker.pick() for _ in range(4)} == {s1, s2}
    assert logged == [
        (1, "Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers "
            "left. 0 sessions active, 0 requeued, 0 remaining in queue.", "warning"),
        (5, "Server be/s1 is UP/READY (leaving forced maintenance).", "warning"),
        (5, "Server be/s1 enters drain state. 1 active and 0 backup servers online. 0 "
            "sessions requeued, 0 total in queue.", "warning"),
        (5, "Server be/s1 is UP (leaving forced drain).", "warning"),
    ]
    st = health_of(s1)
    assert st.down_trans == 1 and st.downtime() >= 0 and st.op == "UP"


CHECK_CFG = """defaults
  mode http
  timeout connect 1s
  timeout client 1s
  timeout server 1s
backend be
  http-check expect status 200
  tcp-check send foo
  server s1 127.0.0.1:80 check
backend b2
  option httpchk
  option tcp-check
  server s1 127.0.0.1:80 check
backend b3
  option tcp-check
  http-check send meth GET
  server s1 127.0.0.1 check
"""


def test_configuration_check_messages_match_haproxy(tmp_path):
    import shutil
    import subprocess
    import sys

    cfg = tmp_path / "c.cfg"
    cfg.write_text(CHECK_CFG)

    def messages(argv: list[str]) -> tuple[int, list[str]]:
        out = subprocess.run([*argv, "-c", "-f", str(cfg)], capture_output=True, text=True,
                             timeout=60)
        found = [re.sub(r"\(\d+\)", "(pid)", line) for line in
                 (out.stdout + out.stderr).splitlines() if "[WARNING]" in line or
                 "[ALERT]" in line]
        return out.returncode, found

    ours = messages([sys.executable, "-m", "hapx.core.cli.main"])
    assert ours == (1, [
        "[WARNING]  (pid) : config : backend 'be' uses http-check rules without 'option "
        "httpchk', so the rules are ignored.",
        "[WARNING]  (pid) : config : backend 'be' uses tcp-check rules without 'option "
        "tcp-check', so the rules are ignored.",
        "[WARNING]  (pid) : config : backend 'b3' uses http-check rules without 'option "
        "httpchk', so the rules are ignored.",
        "[ALERT]    (pid) : config : config: backend 'b3': server 's1' has neither service "
        "port nor check port.",
        "[ALERT]    (pid) : config : Fatal errors found in configuration."])
    haproxy = shutil.which("haproxy")
    if haproxy:
        assert messages([haproxy]) == ours
