"""TLS towards servers: ``server … ssl`` to a real TLS origin with and without verification
(a wrong CA fails with 503 and HAProxy's log), verifyhost, the SNI expression, ALPN, a client
certificate sent to an origin requiring one, session reuse and ``no-ssl-reuse``,
``check-ssl``, ``ssl-default-server-*``/``ssl-server-verify``, and the ``ssl_bc*`` fetches;
haproxy 2.6 as the oracle where it runs the same configuration."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading

import httpx
import pytest
from cliutil import socat_cli
from netutil import (
    OriginServer,
    Response,
    UdpSyslog,
    free_port,
    have_haproxy,
    run_haproxy,
    run_hapx,
    wait_until,
)
from tlspki import CA, write


class TlsOrigin(OriginServer):
    """An HTTP/1.1 origin speaking TLS; ``seen`` lists, per handshake, what the origin saw
    (sni, alpn, version, resumed, the client certificate's CN)."""

    def __init__(self, ctx: ssl.SSLContext, **kw) -> None:
        self.ctx = ctx
        self.seen: list[dict] = []
        self.failed = 0
        self._sni = threading.local()
        ctx.sni_callback = self._on_sni
        super().__init__(**kw)

    def _on_sni(self, obj, name, _ctx) -> None:
        self._sni.name = name

    def serve(self, conn_id: int, sock: socket.socket) -> None:
        sock.settimeout(5)
        self._sni.name = None
        try:
            tls = self.ctx.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            with self.lock:
                self.failed += 1
            raise
        cert = tls.getpeercert()
        cn = None
        if cert:
            cn = dict(x[0] for x in cert["subject"]).get("commonName")
        with self.lock:
            self.seen.append({"sni": self._sni.name, "alpn": tls.selected_alpn_protocol(),
                              "version": tls.version(), "resumed": tls.session_reused,
                              "client_cn": cn})
        tls.settimeout(0.2)
        super().serve(conn_id, tls)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca, other = CA(), CA("other root")
    leaves = {"origin": ca.leaf(["origin.test", "127.0.0.1"]),
              "client": ca.leaf(["hapx-client"], client=True),
              "front": ca.leaf(["front.test"])}
    files = {"ca.pem": ca.pem, "other-ca.pem": other.pem}
    for name, leaf in leaves.items():
        files[f"{name}.pem"] = leaf.bundle
    paths = write(d, files)
    return {k: str(v) for k, v in paths.items()} | {"dir": d}


def origin_ctx(pki, *, client_ca: str | None = None, alpn: list[str] | None = None,
               tls12: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["origin.pem"])
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _cfg(port: int, server: str, *, glob: str = "", log: str = "", mode: str = "http",
         backend: str = "") -> str:
    logline = f"    log {log} local0\n" if log else ""
    fmt = "    option httplog\n" if mode == "http" else "    option tcplog\n"
    return f"""
global
{glob}
defaults
    mode {mode}
{logline}{fmt if log else ""}    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
{backend}    server s1 {server}
"""


def _get(port: int, path: str = "/", **kw) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10, **kw)


def test_verify_none_and_required(pki):
    with TlsOrigin(origin_ctx(pki)) as origin:
        for opts in ("ssl verify none", f"ssl verify required ca-file {pki['ca.pem']}",
                     f"ssl ca-file {pki['ca.pem']}"):
            port = free_port()
            with run_hapx(_cfg(port, f"{origin.address} {opts}"), ready_ports=[port]):
                r = _get(port, "/v")
                assert r.status_code == 200 and r.text == "ok\n", opts
        assert origin.requests[-1].target == "/v"
        assert [s["sni"] for s in origin.seen] == [None, None, None]


def test_wrong_ca_fails_with_503_and_log(pki):
    for runner in (run_hapx, run_haproxy):
        with TlsOrigin(origin_ctx(pki)) as origin, UdpSyslog() as syslog:
            port = free_port()
            cfg = _cfg(port, f"{origin.address} ssl verify required ca-file "
                       f"{pki['other-ca.pem']}", log=syslog.address,
                       backend="    retries 0\n")
            with runner(cfg, ready_ports=[port]):
                r = _get(port, "/x")
                assert r.status_code == 503
                msgs = syslog.wait_for(1)
            line = msgs[-1]
            assert re.search(r' fe be/s1 \d+/\d+/-1/-1/\d+ 503 \d+ - - SC-- ', line), line
            assert '"GET /x HTTP/1.1"' in line
            assert origin.requests == []
            assert origin.failed >= 1


def test_verifyhost_and_sni_expression(pki):
    with TlsOrigin(origin_ctx(pki)) as origin:
        port = free_port()
        base = f"{origin.address} ssl verify required ca-file {pki['ca.pem']}"
        # the SNI sent is checked against the certificate
        with run_hapx(_cfg(port, f"{base} sni req.hdr(x-sni)"), ready_ports=[port]):
            assert _get(port, headers={"x-sni": "origin.test"}).status_code == 200
            assert origin.seen[-1]["sni"] == "origin.test"
            assert _get(port, headers={"x-sni": "other.test"}).status_code == 503
        # without SNI, verifyhost names what the certificate must carry
        port = free_port()
        with run_hapx(_cfg(port, f"{base} verifyhost origin.test"), ready_ports=[port]):
            assert _get(port).status_code == 200
            assert origin.seen[-1]["sni"] is None
        port = free_port()
        with run_hapx(_cfg(port, f"{base} verifyhost nope.test"), ready_ports=[port]):
            assert _get(port).status_code == 503


def test_alpn_and_fetches(pki):
    with TlsOrigin(origin_ctx(pki, alpn=["http/1.1"])) as origin:
        port = free_port()
        backend = ("    http-response set-header x-bc %[ssl_bc]/%[ssl_bc_protocol]/"
                   "%[ssl_bc_alpn]\n    http-response set-header x-cipher %[ssl_bc_cipher]\n"
                   "    http-response set-header x-resumed %[ssl_bc_is_resumed]\n")
        with run_hapx(_cfg(port, f"{origin.address} ssl verify none alpn h2,http/1.1 "
                           "ssl-max-ver TLSv1.2", backend=backend), ready_ports=[port]):
            r = _get(port)
            assert r.status_code == 200
            assert r.headers["x-bc"] == "1/TLSv1.2/http/1.1"
            assert r.headers["x-cipher"] and r.headers["x-cipher"] != "-"
            assert origin.seen[-1]["alpn"] == "http/1.1"
            assert origin.seen[-1]["version"] == "TLSv1.2"


def test_plain_server_ssl_bc_false(pki):
    with OriginServer() as origin:
        port = free_port()
        with run_hapx(_cfg(port, origin.address,
                           backend="    http-response set-header x-bc %[ssl_bc]\n"),
                      ready_ports=[port]):
            assert _get(port).headers["x-bc"] == "0"


def test_client_certificate(pki):
    with TlsOrigin(origin_ctx(pki, client_ca=pki["ca.pem"])) as origin:
        port = free_port()
        with run_hapx(_cfg(port, f"{origin.address} ssl verify none crt "
                           f"{pki['client.pem']}"), ready_ports=[port]):
            assert _get(port).status_code == 200
            assert origin.seen[-1]["client_cn"] == "hapx-client"
        port = free_port()
        with run_hapx(_cfg(port, f"{origin.address} ssl verify none"), ready_ports=[port]):
            assert _get(port).status_code in (502, 503)
            assert origin.requests[-1:] and len(origin.seen) == 1


@pytest.mark.parametrize("tls12", [False, True])
def test_session_reuse(pki, tls12):
    with TlsOrigin(origin_ctx(pki, tls12=tls12)) as origin:
        port = free_port()
        backend = "    http-reuse never\n"
        with run_hapx(_cfg(port, f"{origin.address} ssl verify none", backend=backend),
                      ready_ports=[port]):
            for _ in range(3):
                assert _get(port, headers={"connection": "close"}).status_code == 200
        assert [s["resumed"] for s in origin.seen] == [False, True, True]
        origin.seen.clear()
        port = free_port()
        with run_hapx(_cfg(port, f"{origin.address} ssl verify none no-ssl-reuse",
                           backend=backend), ready_ports=[port]):
            for _ in range(3):
                assert _get(port, headers={"connection": "close"}).status_code == 200
        assert [s["resumed"] for s in origin.seen] == [False, False, False]


def test_tcp_mode(pki):
    with TlsOrigin(origin_ctx(pki)) as origin:
        port = free_port()
        with run_hapx(_cfg(port, f"{origin.address} ssl verify required ca-file "
                           f"{pki['ca.pem']} sni str(origin.test)", mode="tcp"),
                      ready_ports=[port]):
            assert _get(port, "/tcp").text == "ok\n"
        assert origin.seen[-1]["sni"] == "origin.test"


def test_global_defaults(pki):
    with TlsOrigin(origin_ctx(pki)) as origin:
        port = free_port()
        glob = ("    ssl-server-verify none\n"
                "    ssl-default-server-options ssl-max-ver TLSv1.2\n"
                "    ssl-default-server-ciphers ECDHE-ECDSA-AES128-GCM-SHA256\n")
        backend = "    http-response set-header x-cipher %[ssl_bc_cipher]\n"
        with run_hapx(_cfg(port, f"{origin.address} ssl", glob=glob, backend=backend),
                      ready_ports=[port]):
            r = _get(port)
            assert r.status_code == 200
            assert r.headers["x-cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256"
            assert origin.seen[-1]["version"] == "TLSv1.2"


def _check(cfg: str) -> subprocess.CompletedProcess:
    import sys
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(cfg)
    return subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-c", "-f", f.name],
                          capture_output=True, text=True, timeout=60)


def test_default_verify_needs_ca_file(pki):
    cfg = _cfg(free_port(), "127.0.0.1:1 ssl")
    out = _check(cfg)
    assert out.returncode != 0
    assert "verify is enabled by default but no CA file specified" in out.stdout + out.stderr
    if have_haproxy():
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
            f.write(cfg)
        ref = subprocess.run(["haproxy", "-c", "-f", f.name], capture_output=True,
                             text=True, timeout=30)
        assert ref.returncode != 0
        assert "verify is enabled by default but no CA file specified" in ref.stdout + \
            ref.stderr
    assert _check(_cfg(free_port(), "127.0.0.1:1 ssl",
                       glob="    ssl-server-verify none")).returncode == 0


def _health_lines(syslog: UdpSyslog) -> list[str]:
    out = []
    for m in syslog.messages:
        text = m.split("]: ", 1)[-1]
        out.append(re.sub(r"check duration: \d+ms", "check duration: Nms", text))
    return out


@pytest.mark.parametrize("runner", [run_hapx, run_haproxy])
def test_check_ssl_up_and_down(pki, runner):
    """check-ssl (with check-sni): a verified origin is UP (Layer6 check passed), one with
    a certificate of another CA DOWN with HAProxy's words; the same lines as haproxy."""
    for ca, want in (("ca.pem", "succeeded, reason: Layer6 check passed, check duration: "
                      "Nms, status: 1/1 UP."),
                     ("other-ca.pem", 'failed, reason: Layer6 invalid response, info: "SSL '
                      'handshake failure", check duration: Nms, status: 0/1 DOWN.')):
        with TlsOrigin(origin_ctx(pki)) as origin, UdpSyslog() as syslog:
            port = free_port()
            cfg = _cfg(port, f"{origin.address} check inter 300 rise 1 fall 1 check-ssl "
                       f"verify required ca-file {pki[ca]} check-sni origin.test",
                       log=syslog.address, backend="    option log-health-checks\n")
            with runner(cfg, ready_ports=[port]):
                wait_until(lambda: any("Health check" in m for m in syslog.messages), 10)
                if ca == "ca.pem":
                    assert origin.seen[0]["sni"] == "origin.test"
            lines = _health_lines(syslog)
            assert f"Health check for server be/s1 {want}" in lines, lines


def test_http_check_over_tls(pki):
    with TlsOrigin(origin_ctx(pki)) as origin, UdpSyslog() as syslog:
        origin.route("/health", Response(200, b"fine\n"))
        port = free_port()
        cfg = _cfg(port, f"{origin.address} ssl verify required ca-file {pki['ca.pem']} "
                   "sni str(origin.test) check inter 300 rise 1 fall 1 check-sni origin.test",
                   log=syslog.address,
                   backend="    option log-health-checks\n    option httpchk GET /health\n")
        with run_hapx(cfg, ready_ports=[port]):
            wait_until(lambda: any(r.target == "/health" for r in origin.requests), 10)
            wait_until(lambda: any("Layer7 check passed" in m for m in syslog.messages), 10)
            assert _get(port, "/after").status_code == 200


def test_dynamic_server_with_tls(pki, tmp_path):
    sock = str(tmp_path / "s.sock")
    with TlsOrigin(origin_ctx(pki)) as origin, OriginServer() as plain:
        port = free_port()
        cfg = _cfg(port, plain.address, glob=f"    stats socket {sock} level admin\n")
        with run_hapx(cfg, ready_ports=[port, sock]):
            # refused TLS settings: no server is added (never plain TCP instead)
            out = socat_cli(sock, f"add server be/s2 {origin.address} ssl")
            assert "verify is enabled by default but no CA file specified" in out
            assert "No such server" in socat_cli(sock, "enable server be/s2")
            assert socat_cli(sock, f"add server be/s2 {origin.address} ssl verify required "
                             f"ca-file {pki['ca.pem']} sni str(origin.test)") == \
                "New server registered.\n\n"
            socat_cli(sock, "enable server be/s2")
            socat_cli(sock, "disable server be/s1")
            r = _get(port, "/dyn")
            assert r.status_code == 200
            assert origin.requests[-1].target == "/dyn"
            assert origin.seen[-1]["sni"] == "origin.test"


@pytest.mark.parametrize("runner", [run_hapx, run_haproxy])
def test_tcp_check_connect_ssl(pki, runner):
    """``tcp-check connect ssl sni <s>``: the check speaks TLS with the rule's SNI and the
    server's verification settings; the same log lines as haproxy."""
    with TlsOrigin(origin_ctx(pki)) as origin, UdpSyslog() as syslog:
        origin.route("/health", Response(200, b"fine\n"))
        port = free_port()
        backend = ("    option log-health-checks\n    option tcp-check\n"
                   "    tcp-check connect ssl sni origin.test\n"
                   "    tcp-check send \"GET /health HTTP/1.0\\r\\n\\r\\n\"\n"
                   "    tcp-check expect string fine\n")
        cfg = _cfg(port, f"{origin.address} check inter 300 rise 1 fall 1 verify required "
                   f"ca-file {pki['ca.pem']}", log=syslog.address, backend=backend)
        with runner(cfg, ready_ports=[port]):
            wait_until(lambda: any("Health check" in m for m in syslog.messages), 10)
        assert origin.seen[0]["sni"] == "origin.test"
        lines = _health_lines(syslog)
        assert "Health check for server be/s1 succeeded, reason: Layer7 check passed, code: "\
               "0, info: \"(tcp-check)\", check duration: Nms, status: 1/1 UP." in lines, lines


def test_version_bounds_and_check_alpn(pki):
    """ssl-min-ver TLSv1.3 towards a TLS 1.2-only origin fails (503); check-alpn is what
    the health check offers, alpn what traffic offers.  (The check's token is not h2: a
    check that agrees on h2 speaks HTTP/2, which this HTTP/1 origin does not.)"""
    with TlsOrigin(origin_ctx(pki, tls12=True, alpn=["x-check", "http/1.1"])) as origin:
        port = free_port()
        with run_hapx(_cfg(port, f"{origin.address} ssl verify none ssl-min-ver TLSv1.3",
                           backend="    retries 0\n"), ready_ports=[port]):
            assert _get(port).status_code == 503
        assert origin.requests == []
        port = free_port()
        backend = "    option httpchk GET /health\n"
        with run_hapx(_cfg(port, f"{origin.address} ssl verify none alpn http/1.1 check "
                           "inter 300 check-alpn x-check", backend=backend), ready_ports=[port]):
            wait_until(lambda: any(s["alpn"] == "x-check" for s in origin.seen), 10)
            assert _get(port).status_code == 200
            assert any(s["alpn"] == "http/1.1" for s in origin.seen)  # the request's
