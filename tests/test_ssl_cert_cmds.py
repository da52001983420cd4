"""Certificate commands of the runtime API through a real stats socket: ``show ssl cert``
(compared with haproxy 2.6), ``show ssl sni`` (HAProxy 3.2's tab-separated layout with the
``*`` default line), ``dump ssl cert``, ``new``/``set``/``commit``/``abort ssl cert``, and a
certificate replaced while a client keeps a keep-alive TLS connection open."""

from __future__ import annotations

import socket
import ssl

import pytest
from cliutil import socat_cli
from cryptography import x509
from netutil import OriginServer, free_port, read_response, run_haproxy, run_hapx
from tlspki import CA, client_ctx, peer, write


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    leaves = {
        "a": ca.leaf(["a.test", "www.a.test", "127.0.0.1"]),
        "a2": ca.leaf(["a.test", "www.a.test", "127.0.0.1"]),
        "wild": ca.leaf(["*.b.test", "b.test"], kind="rsa"),
        "c": ca.leaf(["c.test"]),
        "client": ca.leaf(["hapx-client"], client=True),
    }
    files = {"ca.pem": ca.pem, "a.pem": leaves["a"].bundle + ca.pem,
             "wild.pem": leaves["wild"].bundle, "c.pem": leaves["c"].bundle,
             "client.pem": leaves["client"].bundle}
    paths = write(d, files)
    (d / "list.txt").write_text(f"{paths['wild.pem']} *.b.test !secure.b.test\n"
                                f"{paths['c.pem']} [alpn h2] c.test\n")
    return {"dir": d, "leaves": leaves, "ca_obj": ca, "list": str(d / "list.txt"),
            **{k: str(v) for k, v in paths.items()}}


def _cfg(sock: str, port: int, origin: int, pki, *, bind: str | None = None,
         server: str | None = None) -> str:
    bind = bind or f"ssl crt {pki['a.pem']} crt {pki['wild.pem']}"
    server = f"ssl verify none crt {pki['client.pem']}" if server is None else server
    return f"""
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port} {bind}
    default_backend be
backend be
    server s1 127.0.0.1:{origin} {server}
"""


def _both(pki, tmp_path, commands: list[str]) -> dict[str, list[str]]:
    out = {}
    for runner in (run_hapx, run_haproxy):
        sock = str(tmp_path / f"{runner.__name__}.sock")
        port = free_port()
        with runner(_cfg(sock, port, 1, pki), ready_ports=[port, sock]):
            out[runner.__name__] = [socat_cli(sock, c) for c in commands]
    return out


def test_show_ssl_cert_as_haproxy(pki, tmp_path):
    cmds = ["show ssl cert", f"show ssl cert {pki['a.pem']}", f"show ssl cert {pki['wild.pem']}",
            f"show ssl cert {pki['client.pem']}", "show ssl cert /nope.pem",
            f"new ssl cert {tmp_path}/n.pem", f"show ssl cert {tmp_path}/n.pem",
            f"new ssl cert {pki['a.pem']}", f"commit ssl cert {pki['a.pem']}",
            f"abort ssl cert {pki['a.pem']}"]
    got = _both(pki, tmp_path, cmds)
    hapx = got["run_hapx"]
    assert hapx == got["run_haproxy"]
    assert hapx[0] == "# filename\n" + "".join(
        f"{p}\n" for p in sorted([pki["a.pem"], pki["wild.pem"], pki["client.pem"]])) + "\n"
    detail = hapx[1].splitlines()
    n = pki["leaves"]["a"].cert.serial_number
    serial = n.to_bytes((n.bit_length() + 7) // 8, "big").hex().upper()
    assert detail[:3] == [f"Filename: {pki['a.pem']}", "Status: Used", f"Serial: {serial}"]
    assert "Subject Alternative Name: DNS:a.test, DNS:www.a.test, " in detail
    assert "Chain Subject: /CN=hapx test root" in detail


def test_show_ssl_sni_layout(pki, tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    bind = f"ssl crt {pki['a.pem']} crt-list {pki['list']}"
    with run_hapx(_cfg(sock, port, 1, pki, bind=bind), ready_ports=[port, sock]) as proc:
        where = f"fe/{proc.cfg_path}:10"
        out = socat_cli(sock, "show ssl sni")
        only = socat_cli(sock, "show ssl sni -f fe")
        expired = socat_cli(sock, "show ssl sni -A")
        later = socat_cli(sock, "show ssl sni -A -t 20d")
        bad = socat_cli(sock, "show ssl sni -f nope")
    leaves = pki["leaves"]

    def dates(leaf) -> str:
        def fmt(t):
            months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
            return f"{months[t.month - 1]} {t.day:2d} {t:%H:%M:%S} {t.year} GMT"
        c = leaf.cert
        return f"{fmt(c.not_valid_after_utc)}\t{fmt(c.not_valid_before_utc)}"
    a, w, c = (f"{pki['a.pem']}\t{dates(leaves['a'])}",
               f"{pki['wild.pem']}\t{dates(leaves['wild'])}",
               f"{pki['c.pem']}\t{dates(leaves['c'])}")
    assert out == "\n".join([
        "# Frontend/Bind\tSNI\tNegative Filter\tType\tFilename\tNotAfter\tNotBefore",
        f"{where}\ta.test\t-\tecdsa\t{a}",
        f"{where}\tc.test\t-\tecdsa\t{c}",
        f"{where}\twww.a.test\t-\tecdsa\t{a}",
        f"{where}\t*\t-\tecdsa\t{a}",
        f"{where}\t*.b.test\t!secure.b.test \trsa\t{w}",
    ]) + "\n\n"
    assert only == out
    assert expired == "# Frontend/Bind\tSNI\tNegative Filter\tType\tFilename\tNotAfter\t" \
                      "NotBefore\n\n"
    assert len(later.splitlines()) == 7  # every certificate expires within 20 days (+ '')
    assert bad == "Couldn't find the specified frontend!\n\n"


def _get(tls: ssl.SSLSocket, path: str) -> int:
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: a.test\r\n\r\n".encode())
    return read_response(tls).status


def test_replace_certificate_while_serving(pki, tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    old, new = pki["leaves"]["a"], pki["leaves"]["a2"]
    ctx = client_ctx(pki["ca.pem"])
    with OriginServer() as origin, run_hapx(_cfg(sock, port, origin.port, pki, server="",
                                                 bind=f"ssl crt {pki['a.pem']}"),
                                            ready_ports=[port, sock]):
        # a keep-alive TLS connection made with the old certificate
        raw = socket.create_connection(("127.0.0.1", port), 5)
        tls = ctx.wrap_socket(raw, server_hostname="a.test")
        tls.settimeout(5)
        assert _get(tls, "/one") == 200
        seen = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        assert seen.serial_number == old.cert.serial_number

        payload = (new.cert_pem + new.key_pem + pki["ca_obj"].pem).decode().strip("\n")
        assert socat_cli(sock, f"set ssl cert {pki['a.pem']}", payload) == \
            f"Transaction created for certificate {pki['a.pem']}!\n\n"
        assert socat_cli(sock, "show ssl cert") == \
            f"# transaction\n*{pki['a.pem']}\n# filename\n{pki['a.pem']}\n\n"
        status = socat_cli(sock, f"show ssl cert *{pki['a.pem']}").splitlines()[:2]
        assert status == [f"Filename: *{pki['a.pem']}", "Status: Uncommitted"]
        # not committed yet: handshakes still get the old certificate
        assert peer(port, "a.test", ctx)["cert"].serial_number == old.cert.serial_number
        assert socat_cli(sock, f"commit ssl cert {pki['a.pem']}") == \
            f"Committing {pki['a.pem']}.\nSuccess!\n\n"

        # new handshakes get the new certificate (with SNI and without)
        assert peer(port, "a.test", ctx)["cert"].serial_number == new.cert.serial_number
        loose = client_ctx(pki["ca.pem"], check_hostname=False)
        assert peer(port, None, loose)["cert"].serial_number == new.cert.serial_number
        # the connection opened before still works, with its certificate
        assert _get(tls, "/two") == 200
        seen = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        assert seen.serial_number == old.cert.serial_number
        tls.close()
        dumped = socat_cli(sock, f"dump ssl cert {pki['a.pem']}")
        assert dumped.startswith("-----BEGIN PRIVATE KEY-----\n")
        assert new.cert_pem.decode() in dumped
        assert dumped.rstrip("\n").endswith(pki["ca_obj"].pem.decode().rstrip("\n"))
        assert [r.target for r in origin.requests] == ["/one", "/two"]


def test_transactions_and_errors(pki, tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    leaf = pki["leaves"]["c"]
    other = pki["leaves"]["a2"]
    with OriginServer() as origin, run_hapx(_cfg(sock, port, origin.port, pki),
                                            ready_ports=[port, sock]):
        a = pki["a.pem"]
        assert socat_cli(sock, f"set ssl cert {a}", leaf.cert_pem.decode().strip()) == \
            f"Transaction created for certificate {a}!\n\n"
        # another file while a transaction is open
        assert socat_cli(sock, f"set ssl cert {pki['wild.pem']}", leaf.cert_pem.decode()
                   .strip()) == f"The ongoing transaction is about '{a}' but you are " \
                                f"trying to set '{pki['wild.pem']}'\nCan't update " \
                                f"{pki['wild.pem']}!\n\n"
        # the kept key does not match the new certificate
        assert socat_cli(sock, f"commit ssl cert {a}") == \
            f"inconsistencies between private key and certificate loaded '{a}'.\n" \
            f"Can't commit {a}!\n\n"
        assert socat_cli(sock, f"set ssl cert {a}.key", leaf.key_pem.decode().strip()) == \
            f"Transaction updated for certificate {a}!\n\n"
        assert socat_cli(sock, f"abort ssl cert {a}") == \
            f"Transaction aborted for certificate '{a}'!\n\n"
        assert socat_cli(sock, "set ssl cert /nope.pem", leaf.cert_pem.decode().strip()) == \
            "Can't replace a certificate which is not referenced by the configuration!\n" \
            "Can't update /nope.pem!\n\n"
        # a new store, filled and committed, unused by any bind
        n = f"{tmp_path}/n.pem"
        assert socat_cli(sock, f"new ssl cert {n}") == f"New empty certificate store '{n}'!\n\n"
        assert socat_cli(sock, f"set ssl cert {n}", (other.cert_pem + other.key_pem).decode()
                   .strip()) == f"Transaction created for certificate {n}!\n\n"
        assert socat_cli(sock, f"commit ssl cert {n}") == f"Committing {n}\nSuccess!\n\n"
        assert socat_cli(sock, f"show ssl cert {n}").splitlines()[:2] == [f"Filename: {n}",
                                                                    "Status: Unused"]
        assert socat_cli(sock, f"del ssl cert {a}") == \
            f"Can't remove the certificate: certificate '{a}' in use, can't be deleted!\n\n\n"
        assert socat_cli(sock, f"del ssl cert {n}") == f"Certificate '{n}' deleted!\n\n"
        assert n not in socat_cli(sock, "show ssl cert")
        # the server's client certificate is replaced too
        c = pki["client.pem"]
        assert socat_cli(sock, f"set ssl cert {c}", (leaf.cert_pem + leaf.key_pem).decode()
                   .strip()) == f"Transaction created for certificate {c}!\n\n"
        assert socat_cli(sock, f"commit ssl cert {c}") == f"Committing {c}.\nSuccess!\n\n"
