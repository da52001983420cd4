"""HTTP/2 towards clients (plugins/h2_mux): h2c with prior knowledge (`bind … proto h2`) and
h2 over TLS chosen by ALPN, each stream through the same rules, backends and logs as
HTTP/1; flow control both ways, RST_STREAM on a stream error, GOAWAY on a graceful stop,
the tune.h2 settings announced.  Real clients: curl, httpx, and a raw h2 client."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess

import h2.events
import h2.settings
import httpx
import pytest
from h2util import RawH2, read_frames
from hyperframe.frame import DataFrame, GoAwayFrame
from netutil import OriginServer, Response, check_pattern, free_port, run_haproxy, run_hapx
from tlspki import CA, client_ctx, write


def _cfg(port: int, origin: int, bind: str = "proto h2", glob: str = "",
         fe: str = "") -> str:
    return f"""
global
    log stdout format raw local0
{glob}
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port} {bind}
    http-request set-var(txn.ver) req.ver
    http-response set-header x-ver %[var(txn.ver)]
{fe}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    leaf = ca.leaf(["h2.test", "127.0.0.1"])
    paths = write(d, {"ca.pem": ca.pem, "site.pem": leaf.bundle})
    return {k: str(v) for k, v in paths.items()}


def _curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True,
                          text=True, timeout=20)


def test_h2c_prior_knowledge_curl_rules_logs():
    port = free_port()
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port), ready_ports=[port]) as px:
        out = _curl("--http2-prior-knowledge", "-D", "-", f"http://127.0.0.1:{port}/a?b=1",
                    "-w", "%{http_version}")
        assert out.returncode == 0, out.stderr
        assert out.stdout.rstrip().endswith("ok\n2"), out.stdout
        assert "x-ver: 2.0" in out.stdout
        req = origin.wait_requests(1)[0]
        # towards the HTTP/1.1 server: origin form and a Host header
        assert (req.method, req.target, req.version) == ("GET", "/a?b=1", "HTTP/1.1")
        assert req.header("host") == f"127.0.0.1:{port}"
        line = px.wait_output("HTTP/2.0\"")
        assert f'"GET http://127.0.0.1:{port}/a?b=1 HTTP/2.0"' in line
        assert " fe be/s1 " in line and " 200 " in line


def test_log_line_matches_haproxy():
    """The request line logged for an h2 request is the one haproxy logs."""
    lines = []
    for runner in (run_hapx, run_haproxy):
        port = free_port()
        with OriginServer() as origin, runner(_cfg(port, origin.port),
                                              ready_ports=[port]) as px:
            out = _curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/p?q", "-o",
                        "/dev/null", "-w", "%{http_code}")
            assert out.stdout == "200"
            text = px.wait_output("HTTP/2.0\"")
            m = re.search(r'"GET \S+ HTTP/2.0"', text)
            assert m, text
            lines.append(m.group(0).replace(str(port), "PORT"))
    assert lines[0] == lines[1]


def test_tls_alpn_h2_and_http11_on_one_bind(pki):
    port = free_port()
    bind = f"ssl crt {pki['site.pem']} alpn h2,http/1.1"
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, bind), ready_ports=[port]):
        base = ["--cacert", pki["ca.pem"], "--resolve", f"h2.test:{port}:127.0.0.1"]
        out = _curl("--http2", *base, f"https://h2.test:{port}/", "-D", "-",
                    "-w", "%{http_version}")
        assert out.stdout.rstrip().endswith("ok\n2"), (out.stdout, out.stderr)
        assert "x-ver: 2.0" in out.stdout
        out = _curl("--http1.1", *base, f"https://h2.test:{port}/", "-D", "-",
                    "-w", "%{http_version}")
        assert out.stdout.rstrip().endswith("ok\n1.1"), out.stdout
        assert "x-ver: 1.1" in out.stdout
        ctx = client_ctx(pki["ca.pem"])
        with httpx.Client(http2=True, verify=ctx) as c:
            r = c.get(f"https://127.0.0.1:{port}/x")
            assert r.http_version == "HTTP/2" and r.text == "ok\n"


def test_httpx_many_streams_one_connection_and_flow_control():
    """Concurrent streams on one connection; a 6 MiB download and a 4 MiB upload pass the
    65535-byte default windows both ways intact."""
    port = free_port()
    big = 6 << 20
    with OriginServer({"/big": Response(200, big)}, keep_body=8 << 20) as origin, \
            run_hapx(_cfg(port, origin.port), ready_ports=[port]):
        async def run() -> None:
            transport = httpx.AsyncHTTPTransport(http1=False, http2=True)
            async with httpx.AsyncClient(transport=transport, timeout=20,
                                         base_url=f"http://127.0.0.1:{port}") as c:
                res = await asyncio.gather(*(c.get(f"/n{i}") for i in range(60)))
                assert all(r.status_code == 200 and r.text == "ok\n" and
                           r.http_version == "HTTP/2" for r in res)
                r = await c.get("/big")
                assert len(r.content) == big and check_pattern(r.content)
                r = await c.post("/up", content=body)
                assert r.status_code == 200

        body = bytes(range(256)) * (4 << 12)
        asyncio.run(run())
        up = [q for q in origin.requests if q.path == "/up"][0]
        assert up.body_len == len(body) and up.body == body
        # 60 + 2 streams, a handful of server connections at most (reused)
        assert len(origin.requests) == 62


def test_response_body_read_as_the_client_window_allows():
    """A client that never opens its window gets 65535 bytes; hapx stops reading the server
    after a bounded amount instead of buffering the whole 64 MiB body."""
    port = free_port()
    size = 64 << 20
    with OriginServer({"/huge": Response(200, size)}) as origin, \
            run_hapx(_cfg(port, origin.port), ready_ports=[port]) as px:
        cli = RawH2(port)
        # the raw client acknowledges DATA as it reads: stop that
        cli.conn.acknowledge_received_data = lambda *a, **k: None
        sid = cli.request("GET", "/huge")
        cli.wait(lambda evs: sum(len(e.data) for e in evs
                                 if isinstance(e, h2.events.DataReceived)) >= 65535)
        got = sum(len(e.data) for e in cli.events if isinstance(e, h2.events.DataReceived))
        assert got == 65535
        # the proxy's memory does not grow by the body: its RSS stays far below 64 MiB more
        rss = int(open(f"/proc/{px.pid}/status").read().split("VmRSS:")[1].split()[0])
        assert rss < 200_000, rss
        assert sid == 1
        cli.close()


def test_stream_error_resets_only_that_stream():
    """A server that dies mid-response: RST_STREAM on that stream, the connection serves
    the next request."""
    port = free_port()
    with OriginServer({"/cut": Response(200, 100000, truncate=1000)}) as origin, \
            run_hapx(_cfg(port, origin.port), ready_ports=[port]):
        cli = RawH2(port)
        sid = cli.request("GET", "/cut")
        cli.wait(lambda evs: any(isinstance(e, h2.events.StreamReset) and e.stream_id == sid
                                 for e in evs))
        sid2 = cli.request("GET", "/fine")
        status, headers, body = cli.response(sid2)
        assert (status, body) == (200, b"ok\n")
        assert not cli.closed
        cli.close()


def test_goaway_on_graceful_stop():
    """A soft stop sends GOAWAY (last stream: the one in progress), serves that stream to
    its end, then closes."""
    port = free_port()
    with OriginServer({"/slow": Response(200, b"slow\n", delay_head=1.0)}) as origin, \
            run_hapx(_cfg(port, origin.port), ready_ports=[port]) as px:
        cli = RawH2(port)
        sid = cli.request("GET", "/slow")
        origin.wait_requests(1)
        px.signal(signal.SIGUSR1)
        frames = read_frames(cli.sock, lambda fs: fs and fs[-1] is None, timeout=8)
        kinds = [type(f).__name__ for f in frames if f is not None]
        goaway = [f for f in frames if isinstance(f, GoAwayFrame)]
        assert goaway and goaway[0].error_code == 0 and goaway[0].last_stream_id == sid
        data = [f for f in frames if isinstance(f, DataFrame) and f.stream_id == sid]
        assert b"".join(f.data for f in data) == b"slow\n", kinds
        assert "END_STREAM" in data[-1].flags
        assert kinds.index("GoAwayFrame") < kinds.index("HeadersFrame")


def test_tune_h2_settings_announced():
    port = free_port()
    glob = """    tune.h2.header-table-size 8192
    tune.h2.fe.initial-window-size 131072
    tune.h2.fe.max-concurrent-streams 7
    tune.h2.max-frame-size 32768"""
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, glob=glob),
                                            ready_ports=[port]):
        cli = RawH2(port)
        ev = cli.wait(lambda evs: [e for e in evs
                                   if isinstance(e, h2.events.RemoteSettingsChanged)])[0]
        got = {k: v.new_value for k, v in ev.changed_settings.items()}
        codes = h2.settings.SettingCodes
        assert got[codes.HEADER_TABLE_SIZE] == 8192
        assert got[codes.INITIAL_WINDOW_SIZE] == 131072
        assert got[codes.MAX_CONCURRENT_STREAMS] == 7
        assert got[codes.MAX_FRAME_SIZE] == 32768
        status, _h, body = cli.response(cli.request("GET", "/"))
        assert (status, body) == (200, b"ok\n")
        cli.close()


needs_nghttp = pytest.mark.skipif(shutil.which("nghttp") is None or
                                  shutil.which("h2load") is None,
                                  reason="nghttp2-client (nghttp, h2load) not installed")


@needs_nghttp
def test_nghttp_and_h2load_100_streams_one_connection(pki):
    port, tport = free_port(), free_port()
    cfg = _cfg(port, 0).replace(f"bind 127.0.0.1:{port} proto h2",
                                f"bind 127.0.0.1:{port} proto h2\n"
                                f"    bind 127.0.0.1:{tport} ssl crt {pki['site.pem']} "
                                "alpn h2,http/1.1")
    with OriginServer() as origin, run_hapx(cfg.replace("127.0.0.1:0", f"127.0.0.1:{origin.port}"),
                                            ready_ports=[port, tport]):
        out = subprocess.run(["nghttp", "-v", f"http://127.0.0.1:{port}/n"],
                             capture_output=True, text=True, timeout=20)
        assert ":status: 200" in out.stdout and "x-ver: 2.0" in out.stdout, out.stdout
        for url in (f"http://127.0.0.1:{port}/", f"https://127.0.0.1:{tport}/"):
            out = subprocess.run(["h2load", "-n", "2000", "-c", "1", "-m", "100", url],
                                 capture_output=True, text=True, timeout=120)
            assert "2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed" in \
                out.stdout, out.stdout
            assert "Application protocol: h2" in out.stdout


def test_bind_idle_ping_keeps_answering_client_closes_silent_one():
    """idle-ping on the bind: a client answering the PINGs stays connected past the idle
    timeout; one that stops answering is closed before the next PING."""
    port = free_port()
    cfg = _cfg(port, 0, bind="proto h2 idle-ping 300ms").replace(
        "timeout client 5s", "timeout client 1s")
    with OriginServer() as origin, run_hapx(cfg.replace("127.0.0.1:0",
                                                        f"127.0.0.1:{origin.port}"),
                                            ready_ports=[port]):
        good = RawH2(port)
        silent = RawH2(port)
        # the answering client: PINGs come and h2 acknowledges them as it reads
        good.wait(lambda evs: sum(isinstance(e, h2.events.PingReceived) for e in evs) >= 5,
                  timeout=10)
        assert not good.closed
        status, _h, body = good.response(good.request("GET", "/after-pings"))
        assert (status, body) == (200, b"ok\n")
        # the silent one never read anything: no PING ACK, it was closed
        frames = read_frames(silent.sock, lambda fs: fs and fs[-1] is None, timeout=10)
        assert frames[-1] is None
        assert any(type(f).__name__ == "PingFrame" for f in frames)
        good.close()


def test_rapid_reset_flood_cut_by_glitches_threshold_normal_client_served():
    port = free_port()
    glob = "    tune.h2.fe.glitches-threshold 50"
    fe = '    log-format "%ci:%cp glitches=%[fc_glitches] %ST %r"'
    with OriginServer({"/slow": Response(200, b"s\n", delay_head=0.5)}) as origin, \
            run_hapx(_cfg(port, origin.port, glob=glob, fe=fe), ready_ports=[port]) as px:
        normal = RawH2(port)
        flood = RawH2(port)
        for _ in range(200):
            sid = flood.conn.get_next_available_stream_id()
            flood.conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                                          (":authority", "h2.test"), (":path", "/slow")],
                                    end_stream=True)
            flood.conn.reset_stream(sid)
            try:
                flood.flush()
            except OSError:
                break
        frames = read_frames(flood.sock, lambda fs: fs and fs[-1] is None, timeout=10)
        goaway = [f for f in frames if isinstance(f, GoAwayFrame)]
        assert goaway and goaway[-1].error_code == 11  # ENHANCE_YOUR_CALM
        status, _h, body = normal.response(normal.request("GET", "/slow"), timeout=10)
        assert (status, body) == (200, b"s\n")
        text = px.wait_output(" 200 GET ")
        assert re.search(r"glitches=0 200 GET ", text)
        assert re.search(r"glitches=[1-9]\d* -?\d+ GET ", px.stdout), px.stdout[-2000:]
        normal.close()


def test_request_body_acknowledged_only_as_forwarded():
    """An upload to a server that never reads: the client's window stops reopening, so the
    client cannot push the whole 64 MiB body into the proxy (what is in flight stays
    within the socket buffers and the windows)."""
    import socket as _socket
    import time as _time

    lst = _socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    accepted = []
    port = free_port()
    try:
        with run_hapx(_cfg(port, lst.getsockname()[1]), ready_ports=[port]):
            cli = RawH2(port)
            sid = cli.request("POST", "/up", end=False,
                              headers=[("content-length", str(64 << 20))])
            sent = 0
            chunk = b"u" * 16384
            deadline = _time.monotonic() + 4
            while _time.monotonic() < deadline and sent < (64 << 20):
                window = cli.conn.local_flow_control_window(sid)
                if window <= 0:
                    cli.read_once(0.1)
                    continue
                n = min(window, len(chunk), cli.conn.max_outbound_frame_size)
                cli.conn.send_data(sid, chunk[:n])
                cli.flush()
                sent += n
            lst.settimeout(1)
            accepted.append(lst.accept()[0])
            assert sent < 24 << 20, sent
            cli.close()
    finally:
        for s in accepted:
            s.close()
        lst.close()


def test_glitches_cpu_gate():
    """tune.glitches.kill.cpu-usage: past its threshold a connection is killed only while
    the process's measured CPU usage reaches the gate."""
    import time as _time

    from hapx.plugins.h2_mux import glitches

    counter = glitches.GlitchCounter(3)
    counter.add(3)
    glitches.KILL_CPU["usage"] = 0
    assert counter.exceeded()
    try:
        glitches.KILL_CPU["usage"] = 80
        # a busy process: the gate opens
        end = _time.monotonic() + 0.4
        while _time.monotonic() < end:
            pass
        busy = counter.exceeded()
        busy_usage = glitches.CPU.usage
        # an idle one: it stays closed
        _time.sleep(0.4)
        idle = counter.exceeded()
        assert idle is False
        # (a starved CPU may not reach the gate: the verdict follows the measured usage)
        assert busy == (busy_usage >= 80)
    finally:
        glitches.KILL_CPU["usage"] = 0
    assert not glitches.GlitchCounter(0).exceeded()


def test_server_timeout_on_streams_after_ended_ones():
    """timeout server on a stream of a connection whose earlier streams ended (their timer
    handles are reused by the later streams): the slow request gets its 504 (sH), an ended
    stream's timeout never fires for the next one, and the connection goes on."""
    port = free_port()
    with OriginServer({"/slow": Response(200, b"slow\n", delay_head=4.0)}) as origin, \
            run_hapx(_cfg(port, origin.port).replace("timeout server 5s", "timeout server 1s"),
                     ready_ports=[port]) as px:
        cli = RawH2(port)
        for _ in range(3):
            status, _h, body = cli.response(cli.request("GET", "/fine"))
            assert (status, body) == (200, b"ok\n")
        slow = cli.request("GET", "/slow")
        fine = cli.request("GET", "/fine")
        assert cli.response(fine)[:1] == (200,)
        status, _h, _b = cli.response(slow, timeout=8)
        assert status == 504
        line = px.wait_output(" 504 ")
        assert re.search(r" 504 \d+ - - sH-- .*\"GET http://h2.test/slow HTTP/2.0\"", line), line
        # later streams are served, and wait for the server as long as they need
        status, _h, body = cli.response(cli.request("GET", "/fine"))
        assert (status, body) == (200, b"ok\n")
        assert not cli.closed
        cli.close()
