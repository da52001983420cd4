"""TLS termination on bind lines: certificates chosen by SNI (exact, wildcard, negative
filters, default), crt directories, crt-list, ALPN, versions, ciphers, client certificates,
with Python ssl, openssl s_client and curl; haproxy 2.6 as the oracle for SNI selection."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest
from netutil import OriginServer, free_port, run_haproxy, run_hapx
from tlspki import CA, client_ctx, peer, write


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    other_ca = CA("other root")
    leaves = {
        "a": ca.leaf(["a.test", "www.a.test"]),
        "wild": ca.leaf(["*.b.test", "b.test"], kind="rsa"),
        "secure": ca.leaf(["secure.b.test"]),
        "expired": ca.leaf(["c.test"], days=(-10, -1)),
        "client": ca.leaf(["alice"], client=True, serial=0x1234ABCD),
        "stranger": other_ca.leaf(["mallory"], client=True),
    }
    files = {"ca.pem": ca.pem, "other-ca.pem": other_ca.pem}
    for name, leaf in leaves.items():
        files[f"{name}.pem"] = leaf.bundle
        files[f"{name}.crt"] = leaf.cert_pem
        files[f"{name}.key"] = leaf.key_pem
    # a directory of certificates, one with its key beside it
    files["dir/a.pem"] = leaves["a"].bundle
    files["dir/wild.pem"] = leaves["wild"].cert_pem
    files["dir/wild.pem.key"] = leaves["wild"].key_pem
    paths = write(d, files)
    return {"dir": d, "ca": paths["ca.pem"], "leaves": leaves, **{k: str(v) for k, v in
                                                                 paths.items()}}


def _cfg(port: int, origin: int, bind: str, mode: str = "http", extra: str = "") -> str:
    return f"""
global
{extra}
defaults
    mode {mode}
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port} {bind}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


def test_sni_selection_exact_wildcard_default(pki):
    port = free_port()
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"ssl crt {pki['a.pem']} crt {pki['wild.pem']} "
                                    f"crt {pki['expired.pem']}"), ready_ports=[port]):
        ctx = client_ctx(pki["ca"])
        assert peer(port, "a.test", ctx)["cn"] == "a.test"
        assert peer(port, "www.a.test", ctx)["cn"] == "a.test"
        assert peer(port, "x.b.test", ctx)["cn"] == "*.b.test"
        assert peer(port, "b.test", ctx)["cn"] == "*.b.test"
        with pytest.raises(ssl.SSLCertVerificationError) as err:
            peer(port, "c.test", ctx)
        assert err.value.verify_message == "certificate has expired"
        # unknown name and no SNI at all: the first certificate is the default
        loose = client_ctx(pki["ca"], check_hostname=False)
        assert peer(port, "unknown.test", loose)["cn"] == "a.test"
        assert peer(port, None, loose)["cn"] == "a.test"


def test_same_selection_as_haproxy(pki):
    bind = f"ssl crt {pki['a.pem']} crt {pki['wild.pem']} crt {pki['expired.pem']}"
    names = ["a.test", "www.a.test", "x.b.test", "b.test", "c.test", "zzz.test"]
    seen = {}
    for runner in (run_hapx, run_haproxy):
        port = free_port()
        with OriginServer() as origin, runner(_cfg(port, origin.port, bind),
                                              ready_ports=[port]):
            loose = client_ctx(pki["ca"], check_hostname=False)
            loose.verify_mode = ssl.CERT_NONE
            seen[runner.__name__] = [peer(port, n, loose)["cn"] for n in names]
    assert seen["run_hapx"] == seen["run_haproxy"]


def test_https_requests_through_curl(pki):
    port = free_port()
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"ssl crt {pki['a.pem']} alpn http/1.1"),
            ready_ports=[port]):
        out = subprocess.run(
            ["curl", "-sS", "--cacert", pki["ca"], "--resolve", f"a.test:{port}:127.0.0.1",
             "-w", "%{http_version} %{ssl_verify_result}", f"https://a.test:{port}/x"],
            capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == ["ok", "1.1 0"]
        assert origin.requests[-1].target == "/x"


def test_crt_directory_and_key_beside(pki):
    port = free_port()
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"ssl crt {pki['dir']}/dir"), ready_ports=[port]):
        ctx = client_ctx(pki["ca"])
        assert peer(port, "a.test", ctx)["cn"] == "a.test"
        assert peer(port, "q.b.test", ctx)["cn"] == "*.b.test"


def test_crt_list_filters_negative_and_options(pki):
    d = pki["dir"]
    (d / "list.txt").write_text(
        f"# comment\n{pki['a.pem']} [alpn h2,http/1.1] a.test\n"
        f"{pki['wild.pem']} [ssl-min-ver TLSv1.3] *.b.test !secure.b.test\n"
        f"{pki['secure.pem']} secure.b.test\n")
    port = free_port()
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"ssl crt-list {d}/list.txt", mode="tcp"),
            ready_ports=[port]):
        ctx = client_ctx(pki["ca"], alpn=["h2", "http/1.1"])
        a = peer(port, "a.test", ctx)
        assert (a["cn"], a["alpn"]) == ("a.test", "h2")
        w = peer(port, "w.b.test", ctx)
        assert (w["cn"], w["alpn"]) == ("*.b.test", None)
        assert peer(port, "secure.b.test", ctx)["cn"] == "secure.b.test"
        # the wildcard line wants TLS 1.3 at least; the a.test line accepts 1.2
        v12 = client_ctx(pki["ca"], maxv=ssl.TLSVersion.TLSv1_2)
        assert peer(port, "a.test", v12)["version"] == "TLSv1.2"
        # refused (asyncio closes without flushing the protocol_version alert)
        with pytest.raises(ssl.SSLError):
            peer(port, "w.b.test", v12)


def test_alpn_versions_ciphers(pki):
    port = free_port()
    bind = (f"ssl crt {pki['wild.pem']} alpn h2,http/1.1 ssl-max-ver TLSv1.2 "
            "ciphers ECDHE-RSA-AES128-GCM-SHA256")
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, bind, mode="tcp"),
                                            ready_ports=[port]):
        got = peer(port, "x.b.test", client_ctx(pki["ca"], alpn=["http/1.1", "h2"]))
        assert got["alpn"] == "h2"  # the server's preference
        assert got["version"] == "TLSv1.2"
        assert got["cipher"] == "ECDHE-RSA-AES128-GCM-SHA256"
        assert peer(port, "x.b.test", client_ctx(pki["ca"], alpn=["foo"]))["alpn"] is None


def test_http_mode_offers_only_spoken_protocols(pki):
    port = free_port()
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"ssl crt {pki['a.pem']} alpn h2,http/1.1"),
            ready_ports=[port]) as px:
        # h2 is spoken (plugin h2_mux): offered, and preferred
        got = peer(port, "a.test", client_ctx(pki["ca"], alpn=["h2", "http/1.1"]))
        assert got["alpn"] == "h2"
        assert "is not offered" not in px.stderr
        got = peer(port, "a.test", client_ctx(pki["ca"], alpn=["http/1.1"]))
        assert got["alpn"] == "http/1.1"


def test_ciphersuites_and_global_defaults(pki):
    port = free_port()
    extra = ("    ssl-default-bind-ciphersuites TLS_CHACHA20_POLY1305_SHA256\n"
             "    ssl-default-bind-options ssl-min-ver TLSv1.3\n")
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"ssl crt {pki['a.pem']}", mode="tcp", extra=extra),
            ready_ports=[port]):
        got = peer(port, "a.test", client_ctx(pki["ca"]))
        assert (got["version"], got["cipher"]) == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
        with pytest.raises(ssl.SSLError):
            peer(port, "a.test", client_ctx(pki["ca"], maxv=ssl.TLSVersion.TLSv1_2))


def test_client_certificate_verification(pki):
    port = free_port()
    bind = f"ssl crt {pki['a.pem']} verify required ca-file {pki['ca']}"
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, bind),
                                            ready_ports=[port]):
        good = client_ctx(pki["ca"], cert=(pki["client.crt"], pki["client.key"]))
        assert peer(port, "a.test", good)["cn"] == "a.test"
        for ctx in (client_ctx(pki["ca"]),
                    client_ctx(pki["ca"], cert=(pki["stranger.crt"], pki["stranger.key"]))):
            with pytest.raises((ssl.SSLError, ConnectionError)):
                with __import__("socket").create_connection(("127.0.0.1", port), 5) as raw, \
                        ctx.wrap_socket(raw, server_hostname="a.test") as tls:
                    tls.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
                    if not tls.recv(100):
                        raise ConnectionError("closed")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
def test_openssl_s_client(pki):
    port = free_port()
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"ssl crt {pki['a.pem']} crt {pki['wild.pem']}"),
            ready_ports=[port]):
        out = subprocess.run(
            ["openssl", "s_client", "-brief", "-connect", f"127.0.0.1:{port}",
             "-servername", "x.b.test", "-CAfile", pki["ca"], "-verify_hostname", "x.b.test"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
        text = out.stdout + out.stderr
        assert "Peer certificate: CN = *.b.test" in text
        assert "Verification: OK" in text
