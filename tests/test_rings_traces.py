"""Rings, ``show events`` and traces: log lines written to a ``ring`` section, the sink
listing and ring dumps (-w streaming, -n, -0) compared with haproxy 2.6, the ``trace``
command's listings, h1/ssl/stream/check traces written to a ring, the ``traces`` section."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess

import httpx
import pytest
from cliutil import socat_cli
from netutil import OriginServer, TcpSyslog, free_port, run_haproxy, run_hapx, wait_until
from tlspki import CA

SOCAT = shutil.which("socat")


def config(port: int, sock: str, *, extra: str = "", front: str = "") -> str:
    return f"""
global
    stats socket {sock} level admin
ring myring
    description "My local buffer"
    format rfc3164
    maxlen 1200
    size 32764
ring raw
    size 16384
{extra}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    log ring@myring local0
    http-request return status 200 content-type text/plain string ok
{front}
"""


def _get(port: int, path: str = "/x") -> None:
    assert httpx.get(f"http://127.0.0.1:{port}{path}").status_code == 200


def _normalize(text: str) -> str:
    """Timestamps, pids, ports and the program name out."""
    text = re.sub(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d", "DATE", text)
    text = re.sub(r"(haproxy|hapx)\[\d+\]", "PROG[PID]", text)
    return re.sub(r"127\.0\.0\.1:\d+", "ADDR", text)


def test_log_lines_in_ring_like_haproxy(tmp_path):
    outs = {}
    for name, runner in (("hapx", run_hapx), ("haproxy", run_haproxy)):
        port, sock = free_port(), str(tmp_path / f"{name}.sock")
        with runner(config(port, sock), ready_ports=[port, sock]):
            _get(port)
            wait_until(lambda s=sock: "Connect from" in socat_cli(s, "show events myring"))
            outs[name] = socat_cli(sock, "show events myring")
    assert _normalize(outs["hapx"]) == _normalize(outs["haproxy"])
    assert re.fullmatch(r"<134>DATE localhost PROG\[PID\]: Connect from ADDR to ADDR "
                        r"\(fe/HTTP\)\n\n", _normalize(outs["hapx"]))


def test_show_events_listing_and_errors_as_haproxy(tmp_path):
    lines = ("show events", "show events nope", "show events stdout", "show events raw",
             "show events myring -x", "show events myring -n")
    outs = {}
    for name, runner in (("hapx", run_hapx), ("haproxy", run_haproxy)):
        port, sock = free_port(), str(tmp_path / f"{name}.sock")
        with runner(config(port, sock), ready_ports=[port, sock]):
            outs[name] = [socat_cli(sock, line) for line in lines]
    assert outs["hapx"] == outs["haproxy"]
    assert outs["hapx"][0] == (
        "Supported events sinks are listed below. Add -w(wait), -n(new). Any key to stop\n"
        "    stdout     : type=fd, 0 dropped, standard output (fd#1)\n"
        "    stderr     : type=fd, 0 dropped, standard output (fd#2)\n"
        "    buf0       : type=buffer, 0 dropped, in-memory ring buffer\n"
        "    myring     : type=buffer, 0 dropped, My local buffer\n"
        "    raw        : type=buffer, 0 dropped, raw\n\n")


def test_show_events_level_operator(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    cfg = config(port, sock).replace("level admin", "level user")
    with run_hapx(cfg, ready_ports=[port, sock]):
        assert socat_cli(sock, "show events").startswith("Supported events sinks")
        assert socat_cli(sock, "show events myring") == "Permission denied\n\n"


def _recv_until(s: socket.socket, pred, timeout: float = 10.0) -> bytes:
    s.settimeout(timeout)
    buf = b""
    while not pred(buf):
        data = s.recv(65536)
        if not data:
            break
        buf += data
    return buf


def test_wait_streams_new_events_and_nul(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    with run_hapx(config(port, sock), ready_ports=[port, sock]):
        _get(port, "/first")
        wait_until(lambda: "Connect from" in socat_cli(sock, "show events myring"))
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall(b"show events myring -w\n")
            first = _recv_until(s, lambda b: b.count(b"Connect from") >= 1)
            assert first.count(b"Connect from") == 1
            _get(port, "/second")   # a new connection: a new "Connect from" line
            more = _recv_until(s, lambda b: b"Connect from" in b)
            assert re.search(rb"<134>.* Connect from 127\.0\.0\.1:\d+ to .*\(fe/HTTP\)\n",
                             more)
        # -n skips what is there: only the next event comes
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall(b"show events myring -nw\n")
            _get(port, "/third")
            got = _recv_until(s, lambda b: b"Connect from" in b)
            assert got.count(b"Connect from") == 1
        # -0: every event ends with a NUL instead of a LF
        raw = socat_cli(sock, "show events myring -0")
        events = raw[:-1].split("\0")
        assert events[-1] == "" and len(events) == 4
        assert all("Connect from" in e and "\n" not in e for e in events[:-1])


def test_trace_h1_to_ring(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    with run_hapx(config(port, sock), ready_ports=[port, sock]):
        assert socat_cli(sock, "trace h1 sink raw level user verbosity simple start now") == "\n"
        assert "[R] h1" in socat_cli(sock, "trace")
        _get(port, "/traced?x=1")
        wait_until(lambda: "fully xferred" in socat_cli(sock, "show events raw"))
        text = socat_cli(sock, "show events raw")
        assert re.search(r"^\[\d\d\|h1\|1\|http1\.py:\d+\] rcvd H1 request headers : "
                         r'\[F\] "GET /traced\?x=1 HTTP/1\.1"$', text, re.M), text
        assert re.search(r'sending response headers : \[F\] "HTTP/1\.1 200 OK"$', text,
                         re.M)
        assert re.search(r"\] H1 request fully rcvd : \[F\]$", text, re.M)
        # stopped: nothing more is written
        assert socat_cli(sock, "trace h1 stop now") == "\n"
        before = socat_cli(sock, "show events raw")
        _get(port, "/untraced")
        _get(port, "/untraced2")
        assert "untraced" not in socat_cli(sock, "show events raw") and before
        # proto level with the rfc3164 ring: HAProxy's header with level 0, no tag
        socat_cli(sock, "trace h1 sink myring level proto verbosity quiet start now")
        _get(port)
        wait_until(lambda: "new H1 connection" in socat_cli(sock, "show events myring"))
        assert re.search(r"^<0>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d localhost "
                         r"\[\d\d\|h1\|2\|http1\.py:\d+\] new H1 connection$",
                         socat_cli(sock, "show events myring"), re.M)


def test_trace_listings_as_haproxy(tmp_path):
    lines = ("trace h1", "trace h1 level", "trace h1 verbosity", "trace h1 event",
             "trace h1 start", "trace h1 lock", "trace h1 sink", "trace check lock",
             "trace check event", "trace stream lock", "trace stream verbosity",
             "trace nope", "trace h1 foo", "trace h1 level nope", "trace h1 sink nope",
             "trace h1 verbosity nope", "trace h1 event nope", "trace h1 lock foo",
             "trace h1 start nope", "trace h1 event -h1c_new", "show trace h1")
    outs = {}
    for name, runner in (("hapx", run_hapx), ("haproxy", run_haproxy)):
        port, sock = free_port(), str(tmp_path / f"{name}.sock")
        with runner(config(port, sock), ready_ports=[port, sock]):
            outs[name] = {line: socat_cli(sock, line) for line in lines}
    for line in lines:
        assert outs["hapx"][line] == outs["haproxy"][line], line
    listing = None
    port, sock = free_port(), str(tmp_path / "l.sock")
    with run_hapx(config(port, sock), ready_ports=[port, sock]):
        listing = socat_cli(sock, "trace")
        assert socat_cli(sock, "trace h1 start now") == "\n"
        assert " [R] h1 " in socat_cli(sock, "trace")
        assert socat_cli(sock, "trace 0") == "\n"
        assert " [.] h1 " in socat_cli(sock, "trace")
    assert listing.startswith(
        "Supported trace sources and states (.=stopped, w=waiting, R=running) :\n"
        " [.] 0          : not a source, will immediately stop all traces\n")
    for src in ("h1", "stream", "check", "ssl"):
        assert re.search(rf"^ \[\.\] {src:<10} : ", listing, re.M)


def test_trace_ssl_handshake(tmp_path):
    ca = CA()
    leaf = ca.leaf(["localhost"])
    (tmp_path / "site.pem").write_bytes(leaf.bundle)
    port, sock = free_port(), str(tmp_path / "h.sock")
    cfg = config(port, sock).replace(f"bind 127.0.0.1:{port}",
                                     f"bind 127.0.0.1:{port} ssl crt {tmp_path}/site.pem")
    with run_hapx(cfg, ready_ports=[port, sock]):
        out = socat_cli(sock, "trace ssl sink raw level developer verbosity advanced start now")
        assert out == "\n"
        assert httpx.get(f"https://127.0.0.1:{port}/", verify=False).status_code == 200
        wait_until(lambda: "SSL handshake done" in socat_cli(sock, "show events raw"))
        text = socat_cli(sock, "show events raw")
        assert re.search(r"^\[\d\d\|ssl\|3\|tracing\.py:\d+\] SSL handshake done : "
                         r"\[F\(fe\)\] conn=0x[0-9a-f]+ servername=\(null\) alpn=\S* "
                         r"tls_vers=TLSv1\.[23] cipher=\S+$", text, re.M), text
        assert re.search(r"\|ssl\|2\|.*\] new SSL connection", text)
        # a failed handshake (plain text on the TLS port) is an error event
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            s.settimeout(5)
            try:
                s.recv(100)
            except OSError:
                pass
        wait_until(lambda: "SSL handshake failure" in socat_cli(sock, "show events raw"))


def test_traces_section_starts_at_boot_and_check_source(tmp_path):
    origin = OriginServer()
    with origin:
        port, sock = free_port(), str(tmp_path / "h.sock")
        extra = ("traces\n"
                 "    trace stream sink buf0 level developer verbosity minimal start now\n"
                 "    trace check sink raw level proto verbosity minimal start now\n")
        front = (f"listen li\n    bind 127.0.0.1:{free_port()}\n"
                 f"    server s1 127.0.0.1:{origin.port} check inter 200\n")
        with run_hapx(config(port, sock, extra=extra, front=front),
                      ready_ports=[port, sock]):
            assert " [R] stream " in socat_cli(sock, "trace")
            _get(port, "/boot")
            wait_until(lambda: "releasing stream" in socat_cli(sock, "show events buf0"))
            text = socat_cli(sock, "show events buf0")
            assert re.search(r"^<0>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d "
                             r"\[\d\d\|stream\|5\|http_txn\.py:\d+\] new stream : "
                             r"strm=0x[0-9a-f]+ \[fe/-/-\] term=--$", text, re.M), text
            assert re.search(r"\|stream\|2\|.*\] releasing stream : .* term=LR$", text,
                             re.M)
            wait_until(lambda: "health-check succeeded" in socat_cli(sock, "show events raw"))
            assert re.search(r"^\[\d\d\|check\|2\|tracing\.py:\d+\] health-check succeeded "
                             r": check=0x[0-9a-f]+\(li/s1\) status=L4OK",
                             socat_cli(sock, "show events raw"), re.M)


def test_traces_section_errors(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    bad = config(port, sock, extra="traces\n    trace h1 sink nowhere start now\n")
    out = subprocess.run([*__import__("netutil").HAPX_CMD, "-c", "-f", "/dev/stdin"],
                         input=bad, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "No such sink" in out.stderr
    typo = config(port, sock, extra="traces\n    trace hh1 start now\n")
    out = subprocess.run([*__import__("netutil").HAPX_CMD, "-c", "-f", "/dev/stdin"],
                         input=typo, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "unknown trace source 'hh1'" in out.stderr


@pytest.mark.parametrize("line", ["show events myring", "show events"])
def test_show_events_in_help(tmp_path, line):
    port, sock = free_port(), str(tmp_path / "h.sock")
    with run_hapx(config(port, sock), ready_ports=[port, sock]):
        assert "show events [<sink>] [-w] [-n] [-0]" in socat_cli(sock, "help")
        assert socat_cli(sock, line).endswith("\n\n") or socat_cli(sock, line) == "\n"


def test_debug_counters(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    with run_hapx(config(port, sock), ready_ports=[port, sock]):
        header = 'Count     Type Location function(): "condition" [comment]\n'
        assert socat_cli(sock, "debug counters") == header + "\n"
        listed = socat_cli(sock, "debug counters all")
        assert re.search(r"^0 +GLT http1\.py:\d+ <module>\(\): invalid HTTP/1 request$",
                         listed, re.M), listed
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nbad header line\r\n\r\n")
            s.settimeout(5)
            assert s.recv(100).startswith(b"HTTP/1.1 400")
        assert re.search(r"^1 +GLT http1\.py:\d+ <module>\(\): invalid HTTP/1 request\n",
                         socat_cli(sock, "debug counters glt"), re.M)
        assert socat_cli(sock, "debug counters reset") == "\n"
        assert socat_cli(sock, "debug counters") == header + "\n"
        assert socat_cli(sock, "debug counters nope").startswith("Expects an optional action")


@pytest.mark.parametrize("proto", ["legacy", "octet-count"])
def test_ring_forwards_to_tcp_syslog_like_haproxy(tmp_path, proto):
    got = {}
    for name, runner in (("hapx", run_hapx), ("haproxy", run_haproxy)):
        with TcpSyslog() as syslog:
            port, sock = free_port(), str(tmp_path / f"{name}.sock")
            extra = (f"ring fwd\n    format rfc5424\n    size 32764\n"
                     f"    timeout connect 2s\n    timeout server 10s\n"
                     f"    server s1 {syslog.address} log-proto {proto}\n")
            cfg = config(port, sock, extra=extra).replace("log ring@myring local0",
                                                          "log ring@fwd local0 info")
            with runner(cfg, ready_ports=[port, sock]):
                _get(port, "/one")
                _get(port, "/two")
                msgs = syslog.wait_for(2, timeout=10)
            got[name] = (syslog.framing[:2], [_normalize(m) for m in msgs[:2]])
    assert got["hapx"][0] == ["octet" if proto == "octet-count" else "lf"] * 2
    norm = [re.sub(r"\d{4}-\d\d-\d\dT\S+ \S+ ", "TIME HOST ", m) for m in got["hapx"][1]]
    ref = [re.sub(r"\d{4}-\d\d-\d\dT\S+ \S+ ", "TIME HOST ", m) for m in got["haproxy"][1]]
    assert got["hapx"][0] == got["haproxy"][0]
    assert [re.sub(r"(haproxy|hapx) \d+", "PROG PID", m) for m in norm] == \
        [re.sub(r"(haproxy|hapx) \d+", "PROG PID", m) for m in ref]


def test_wait_ends_on_client_input_or_half_close(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    with run_hapx(config(port, sock), ready_ports=[port, sock]):
        # half-close right after the command: the dump ends (as haproxy 2.6 does)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall(b"show events myring -nw\n")
            s.shutdown(socket.SHUT_WR)
            assert _recv_until(s, lambda b: False) == b"\n"
        # interactive: a key stops the streaming, the session goes on
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall(b"prompt\n")
            assert _recv_until(s, lambda b: b.endswith(b"> ")) == b"\n> "
            s.sendall(b"show events myring -w\n")
            _get(port, "/streamed")
            assert b"Connect from" in _recv_until(s, lambda b: b"Connect from" in b)
            s.sendall(b"show cli level\n")
            tail = _recv_until(s, lambda b: b.endswith(b"admin\n\n> "))
            assert tail == b"\n> admin\n\n> "


def test_trace_h1_server_side(tmp_path):
    with OriginServer() as origin:
        port, sock = free_port(), str(tmp_path / "h.sock")
        front = (f"listen li\n    bind 127.0.0.1:{free_port()}\n"
                 f"    server s1 127.0.0.1:{origin.port}\n")
        li_port = int(re.search(r"bind 127\.0\.0\.1:(\d+)", front).group(1))
        with run_hapx(config(port, sock, front=front), ready_ports=[li_port, sock]):
            socat_cli(sock, "trace h1 sink raw level user verbosity advanced lock server start now")
            assert httpx.get(f"http://127.0.0.1:{li_port}/to-origin").status_code == 200
            wait_until(lambda: "rcvd H1 response headers" in socat_cli(sock, "show events raw"))
            text = socat_cli(sock, "show events raw")
            assert re.search(r'\] sending request headers : \[B\] "GET /to-origin HTTP/1\.1"'
                             r" Host: 127\.0\.0\.1:\d+", text), text
            assert re.search(r'\] rcvd H1 response headers : \[B\] "HTTP/1\.1 200 ', text)
            # locked on the server: client-side events (no server) are left out
            assert "rcvd H1 request headers" not in text
