"""More trace sources and file-backed rings: the ``h2`` source on both sides (runtime API
and ``traces`` section, curl/nghttp clients, an HTTP/2 origin), the ``ssl`` source on the
handshakes towards servers, the ``h3``/``quic`` sources with an aioquic client, and a ring's
``backing-file`` whose events survive a crash and a restart (``<path>.bak``)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading

import httpx
import pytest
from cliutil import socat_cli
from h2util import H2Origin
from netutil import free_port, run_haproxy, run_hapx, wait_until
from tlspki import CA

CURL = shutil.which("curl")
NGHTTP = shutil.which("nghttp")
LINE = r"^\[\d\d\|{src}\|{lvl}\|tracing\.py:\d+\] "


def config(sock: str, body: str, *, extra: str = "") -> str:
    return f"""
global
    stats socket {sock} level admin
ring raw
    size 262144
{extra}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
{body}
"""


def _h2_get(port: int, path: str) -> str:
    if CURL:
        out = subprocess.run([CURL, "-s", "--http2-prior-knowledge",
                              f"http://127.0.0.1:{port}{path}"], capture_output=True,
                             text=True, timeout=20)
        return out.stdout
    import asyncio

    async def get() -> str:
        async with httpx.AsyncClient(http1=False, http2=True) as c:
            return (await c.get(f"http://127.0.0.1:{port}{path}")).text
    return asyncio.run(get())


def _events(sock: str, ring: str = "raw") -> str:
    return socat_cli(sock, f"show events {ring}")


def _lines(sock: str, ring: str = "raw") -> list[str]:
    return [line for line in _events(sock, ring).splitlines() if line]


def test_h2_frontend_trace_from_runtime_api(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    body = (f"frontend fe\n    bind 127.0.0.1:{port} proto h2\n"
            "    http-request return status 200 content-type text/plain string ok\n")
    with run_hapx(config(sock, body), ready_ports=[port, sock]):
        assert "h2c_new      : new H2 connection" in socat_cli(sock, "trace h2 event")
        assert re.search(r"^  \* clean +: ", socat_cli(sock, "trace h2 verbosity"), re.M)
        assert _h2_get(port, "/before") == "ok"
        assert socat_cli(sock, "trace h2 sink raw level data verbosity complete start now") == "\n"
        assert " [R] h2 " in socat_cli(sock, "trace")
        assert _h2_get(port, "/abc?x=1") == "ok"
        wait_until(lambda: "releasing H2 connection" in _events(sock))
        text = _events(sock)
        proto, user, data = (LINE.format(src="h2", lvl=n) for n in (2, 1, 4))
        state = LINE.format(src="h2", lvl=3)
        h2c = r"h2c=0x[0-9a-f]+\(F,"
        assert re.search(user + r"new H2 connection : " + h2c + r"PRF\) : conn=0x[0-9a-f]+ "
                         r"fe=fe$", text, re.M), text
        assert re.search(proto + r"received preface : " + h2c + r"PRF\)$", text, re.M)
        assert re.search(state + r"rcvd H2 frame header, switching to FRAME_P state : "
                         + h2c + r"STG\) dft=SETTINGS/00 dfl=\d+$", text, re.M)
        assert re.search(proto + r"receiving H2 SETTINGS frame : " + h2c + r"FRP\) dsi=0 "
                         r".*initial_window_size=\d+", text, re.M)
        assert re.search(proto + r"sending H2 SETTINGS frame : " + h2c + r"\w+\) dsi=0 "
                         r"dft=SETTINGS/00 dfl=\d+ .*max_concurrent_streams=100", text, re.M)
        assert re.search(proto + r"sending H2 SETTINGS ACK frame : " + h2c + r"FRH\) dsi=0 "
                         r"dft=SETTINGS/01 dfl=0$", text, re.M)
        assert re.search(state + r"new H2 stream : " + h2c + r"FRP\) "
                         r"h2s=0x[0-9a-f]+\(1,HCR\)$", text, re.M)
        assert re.search(user + r"h2c_decode_headers\(\): " + h2c + r"FRH\) dsi=1 rcvh "
                         r":path: /abc\?x=1$", text, re.M), text
        assert re.search(user + r"rcvd H2 request   : " + h2c + r"FRH\) : \[1\] H2 REQ: "
                         r"GET http://127\.0\.0\.1:\d+/abc\?x=1 HTTP/2\.0$", text, re.M), text
        assert re.search(user + r"h2s_frt_make_resp_headers\(\): " + h2c + r"FRH\) "
                         r"h2s=0x[0-9a-f]+\(1,HCR\) sndh :status: 200$", text, re.M), text
        assert re.search(user + r"sent H2 response  : " + h2c + r"FRH\) "
                         r"h2s=0x[0-9a-f]+\(1,HCR\) : \[1\] H2 RES: HTTP/2\.0 200$", text,
                         re.M), text
        assert re.search(data + r"sending H2 DATA frame : " + h2c + r"FRH\) dsi=1 h2s=\w+ "
                         r"dft=DATA/0[01] dfl=\d+ data=b'ok'$", text, re.M), text
        assert re.search(data + r"received data : " + h2c, text, re.M)
        assert re.search(data + r"sent data : " + h2c, text, re.M)
        assert re.search(state + r"H2 stream closed : ", text, re.M)
        assert "/before" not in text
        # only the events asked for: SETTINGS frames received, at level user nothing else
        socat_cli(sock, "trace h2 sink raw level proto verbosity simple event none "
                  "event rx_settings")
        n = len(_lines(sock))
        assert _h2_get(port, "/filtered") == "ok"
        wait_until(lambda: "SETTINGS ACK" in "".join(_lines(sock)[n:]))
        new = _lines(sock)[n:]
        assert any("receiving H2 SETTINGS frame" in line for line in new), new
        assert all("receiving H2 SETTINGS" in line for line in new), new
        assert socat_cli(sock, "trace h2 stop now") == "\n"
        n = len(_lines(sock))
        assert _h2_get(port, "/after") == "ok"
        assert len(_lines(sock)) == n


def test_h2_trace_listings_as_haproxy(tmp_path):
    """The h2 source's events, verbosities, lock criteria and levels are haproxy 2.6's
    (one keyword per command: 2.6 does not chain them)."""
    lines = ("trace h2 event", "trace h2 verbosity", "trace h2 lock", "trace h2 level",
             "trace h2 start", "trace h2 sink buf0", "trace h2 level proto",
             "trace h2 verbosity minimal", "trace h2 event -rx_prio", "show trace h2")
    outs = {}
    for name, runner in (("hapx", run_hapx), ("haproxy", run_haproxy)):
        port, sock = free_port(), str(tmp_path / f"{name}.sock")
        body = (f"frontend fe\n    bind 127.0.0.1:{port} proto h2\n"
                "    http-request return status 200\n")
        with runner(config(sock, body).replace("ring raw\n    size 262144\n", ""),
                    ready_ports=[port, sock]):
            outs[name] = [socat_cli(sock, line) for line in lines]
    assert outs["hapx"] == outs["haproxy"]
    assert "  + rx_fhdr      : H2 frame header received\n" in outs["hapx"][0]
    assert outs["hapx"][2].endswith("    h2s        : H2 stream\n\n")


@pytest.mark.skipif(NGHTTP is None, reason="nghttp is not installed")
def test_h2_backend_trace_from_traces_section(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    with H2Origin() as origin:
        body = (f"frontend fe\n    bind 127.0.0.1:{port} proto h2\n    default_backend be\n"
                f"backend be\n    server s1 127.0.0.1:{origin.port} proto h2\n")
        extra = ("traces\n    trace h2 sink buf0 level user verbosity simple "
                 "lock server start now\n")
        with run_hapx(config(sock, body, extra=extra), ready_ports=[port, sock]):
            assert " [R] h2 " in socat_cli(sock, "trace")
            out = subprocess.run([NGHTTP, "-n", f"http://127.0.0.1:{port}/nghttp?q=1"],
                                 capture_output=True, text=True, timeout=20)
            assert out.returncode == 0, out.stderr
            wait_until(lambda: "rcvd H2 response" in _events(sock, "buf0"))
            text = _events(sock, "buf0")
            stamp = r"^<0>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d "
            head = stamp + r"\[\d\d\|h2\|1\|tracing\.py:\d+\] "
            assert re.search(head + r"sent H2 request   : h2c=0x[0-9a-f]+\(B,\w+\) "
                             r"h2s=0x[1-9a-f][0-9a-f]+\(1,\w+\) : \[1\] H2 REQ: GET http://127\.0\.0\.1:"
                             r"\d+/nghttp\?q=1 HTTP/2\.0$", text, re.M), text
            assert re.search(head + r"rcvd H2 response  : h2c=0x[0-9a-f]+\(B,\w+\) "
                             r"h2s=\S+ : \[1\] H2 RES: HTTP/2\.0 200$", text, re.M), text
            assert re.search(head + r"new H2 connection : h2c=0x[0-9a-f]+\(B,STG\) : "
                             r"conn=0x[0-9a-f]+ be=be srv=s1$", text, re.M), text
            # locked on the server: the client side's lines are left out; level user: no
            # frame lines
            assert "(F," not in text and "frame" not in text


def _tls_loop_config(tmp_path, port: int, sock: str, extra: str = "") -> str:
    ca = CA()
    (tmp_path / "site.pem").write_bytes(ca.leaf(["origin.test"]).bundle)
    tls_port = free_port()
    body = (f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
            f"backend be\n    server s1 127.0.0.1:{tls_port} ssl verify none sni str(origin.test)"
            " alpn http/1.1\n"
            f"frontend tls\n    bind 127.0.0.1:{tls_port} ssl crt {tmp_path}/site.pem alpn http/1.1\n"
            "    http-request return status 200 content-type text/plain string tls-ok\n")
    return config(sock, body, extra=extra)


def test_ssl_trace_server_side_handshake(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    with run_hapx(_tls_loop_config(tmp_path, port, sock), ready_ports=[port, sock]):
        assert socat_cli(sock, "trace ssl sink raw level developer verbosity advanced start now") \
            == "\n"
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "tls-ok"
        wait_until(lambda: "[B(be)]" in _events(sock))
        text = _events(sock)
        assert re.search(LINE.format(src="ssl", lvl=3) + r"SSL handshake done : \[B\(be\)\] "
                         r"conn=0x[0-9a-f]+ srv=s1 servername=origin\.test alpn=http/1\.1 "
                         r"tls_vers=TLSv1\.[23] cipher=\S+ reused=0$", text, re.M), text
        assert re.search(LINE.format(src="ssl", lvl=2) + r"new SSL connection : "
                         r"\[B\(be\)\] conn=", text, re.M)
        # the accepting side of the same handshake is traced too
        assert re.search(r"SSL handshake done : \[F\(tls\)\] conn=0x[0-9a-f]+ "
                         r"servername=origin\.test", text), text


class _NotTls:
    """A TCP server that answers anything with a plain-text line and closes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 400 Bad request\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def test_ssl_trace_server_side_failure_lock_server(tmp_path):
    port, sock = free_port(), str(tmp_path / "h.sock")
    plain = _NotTls()
    body = (f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
            f"backend be\n    retries 0\n    server s1 127.0.0.1:{plain.port} ssl verify none\n")
    extra = "traces\n    trace ssl sink raw level error verbosity simple lock server start now\n"
    try:
        with run_hapx(config(sock, body, extra=extra), ready_ports=[port, sock]):
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 503
            wait_until(lambda: "SSL handshake failure" in _events(sock))
            assert re.search(LINE.format(src="ssl", lvl=0) + r"SSL handshake failure : "
                             r"\[B\(be\)\] conn=0x[0-9a-f]+ srv=s1 err_str=\".+\"$",
                             _events(sock), re.M), _events(sock)
    finally:
        plain.close()


RING_CFG = """
global
    stats socket {sock} level admin
ring keep
    description "kept ring"
    format timed
    size 32768
    backing-file {path}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    log ring@keep local0
    http-request return status 200 content-type text/plain string ok
"""


def _read_ring_file(path: str) -> str:
    out = subprocess.run([sys.executable, "-m", "hapx.core.ringfile", path],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_ring_backing_file_survives_crash_and_restart(tmp_path):
    path = tmp_path / "keep.ring"
    port, sock = free_port(), str(tmp_path / "h.sock")
    cfg = RING_CFG.format(sock=sock, path=path, port=port)
    with run_hapx(cfg, ready_ports=[port, sock]) as px:
        assert path.stat().st_size == 32768 and (path.stat().st_mode & 0o777) == 0o600
        httpx.get(f"http://127.0.0.1:{port}/one")
        httpx.get(f"http://127.0.0.1:{port}/two")
        wait_until(lambda: _events(sock, "keep").count("Connect from") == 2)
        live = _events(sock, "keep")
        # a separate reader sees the same events while hapx runs
        assert _read_ring_file(str(path)) + "\n" == live
        px.kill()   # a crash: nothing is flushed on the way out
    assert _read_ring_file(str(path)).count("Connect from") == 2
    # a restart: the previous contents move to <path>.bak, the ring starts empty
    with run_hapx(cfg, ready_ports=[port, sock]):
        assert _events(sock, "keep") == "\n"
        bak = _read_ring_file(str(path) + ".bak")
        assert bak + "\n" == live
        httpx.get(f"http://127.0.0.1:{port}/three")
        wait_until(lambda: "Connect from" in _events(sock, "keep"))
        assert _events(sock, "keep").count("Connect from") == 1
        assert _read_ring_file(str(path)).count("Connect from") == 1
    # the older .bak is replaced by the next rotation
    with run_hapx(cfg, ready_ports=[port, sock]):
        assert _read_ring_file(str(path) + ".bak").count("Connect from") == 1


def test_ring_backing_file_wraps_like_the_ring(tmp_path):
    path = tmp_path / "small.ring"
    port, sock = free_port(), str(tmp_path / "h.sock")
    cfg = RING_CFG.format(sock=sock, path=path, port=port).replace("size 32768", "size 1024")
    with run_hapx(cfg, ready_ports=[port, sock]):
        for i in range(30):
            httpx.get(f"http://127.0.0.1:{port}/{i}")
        wait_until(lambda: "Connect from" in _events(sock, "keep"))
        live = _events(sock, "keep")
        assert 0 < live.count("Connect from") < 30
        assert _read_ring_file(str(path)) + "\n" == live


def test_quic_and_h3_traces_with_aioquic_client(tmp_path):
    import asyncio

    from h3client import h3_connect, wait_quic
    from test_http3 import free_udp_tcp_port
    from tlspki import write

    ca = CA()
    paths = write(tmp_path, {"ca.pem": ca.pem,
                             "www.pem": ca.leaf(["www.hapx.test"]).bundle})
    port, sock = free_udp_tcp_port(), str(tmp_path / "h.sock")
    body = (f"frontend fe\n    bind quic4@127.0.0.1:{port} ssl crt {paths['www.pem']} "
            "alpn h3\n"
            "    http-request return status 200 content-type text/plain string h3-ok\n")
    extra = ("traces\n    trace h3 sink raw level data start now\n"
             "    trace quic sink buf0 level developer start now\n")
    with run_hapx(config(sock, body, extra=extra), ready_ports=[sock]):
        async def go() -> tuple[int, bytes]:
            await wait_quic(port, str(paths["ca.pem"]))
            async with h3_connect(port, str(paths["ca.pem"])) as c:
                r = await c.request("GET", "/h3path?a=b", headers=[("user-agent", "t3")])
                return r.status, bytes(r.body)
        assert asyncio.run(go()) == (200, b"h3-ok")
        wait_until(lambda: "sent H3 DATA frame" in _events(sock))
        text = _events(sock)
        h3 = LINE.format(src="h3", lvl=1)
        assert re.search(LINE.format(src="h3", lvl=2) + r"new H3 connection : "
                         r"qcc=0x[0-9a-f]+\(F\)$", text, re.M), text
        assert re.search(h3 + r'rcvd H3 HEADERS frame : qcc=\S+ qcs=\(0\) "GET /h3path\?a=b '
                         r'HTTP/3\.0" user-agent: t3$', text, re.M), text
        assert re.search(h3 + r'sent H3 HEADERS frame : qcc=\S+ qcs=\(0\) "HTTP/3\.0 200" '
                         r"content-length: 5 content-type: text/plain$", text, re.M), text
        assert re.search(LINE.format(src="h3", lvl=4) + r"sent H3 DATA frame : qcc=\S+ "
                         r"qcs=\(0\) len=5$", text, re.M), text
        quic = _events(sock, "buf0")
        assert re.search(r"\[\d\d\|quic\|2\|tracing\.py:\d+\] new QUIC connection : "
                         r"qc@0x[0-9a-f]+ odcid=[0-9a-f]+$", quic, re.M), quic
        assert re.search(r"\|quic\|2\|.*\] RX packet : qc@\S+ odcid=\S+ type=initial pn=0 "
                         r"len=\d+ frames=.*crypto", quic, re.M), quic
        assert re.search(r"\|quic\|2\|.*\] TX packet : qc@\S+ odcid=\S+ type=1RTT pn=\d+ "
                         r"len=\d+ frames=.*stream\(0,fin\)", quic, re.M), quic
        assert re.search(r"\|quic\|3\|.*\] remote transport parameters : ", quic, re.M)
        assert re.search(r"\|quic\|5\|.*\] secrets derivation : .*key_type=client_"
                         r"handshake_secret", quic, re.M)
        # the runtime API stops them: a new connection is not traced
        assert socat_cli(sock, "trace quic stop now") == "\n"
        assert socat_cli(sock, "trace h3 stop now") == "\n"
        n = len(_lines(sock)) + len(_lines(sock, "buf0"))
        assert asyncio.run(go()) == (200, b"h3-ok")
        assert len(_lines(sock)) + len(_lines(sock, "buf0")) == n
