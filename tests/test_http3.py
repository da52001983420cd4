"""HTTP/3 over QUIC (plugins/quic): quic4@ binds with certificates from crt, crt-store and
ssl-f-use; requests through rules, backends (HTTP/1.1 servers) and logs; 50 MiB uploads and
downloads streamed with bounded memory, to HTTP/1.1 servers and to HTTP/2 servers (clear
and TLS); the 3.2 upload window (stream-data-ratio) measured
by the client; quic-cc-algo, glitches, show quic; an independent client (ngtcp2's
gtlsclient) as a smoke test.  Clients: aioquic (tests/h3client.py)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from cliutil import cli
from h2util import H2Origin
from h3client import h3_connect, wait_quic
from netutil import (
    HAPX_CMD,
    OriginServer,
    Response,
    _process_tree,
    check_pattern,
    free_port,
    iter_pattern,
    pattern,
    run_hapx,
    wait_until,
)
from tlspki import CA, write

MiB = 1 << 20
HAPX_CHECK = [*HAPX_CMD, "-c", "-f"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    www = ca.leaf(["www.hapx.test", "127.0.0.1"])
    other = ca.leaf(["other.hapx.test"])
    paths = write(d, {"ca.pem": ca.pem, "www.pem": www.bundle, "other.pem": other.bundle,
                      "other.crt": other.cert_pem, "other.key": other.key_pem})
    return {"dir": d, "ca": str(paths["ca.pem"]), "www": str(paths["www.pem"]),
            "other": str(paths["other.pem"])}


class PatientOrigin(OriginServer):
    """An origin whose sends wait for a slow reader (hapx pausing the server side while
    the QUIC client acknowledges) instead of giving up after 0.2 s."""

    def serve(self, conn_id, sock):  # noqa: ANN001, ANN201
        sock.settimeout(10.0)
        return super().serve(conn_id, sock)


def free_udp_tcp_port() -> int:
    """A port free for both TCP and UDP (the QUIC bind and a TCP bind share it)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def cfg(pki, port: int, origin: int, *, glob: str = "", front: str = "", bind: str = "",
        sock: str | None = None) -> str:
    stats = f"    stats socket {sock} level admin\n" if sock else ""
    return f"""
global
{stats}{glob}
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    log stdout format raw local0
    option httplog
    bind 127.0.0.1:{port} ssl crt {pki['www']} crt {pki['other']}
    bind quic4@127.0.0.1:{port} ssl crt {pki['www']} crt {pki['other']} alpn h3 {bind}
{front}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


def run(coro):
    return asyncio.run(coro)


def peak_rss(pid: int) -> int:
    """The largest resident size any process of the tree reached (VmHWM, bytes)."""
    best = 0
    for p in _process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) * 1024)
        except OSError:
            pass
    return best


# -- basics ----------------------------------------------------------------------------------

def test_get_rules_alt_svc_and_logs(pki):
    """A GET over HTTP/3 goes through the frontend's rules and the backend to an HTTP/1.1
    server; Alt-Svc set as HAProxy users do; req.ver is 3.0 and the log says HTTP/3.0."""
    port = free_udp_tcp_port()
    front = ('    http-request set-header x-ver %[req.ver]\n'
             '    http-request return status 403 if { path /forbidden }\n'
             '    http-response set-header alt-svc "h3=\\":' + str(port) + '\\";ma=900"\n')
    with OriginServer() as origin, run_hapx(cfg(pki, port, origin.port, front=front),
                                            ready_ports=[port]) as px:
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                r = await c.request("GET", "/hello?x=1", headers=[("user-agent", "t")])
                forbidden = await c.request("GET", "/forbidden")
                return r, forbidden
        r, forbidden = run(go())
        assert r.status == 200 and bytes(r.body) == b"ok\n"
        assert r.header("alt-svc") == f'h3=":{port}";ma=900'
        assert r.header("x-origin") == origin.name
        req = origin.last
        assert req.target == "/hello?x=1"
        assert req.header("host") == "www.hapx.test"
        assert req.header("x-ver") == "3.0"
        assert req.version == "HTTP/1.1"
        assert forbidden.status == 403
        wait_until(lambda: "HTTP/3.0" in px.stdout and "/forbidden" in px.stdout)
        line = next(ln for ln in px.stdout.splitlines() if "/hello" in ln)
        assert '"GET /hello?x=1 HTTP/3.0"' in line and " fe~ be/s1 " in line
        assert " 200 " in line


def test_quic6_bind(pki):
    """quic6@ listens on IPv6; the log shows the client's IPv6 address."""
    port = free_udp_tcp_port()
    text = cfg(pki, port, 0).replace(f"quic4@127.0.0.1:{port}", f"quic6@[::1]:{port}")
    with OriginServer() as origin, run_hapx(text.replace("127.0.0.1:0", f"127.0.0.1:{origin.port}"),
                                            ready_ports=[port]) as px:
        async def go():
            await wait_quic(port, pki["ca"], host="::1")
            async with h3_connect(port, pki["ca"], host="::1") as c:
                return await c.request("GET", "/six")
        r = run(go())
        assert r.status == 200 and bytes(r.body) == b"ok\n"
        wait_until(lambda: "/six" in px.stdout)
        assert any(ln.startswith("::1:") and '"GET /six HTTP/3.0"' in ln
                   for ln in px.stdout.splitlines())


def test_sni_and_crt_store_ssl_f_use(pki, tmp_path):
    """Certificates for the QUIC bind come from crt-store and ssl-f-use as on TCP binds;
    the client's SNI picks one, checked against the CA."""
    port = free_udp_tcp_port()
    with OriginServer() as origin, run_hapx(f"""
crt-store certs
    load crt "{pki['www']}" alias "www"
    load crt "{pki['other']}" alias "other"
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port} ssl
    bind quic4@127.0.0.1:{port} ssl
    ssl-f-use crt "@certs/www"
    ssl-f-use crt "@certs/other"
    http-request return status 200 content-type text/plain lf-string "%[ssl_fc_sni]" if {{ path /sni }}
    default_backend be
backend be
    server s1 127.0.0.1:{origin.port}
""", ready_ports=[port]):
        async def go():
            await wait_quic(port, pki["ca"])
            out = {}
            for name in ("www.hapx.test", "other.hapx.test"):
                async with h3_connect(port, pki["ca"], server_name=name) as c:
                    r = await c.request("GET", "/sni", authority=name)
                    out[name] = bytes(r.body)
            # a name the certificate does not carry fails verification
            with pytest.raises(ConnectionError):
                async with h3_connect(port, pki["ca"], server_name="nope.test") as c:
                    await c.request("GET", "/")
            return out
        out = run(go())
        assert out == {"www.hapx.test": b"www.hapx.test", "other.hapx.test": b"other.hapx.test"}


# -- bodies ---------------------------------------------------------------------------------

def test_50mib_upload_and_download_bounded_memory(pki):
    """A 50 MiB POST upload and a 50 MiB download through hapx to an HTTP/1.1 server,
    checked byte for byte, while hapx's peak memory grows far less than a body."""
    port = free_udp_tcp_port()
    size = 50 * MiB
    with PatientOrigin({"/big": Response(200, body=size)}, keep_body=1 * MiB) as origin, \
            run_hapx(cfg(pki, port, origin.port), ready_ports=[port], timeout=30) as px:
        async def go():
            await wait_quic(port, pki["ca"])
            base = peak_rss(px.pid)
            async with h3_connect(port, pki["ca"]) as c:
                up = await c.request("POST", "/upload", body_iter=iter_pattern(size, 65536),
                                     timeout=120)
                state = {"off": 0, "ok": True}

                def sink(data: bytes) -> None:
                    state["ok"] = state["ok"] and check_pattern(data, state["off"])
                    state["off"] += len(data)
                down = await c.request("GET", "/big", sink=sink, timeout=120)
            return base, up, down, state
        base, up, down, state = run(go())
        assert up.status == 200
        req = origin.requests[-2]
        assert req.method == "POST" and req.body_len == size
        assert req.header("transfer-encoding") == "chunked"  # no length given by the client
        assert req.body == pattern(MiB)
        assert down.status == 200 and down.body_len == size and state["ok"]
        assert down.header("content-length") == str(size)
        grown = peak_rss(px.pid) - base
        assert grown < 25 * MiB, f"hapx grew by {grown} bytes for 50 MiB bodies"


def test_upload_with_content_length_and_trailers(pki):
    """A request with a length is forwarded with it; a chunked response's trailers reach
    the client as an HTTP/3 trailer section."""
    port = free_udp_tcp_port()
    chunked = Response(200, body=100000, chunked=True, trailers=[("grpc-status", "0")])
    with OriginServer({"/t": chunked}, keep_body=MiB) as origin, run_hapx(
            cfg(pki, port, origin.port), ready_ports=[port]):
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                t = await c.request("GET", "/t")
                r = await c.request("PUT", "/p", headers=[("content-length", "300000")],
                                    body=pattern(300000))
                return t, r
        t, r = run(go())
        assert t.status == 200 and bytes(t.body) == pattern(100000)
        assert t.header("transfer-encoding") is None
        assert t.trailers == [(b"grpc-status", b"0")]
        assert r.status == 200
        req = origin.last
        assert req.body_len == 300000 and req.body == pattern(300000)
        assert req.header("content-length") == "300000"
        assert req.header("transfer-encoding") is None


def _upload(pki, port: int, size: int, delay: float):
    async def go():
        await wait_quic(port, pki["ca"])
        async with h3_connect(port, pki["ca"], delay=delay) as c:
            return await c.request("POST", "/up", body_iter=iter_pattern(size, 65536),
                                   timeout=180)
    return run(go())


def test_upload_window_not_capped_at_one_buffer(pki):
    """The 3.2 upload speed-up, measured by the client with 20 ms added to every datagram
    it receives (the kernel here has no netem): with the default stream-data-ratio the
    client keeps far more than one 16 KiB buffer of a 20 MiB upload in flight on its
    single stream; with stream-data-ratio 1 (1% of 100 x 16 KiB: one buffer) it never
    has more than one buffer in flight (give or take the credit granted during one round
    trip), so the window is what governs it."""
    port = free_udp_tcp_port()
    with OriginServer(keep_body=0) as origin, run_hapx(cfg(pki, port, origin.port),
                                                       ready_ports=[port], timeout=30):
        big = _upload(pki, port, 20 * MiB, 0.02)
        assert big.status == 200 and origin.last.body_len == 20 * MiB
    port2 = free_udp_tcp_port()
    with OriginServer(keep_body=0) as origin, run_hapx(
            cfg(pki, port2, origin.port, glob="    tune.quic.frontend.stream-data-ratio 1"),
            ready_ports=[port2], timeout=30):
        small = _upload(pki, port2, 1 * MiB, 0.02)
        assert small.status == 200 and origin.last.body_len == 1 * MiB
    one_buffer = 16384
    rate_big = 20 * MiB / big.upload_seconds
    rate_small = MiB / small.upload_seconds
    print(f"default ratio: window {big.max_window}, in flight up to {big.max_in_flight}, "
          f"{rate_big / MiB:.1f} MiB/s; ratio 1: window {small.max_window}, in flight up to "
          f"{small.max_in_flight}, {rate_small / MiB:.2f} MiB/s; one buffer per 20 ms "
          f"allows {one_buffer / 0.02 / MiB:.2f} MiB/s")
    # (the client measures from its acknowledged offset, which lags what hapx had read
    # when it granted the credit by up to one round trip of data: at most one more buffer)
    assert small.max_window <= 2 * one_buffer
    assert small.max_in_flight <= 2 * one_buffer
    assert big.max_window >= 64 * one_buffer
    assert big.max_in_flight >= 8 * one_buffer


# -- settings ---------------------------------------------------------------------------------

def _check(cfg_text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "h.cfg"
    path.write_text(cfg_text)
    return subprocess.run([*HAPX_CHECK, str(path)], capture_output=True, text=True,
                          timeout=60)


def test_cc_algo_config_checks(pki, tmp_path):
    ok = _check(cfg(pki, 8443, 8080, bind="quic-cc-algo newreno",
                    glob="    tune.quic.disable-tx-pacing\n"
                         "    tune.quic.frontend.max-tx-mem 4m\n"
                         "    tune.quic.frontend.glitches-threshold 10"), tmp_path)
    assert ok.returncode == 0, ok.stderr
    bbr = _check(cfg(pki, 8443, 8080, bind="quic-cc-algo bbr"), tmp_path)
    assert bbr.returncode != 0
    assert "'quic-cc-algo bbr' is not available" in bbr.stderr
    assert "only 'cubic' and 'newreno'" in bbr.stderr
    win = _check(cfg(pki, 8443, 8080, bind="quic-cc-algo cubic(1m)"), tmp_path)
    assert win.returncode != 0 and "maximum window" in win.stderr
    alpn = _check(cfg(pki, 8443, 8080, bind="").replace("alpn h3", "alpn http/1.1"), tmp_path)
    assert alpn.returncode != 0 and "must include 'h3'" in alpn.stderr


def test_newreno_without_pacing_and_tx_mem_limit(pki):
    """quic-cc-algo newreno, pacing off and a small max-tx-mem: a 8 MiB download still
    arrives whole (the server side is paused and resumed by acknowledgements)."""
    port = free_udp_tcp_port()
    sock = f"/tmp/hapx-h3-{port}.sock"
    with PatientOrigin({"/d": Response(200, body=8 * MiB)}) as origin, run_hapx(
            cfg(pki, port, origin.port, bind="quic-cc-algo newreno", sock=sock,
                glob="    tune.quic.disable-tx-pacing\n    tune.quic.frontend.max-tx-mem 256k"),
            ready_ports=[port, sock]) as px:
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                state = {"off": 0, "ok": True}

                def sink(data: bytes) -> None:
                    state["ok"] = state["ok"] and check_pattern(data, state["off"])
                    state["off"] += len(data)
                r = await c.request("GET", "/d", sink=sink)
                full = cli(sock, "show quic full")
                return r, state, full
        r, state, full = run(go())
        assert r.status == 200 and r.body_len == 8 * MiB and state["ok"], px.output()
        assert "cc=newreno pacing=off" in full
        # the response bytes waiting for acknowledgement stayed near max-tx-mem (one
        # server read or two over it), far under what a stream window allows
        peak = int(full.split("txmem_peak=")[1].split()[0])
        assert 0 < peak <= 768 * 1024, full  # (1.7 MiB were seen without the limit)


def test_glitches_threshold_kills_a_resetting_client(pki):
    """A client resetting its requests before their responses (rapid reset) is cut at the
    glitches threshold; another client of the same process is served."""
    port = free_udp_tcp_port()
    slow = Response(200, body=b"late", delay_head=2.0)
    with OriginServer({"/slow": slow}) as origin, run_hapx(
            cfg(pki, port, origin.port, glob="    tune.quic.frontend.glitches-threshold 5"),
            ready_ports=[port]):
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as bad, \
                    h3_connect(port, pki["ca"]) as good:
                for _ in range(10):
                    sid = bad._quic.get_next_available_stream_id()
                    bad.h3.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"https"),
                                              (b":authority", b"www.hapx.test"),
                                              (b":path", b"/slow")], end_stream=True)
                    bad.transmit()
                    await asyncio.sleep(0.01)
                    bad.reset(sid)
                    await asyncio.sleep(0.01)
                for _ in range(200):
                    if bad.terminated is not None:
                        break
                    await asyncio.sleep(0.02)
                r = await good.request("GET", "/ok")
                return bad.terminated, r
        terminated, r = run(go())
        assert terminated is not None and terminated.error_code == 0x107  # H3_EXCESSIVE_LOAD
        assert r.status == 200


# -- runtime API ------------------------------------------------------------------------------

def test_show_quic(pki):
    port = free_udp_tcp_port()
    sock = f"/tmp/hapx-h3s-{port}.sock"
    # in flight during every command below, whatever the machine's load
    slow = Response(200, body=b"x" * 10, delay_head=6.0)
    with OriginServer({"/slow": slow}) as origin, run_hapx(
            cfg(pki, port, origin.port, sock=sock), ready_ports=[port, sock]):
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                await c.request("GET", "/")
                pending = asyncio.ensure_future(c.request("GET", "/slow"))
                await asyncio.sleep(0.5)
                out = {w: cli(sock, f"show quic {w}".strip())
                       for w in ("", "oneline", "full", "stream", "cc,sock", "help", "bogus")}
                await pending
                return out
        out = run(go())
    legend = ("# conn/frontend                     state   in_flight infl_p lost_p         "
              "Local Address           Foreign Address      local & remote CIDs")
    lines = [ln for ln in out[""].splitlines() if ln]
    assert lines[0] == legend and len(lines) == 2
    assert out["oneline"] == out[""]
    row = lines[1]
    assert row.startswith("0x") and "[00]/fe " in row and " ESTAB " in row
    assert "127.0.0.1:" + str(port) in row.replace(" ", "")
    full = out["full"]
    assert full.startswith("* 0x") and " scid=" in full and " dcid=" in full
    assert "  loc. TPs:" in full and "  st=opened" in full and "mux=ready" in full
    assert f"local_addr=127.0.0.1:{port} foreign_addr=127.0.0.1:" in full
    assert "  [01rtt] rx.ackrng=" in full and "  srtt=" in full and "  cwnd=" in full
    assert "cc=cubic pacing=on" in full
    stream = [ln for ln in out["stream"].splitlines() if ln]
    assert stream[0].startswith("# conn/frontend") and len(stream) == 2
    assert stream[1].split()[1] == "4"  # the second request's stream id
    part = out["cc,sock"]
    assert "  srtt=" in part and "local_addr=" in part and "loc. TPs" not in part
    assert out["help"].startswith("Usage: show quic [help|<format>] [<filter>]")
    assert out["bogus"].startswith("Invalid argument")


# -- an independent client --------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("gtlsclient") is None, reason="ngtcp2-client not installed")
def test_gtlsclient_get_and_post(pki, tmp_path):
    port = free_udp_tcp_port()
    (tmp_path / "dl").mkdir()
    (tmp_path / "body.bin").write_bytes(pattern(200000))
    with PatientOrigin({"/file": Response(200, body=300000)}, keep_body=MiB) as origin, \
            run_hapx(cfg(pki, port, origin.port), ready_ports=[port]):
        run(wait_quic(port, pki["ca"]))
        base = ["gtlsclient", "--quiet", "--exit-on-all-streams-close",
                "--handshake-timeout=3s", "--sni", "www.hapx.test"]
        subprocess.run([*base, "--download", str(tmp_path / "dl"), "127.0.0.1", str(port),
                        f"https://127.0.0.1:{port}/file"], timeout=30, capture_output=True)
        got = (tmp_path / "dl" / "file").read_bytes()
        assert got == pattern(300000)
        subprocess.run([*base, "-m", "POST", "-d", str(tmp_path / "body.bin"), "127.0.0.1",
                        str(port), f"https://127.0.0.1:{port}/post"], timeout=30,
                       capture_output=True)
        req = origin.wait_requests(2)[-1]
        assert req.method == "POST" and req.body == pattern(200000)


def test_soft_stop_finishes_requests_then_closes(pki):
    """A graceful stop (SIGUSR1): the request in progress is answered, the connection
    then closes with H3_NO_ERROR (after a GOAWAY) and hapx exits."""
    port = free_udp_tcp_port()
    slow = Response(200, body=b"done", delay_head=1.5)
    with OriginServer({"/slow": slow}) as origin, run_hapx(cfg(pki, port, origin.port),
                                                           ready_ports=[port]) as px:
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                pending = asyncio.ensure_future(c.request("GET", "/slow"))
                await asyncio.sleep(0.5)
                loop = asyncio.get_running_loop()
                stopping = loop.run_in_executor(None, lambda: px.stop(soft=True, timeout=15))
                try:
                    r = await pending
                except ConnectionError:
                    await stopping
                    raise AssertionError((c.terminated, px.output())) from None
                for _ in range(300):
                    if c.terminated is not None:
                        break
                    await asyncio.sleep(0.02)
                return r, c.terminated, await stopping
        r, terminated, status = run(go())
        assert r.status == 200 and bytes(r.body) == b"done"
        assert terminated is not None and terminated.error_code == 0x100  # H3_NO_ERROR
        assert status == 0


# -- towards HTTP/2 servers ---------------------------------------------------------------------

def _h2_server_ctx(pki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["www"])
    ctx.set_alpn_protocols(["h2"])
    return ctx


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_h3_to_h2_server_get_50mib_upload_and_download(pki, tls):
    """HTTP/3 clients through hapx to an HTTP/2 server (clear `proto h2`, and TLS with
    `alpn h2`): a GET, a 50 MiB POST upload and a 50 MiB download, checked byte for byte,
    while hapx's peak memory grows far less than a body."""
    port = free_udp_tcp_port()
    size = 50 * MiB
    srv = f"ssl verify required ca-file {pki['ca']} alpn h2" if tls else "proto h2"
    text = cfg(pki, port, 0).replace("server s1 127.0.0.1:0", "server s1 127.0.0.1:{}")
    text = text.replace("    default_backend be\n",
                        "    http-response set-header x-bc-alpn %[ssl_bc_alpn]\n"
                        "    default_backend be\n")
    with H2Origin(ssl_ctx=_h2_server_ctx(pki) if tls else None) as origin, \
            run_hapx(text.format(origin.port).rstrip() + f" {srv}\n", ready_ports=[port],
                     timeout=30) as px:
        async def go():
            await wait_quic(port, pki["ca"])
            base = peak_rss(px.pid)
            async with h3_connect(port, pki["ca"]) as c:
                get = await c.request("GET", "/hello?x=1")
                up = await c.request("POST", "/pattern", body_iter=iter_pattern(size, 65536),
                                     timeout=120)
                state = {"off": 0, "ok": True}

                def sink(data: bytes) -> None:
                    state["ok"] = state["ok"] and check_pattern(data, state["off"])
                    state["off"] += len(data)
                down = await c.request("GET", f"/size/{size}", sink=sink, timeout=120)
            return base, get, up, down, state
        base, get, up, down, state = run(go())
        assert get.status == 200 and bytes(get.body) == b"h2 ok\n"
        assert (get.header("x-bc-alpn") or "") == ("h2" if tls else "")
        first = origin.requests[0]
        assert first[":path"] == "/hello?x=1"
        assert (first.get(":authority") or first.get("host")) == "www.hapx.test"
        assert up.status == 200 and bytes(up.body) == f"{size}\n".encode()
        assert origin.requests[1]["body_len"] == size and origin.requests[1]["pattern_ok"]
        assert down.status == 200 and down.body_len == size and state["ok"]
        assert down.header("content-length") == str(size)
        assert origin.connections == 1
        if tls:
            assert origin.alpns == ["h2"]
        grown = peak_rss(px.pid) - base
        assert grown < 25 * MiB, f"hapx grew by {grown} bytes for 50 MiB bodies"
        wait_until(lambda: "/pattern HTTP/3.0" in px.stdout)


def test_fc_glitches_counts_quic_glitches(pki):
    """fc_glitches reads the QUIC connection's glitch count: requests reset before their
    response are counted, and a later request on the same connection sees them."""
    port = free_udp_tcp_port()
    slow = Response(200, body=b"late", delay_head=2.0)
    front = "    http-response set-header x-glitches %[fc_glitches]\n"
    with OriginServer({"/slow": slow}) as origin, run_hapx(
            cfg(pki, port, origin.port, front=front), ready_ports=[port]):
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                before = await c.request("GET", "/ok")
                for _ in range(3):
                    sid = c._quic.get_next_available_stream_id()
                    c.h3.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"https"),
                                            (b":authority", b"www.hapx.test"),
                                            (b":path", b"/slow")], end_stream=True)
                    c.transmit()
                    await asyncio.sleep(0.05)
                    c.reset(sid)
                    await asyncio.sleep(0.05)
                seen = None
                for _ in range(100):
                    r = await c.request("GET", "/ok")
                    seen = r.header("x-glitches")
                    if seen == "3":
                        break
                    await asyncio.sleep(0.05)
                return before, seen
        before, seen = run(go())
        assert before.header("x-glitches") == "0"
        assert seen == "3"
