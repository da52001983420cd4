"""The ``ssl`` trace source (HAProxy 3.2's ``ssl_trace.c``): handshakes of the TLS binds
and of the connections to TLS servers (:class:`TracedSSLObject`).

The tls plugin adds :func:`handshake_observer` to each ssl bind's ``tls_observers`` (the
kernel calls it when an accepted connection's handshake ends) and traces the SNI callback.
Details by verbosity as HAProxy's: ``minimal`` adds ``[F(<frontend>)] conn=<id>``,
``advanced`` the servername, ALPN, TLS version, cipher and certificate subject of a
successful handshake; errors carry their reason from ``simple``.
"""

from __future__ import annotations

import ssl
from typing import Any

from hapx.core.trace import ERROR, PROTO, STATE, TraceSource, register_source

CLEAN, MINIMAL, SIMPLE, ADVANCED = 1, 2, 3, 4

SSL_TRACE = register_source(TraceSource(
    "ssl", "SSL xprt",
    events=(
        ("sslc_new", "new SSL connection"), ("sslc_close", "close SSL connection"),
        ("sslc_end", "SSL connection end"), ("sslc_err", "SSL error"),
        ("sslc_send", "Tx on SSL connection"),
        ("sslc_send_early", "Tx on SSL connection (early data)"),
        ("sslc_recv", "Rx on SSL connection"),
        ("sslc_recv_early", "Rx on SSL connection (early data)"),
        ("sslc_io_cb", "SSL io callback"), ("sslc_hndshk", "SSL handshake"),
        ("sslc_vfy_cb", "SSL verify callback"), ("sslc_stapling", "SSL OCSP stapling callback"),
        ("sslc_switchctx_cb", "SSL switchctx callback"),
        ("sslc_choose_sni_ctx", "SSL choose sni context"),
        ("sslc_sigalg_ext", "SSL sigalg extension parsing"),
    ),
    verbosities=(
        ("clean", 'only user-friendly stuff, generally suitable for level "user"'),
        ("minimal", "report only conn, no real decoding"),
        ("simple", "add error messages"),
        ("advanced", "add handshake-related details"),
        ("complete", "add full data dump when available"),
    ),
    locks=("backend", "connection", "frontend", "listener", "server", "session", "thread"),
))


def _conn(key: Any, frontend: Any) -> str:
    return f"[F({getattr(frontend, 'name', '')})] conn={id(key):#x}"


def handshake_observer(transport: Any, exc: BaseException | None, listener: Any) -> None:
    """The end of an accepted connection's handshake (``tls_observers`` of a bind)."""
    if not SSL_TRACE.on:
        return
    fe = listener.frontend
    lock = {"frontend": fe, "listener": listener, "connection": transport}
    if exc is not None:
        def failed() -> str:
            v = SSL_TRACE.verbosity
            if v < MINIMAL:
                return ""
            text = _conn(exc, fe)
            if v >= SIMPLE:
                text += f' err_str="{exc}"'
            return text
        SSL_TRACE.trace(ERROR, "sslc_err", "SSL handshake failure", failed, lock)
        return
    obj = transport.get_extra_info("ssl_object")

    def done() -> str:
        v = SSL_TRACE.verbosity
        if v < MINIMAL:
            return ""
        text = _conn(transport, fe)
        if v >= ADVANCED and obj is not None:
            cipher = obj.cipher()
            text += (f" servername={getattr(obj, 'hapx_sni', None) or '(null)'}"
                     f" alpn={obj.selected_alpn_protocol() or ''}"
                     f" tls_vers={obj.version()} cipher={cipher[0] if cipher else ''}")
        return text
    SSL_TRACE.trace(PROTO, "sslc_new", "new SSL connection", done, lock)
    SSL_TRACE.trace(STATE, "sslc_hndshk", "SSL handshake done", done, lock)


def trace_sni(obj: Any, name: str | None, refused: bool) -> None:
    """The SNI (switchctx) callback chose a certificate or refused the name."""
    def detail() -> str:
        return f'servername="{name}"' if SSL_TRACE.verbosity > SIMPLE and name else ""
    if refused:
        SSL_TRACE.trace(ERROR, "sslc_switchctx_cb", "SSL switchctx callback refused the "
                        "servername", detail, {"connection": obj})
    else:
        SSL_TRACE.trace(STATE, "sslc_switchctx_cb", "SSL switchctx callback", detail,
                        {"connection": obj})


class TracedSSLObject(ssl.SSLObject):
    """The connection object of the contexts towards servers (``sslobject_class`` of
    :class:`~.server.ClientContext`): the end of each handshake to a server is traced as
    the binds' are, with ``[B(<backend>)] conn=<ptr> srv=<server>``."""

    def do_handshake(self) -> None:
        if not SSL_TRACE.on:
            return super().do_handshake()
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except Exception as exc:
            server_handshake_end(self, exc)
            raise
        server_handshake_end(self, None)
        return None


def server_handshake_end(obj: Any, exc: BaseException | None) -> None:
    """A handshake towards a server ended (``exc``: how it failed)."""
    srv = getattr(obj.context, "hapx_server", None)
    be = getattr(srv, "proxy", "") or ""
    who = f"[B({be})] conn={id(obj):#x} srv={getattr(srv, 'name', '')}"
    lock = {"server": srv, "connection": obj}
    if exc is not None:
        def failed() -> str:
            v = SSL_TRACE.verbosity
            if v < MINIMAL:
                return ""
            return who + (f' err_str="{exc}"' if v >= SIMPLE else "")
        SSL_TRACE.trace(ERROR, "sslc_err", "SSL handshake failure", failed, lock)
        return

    def done() -> str:
        v = SSL_TRACE.verbosity
        if v < MINIMAL:
            return ""
        text = who
        if v >= ADVANCED:
            cipher = obj.cipher()
            text += (f" servername={obj.server_hostname or '(null)'}"
                     f" alpn={obj.selected_alpn_protocol() or ''}"
                     f" tls_vers={obj.version()} cipher={cipher[0] if cipher else ''}"
                     f" reused={int(bool(obj.session_reused))}")
        return text
    SSL_TRACE.trace(PROTO, "sslc_new", "new SSL connection", done, lock)
    SSL_TRACE.trace(STATE, "sslc_hndshk", "SSL handshake done", done, lock)
