"""HTTP/1 data path: graceful stop of client connections (ClientConnection.soft_stop) and
servers written without a port (the client's destination port, +N/-N offsets)."""

from __future__ import annotations

import socket
import threading

import pytest
from netutil import OriginServer, Response, free_port, read_response, run_hapx

CFG = """
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 2s

frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    server s1 {server}
"""

GET = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


class _SoftStop:
    """``px.stop(soft=True)`` (SIGUSR1, then wait for the exit) in a thread, so the test
    watches the connections meanwhile."""

    def __init__(self, px: object) -> None:
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, args=(px,), daemon=True)
        self.thread.start()

    def _run(self, px: object) -> None:
        self.status = px.stop(soft=True, timeout=10)  # type: ignore[attr-defined]

    def wait(self) -> None:
        self.thread.join(12)
        assert self.status == 0, f"hapx exit status {self.status}"


def test_soft_stop_closes_idle_keepalive_connection() -> None:
    with OriginServer() as o:
        port = free_port()
        with run_hapx(CFG.format(port=port, server=o.address), ready_ports=[port]) as px:
            sock = _connect(port)
            sock.sendall(GET)
            res = read_response(sock)
            assert res.status == 200
            assert "close" not in (res.header("connection") or "").lower()
            stop = _SoftStop(px)
            assert _closed_by_peer(sock), "the idle connection was not closed"
            sock.close()
            stop.wait()


def test_soft_stop_finishes_request_in_flight_then_closes() -> None:
    with OriginServer({"/x": Response(200, b"slow\n", delay_head=1.0)}) as o:
        port = free_port()
        with run_hapx(CFG.format(port=port, server=o.address), ready_ports=[port]) as px:
            sock = _connect(port)
            sock.sendall(GET)
            o.wait_requests(1)
            stop = _SoftStop(px)
            res = read_response(sock, timeout=5)
            assert res.status == 200 and res.body == b"slow\n"
            assert (res.header("connection") or "").lower() == "close"
            assert _closed_by_peer(sock), "no keep-alive after a graceful stop"
            sock.close()
            stop.wait()


def test_soft_stop_leaves_other_idle_clients_closed_and_busy_ones_served() -> None:
    with OriginServer({"/x": Response(200, b"slow\n", delay_head=0.8)}) as o:
        port = free_port()
        with run_hapx(CFG.format(port=port, server=o.address), ready_ports=[port]) as px:
            idle = _connect(port)
            idle.sendall(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(idle).status == 200
            busy = _connect(port)
            busy.sendall(GET)
            o.wait_requests(2)
            stop = _SoftStop(px)
            assert _closed_by_peer(idle)
            res = read_response(busy, timeout=5)
            assert res.status == 200 and res.body == b"slow\n"
            assert _closed_by_peer(busy)
            idle.close()
            busy.close()
            stop.wait()


# -- servers without a port ---------------------------------------------------------------------

def test_portless_server_uses_client_destination_port() -> None:
    port = free_port()
    try:
        origin = OriginServer(host="127.0.0.2", port=port)
    except OSError:
        pytest.skip("127.0.0.2 is not usable here")
    with origin as o:
        with run_hapx(CFG.format(port=port, server="127.0.0.2"), ready_ports=[port]):
            for _ in range(3):
                sock = _connect(port)
                sock.sendall(GET)
                res = read_response(sock)
                sock.close()
                assert res.status == 200
            assert len(o.requests) == 3


def _origin_at_offset(offset: int) -> tuple[int, OriginServer]:
    for _ in range(50):
        port = free_port()
        try:
            return port, OriginServer(port=port + offset)
        except OSError:
            continue
    pytest.skip("no free pair of ports")


@pytest.mark.parametrize("offset", [1, -1])
def test_server_port_offset_is_relative_to_destination_port(offset: int) -> None:
    port, origin = _origin_at_offset(offset)
    with origin as o:
        server = f"127.0.0.1:{offset:+d}"
        with run_hapx(CFG.format(port=port, server=server), ready_ports=[port]):
            sock = _connect(port)
            for _ in range(2):
                sock.sendall(GET)
                assert read_response(sock).status == 200
            sock.close()
            assert len(o.requests) == 2


def test_portless_server_connections_are_pooled_per_destination_port() -> None:
    """Two binds on different ports, one port-less server: each request goes to the port
    it arrived on, even with idle connections to the other port in the pool."""
    p1, p2 = free_port(), free_port()
    try:
        o1 = OriginServer(host="127.0.0.2", port=p1, name="one")
        o2 = OriginServer(host="127.0.0.2", port=p2, name="two")
    except OSError:
        pytest.skip("127.0.0.2 is not usable here")
    cfg = CFG.format(port=p1, server="127.0.0.2").replace(
        f"bind 127.0.0.1:{p1}", f"bind 127.0.0.1:{p1}\n    bind 127.0.0.1:{p2}")
    cfg = cfg.replace("defaults\n", "defaults\n    http-reuse always\n")
    with o1, o2, run_hapx(cfg, ready_ports=[p1, p2]):
        results: list[str | None] = []
        lock = threading.Lock()

        def one(port: int) -> None:
            sock = _connect(port)
            sock.sendall(GET)
            res = read_response(sock)
            sock.close()
            with lock:
                results.append(f"{port}:{res.header('x-origin')}")

        for port in (p1, p2, p1, p2):
            one(port)
        assert results == [f"{p1}:one", f"{p2}:two", f"{p1}:one", f"{p2}:two"]
