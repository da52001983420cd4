"""TLS towards servers: ``server … ssl`` with ``verify``, ``ca-file``, ``crl-file``,
``verifyhost``, ``sni <expr>``, ``alpn``, ``crt`` (a client certificate), cipher and version
settings, session reuse (``no-ssl-reuse`` disables it), ``check-ssl``/``check-sni``/
``check-alpn`` for health checks, the global ``ssl-default-server-*`` settings and
``ssl-server-verify``.

At configuration time every server using TLS gets ``srv.transport`` (a :class:`ServerTLS`,
the kernel's server transport: ``options(strm)`` gives asyncio's ``ssl``/``server_hostname``
arguments) and, when its health checks run over TLS, ``srv.check_transport`` (a
:class:`CheckTLS`: ``wrap_args()`` gives the context and SNI of a check).
"""

from __future__ import annotations

import ssl
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Point, SmpType
from hapx.core.sample.expr import compile_expr
from hapx.plugins.confkit import resolve_path

from . import ossl
from .build import CertCache
from .contexts import apply_common, global_defaults, merged
from .pki import CertKey, PkiError
from .tracing import TracedSSLObject

#: server-line words that are TLS settings (layered over ssl-default-server-*)
SERVER_SSL_WORDS = ("alpn", "ca-file", "ciphers", "ciphersuites", "client-sigalgs",
                    "crl-file", "crt", "curves", "sigalgs", "ssl-min-ver", "ssl-max-ver",
                    "verify", "verifyhost", "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12",
                    "no-tlsv13", "force-sslv3", "force-tlsv10", "force-tlsv11",
                    "force-tlsv12", "force-tlsv13", "no-tls-tickets", "no-ssl-reuse",
                    "ssl-reuse", "tls-tickets")
#: the server options this module brings to life
ACTIVE_OPTIONS = ("ssl", "no-ssl", "verify", "verifyhost", "ca-file", "crl-file", "crt", "sni",
                  "alpn", "ciphers", "ciphersuites", "curves", "sigalgs", "client-sigalgs",
                  "ssl-min-ver", "ssl-max-ver", "ssl-reuse", "no-ssl-reuse", "tls-tickets",
                  "no-tls-tickets", "check-ssl", "no-check-ssl", "check-sni", "check-alpn",
                  "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
                  "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12",
                  "force-tlsv13")
#: handshakes towards servers are bounded by ``timeout connect`` (asyncio's own default is
#: 60 s; this only bounds connections made without one)
HANDSHAKE_TIMEOUT = 60.0


class ClientContext(ssl.SSLContext):
    """The TLS context of one server.  Every connection object it creates (asyncio and anyio
    both call :meth:`wrap_bio`) resumes the server's last session unless ``no-ssl-reuse``,
    and gets the host name its certificate must carry when verification is required."""

    hapx_reuse = True
    hapx_verifyhost: str | None = None
    #: the server (named in the ssl traces of the handshakes)
    hapx_server: Any = None
    sslobject_class = TracedSSLObject

    def wrap_bio(self, incoming: Any, outgoing: Any, server_side: bool = False,
                 server_hostname: Any = None, session: Any = None) -> Any:
        if isinstance(server_hostname, bytes):
            server_hostname = server_hostname.decode("ascii", "replace")
        sni = server_hostname or None
        if session is None and self.hapx_reuse:
            session = self.last_session(sni)
        obj = super().wrap_bio(incoming, outgoing, server_side=server_side,
                               server_hostname=sni, session=session)
        if self.verify_mode == ssl.CERT_REQUIRED:
            # HAProxy checks the name sent as SNI, else verifyhost, else no name
            host = sni or self.hapx_verifyhost
            if host:
                ossl.conn_set1_host(obj, host)
        if self.hapx_reuse:
            self._last()[sni] = obj
        return obj

    def _last(self) -> dict[Any, Any]:
        last = self.__dict__.get("hapx_last")
        if last is None:
            last = self.hapx_last = {}
            self.hapx_sessions: dict[Any, Any] = {}
        return last

    def last_session(self, sni: str | None) -> Any:
        """The most recent resumable session of a connection of this context that sent
        the same SNI (HAProxy reuses a session only for the SNI it was made with)."""
        last = self._last()
        obj = last.get(sni)
        if obj is not None:
            try:
                sess = obj.session
            except (AttributeError, ValueError):
                sess = None
            if sess is not None and ossl.session_resumable(sess):
                self.hapx_sessions[sni] = sess
                del last[sni]
        return self.hapx_sessions.get(sni)


class ServerTLS:
    """The kernel's server transport for a TLS server (see ``connect_options``)."""

    def __init__(self, context: ClientContext, sni: Any, handshake_timeout: float,
                 alpn: list[str] | None = None) -> None:
        self.context = context
        self.sni = sni  # a compiled sample expression or None
        self.handshake_timeout = handshake_timeout
        #: the ALPN protocols offered (the kernel lets the server's choice pick the HTTP
        #: version when some are multiplexed protocols, e.g. h2)
        self.alpn = list(alpn or ())

    def server_name(self, strm: Any) -> str:
        if self.sni is None or strm is None:
            return ""
        smp = self.sni.eval(strm)
        if smp is None:
            return ""
        value = smp.value
        return (value.decode("ascii", "replace") if isinstance(value, bytes | bytearray)
                else str(value))

    def pool_key(self, strm: Any) -> Any:
        """Idle connections are reused only for the same SNI (HAProxy's connection hash)."""
        return self.server_name(strm) or None if self.sni is not None else None

    def options(self, strm: Any) -> dict[str, Any]:
        # server_hostname "" (not None) keeps asyncio from sending the address as SNI
        return {"ssl": self.context, "server_hostname": self.server_name(strm),
                "ssl_handshake_timeout": self.handshake_timeout}


class CheckTLS:
    """How the health checks of a server speak TLS: its own context (``check-alpn``
    differs from ``alpn``) and ``check-sni``."""

    def __init__(self, context: ClientContext, sni: str | None) -> None:
        self.context = context
        self.sni = sni


class _Ctx:
    """Enough of a parse context to compile a server's ``sni`` expression."""

    def __init__(self, config: Any, srv: Any, proxy: Any) -> None:
        self.config = config
        self.registry = config.registry
        self.file, self.line = srv.file, srv.line
        self.section = proxy
        self.keyword = "server"

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line)

    def warning(self, message: str) -> None:
        self.config.diag.warning(message, self.file, self.line)

    def defer(self, fn: Any) -> None:
        fn(self.config)

    def mark_inactive(self, keyword: str, kind: str = "keyword", owner: str = "") -> None:
        raise self.error(f"'{keyword}' is not active yet in this version of hapx.")


def server_options(config: Any, srv: Any) -> dict[str, Any]:
    """The TLS settings of a server: ssl-default-server-* < the server line."""
    settings = config.global_.settings
    own = {k: v for k, v in srv.options.items() if k in SERVER_SSL_WORDS}
    return merged(global_defaults(settings, "server"), own)


def _resolve(config: Any, srv: Any, name: str, base_key: str) -> str:
    base = config.global_.settings.get(base_key)

    class _P:
        pass
    ctx = _P()
    ctx.config, ctx.file = config, srv.file  # type: ignore[attr-defined]
    return resolve_path(ctx, name, base if isinstance(base, str) else None)


def build_context(config: Any, srv: Any, opts: dict[str, Any], alpn: list[str] | None,
                  cert: CertKey | None) -> ClientContext:
    """The client context of a server (raises ValueError/PkiError with HAProxy's words)."""
    ctx = ClientContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.hapx_server = srv
    opts = dict(opts)
    opts.pop("alpn", None)
    apply_common(ctx, opts, server_side=False)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    default = config.global_.settings.get("ssl-server-verify") or "required"
    verify = opts.get("verify") or default
    ca = opts.get("ca-file")
    label = f"Proxy '{srv.proxy}', server '{srv.name}' [{srv.file}:{srv.line}]"
    if verify == "required":
        if not ca:
            if opts.get("verify"):
                raise ValueError(f"{label} verify is enabled but no CA file specified.")
            raise ValueError(
                f"{label} verify is enabled by default but no CA file specified. If you're "
                "running on a LAN where you're certain to trust the server's certificate, "
                "please set an explicit 'verify none' statement on the 'server' line, or use "
                "'ssl-server-verify none' in the global section to disable server-side "
                "verifications by default.")
        if ca == "@system-ca":
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            path = _resolve(config, srv, ca, "ca-base")
            try:
                ctx.load_verify_locations(cafile=path)
            except (OSError, ssl.SSLError):
                raise ValueError(f"{label} unable to load CA file '{path}'.") from None
        if opts.get("crl-file"):
            path = _resolve(config, srv, opts["crl-file"], "ca-base")
            try:
                ctx.load_verify_locations(cafile=path)
            except (OSError, ssl.SSLError):
                raise ValueError(f"{label} unable to configure CRL file '{path}'.") from None
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.hapx_verifyhost = opts.get("verifyhost")
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        cert.load_into(ctx)
    ctx.hapx_reuse = not opts.get("no-ssl-reuse")
    return ctx


def checks_use_tls(srv: Any) -> bool:
    """HAProxy: ``check-ssl``, or ``ssl`` on a server whose checks go to its own address
    (no ``port`` nor ``addr``)."""
    if srv.opt("check-ssl"):
        return True
    return bool(srv.opt("ssl")) and not srv.opt("port") and not srv.opt("addr")


def rule_checks(config: Any, srv: Any, cache: CertCache) -> None:
    """``srv.check_tls_for(sni, alpn)``: the TLS of a ``tcp-check``/``http-check connect
    ssl`` rule (the server's TLS settings with the rule's SNI and ALPN), contexts built on
    first use and kept per ALPN list (a ValueError tells why one cannot be built)."""
    made: dict[Any, ClientContext] = {}

    def check_tls_for(sni: str | None, alpn: Any) -> CheckTLS:
        key = tuple(alpn) if alpn else None
        ctx = made.get(key)
        if ctx is None:
            opts = server_options(config, srv)
            cert = cache.get(opts["crt"], srv.file)[1] if opts.get("crt") else None
            ctx = made[key] = build_context(config, srv, opts, list(key) if key else None,
                                            cert)
        return CheckTLS(ctx, sni)
    srv.check_tls_for = check_tls_for


def configure_server(config: Any, proxy: Any, srv: Any, cache: CertCache) -> None:
    """Set ``srv.transport`` and ``srv.check_transport`` (raises ConfigError); a client
    certificate comes from the process's certificate cache (``srv.tls_cert``), and
    ``srv.tls_rebuild(new_cert)`` prepares the contexts for a replaced one (``set ssl
    cert``), returning the function that swaps them in."""
    uses_ssl = bool(srv.opt("ssl"))
    checks = bool(srv.opt("check")) and checks_use_tls(srv)
    if not uses_ssl and not checks:
        return
    opts = server_options(config, srv)
    try:
        cert = cache.get(opts["crt"], srv.file)[1] if opts.get("crt") else None

        def contexts(cert: CertKey | None) -> tuple[Any, Any]:
            ctx = build_context(config, srv, opts, srv.opt("alpn"), cert) if uses_ssl \
                else None
            cctx = None
            if checks:
                alpn = srv.opt("check-alpn")
                cctx = ctx if ctx is not None and alpn is None else \
                    build_context(config, srv, opts, alpn, cert)
            return ctx, cctx

        ctx, cctx = contexts(cert)
        if uses_ssl:
            sni = None
            if srv.opt("sni"):
                sni = compile_expr(srv.opt("sni"), _Ctx(config, srv, proxy),
                                   Point.BE_SRV_CON, want=SmpType.STR)
            timeout = proxy.timeouts.get("connect")
            srv.transport = ServerTLS(ctx, sni, timeout / 1000 if timeout else
                                      HANDSHAKE_TIMEOUT, srv.opt("alpn"))
        if checks:
            srv.check_transport = CheckTLS(cctx, srv.opt("check-sni"))
        srv.tls_cert = cert

        def rebuild(new: CertKey) -> Any:
            ctx, cctx = contexts(new)

            def apply() -> None:
                srv.tls_cert = new
                if ctx is not None:
                    srv.transport.context = ctx
                if cctx is not None:
                    srv.check_transport.context = cctx
            return apply
        srv.tls_rebuild = rebuild
    except (PkiError, ValueError, OSError) as exc:
        text = str(exc)
        if not text.startswith("Proxy '"):
            text = f"Proxy '{proxy.name}', server '{srv.name}' [{srv.file}:{srv.line}] {text}"
        raise ConfigError(text, file=srv.file, line=srv.line) from None
