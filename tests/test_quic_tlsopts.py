"""Per-certificate TLS options on QUIC binds (plugins/quic/tlsopts.py): ciphersuites,
curves, sigalgs and alpn from crt-list and ssl-f-use lines chosen by SNI, applied to
aioquic's TLS 1.3 handshake; options QUIC cannot honour (client certificate
verification, TLS below 1.3) refused by ``hapx -c``.  Client: aioquic (tests/h3client.py)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from aioquic.asyncio.client import connect
from aioquic.tls import CipherSuite
from h3client import H3Client, client_config, wait_quic
from netutil import HAPX_CMD, OriginServer, run_hapx
from test_http3 import free_udp_tcp_port, pki  # noqa: F401 - the module's PKI fixture


def _cfg(port: int, origin: int, bind: str, front: str = "") -> str:
    return f"""
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind quic4@127.0.0.1:{port} ssl {bind}
{front}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


async def _hello(port: int, ca: str, name: str, suites: list[CipherSuite] | None = None
                 ) -> CipherSuite | None:
    """A GET with SNI ``name``: the cipher suite negotiated, None when the handshake
    failed."""
    cfg = client_config(ca, name)
    cfg.idle_timeout = 2.0
    if suites:
        cfg.cipher_suites = suites
    try:
        async with connect("127.0.0.1", port, configuration=cfg,
                           create_protocol=H3Client) as c:
            r = await c.request("GET", "/", authority=name)
            assert r.status == 200
            return c._quic.tls.key_schedule.cipher_suite
    except ConnectionError:
        return None


def test_crt_list_options_per_sni(pki, tmp_path):  # noqa: F811
    """www: only CHACHA20; other: only AES-128 (the CCM suite aioquic lacks is left out),
    with its own curves (per certificate on QUIC binds)."""
    port = free_udp_tcp_port()
    lst = tmp_path / "certs.lst"
    lst.write_text(
        f"{pki['www']} [ciphersuites TLS_CHACHA20_POLY1305_SHA256] www.hapx.test\n"
        f"{pki['other']} [ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256 "
        "curves X25519:P-256] other.hapx.test\n")
    with OriginServer() as origin, run_hapx(
            _cfg(port, origin.port, f"crt-list {lst} alpn h3"), ready_ports=[]):
        async def go():
            await wait_quic(port, pki["ca"])
            return (await _hello(port, pki["ca"], "www.hapx.test"),
                    await _hello(port, pki["ca"], "other.hapx.test"),
                    await _hello(port, pki["ca"], "www.hapx.test",
                                 [CipherSuite.AES_256_GCM_SHA384]))
        www, other, www_no_common = asyncio.run(go())
    assert www == CipherSuite.CHACHA20_POLY1305_SHA256
    assert other == CipherSuite.AES_128_GCM_SHA256
    assert www_no_common is None  # no suite in common with that certificate's list


def test_ssl_f_use_sigalgs_alpn_curves(pki, tmp_path):  # noqa: F811
    """ssl-f-use lines with options: an EC P-256 certificate limited to RSA-PSS cannot sign
    (handshake refused); the other certificate (ECDSA allowed, alpn h3) serves; a
    certificate limited to the P-521 curve refuses a client without a P-521 key share."""
    port = free_udp_tcp_port()
    front = (f'    ssl-f-use crt "{pki["www"]}" sigalgs ECDSA+SHA256 alpn h3\n'
             f'    ssl-f-use crt "{pki["other"]}" sigalgs RSA-PSS+SHA256\n')
    p521 = (f'    ssl-f-use crt "{pki["www"]}" curves P-521\n'
            f'    ssl-f-use crt "{pki["other"]}"\n')
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, "", front),
                                            ready_ports=[]):
        async def go():
            await wait_quic(port, pki["ca"])
            return (await _hello(port, pki["ca"], "www.hapx.test"),
                    await _hello(port, pki["ca"], "other.hapx.test"))
        www, other = asyncio.run(go())
    assert www is not None
    assert other is None
    # only the P-521 group, for which the aioquic client sends no key share: refused
    port = free_udp_tcp_port()
    with OriginServer() as origin, run_hapx(_cfg(port, origin.port, "", p521),
                                            ready_ports=[]):
        async def curves():
            await wait_quic(port, pki["ca"], server_name="other.hapx.test")
            return (await _hello(port, pki["ca"], "www.hapx.test"),
                    await _hello(port, pki["ca"], "other.hapx.test"))
        www, other = asyncio.run(curves())
    assert www is None
    assert other is not None


@pytest.mark.parametrize("opts,message", [
    ("[verify required ca-file {ca}]", "client certificates cannot be verified on QUIC"),
    ("[ssl-max-ver TLSv1.2]", "QUIC needs TLS 1.3"),
    ("[ciphersuites TLS_AES_128_CCM_SHA256]", "none of these cipher suites is available"),
    ("[curves brainpoolP256r1]", "unknown curve 'brainpoolP256r1'"),
    ("[alpn h2]", "'alpn' must include 'h3'"),
])
def test_options_quic_cannot_honour_are_refused(pki, tmp_path, opts, message):  # noqa: F811
    lst = tmp_path / "certs.lst"
    lst.write_text(f"{pki['www']} {opts.format(ca=pki['ca'])} www.hapx.test\n")
    cfg = tmp_path / "x.cfg"
    cfg.write_text(_cfg(4433, 8080, f"crt-list {lst}"))
    out = subprocess.run([*HAPX_CMD, "-c", "-f", str(cfg)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0, out
    assert message in out.stdout + out.stderr, out
    # the same line on a TCP bind is fine (except the TLS 1.3-only checks)
    if "alpn" not in opts and "CCM" not in opts:
        cfg.write_text(_cfg(4433, 8080, f"crt-list {lst}").replace("quic4@", ""))
        out = subprocess.run([*HAPX_CMD, "-c", "-f", str(cfg)], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0 or "brainpool" in opts, out
