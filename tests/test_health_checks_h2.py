"""HTTP health checks over HTTP/2 (plugins/health_checks/h2check.py): ``check-proto h2``,
a server's ``proto h2``, ``http-check connect proto h2`` and TLS checks whose ALPN chose
h2 (``check-alpn h2``), against an HTTP/2 origin (h2 library); the log lines compared with
haproxy 2.6 on the same configuration."""

from __future__ import annotations

import ssl
import subprocess
import tempfile

import pytest
from h2util import H2Origin
from netutil import HAPX_CMD, UdpSyslog, free_port, run_haproxy, run_hapx
from test_health_checks import http_cfg, lines, settled, wait_line
from tlspki import CA, write

_GET = "option httpchk GET /health\n    http-check send hdr host h2.test"

CASES = {
    # the check speaks h2 because of check-proto: the server stays UP
    "check-proto-ok": (_GET + "\n    option log-health-checks", "check-proto h2",
                       "Health check for"),
    # an expect that fails on the h2 response: DOWN, HAProxy's wording (no reason phrase)
    "check-proto-status": (_GET + "\n    http-check expect status 404", "check-proto h2",
                           "is DOWN"),
    # no Host: no :authority, which the h2 library's server refuses by closing: an empty
    # response
    "check-proto-nohost": ("option httpchk GET /health", "check-proto h2", "is DOWN"),
    "check-proto-string": ("option httpchk\n    http-check send meth GET uri /x hdr host "
                           "www.test\n    http-check expect string missing",
                           "check-proto h2", "is DOWN"),
    "server-proto": (_GET + "\n    option log-health-checks", "proto h2",
                     "Health check for"),
    "connect-proto": ("option httpchk\n    http-check connect proto h2\n    http-check send "
                      "meth GET uri /c hdr host h2.test\n    http-check expect string h2\n"
                      "    option log-health-checks", "", "Health check for"),
}


def _run(runner, name: str) -> tuple[list[str], list[dict]]:  # noqa: ANN001
    backend, srv_opts, until = CASES[name]
    port = free_port()
    with UdpSyslog() as syslog, H2Origin() as origin:
        cfg = http_cfg(syslog, port, f"""
    {backend}
    server s1 127.0.0.1:{origin.port} check inter 100ms rise 2 fall 2 {srv_opts}""")
        with runner(cfg, ready_ports=[port]):
            wait_line(syslog, until)
            settled(syslog)
            return lines(syslog), list(origin.requests)


@pytest.mark.parametrize("name", sorted(CASES))
def test_h2_checks_log_like_haproxy(name):
    ours, requests = _run(run_hapx, name)
    assert requests or name == "check-proto-nohost", "no check reached the h2 origin"
    first = requests[0] if requests else {}
    if name == "check-proto-nohost":
        pass
    elif name == "check-proto-string":
        assert (first[":method"], first[":path"], first[":authority"]) == ("GET", "/x",
                                                                           "www.test")
    elif name == "connect-proto":
        assert first[":path"] == "/c"
    else:
        assert (first[":method"], first[":path"]) == ("GET", "/health")
    theirs, _ = _run(run_haproxy, name)
    assert ours == theirs


def test_http1_check_to_an_h2_only_server_fails_without_check_proto():
    """Without check-proto the check speaks HTTP/1.1: an h2-only server does not answer it
    (the server goes DOWN), as with haproxy."""
    port = free_port()
    with UdpSyslog() as syslog, H2Origin() as origin:
        cfg = http_cfg(syslog, port, f"""
    option httpchk GET /health
    server s1 127.0.0.1:{origin.port} check inter 100ms rise 2 fall 2""")
        with run_hapx(cfg, ready_ports=[port]):
            got = wait_line(syslog, "is DOWN")
            assert "Server be/s1 is DOWN" in got[0]
        assert not origin.requests


@pytest.fixture(scope="module")
def tls_ctx(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    paths = write(d, {"origin.pem": ca.leaf(["origin.test", "127.0.0.1"]).bundle})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(paths["origin.pem"]))
    ctx.set_alpn_protocols(["h2"])
    return ctx


@pytest.mark.parametrize("opts", ["check-ssl check-alpn h2 verify none",
                                  "ssl alpn h2 verify none"])
def test_tls_check_over_alpn_h2(tls_ctx, opts):
    """A TLS check whose ALPN negotiation chose h2 speaks HTTP/2 (check-alpn h2, or the
    server's own alpn h2 used by its checks)."""
    port = free_port()
    with UdpSyslog() as syslog, H2Origin(ssl_ctx=tls_ctx) as origin:
        cfg = http_cfg(syslog, port, f"""
    option httpchk GET /tls
    http-check send hdr host h2.test
    option log-health-checks
    server s1 127.0.0.1:{origin.port} check inter 100ms rise 2 fall 2 {opts}""")
        with run_hapx(cfg, ready_ports=[port]):
            got = wait_line(syslog, "Health check for server be/s1 succeeded")
        assert 'Layer7 check passed, code: 200' in got[0], got
        assert "h2" in origin.alpns
        assert origin.requests[0][":path"] == "/tls"
        assert origin.requests[0][":scheme"] == "https"


def test_unknown_check_proto_refused():
    port = free_port()
    with UdpSyslog() as syslog:
        cfg = http_cfg(syslog, port, """
    option httpchk
    server s1 127.0.0.1:1 check check-proto fcgi""")
        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
            f.write(cfg)
            f.flush()
            out = subprocess.run([*HAPX_CMD, "-c", "-f", f.name], capture_output=True,
                                 text=True, timeout=60)
        assert out.returncode != 0
        assert "check-proto fcgi" in out.stdout + out.stderr
