"""Server limits and queues end to end: maxconn counting concurrent requests, requests
queued and served in arrival order, timeout queue (503, sQ), maxqueue (503, SQ), minconn
with fullconn, the %sq/%bq/%Tw log fields, and mode tcp; each scenario also run against
Debian's haproxy 2.6 on the same configuration and compared (skipped when absent)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from netutil import (
    OriginServer,
    Response,
    TcpEchoServer,
    UdpSyslog,
    free_ports,
    have_haproxy,
    raw_exchange,
    run_haproxy,
    run_hapx,
    wait_until,
)

RUNNERS = [("hapx", run_hapx), ("haproxy", run_haproxy)]


def runners() -> list[tuple[str, Any]]:
    return RUNNERS if have_haproxy() else RUNNERS[:1]


class Holding:
    """An origin handler that records arrivals and holds each request until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.inflight = 0
        self.max_inflight = 0
        self.opened = False

    def gate(self, path: str) -> threading.Event:
        with self.lock:
            ev = self.gates.setdefault(path, threading.Event())
            if self.opened:
                ev.set()
            return ev

    def __call__(self, req: Any) -> Response:
        with self.lock:
            self.arrived.append(req.path)
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        self.gate(req.path).wait(15)
        with self.lock:
            self.inflight -= 1
        return Response(200, f"done {req.path}\n")

    def release(self, path: str) -> None:
        self.gate(path).set()

    def release_all(self) -> None:
        """Release every request, those still to come included."""
        with self.lock:
            self.opened = True
            gates = list(self.gates.values())
        for g in gates:
            g.set()


class Clients:
    """Requests sent from threads, one client connection each."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.results: dict[str, bytes] = {}
        self.threads: list[threading.Thread] = []

    def send(self, path: str) -> None:
        def run() -> None:
            self.results[path] = raw_exchange(
                self.port, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                .encode(), timeout=20)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def join(self) -> None:
        for t in self.threads:
            t.join(25)

    def status(self, path: str) -> int:
        line = self.results.get(path, b"").split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 else 0


def ctl_queue(port: int) -> int:
    """The backend's queued requests, as the control frontend reports them."""
    data = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    return int(data.split(b"\r\n\r\n", 1)[1].strip() or b"-1")


HTTP_CFG = """
global
    maxconn 1000
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{fe}
    log {log} format raw local0
    log-format "%ST %ts %b/%s %rc %sq %bq %Tw %HP"
    default_backend be
frontend ctl
    bind 127.0.0.1:{ctl}
    http-request return status 200 content-type text/plain lf-string "%[queue(be)]"
backend be
{backend}
"""


def scenario(name: str, runner: Any, backend: str, origin: OriginServer,
             drive: Callable[[int, int, UdpSyslog], Any]) -> Any:
    fe, ctl = free_ports(2)
    with UdpSyslog() as log:
        cfg = HTTP_CFG.format(fe=fe, ctl=ctl, log=log.address,
                              backend=backend.format(origin=origin.port))
        with runner(cfg, ready_ports=[fe, ctl]):
            return drive(fe, ctl, log)


def by_path(lines: list[str]) -> dict[str, list[str]]:
    return {ln.split()[-1]: ln.split()[:-1] for ln in lines}


@pytest.mark.parametrize("name,runner", runners())
def test_requests_queue_and_are_served_in_arrival_order(name, runner):
    hold = Holding()
    with OriginServer(handler=hold) as origin:
        def drive(fe: int, ctl: int, log: UdpSyslog) -> Any:
            clients = Clients(fe)
            try:
                clients.send("/a")
                wait_until(lambda: hold.arrived == ["/a"], 10)
                for i, path in enumerate(["/b", "/c", "/d"], 1):
                    clients.send(path)
                    wait_until(lambda i=i: ctl_queue(ctl) == i, 10,
                               message=f"{i} queued requests")
                # one at a time (maxconn 1): each arrives once the previous is released
                for prev, nxt in [("/a", "/b"), ("/b", "/c"), ("/c", "/d")]:
                    hold.release(prev)
                    wait_until(lambda nxt=nxt: hold.arrived[-1:] == [nxt], 10)
                    assert hold.inflight == 1
                hold.release("/d")
                clients.join()
            finally:
                hold.release_all()
            assert [clients.status(p) for p in "/a /b /c /d".split()] == [200] * 4
            return by_path(log.wait_for(4, 10))

        lines = scenario(name, runner, "    server s1 127.0.0.1:{origin} maxconn 1", origin,
                         drive)
    assert hold.arrived == ["/a", "/b", "/c", "/d"]
    assert hold.max_inflight == 1
    # status, term, server, %rc, %sq, %bq: queued in the backend queue, positions 1 2 3
    assert [lines[p][:6] for p in "/a /b /c /d".split()] == [
        ["200", "--", "be/s1", "0", "0", "0"],
        ["200", "--", "be/s1", "0", "0", "1"],
        ["200", "--", "be/s1", "0", "0", "2"],
        ["200", "--", "be/s1", "0", "0", "3"]], lines
    assert lines["/a"][6] == "0" and all(int(lines[p][6]) >= 0 for p in "/b /c /d".split())


@pytest.mark.parametrize("name,runner", runners())
def test_timeout_queue_answers_503_sQ(name, runner):
    hold = Holding()
    with OriginServer(handler=hold) as origin:
        def drive(fe: int, ctl: int, log: UdpSyslog) -> Any:
            clients = Clients(fe)
            try:
                clients.send("/a")
                wait_until(lambda: hold.arrived == ["/a"], 10)
                clients.send("/b")
                wait_until(lambda: "/b" in clients.results, 10,
                           message="the queued request's answer")
                assert clients.status("/b") == 503
                assert b"503 Service Unavailable" in clients.results["/b"]
                assert ctl_queue(ctl) == 0
                hold.release("/a")
                clients.join()
            finally:
                hold.release_all()
            return by_path(log.wait_for(2, 10))

        lines = scenario(name, runner, "    timeout queue 300\n"
                         "    server s1 127.0.0.1:{origin} maxconn 1", origin, drive)
    assert hold.arrived == ["/a"]
    # waited in the backend queue: no server, queue position 1, Tw = the wait
    assert lines["/b"][:6] == ["503", "sQ", "be/<NOSRV>", "0", "0", "1"], lines
    assert int(lines["/b"][6]) >= 0
    assert lines["/a"][:2] == ["200", "--"]


@pytest.mark.parametrize("name,runner", runners())
def test_timeout_queue_defaults_to_timeout_connect(name, runner):
    hold = Holding()
    with OriginServer(handler=hold) as origin:
        def drive(fe: int, ctl: int, log: UdpSyslog) -> Any:
            clients = Clients(fe)
            try:
                clients.send("/a")
                wait_until(lambda: hold.arrived == ["/a"], 10)
                clients.send("/b")
                wait_until(lambda: "/b" in clients.results, 10)
                hold.release("/a")
                clients.join()
            finally:
                hold.release_all()
            return by_path(log.wait_for(2, 10))

        lines = scenario(name, runner, "    timeout connect 300\n"
                         "    server s1 127.0.0.1:{origin} maxconn 1", origin, drive)
    assert lines["/b"][:2] == ["503", "sQ"]


@pytest.mark.parametrize("name,runner", runners())
def test_server_queue_and_maxqueue(name, runner):
    """use-server binds the request to s1: a full s1 queues it in its own queue (%sq); once
    that queue holds maxqueue requests the next one gets 503 SQ."""
    hold = Holding()
    with OriginServer(handler=hold) as origin:
        def drive(fe: int, ctl: int, log: UdpSyslog) -> Any:
            clients = Clients(fe)
            try:
                clients.send("/a")
                wait_until(lambda: hold.arrived == ["/a"], 10)
                clients.send("/b")
                wait_until(lambda: ctl_queue(ctl) == 1, 10)
                clients.send("/c")
                wait_until(lambda: "/c" in clients.results, 10)
                assert clients.status("/c") == 503
                hold.release("/a")
                wait_until(lambda: hold.arrived == ["/a", "/b"], 10)
                hold.release("/b")
                clients.join()
            finally:
                hold.release_all()
            return by_path(log.wait_for(3, 10))

        lines = scenario(name, runner, "    use-server s1 if TRUE\n"
                         "    server s1 127.0.0.1:{origin} maxconn 1 maxqueue 1\n"
                         "    server s2 127.0.0.1:1 weight 0", origin, drive)
    assert lines["/c"][:6] == ["503", "SQ", "be/s1", "0", "0", "0"], lines
    assert lines["/c"][6] == "-1"
    assert lines["/b"][:6] == ["200", "--", "be/s1", "0", "1", "0"], lines


@pytest.mark.parametrize("name,runner", runners())
@pytest.mark.parametrize("line,limit", [
    ("server s1 127.0.0.1:{origin} maxconn 10", 4),
    # dynamic limit: max(minconn, maxconn * backend streams / fullconn) = max(2, 10*3/20)
    ("server s1 127.0.0.1:{origin} maxconn 10 minconn 2", 2),
])
def test_minconn_with_fullconn(name, runner, line, limit):
    hold = Holding()
    with OriginServer(handler=hold) as origin:
        def drive(fe: int, ctl: int, log: UdpSyslog) -> Any:
            clients = Clients(fe)
            try:
                for i, path in enumerate(["/a", "/b", "/c", "/d"], 1):
                    clients.send(path)
                    wait_until(lambda i=i: len(hold.arrived) + ctl_queue(ctl) == i, 10)
                assert len(hold.arrived) == limit and ctl_queue(ctl) == 4 - limit
                hold.release_all()
                clients.join()
            finally:
                hold.release_all()
            assert all(clients.status(p) == 200 for p in "/a /b /c /d".split())
            return log.wait_for(4, 10)

        scenario(name, runner, "    fullconn 20\n    " + line, origin, drive)
    assert hold.max_inflight == limit


def test_backend_maxconn_is_still_a_frontend_limit():
    """A backend's own maxconn is ignored (frontends only), as before: no queueing."""
    hold = Holding()
    with OriginServer(handler=hold) as origin:
        def drive(fe: int, ctl: int, log: UdpSyslog) -> Any:
            clients = Clients(fe)
            try:
                for path in ("/a", "/b", "/c"):
                    clients.send(path)
                wait_until(lambda: len(hold.arrived) == 3, 10)
                hold.release_all()
                clients.join()
            finally:
                hold.release_all()
            return log.wait_for(3, 10)

        scenario("hapx", run_hapx, "    server s1 127.0.0.1:{origin}", origin, drive)
    assert hold.max_inflight == 3


TCP_CFG = """
defaults
    timeout client 10s
    timeout server 10s
    timeout connect 5s
frontend fe
    mode tcp
    bind 127.0.0.1:{fe}
    log {log} format raw local0
    log-format "%ts %b/%s %sq %bq"
    default_backend be
frontend ctl
    mode http
    bind 127.0.0.1:{ctl}
    http-request return status 200 content-type text/plain lf-string "%[queue(be)]"
backend be
    mode tcp
    timeout queue {tq}
    server s1 127.0.0.1:{echo} maxconn 1
"""


@pytest.mark.parametrize("name,runner", runners())
def test_tcp_connections_queue_for_a_slot(name, runner):
    fe, ctl = free_ports(2)
    with TcpEchoServer() as echo, UdpSyslog() as log, \
            runner(TCP_CFG.format(fe=fe, ctl=ctl, log=log.address, echo=echo.port, tq="10s"),
                   ready_ports=[fe, ctl]):
        first = socket.create_connection(("127.0.0.1", fe), timeout=10)
        first.sendall(b"one")
        assert first.recv(10) == b"one"
        second = socket.create_connection(("127.0.0.1", fe), timeout=10)
        second.sendall(b"two")
        wait_until(lambda: ctl_queue(ctl) == 1, 10)
        assert echo.connections == 1
        first.close()
        assert second.recv(10) == b"two"
        second.close()
        lines = log.wait_for(2, 10)
    assert sorted(lines) == ["-- be/s1 0 0", "-- be/s1 0 1"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_tcp_timeout_queue(name, runner):
    fe, ctl = free_ports(2)
    with TcpEchoServer() as echo, UdpSyslog() as log, \
            runner(TCP_CFG.format(fe=fe, ctl=ctl, log=log.address, echo=echo.port, tq=300),
                   ready_ports=[fe, ctl]):
        first = socket.create_connection(("127.0.0.1", fe), timeout=10)
        first.sendall(b"one")
        assert first.recv(10) == b"one"
        second = socket.create_connection(("127.0.0.1", fe), timeout=10)
        second.sendall(b"two")
        assert second.recv(10) == b""
        second.close()
        first.close()
        lines = log.wait_for(2, 10)
    assert "sQ be/<NOSRV> 0 1" in lines, lines


def test_counters_for_the_runtime_api(tmp_path):
    """The live counters a stats/runtime API reads: slots, queues, totals, maxima."""
    import asyncio
    import io

    from hapx.core.config.parser import parse_config
    from hapx.core.errors import Diagnostics
    from hapx.core.loader import load_plugins
    from hapx.core.runtime.accounting import assign_backend, release
    from hapx.core.runtime.queue import Pending, acquire, prepare
    from hapx.core.stream import Session, Stream

    cfg = tmp_path / "c.cfg"
    cfg.write_text("defaults\n    mode http\n    timeout connect 5s\nfrontend fe\n"
                   "    bind 127.0.0.1:8080\n    default_backend be\nbackend be\n"
                   "    server s1 127.0.0.1:1 maxconn 1\n")
    diag = Diagnostics(stream=io.StringIO())
    config = parse_config([str(cfg)], load_plugins(warn=lambda text: None), diag)
    assert not diag.alerts, diag.stream.getvalue()
    be = config.backend("be")
    s1 = be.servers[0]

    async def main() -> None:
        prepare(config, 1000)
        strms = [Stream(sess=Session(), frontend=config.frontend("fe")) for _ in range(3)]
        for strm in strms:
            strm.backend = be
            assign_backend(strm, be)
        assert acquire(be, strms[0]) is s1
        waits = [acquire(be, strms[1]), acquire(be, strms[2])]
        assert all(isinstance(w, Pending) for w in waits)
        st = be.ext["state"]
        assert (st.queued, st.max_queued, s1.live.served) == (2, 2, 1)
        release(strms[0])  # its slot goes to the oldest waiting stream
        assert await waits[0] is s1 and strms[1].counters["be_queue"] == 1
        strms[2].term_state = "CD"
        release(strms[2])  # gone while waiting: out of the queue, "Q" state
        assert strms[2].term_state == "CQ" and st.queued == 0
        release(strms[1])
        assert (s1.live.served, s1.live.total, s1.live.max_served) == (0, 2, 1)
        assert (st.served, st.total, st.max_served, st.max_queued) == (0, 3, 3, 2)

    asyncio.run(main())
