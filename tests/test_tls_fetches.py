"""TLS sample fetches on terminated connections (ssl_fc*, ssl_c_*), ClientHello fetches of
tcp-request content (req.ssl_sni routing in mode tcp, compared with haproxy 2.6), and the
release notes' crt-store + ssl-f-use example serving both names."""

from __future__ import annotations

import socket
import ssl

import pytest
from netutil import OriginServer, TcpEchoServer, free_port, run_haproxy, run_hapx
from tlspki import CA, client_ctx, peer, write

TIMEOUTS = """defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    leaves = {"a": ca.leaf(["a.test"]), "b": ca.leaf(["b.test"]),
              "client": ca.leaf(["alice"], client=True, serial=0x1234ABCD)}
    files = {"ca.pem": ca.pem}
    for name, leaf in leaves.items():
        files[f"{name}.pem"] = leaf.bundle
        files[f"{name}.crt"] = leaf.cert_pem
        files[f"{name}.key"] = leaf.key_pem
    paths = write(d, files)
    return {"dir": d, "leaves": leaves, **{k: str(v) for k, v in paths.items()}}


def test_frontend_fetches_in_headers(pki):
    port = free_port()
    headers = ["ssl_fc", "ssl_fc_sni", "ssl_fc_protocol", "ssl_fc_cipher", "ssl_fc_alpn",
               "ssl_fc_has_crt", "ssl_c_used", "ssl_c_verify", "ssl_c_s_dn", "ssl_c_i_dn",
               "ssl_c_s_dn(CN)", "ssl_c_serial,hex", "ssl_c_notafter"]
    sets = "\n".join(f"    http-request set-header X-F{i} %[{h}]"
                     for i, h in enumerate(headers))
    with OriginServer() as origin:
        cfg = f"""{TIMEOUTS}
frontend fe
    mode http
    bind 127.0.0.1:{port} ssl crt {pki['a.pem']} alpn http/1.1 verify optional ca-file {pki['ca.pem']}
{sets}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:{origin.port}
"""
        with run_hapx(cfg, ready_ports=[port]):
            ctx = client_ctx(pki["ca.pem"], alpn=["http/1.1"],
                             cert=(pki["client.crt"], pki["client.key"]))
            with socket.create_connection(("127.0.0.1", port), 5) as raw, \
                    ctx.wrap_socket(raw, server_hostname="a.test") as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
                assert tls.recv(1000).startswith(b"HTTP/1.1 200")
                cipher = tls.cipher()[0]
            req = origin.requests[-1]
            got = {h: req.header(f"X-F{i}") for i, h in enumerate(headers)}
    client = pki["leaves"]["client"].cert
    assert got == {
        "ssl_fc": "1", "ssl_fc_sni": "a.test", "ssl_fc_protocol": "TLSv1.3",
        "ssl_fc_cipher": cipher, "ssl_fc_alpn": "http/1.1", "ssl_fc_has_crt": "1",
        "ssl_c_used": "1", "ssl_c_verify": "0", "ssl_c_s_dn": "/CN=alice",
        "ssl_c_i_dn": "/CN=hapx test root", "ssl_c_s_dn(CN)": "alice",
        "ssl_c_serial,hex": "1234ABCD",
        "ssl_c_notafter": client.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")}


def _sni_router(port: int, a: int, b: int, default: int) -> str:
    return f"""{TIMEOUTS}
frontend fe
    mode tcp
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 5s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    use_backend be_a if {{ req.ssl_sni -i a.test }}
    use_backend be_b if {{ req.ssl_sni -m end .b.test }}
    default_backend be_def
backend be_a
    mode tcp
    server s 127.0.0.1:{a}
backend be_b
    mode tcp
    server s 127.0.0.1:{b}
backend be_def
    mode tcp
    server s 127.0.0.1:{default}
"""


def test_req_ssl_sni_routing_in_tcp_mode(pki):
    """Three TLS servers behind a TCP proxy that reads the SNI without decrypting; the
    certificate seen tells which one answered.  haproxy 2.6 routes the same way."""
    d = pki["dir"]
    wild = CA().leaf(["x.b.test"])
    write(d, {"x.pem": wild.bundle})
    ends = {}
    seen = {}
    for runner in (run_hapx, run_haproxy):
        ports = [free_port() for _ in range(4)]
        back = f"""{TIMEOUTS}
frontend a
    mode tcp
    bind 127.0.0.1:{ports[1]} ssl crt {pki['a.pem']}
    default_backend echo
frontend b
    mode tcp
    bind 127.0.0.1:{ports[2]} ssl crt {d}/x.pem
    default_backend echo
frontend c
    mode tcp
    bind 127.0.0.1:{ports[3]} ssl crt {pki['b.pem']}
    default_backend echo
backend echo
    mode tcp
    server s 127.0.0.1:{{echo}}
"""
        with TcpEchoServer() as echo, run_hapx(back.replace("{echo}", str(echo.port)),
                                               ready_ports=ports[1:]), \
                runner(_sni_router(ports[0], *ports[1:]), ready_ports=[ports[0]]):
            loose = client_ctx(None)
            seen[runner.__name__] = [peer(ports[0], n, loose)["cn"]
                                     for n in ("a.test", "A.TEST", "x.b.test", "zzz", None)]
            with socket.create_connection(("127.0.0.1", ports[0]), 5) as raw, \
                    loose.wrap_socket(raw, server_hostname="x.b.test") as tls:
                tls.sendall(b"ping")
                ends[runner.__name__] = tls.recv(10)
    assert seen["run_hapx"] == ["a.test", "a.test", "x.b.test", "b.test", "b.test"]
    assert seen["run_hapx"] == seen["run_haproxy"]
    assert ends["run_hapx"] == b"ping"


def test_req_ssl_fetches_values(pki):
    port = free_port()
    cfg = f"""{TIMEOUTS}
frontend fe
    mode tcp
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 5s
    tcp-request content reject if !{{ req.ssl_ver 196611 }}
    tcp-request content reject if !{{ req.ssl_alpn h2 }}
    tcp-request content reject if !{{ req.ssl_supported_groups -m found }}
    tcp-request content accept if {{ req.ssl_sni -m found }}
    default_backend be
backend be
    mode tcp
    server s 127.0.0.1:{{back}}
"""
    back_port = free_port()
    with run_hapx(f"{TIMEOUTS}\nfrontend t\n    mode tcp\n    bind 127.0.0.1:{back_port} "
                  f"ssl crt {pki['a.pem']} alpn h2\n    default_backend e\nbackend e\n"
                  f"    mode tcp\n    server s 127.0.0.1:1\n", ready_ports=[back_port]), \
            run_hapx(cfg.replace("{back}", str(back_port)), ready_ports=[port]):
        got = peer(port, "a.test", client_ctx(pki["ca.pem"], alpn=["h2"]))
        assert got["alpn"] == "h2"
        with pytest.raises((ssl.SSLError, ConnectionError)):
            peer(port, "a.test", client_ctx(pki["ca.pem"], alpn=["http/1.1"]))


def test_seed_crt_store_and_ssl_f_use(tmp_path):
    """The release notes' example: a named crt-store with crt-base/key-base, two ssl-f-use
    lines (TLS 1.2 accepted for foo, refused for bar), both names served."""
    ca = CA()
    foo, bar = ca.leaf(["foo.com"]), ca.leaf(["bar.com"])
    write(tmp_path, {"ssl/certs/foo.com.crt": foo.cert_pem, "ssl/keys/foo.com.key": foo.key_pem,
                     "ssl/certs/bar.com.crt": bar.cert_pem, "ssl/keys/bar.com.key": bar.key_pem,
                     "ca.pem": ca.pem})
    port = free_port()
    with OriginServer() as origin, run_hapx(f"""
crt-store my_files
    crt-base {tmp_path}/ssl/certs/
    key-base {tmp_path}/ssl/keys/
    load crt "foo.com.crt" key "foo.com.key" alias "foo"
    load crt "bar.com.crt" key "bar.com.key" alias "bar"
{TIMEOUTS}
frontend mysite
    mode http
    bind 127.0.0.1:{port} ssl
    ssl-f-use crt "@my_files/foo" ssl-min-ver TLSv1.2
    ssl-f-use crt "@my_files/bar" ssl-min-ver TLSv1.3
    use_backend webservers
backend webservers
    mode http
    server web1 127.0.0.1:{origin.port}
""", ready_ports=[port]):
        ctx = client_ctx(tmp_path / "ca.pem")
        assert peer(port, "foo.com", ctx)["cn"] == "foo.com"
        assert peer(port, "bar.com", ctx)["cn"] == "bar.com"
        v12 = client_ctx(tmp_path / "ca.pem", maxv=ssl.TLSVersion.TLSv1_2)
        assert peer(port, "foo.com", v12)["version"] == "TLSv1.2"
        with pytest.raises(ssl.SSLError):
            peer(port, "bar.com", v12)
