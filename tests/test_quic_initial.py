"""``quic-initial`` rules (plugins/quic/initial.py) with the aioquic client: ``reject``
(CONNECTION_CLOSE with CONNECTION_REFUSED, no connection state), ``dgram-drop`` (silence),
``send-retry`` (a Retry first, then the connection), ``accept`` stopping the rules, and
conditions on layer 4 samples (the client's source port)."""

from __future__ import annotations

import asyncio
import socket
import subprocess

from aioquic.asyncio.client import connect
from h3client import H3Client, client_config, h3_connect, wait_quic
from netutil import HAPX_CMD, OriginServer, run_hapx
from test_http3 import free_udp_tcp_port, pki  # noqa: F401 - the module's PKI fixture


def _cfg(pki, port: int, origin: int, rules: str, defaults: str = "") -> str:  # noqa: F811
    return f"""
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
{defaults}
frontend fe
    bind quic4@127.0.0.1:{port} ssl crt {pki['www']} alpn h3
{rules}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


def _free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _attempt(port: int, ca: str, local_port: int = 0, idle: float = 1.5
                   ) -> tuple[str, H3Client | None]:
    """One connection attempt: ("ok", client) with a GET answered, ("closed", client)
    when the server closed it, ("timeout", None) when nothing came back."""
    cfg = client_config(ca)
    cfg.idle_timeout = idle
    proto: list[H3Client] = []

    def make(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        p = H3Client(*a, **kw)
        proto.append(p)
        return p
    try:
        async with connect("127.0.0.1", port, configuration=cfg, create_protocol=make,
                           local_port=local_port) as c:
            r = await c.request("GET", "/")
            assert r.status == 200
            return "ok", c
    except ConnectionError:
        p = proto[0]
        if p.terminated is not None and p.terminated.reason_phrase != "Idle timeout":
            return "closed", p
        return "timeout", None


def test_reject_connection_refused_and_accept_stops(pki):  # noqa: F811
    port = free_udp_tcp_port()
    blocked, allowed = _free_udp(), _free_udp()
    rules = (f"    quic-initial accept if {{ src_port {allowed} }}\n"
             f"    quic-initial reject if {{ src_port {blocked} {allowed} }}\n")
    with OriginServer() as origin, run_hapx(_cfg(pki, port, origin.port, rules),
                                            ready_ports=[]) as px:
        async def go():
            await wait_quic(port, pki["ca"])
            ok = await _attempt(port, pki["ca"], local_port=allowed)
            refused = await _attempt(port, pki["ca"], local_port=blocked)
            return ok, refused
        (ok, _), (state, proto) = asyncio.run(go())
        assert ok == "ok"
        assert state == "closed"
        assert proto.terminated.error_code == 0x2  # CONNECTION_REFUSED
        # no connection was opened for the rejected packet: only the first is known
        assert origin.requests and len(origin.requests) == 1, px.output()


def test_dgram_drop_is_silent(pki):  # noqa: F811
    port = free_udp_tcp_port()
    blocked = _free_udp()
    rules = f"    quic-initial dgram-drop if {{ src_port {blocked} }}\n"
    with OriginServer() as origin, run_hapx(_cfg(pki, port, origin.port, rules),
                                            ready_ports=[]):
        async def go():
            await wait_quic(port, pki["ca"])
            dropped = await _attempt(port, pki["ca"], local_port=blocked)
            ok = await _attempt(port, pki["ca"])
            return dropped, ok
        (dropped, _), (ok, _) = asyncio.run(go())
        assert dropped == "timeout"
        assert ok == "ok"


def test_send_retry_validates_the_address_first(pki):  # noqa: F811
    """send-retry (here from a defaults section): the client gets a Retry, comes back with
    its token, and is served; without the rule no Retry is sent."""
    port = free_udp_tcp_port()
    with OriginServer() as origin, run_hapx(
            _cfg(pki, port, origin.port, "", defaults="    quic-initial send-retry"),
            ready_ports=[]):
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                r = await c.request("GET", "/")
                return r.status, c._quic._retry_count
        assert asyncio.run(go()) == (200, 1)
    port = free_udp_tcp_port()
    with OriginServer() as origin, run_hapx(_cfg(pki, port, origin.port, ""),
                                            ready_ports=[]):
        async def plain():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                r = await c.request("GET", "/")
                return r.status, c._quic._retry_count
        assert asyncio.run(plain()) == (200, 0)


def test_quic_initial_config_errors(tmp_path, pki):  # noqa: F811
    cfg = tmp_path / "x.cfg"
    cfg.write_text(_cfg(pki, 4433, 8080, "    quic-initial drop-it\n"))
    out = subprocess.run([*HAPX_CMD, "-c", "-f", str(cfg)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "'quic-initial' expects one of 'accept', 'dgram-drop', 'reject', 'send-retry'" \
        in out.stdout + out.stderr
    cfg.write_text(_cfg(pki, 4433, 8080, "    quic-initial reject if { src 10.0.0.0/8 }\n"))
    out = subprocess.run([*HAPX_CMD, "-c", "-f", str(cfg)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out
