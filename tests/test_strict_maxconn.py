"""strict-maxconn (3.2): maxconn also caps the TCP connections to the server, idle pooled
ones included.  Counted at the origin: established connections as the kernel sees them
(/proc/net/tcp, sampled at every request arrival and continuously), and requests in flight.
With plain maxconn the concurrent requests stay at the limit while idle connections pile up
above it (http-reuse safe: a client's first request never takes another client's idle
connection); with strict-maxconn the connection count stays at the limit too."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from netutil import (
    OriginServer,
    free_ports,
    have_haproxy,
    raw_exchange,
    run_haproxy,
    run_hapx,
    wait_until,
)
from test_queues import Clients, Holding, ctl_queue

CFG = """
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
frontend ctl
    bind 127.0.0.1:{ctl}
    http-request return status 200 content-type text/plain lf-string "%[queue(be)]"
backend be
    server s1 127.0.0.1:{origin} maxconn 2 {strict}
"""


def _established_once(port: int) -> set[str]:
    """Remote ends of the ESTABLISHED connections whose local end is 127.0.0.1:<port>,
    from one read of /proc/net/tcp."""
    want = f"0100007F:{port:04X}"
    peers = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "01":
                peers.add(fields[2])
    return peers


def established(port: int) -> int:
    """TCP connections in ESTABLISHED state whose local end is 127.0.0.1:<port>.

    A read of /proc/net/tcp is not a snapshot: the kernel walks its hash buckets while
    connections come and go, so one read can list a socket twice, or a connection that
    has just closed together with the one opened after it.  Rows are counted once per
    remote end, and the count is the smaller of two reads in a row: a connection
    count that lasts is seen by both."""
    return min(len(_established_once(port)), len(_established_once(port)))


class Counting(Holding):
    """Holding origin handler that also samples the established connections."""

    def __init__(self) -> None:
        super().__init__()
        self.port = 0
        self.max_established = 0
        self.stop = threading.Event()

    def sample(self) -> None:
        n = established(self.port)
        with self.lock:
            self.max_established = max(self.max_established, n)

    def __call__(self, req: Any) -> Any:
        self.sample()
        return super().__call__(req)

    def sampler(self) -> None:
        while not self.stop.wait(0.002):
            self.sample()


def drive(runner: Any, strict: str) -> tuple[Counting, int]:
    hold = Counting()
    paths = [f"/{i}" for i in range(6)]
    with OriginServer(handler=hold) as origin:
        hold.port = origin.port
        th = threading.Thread(target=hold.sampler, daemon=True)
        th.start()
        fe, ctl = free_ports(2)
        try:
            with runner(CFG.format(fe=fe, ctl=ctl, origin=origin.port, strict=strict),
                        ready_ports=[fe, ctl]):
                clients = Clients(fe)
                for i, path in enumerate(paths):
                    clients.send(path)
                    if i < 2:
                        wait_until(lambda i=i: len(hold.arrived) == i + 1, 10)
                    else:
                        wait_until(lambda i=i: ctl_queue(ctl) == i - 1, 10)
                # free one request at a time: the next queued one takes its slot
                for n in range(2, 6):
                    hold.release(hold.arrived[n - 2])
                    wait_until(lambda n=n: len(hold.arrived) == n + 1, 10)
                hold.release_all()
                clients.join()
                assert [clients.status(p) for p in paths] == [200] * 6
                # idle connections stay open at the end; nothing above the limit
                hold.sample()
                conns = origin.connections
        finally:
            hold.stop.set()
            hold.release_all()
            th.join(2)
    return hold, conns


def test_plain_maxconn_limits_requests_not_connections():
    hold, conns = drive(run_hapx, "")
    assert hold.max_inflight == 2
    assert hold.max_established > 2 and conns == 6


def test_strict_maxconn_holds_the_connections_at_the_limit():
    hold, conns = drive(run_hapx, "strict-maxconn")
    assert hold.max_inflight == 2
    assert hold.max_established == 2
    # the queued requests could not reuse another client's idle connection (http-reuse
    # safe): each one closed an idle connection to open its own
    assert conns == 6


@pytest.mark.skipif(not have_haproxy(), reason="Debian's haproxy is not installed")
def test_haproxy_plain_maxconn_behaves_the_same():
    """haproxy 2.6 (no strict-maxconn yet) on the plain configuration."""
    hold, _conns = drive(run_haproxy, "")
    assert hold.max_inflight == 2
    assert hold.max_established > 2


def test_no_strict_maxconn_cancels_a_default_server_setting():
    fe, ctl = free_ports(2)
    with OriginServer() as origin, run_hapx(f"""
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    default-server strict-maxconn maxconn 1
    server s1 127.0.0.1:{origin.port} no-strict-maxconn
""", ready_ports=[fe]):
        data = raw_exchange(fe, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200")


def test_strict_maxconn_is_the_plugins_keyword():
    """The argument comes with the strict_maxconn plugin: without it, it is unknown."""
    import subprocess
    import sys
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
        f.write("defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
                "    timeout connect 1s\nfrontend fe\n    bind 127.0.0.1:8080\n"
                "    default_backend be\nbackend be\n"
                "    server s1 127.0.0.1:1 maxconn 2 strict-maxconn\n")
        f.flush()
        ok = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-c", "-f", f.name],
                            capture_output=True, text=True)
        off = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "--disable-plugin",
                              "strict_maxconn", "-c", "-f", f.name],
                             capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert off.returncode != 0 and "unknown keyword 'strict-maxconn'" in off.stderr, off.stderr
