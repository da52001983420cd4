"""term_events (HAProxy 3.2): the termination events of a stream and its connections in a
log line, recorded by the data path of a real hapx for requests that end differently (the
server aborts, the client aborts, the server refuses the connection, a normal exchange, a
reply made by hapx itself), and ``hapx term-events`` decoding them."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys

import httpx
import pytest
from hapx.core.runtime import tevents as te
from hapx.plugins.term_events.codec import decode_events, evts2str
from netutil import (
    OriginServer,
    Response,
    TcpEchoServer,
    free_port,
    free_ports,
    run_hapx,
    wait_until,
)


def config(port: int, origin: int, dead: int) -> str:
    return f"""
global
    log stdout format raw local0

defaults
    mode http
    log global
    timeout client 5s
    timeout server 5s
    timeout connect 2s
    retries 0

frontend fe
    bind 127.0.0.1:{port}
    log-format "%HP %ST %ts %[term_events]"
    http-request return status 200 content-type text/plain string ok if {{ path /local }}
    use_backend dead if {{ path /refused }}
    default_backend be

backend be
    server s1 127.0.0.1:{origin}

backend dead
    server d1 127.0.0.1:{dead}
"""


def exchange(port: int, path: str) -> bytes:
    """One request with ``Connection: close``; what came back until the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def log_line(proc, path: str) -> str:
    def find() -> str | None:
        for line in proc.stdout.splitlines():
            if line.startswith(path + " "):
                return line
        return None
    return wait_until(find, 10, message=lambda: f"no log line for {path}\n{proc.output()}")


def events(line: str) -> str:
    return line.rsplit(" ", 1)[1]


def decode(*values: str) -> str:
    out = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "term-events", *values],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def proxy():
    origin = OriginServer({"/srv-abort": Response(200, body=100000, truncate=1000),
                           "/srv-close": Response(action="close"),
                           "/slow": Response(200, b"late\n", delay_head=3.0)})
    port, dead = free_port(), free_port()
    with origin, run_hapx(config(port, origin.port, dead), ready_ports=[port]) as proc:
        yield proc, port, origin


def test_server_and_client_aborts_log_different_events(proxy):
    proc, port, origin = proxy
    # the server aborts its response in the middle of the body
    exchange(port, "/srv-abort")
    srv = log_line(proc, "/srv-abort")
    assert srv.split()[2] == "SD"
    # the client resets its connection while the server has not answered yet
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: any(r.path == "/slow" for r in origin.requests), 10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    cli = log_line(proc, "/slow")
    assert cli.split()[2][0] == "C"

    srv_ev, cli_ev = events(srv), events(cli)
    assert srv_ev != cli_ev
    # the server side ended first on the server abort: its connection saw the close
    assert srv_ev == "{,,e1,S5s1,E5,M5,F2}"
    # the client side ended first on the client abort: a reset, then hapx closed the
    # server side
    assert cli_ev == "{f3,m3,e3,s3S1,E1,M1,F1}"

    out = decode(srv_ev)
    assert out.splitlines() == [
        "### e1       : se:shutw",
        "### S5s1     : STRM:truncated_eos > strm:shutw",
        "### E5       : SE:truncated_eos",
        "### M5       : MUXC:truncated_shutr",
        "### F2       : FD:shutr",
    ]
    out = decode(cli_ev)
    assert "### f3       : fd:rcv_err" in out.splitlines()
    assert "### s3S1     : strm:rcv_err > STRM:shutw" in out.splitlines()
    assert "### F1       : FD:shutw" in out.splitlines()


def test_refused_normal_and_local(proxy):
    proc, port, _origin = proxy
    assert exchange(port, "/refused").startswith(b"HTTP/1.1 503")
    # the release notes' example: the server refused the connection
    assert events(log_line(proc, "/refused")) == "{,,e1,S1s1,,,F7}"
    # a normal exchange on a connection kept alive: nothing ended
    with httpx.Client() as c:
        assert c.get(f"http://127.0.0.1:{port}/fine").status_code == 200
    line = log_line(proc, "/fine")
    assert line.split()[1:3] == ["200", "--"]
    assert events(line) == "{,,,,,,}"
    # a response made by hapx: no server connection at all
    exchange(port, "/local")
    assert events(log_line(proc, "/local")) == "{,,e1,s1,,-,-}"
    # a server closing without an answer
    exchange(port, "/srv-close")
    line = log_line(proc, "/srv-close")
    assert line.split()[1:3] == ["502", "SH"]
    assert events(line) == "{,,e1,S5s1,E5,M5,F2}"


def test_decoder_forms():
    assert decode("{,,e1,S1s1,,,F7}").splitlines() == [
        "### e1       : se:shutw",
        "### S1s1     : STRM:shutw > strm:shutw",
        "### F7       : FD:conn_err",
    ]
    every = decode("-a", "{,,e1,S1s1,,-,F7}").splitlines()
    assert every[0] == "### fc            : ##NONE"
    assert every[5] == "### bmux -        : ##UNK"
    assert decode("m7", "Zz").splitlines() == ["### m7       : muxc:tout", "### Zz       : ##INV"]
    assert decode_events("x2h4") == "xprt:shutr > hs:snd_err"
    assert decode_events("sC") == "strm:aborted"


def test_event_log_rules():
    evts = 0
    for loc, typ in ((te.STRM | te.BACK, 1), (te.STRM | te.BACK, 1), (te.STRM, 1),
                     (te.SE, 2), (te.FD, 3), (te.MUXC, 7)):
        evts = te.report(evts, loc, typ)
    # a repeat of the last event is not recorded; at most four are
    assert evts2str(evts) == "S1s1e2f3"
    assert evts2str(0) == "" and evts2str(te.ABSENT) == "-"
    assert evts2str(te.report(0, te.STRM, te.INTERNAL_ERR)) == "sA"


def test_tcp_mode_events():
    """mode tcp: a client that half-closes after its data, an echo server that half-closes
    in turn, and a refused server connection."""
    port, other, dead = free_ports(3)
    with TcpEchoServer() as echo, run_hapx(f"""
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout client 5s
    timeout server 5s
    timeout connect 2s
    retries 0
frontend fe
    bind 127.0.0.1:{port}
    log-format "%b %ts %[term_events]"
    default_backend be
frontend fe2
    bind 127.0.0.1:{other}
    log-format "%b %ts %[term_events]"
    default_backend dead
backend be
    server s1 127.0.0.1:{echo.port}
backend dead
    server d1 127.0.0.1:{dead}
""", ready_ports=[port, other]) as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"hello")
            s.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        assert got == b"hello"
        line = log_line(proc, "be")
        assert line.split()[1] == "--"
        # the client's end of data, passed on; then the server's, passed back
        assert events(line) == "{f2,,e2e1,s2S1S2s1,E1E2,,F1F2}"

        with socket.create_connection(("127.0.0.1", other), timeout=10) as s:
            assert s.recv(10) == b""
        line = log_line(proc, "dead")
        assert line.split()[1] == "SC"
        assert events(line) == "{,,e1,S1s1,,,F7}"
