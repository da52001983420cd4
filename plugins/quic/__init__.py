"""HTTP/3 over QUIC (aioquic) on ``bind quic4@<addr>:<port> ssl crt <pem> [alpn h3]`` and
``quic6@`` lines of ``mode http`` frontends.

Certificates come from the TLS plugin exactly as on TCP binds (``crt``, ``crt-list``,
crt-store references, ``ssl-f-use``; SNI picks among them), with their TLS options as far
as aioquic's TLS 1.3 allows (:mod:`.tlsopts`).  Each request stream becomes a
kernel Transaction: the same rules, backend switching, servers (HTTP/1.1, through the
shared server connection code and pools), filters and logs as HTTP/1, with ``req.ver``
``3.0`` and ``HTTP/3.0`` in the logs.  Bodies stream both ways under flow control (see
:mod:`.transport` and :mod:`.stream`).

Settings: the bind option ``quic-cc-algo cubic|newreno`` (aioquic has no BBR: refused at
configuration time), ``quic-force-retry``, and the global ``tune.quic.disable-tx-pacing``,
``tune.quic.frontend.stream-data-ratio``, ``tune.quic.frontend.max-streams-bidi``,
``tune.quic.frontend.max-idle-timeout``, ``tune.quic.frontend.max-tx-mem`` and
``tune.quic.frontend.glitches-threshold``; the ``quic-initial`` rules (:mod:`.initial`).
The runtime API gains ``show quic``.

Alt-Svc: HAProxy users advertise HTTP/3 on their TCP frontends with
``http-response set-header alt-svc "h3=\\":443\\";ma=900"``; that works unchanged here.
"""

from __future__ import annotations

import functools
from typing import Any

from aioquic.h3.connection import H3Connection as AioH3
from hapx.core.hookspecs import hookimpl
from hapx.core.records import CliCommand, Codec
from hapx.plugins.binds import BIND_OPTIONS

from . import tracing  # noqa: F401 - registers the quic and h3 trace sources
from .cli import show_quic
from .initial import DIRECTIVE as QUIC_INITIAL
from .settings import QuicSettingError, QuicSettings, settings_for
from .tlsopts import QuicTLSError, compile_options

EXT = "quic"

BIND_OPTIONS.activate("quic-cc-algo", "quic-force-retry")


def _serve(settings: QuicSettings, engine: Any, frontend: Any, bind: Any, sock: Any) -> Any:
    """``bind.datagram_server``: the listener of one QUIC bind (called by the engine)."""
    from hapx.core.runtime.http1 import frontend_context

    from .server import QuicListener, TxMemory

    config = engine.config
    state = config.ext.setdefault(EXT, {})
    txmem = state.get("txmem")
    if txmem is None:
        txmem = state["txmem"] = TxMemory(settings.max_tx_mem)
    return QuicListener(engine, frontend, bind, sock, settings,
                        frontend_context(engine, frontend), txmem)


def _quic_binds(config: Any) -> list[tuple[Any, Any]]:
    return [(px, b) for px in config.frontends for b in px.binds
            if getattr(b.address, "transport", "") == "quic"]


@hookimpl
def hapx_configure(config: Any) -> None:
    gset = config.global_.settings
    for px, bind in _quic_binds(config):
        label = f"Proxy '{px.name}': {bind.describe()}"
        if px.mode != "http":
            config.diag.alert(f"{label} : QUIC listeners serve HTTP/3: the frontend must be in "
                              "'mode http'.", bind.file, bind.line)
            continue
        alpn = bind.opt("alpn")
        if alpn is not None and "h3" not in alpn:
            config.diag.alert(f"{label} : a QUIC listener speaks HTTP/3 only: 'alpn' must "
                              "include 'h3'.", bind.file, bind.line)
            continue
        try:
            settings = settings_for(gset, bind)
        except QuicSettingError as exc:
            config.diag.alert(f"{label} : {exc}.", bind.file, bind.line)
            continue
        bind.quic = settings
        bind.datagram_server = functools.partial(_serve, settings)


@hookimpl
def hapx_post_check(config: Any) -> None:
    """Every certificate of a QUIC bind must have TLS options QUIC can honour."""
    for px, bind in _quic_binds(config):
        tls = getattr(bind, "tls", None)
        if tls is None or getattr(bind, "quic", None) is None:
            continue
        for entry in tls.entries:
            try:
                compile_options(entry.opts)
            except QuicTLSError as exc:
                config.diag.alert(f"Proxy '{px.name}': {bind.describe()} : certificate "
                                  f"'{entry.ref}': {exc}.", bind.file, bind.line)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(QUIC_INITIAL)


@hookimpl
def hapx_register_codecs(codecs: Any) -> None:
    codecs.add(Codec(
        "aioquic", protocol="h3", factory=AioH3,
        doc="aioquic\n\nHTTP/3 (QPACK, frames) over QUIC with aioquic, on quic4@/quic6@ bind "
            "lines; factory(quic_connection) returns aioquic's H3Connection."))


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(CliCommand(
        "show quic", words=("show", "quic"), level="operator", handler=show_quic,
        usage="show quic [help|oneline|full|stream|<levels>] [all|<0xid>]",
        doc="show quic [help|oneline|full|stream|<levels>] [all|<0xid>]\n\n"
            "Dump the QUIC connections: 'oneline' (default) one netstat-like line per "
            "connection (state, bytes and packets in flight, lost packets, addresses, "
            "connection IDs); 'full' or a comma-separated list of the levels tp, sock, "
            "pktns, cc, mux: the transport parameters, socket, packet number spaces, "
            "congestion control and HTTP/3 layer of each connection; 'stream' one line per "
            "request stream (received offset, bytes held by flow control, sent offset, "
            "bytes not yet acknowledged).  '0x<id>' restricts to one connection, 'all' "
            "includes closing ones."))
