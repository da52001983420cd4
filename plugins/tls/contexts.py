"""TLS settings (bind, crt-list line, ssl-f-use line, server) turned into
:class:`ssl.SSLContext` objects.

Options are plain dicts of parsed keywords (``ssl-min-ver``, ``ciphers``, ``verify`` ...);
:func:`merged` layers them: global ``ssl-default-<side>-*`` < bind/server line < crt-list or
ssl-f-use line.
"""

from __future__ import annotations

import ssl
from typing import Any

from . import ossl
from .pki import CertKey

_VERSION_ORDER = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
TLS_VERSION = {"SSLv3": ssl.TLSVersion.SSLv3, "TLSv1.0": ssl.TLSVersion.TLSv1,
               "TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2,
               "TLSv1.3": ssl.TLSVersion.TLSv1_3}
#: HAProxy's defaults when nothing is configured
DEFAULT_MIN = "TLSv1.2"
VERIFY = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def global_defaults(settings: dict[str, Any], side: str) -> dict[str, Any]:
    """The ``ssl-default-<side>-*`` global settings as option words."""
    out: dict[str, Any] = {}
    for word in ("ciphers", "ciphersuites", "curves", "sigalgs", "client-sigalgs"):
        value = settings.get(f"ssl-default-{side}-{word}")
        if value is not None:
            out[word] = value
    for item in settings.get(f"ssl-default-{side}-options") or ():
        name, _, arg = str(item).partition(" ")
        out[name] = arg if arg else True
    return out


def merged(*layers: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        if any(k.startswith("force-") or k in ("ssl-min-ver", "ssl-max-ver") for k in layer):
            # a version statement of a closer layer replaces the farther ones'
            for k in [k for k in out if k.startswith(("force-", "no-tlsv", "no-sslv"))
                      or k in ("ssl-min-ver", "ssl-max-ver")]:
                del out[k]
        out.update(layer)
    return out


def version_range(opts: dict[str, Any]) -> tuple[str, str]:
    """(min, max) version names from ssl-min-ver/ssl-max-ver, force-* and no-* words."""
    for name in _VERSION_ORDER:
        key = "force-" + name.lower().replace(".", "")
        if opts.get(key):
            return name, name
    low = opts.get("ssl-min-ver") or DEFAULT_MIN
    high = opts.get("ssl-max-ver") or "TLSv1.3"
    allowed = [v for v in _VERSION_ORDER
               if _VERSION_ORDER.index(low) <= _VERSION_ORDER.index(v)
               <= _VERSION_ORDER.index(high)
               and not opts.get("no-" + v.lower().replace(".", ""))]
    if not allowed:
        raise ValueError("all SSL/TLS versions are disabled")
    return allowed[0], allowed[-1]


def version_number(name: str) -> int:
    return ossl.VERSIONS[name]


def apply_common(ctx: ssl.SSLContext, opts: dict[str, Any], *, server_side: bool) -> None:
    low, high = version_range(opts)
    ctx.minimum_version = TLS_VERSION[low]
    ctx.maximum_version = TLS_VERSION[high]
    if opts.get("ciphers"):
        try:
            ctx.set_ciphers(opts["ciphers"])
        except ssl.SSLError:
            raise ValueError(f"unable to set SSL cipher list to '{opts['ciphers']}'") from None
    if opts.get("ciphersuites"):
        ossl.ctx_set_ciphersuites(ctx, opts["ciphersuites"])
    if opts.get("curves"):
        ossl.ctx_set_curves(ctx, opts["curves"])
    elif opts.get("ecdhe"):
        ctx.set_ecdh_curve(opts["ecdhe"])
    if opts.get("sigalgs"):
        ossl.ctx_set_sigalgs(ctx, opts["sigalgs"])
    if opts.get("client-sigalgs"):
        ossl.ctx_set_client_sigalgs(ctx, opts["client-sigalgs"])
    alpn = opts.get("alpn")
    if alpn and not opts.get("no-alpn"):
        ctx.set_alpn_protocols(list(alpn))
    if opts.get("no-tls-tickets"):
        ctx.options |= ssl.OP_NO_TICKET
    if server_side:
        if opts.get("prefer-client-ciphers"):
            ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE


def server_side_context(ck: CertKey, opts: dict[str, Any], resolve: Any) -> ssl.SSLContext:
    """The context of one certificate of a bind (``resolve`` maps ca/crl file names)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ck.load_into(ctx)
    apply_common(ctx, opts, server_side=True)
    verify = opts.get("verify") or "none"
    cafiles = [opts[k] for k in ("ca-file", "ca-verify-file") if opts.get(k)]
    for ca in cafiles:
        ctx.load_verify_locations(cafile=resolve(ca))
    if opts.get("crl-file"):
        ctx.load_verify_locations(cafile=resolve(opts["crl-file"]))
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if verify != "none" and not cafiles:
        raise ValueError(f"verify is enabled but no CA file specified ('verify {verify}' "
                         "needs 'ca-file').")
    ctx.verify_mode = VERIFY[verify]
    return ctx
