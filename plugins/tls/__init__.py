"""TLS termination on ``bind … ssl`` lines: certificates from ``crt`` (PEM bundles,
directories), ``crt-list`` files, crt-store references and the frontend's ``ssl-f-use``
lines, chosen by SNI; ``alpn``, cipher, curve and signature-algorithm lists, version bounds,
client certificate verification, and the global ``ssl-default-bind-*`` settings; TLS towards
servers (``server … ssl``, :mod:`.server`: verification, SNI, ALPN, client certificates,
session reuse, check-ssl, ``ssl-default-server-*``, ``ssl-server-verify``).

At configuration time every ``ssl`` bind of a frontend gets ``bind.ssl_context`` (the
:class:`ssl.SSLContext` the engine hands to asyncio) and ``bind.tls`` (its
:class:`~.sni.BindTLS`); ``config.ext["tls"]`` keeps the certificate cache and the binds.
"""

from __future__ import annotations

from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Codec
from hapx.core.runtime.backend import on_servers_changed, servers_changed
from hapx.core.runtime.cli_api import CliError
from hapx.plugins.binds import BIND_OPTIONS
from hapx.plugins.servers import SERVER_OPTIONS

from . import certcli, ossl, tracing
from .build import CertCache, build_bind
from .server import ACTIVE_OPTIONS as SERVER_ACTIVE
from .server import configure_server, rule_checks
from .sni import BindTLS

EXT = "tls"

BIND_OPTIONS.activate(
    "ssl", "crt", "crt-list", "alpn", "no-alpn", "ca-file", "ca-verify-file", "crl-file",
    "ciphers", "ciphersuites", "curves", "ecdhe", "sigalgs", "client-sigalgs", "ssl-min-ver",
    "ssl-max-ver", "verify", "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
    "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13",
    "no-tls-tickets", "prefer-client-ciphers", "strict-sni")
SERVER_OPTIONS.activate(*SERVER_ACTIVE)

#: ALPN protocol -> the codec protocol serving it in mode http
_ALPN_CODEC = {"http/1.1": "h1", "http/1.0": "h1", "h2": "h2", "h3": "h3"}


def _http_alpn(config: Any, proxy: Any, bind: Any) -> None:
    """In mode http, offer only the protocols a registered codec speaks."""
    alpn = bind.opt("alpn")
    if not alpn or proxy.mode != "http":
        return
    codecs = {c.protocol for c in config.registry.all(Codec)}
    keep = [p for p in alpn if _ALPN_CODEC.get(p, "h1") in codecs]
    if keep != list(alpn):
        dropped = ", ".join(p for p in alpn if p not in keep)
        config.diag.warning(f"Proxy '{proxy.name}': {bind.describe()} : ALPN '{dropped}' is "
                            "not offered: no codec of this build speaks it.",
                            bind.file, bind.line)
        bind.options["alpn"] = keep


def _ssl_binds(config: Any) -> list[tuple[Any, Any]]:
    return [(px, b) for px in config.frontends for b in px.binds if b.ssl]


def _tls_servers(config: Any) -> list[tuple[Any, Any]]:
    return [(px, s) for px in config.backends for s in px.servers
            if s.opt("ssl") or s.opt("check-ssl")]


def _configure_servers(config: Any, cache: CertCache) -> list[Any]:
    done = []
    for px in config.backends:
        for srv in px.servers:
            rule_checks(config, srv, cache)
    for px, srv in _tls_servers(config):
        try:
            configure_server(config, px, srv, cache)
            done.append(srv)
        except ConfigError as exc:
            config.diag.alert(exc.message, exc.file, exc.line)

    def added(backend: Any) -> None:
        """Servers added at run time (``add server``) get their transport too; one whose
        TLS settings are refused is removed again and the command fails with the reason
        (it never carries traffic in clear)."""
        done[:] = [s for s in done if s.proxy != backend.name or s in backend.servers]
        for srv in list(backend.servers):
            if getattr(srv, "check_tls_for", None) is None:
                rule_checks(config, srv, cache)
            if (srv.opt("ssl") or srv.opt("check-ssl")) and \
                    getattr(srv, "tls_rebuild", None) is None:
                try:
                    ossl.check()
                    configure_server(config, backend, srv, cache)
                except (ConfigError, ossl.OsslError) as exc:
                    backend.servers.remove(srv)
                    servers_changed(backend)
                    raise CliError(getattr(exc, "message", str(exc))) from None
                done.append(srv)

    for px in config.backends:
        on_servers_changed(px, added)
    return done


@hookimpl
def hapx_configure(config: Any) -> None:
    binds = _ssl_binds(config)
    cache = CertCache(config)
    if binds or _tls_servers(config):
        try:
            ossl.check()
        except ossl.OsslError as exc:
            config.diag.alert(f"TLS: {exc}")
            return
    built: list[BindTLS] = []
    for px, bind in binds:
        _http_alpn(config, px, bind)
        try:
            tls = build_bind(cache, px, bind)
        except ConfigError as exc:
            config.diag.alert(exc.message, exc.file, exc.line)
            continue
        bind.tls = tls
        bind.ssl_context = tls.context
        bind.tls_observers = [tracing.handshake_observer]
        tls.users.append(bind)
        built.append(tls)
    servers = _configure_servers(config, cache)
    config.ext[EXT] = {"cache": cache, "binds": built, "servers": servers, "txn": None}


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(*certcli.COMMANDS)
