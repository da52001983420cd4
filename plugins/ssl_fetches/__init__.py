"""TLS sample fetches (``ssl_fc*``, ``ssl_c*``, ``ssl_bc*``) and the TLS ClientHello fetches
of tcp-request content (``req.ssl_*``).

Fetches with a process in :mod:`.impl` are active; the others (ClientHello lists of a
terminated connection, NPN, early data, session ids, error codes)
are registered with their signatures and inactive (``hapx -c`` lists each use).
"""

from __future__ import annotations

import ssl
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import AclKeyword, Arg, ArgType, Feature, Fetch, SmpType, Use

from .impl import PROCESSES

_FILTER = (Arg("filter", ArgType.SINT, optional=True, default=0),)
_DN = (Arg("entry", ArgType.STR, optional=True), Arg("occ", ArgType.SINT, optional=True),
       Arg("format", ArgType.STR, optional=True))

#: name, output type, uses, arguments, description
_FETCHES: list[tuple[str, SmpType, Use, tuple[Arg, ...], str]] = [
    ("ssl_fc", SmpType.BOOL, Use.L5CLI, (), "true when the client connection uses TLS"),
    ("ssl_fc_sni", SmpType.STR, Use.L5CLI, (), "the SNI the client sent"),
    ("ssl_fc_has_sni", SmpType.BOOL, Use.L5CLI, (), "true when the client sent an SNI"),
    ("ssl_fc_protocol", SmpType.STR, Use.L5CLI, (), "the TLS version, e.g. TLSv1.3"),
    ("ssl_fc_cipher", SmpType.STR, Use.L5CLI, (), "the negotiated cipher's name"),
    ("ssl_fc_alpn", SmpType.STR, Use.L5CLI, (), "the negotiated ALPN protocol"),
    ("ssl_fc_npn", SmpType.STR, Use.L5CLI, (), "the negotiated NPN protocol"),
    ("ssl_fc_is_resumed", SmpType.BOOL, Use.L5CLI, (), "true for a resumed TLS session"),
    ("ssl_fc_has_crt", SmpType.BOOL, Use.L5CLI, (), "true when the client sent a certificate"),
    ("ssl_fc_has_early", SmpType.BOOL, Use.L5CLI, (), "true when early data was received"),
    ("ssl_fc_session_id", SmpType.BIN, Use.L5CLI, (), "the TLS session id"),
    ("ssl_fc_err", SmpType.SINT, Use.L5CLI, (), "the last TLS error code of the connection"),
    ("ssl_fc_err_str", SmpType.STR, Use.L5CLI, (), "the last TLS error as text"),
    ("ssl_fc_use_keysize", SmpType.SINT, Use.L5CLI, (), "symmetric key size in use"),
    ("ssl_fc_alg_keysize", SmpType.SINT, Use.L5CLI, (), "symmetric key size of the cipher"),
    ("ssl_fc_cipherlist_bin", SmpType.BIN, Use.L5CLI, _FILTER,
     "the ClientHello cipher list, 2-byte ids back to back (filter=1 drops GREASE)"),
    ("ssl_fc_cipherlist_hex", SmpType.STR, Use.L5CLI, _FILTER, "the cipher list in hex"),
    ("ssl_fc_cipherlist_str", SmpType.STR, Use.L5CLI, _FILTER, "the cipher list as names"),
    ("ssl_fc_cipherlist_xxh", SmpType.SINT, Use.L5CLI, (), "xxh64 of the cipher list"),
    ("ssl_fc_eclist_bin", SmpType.BIN, Use.L5CLI, _FILTER, "the ClientHello supported groups"),
    ("ssl_fc_ecformats_bin", SmpType.BIN, Use.L5CLI, (), "the ClientHello EC point formats"),
    ("ssl_fc_sigalgs_bin", SmpType.BIN, Use.L5CLI, _FILTER,
     "the ClientHello signature algorithms"),
    ("ssl_fc_extlist_bin", SmpType.BIN, Use.L5CLI, _FILTER, "the ClientHello extension ids"),
    ("ssl_fc_supported_versions_bin", SmpType.BIN, Use.L5CLI, _FILTER,
     "the ClientHello supported_versions list"),
    ("ssl_c_used", SmpType.BOOL, Use.L5CLI, (), "true when a client certificate was presented"),
    ("ssl_c_verify", SmpType.SINT, Use.L5CLI, (), "the client certificate verify result"),
    ("ssl_c_err", SmpType.SINT, Use.L5CLI, (), "the first verify error at depth 0"),
    ("ssl_c_ca_err", SmpType.SINT, Use.L5CLI, (), "the first verify error in the CA chain"),
    ("ssl_c_s_dn", SmpType.STR, Use.L5CLI, _DN, "the client certificate's subject DN"),
    ("ssl_c_i_dn", SmpType.STR, Use.L5CLI, _DN, "the client certificate's issuer DN"),
    ("ssl_c_serial", SmpType.BIN, Use.L5CLI, (), "the client certificate's serial"),
    ("ssl_c_notafter", SmpType.STR, Use.L5CLI, (), "the client certificate's end date"),
    ("ssl_c_notbefore", SmpType.STR, Use.L5CLI, (), "the client certificate's start date"),
    ("ssl_c_sha1", SmpType.BIN, Use.L5CLI, (), "the SHA-1 of the client certificate"),
    ("ssl_f_s_dn", SmpType.STR, Use.L5CLI, _DN, "the frontend certificate's subject DN"),
    ("ssl_bc", SmpType.BOOL, Use.L5SRV, (), "true when the server connection uses TLS"),
    ("ssl_bc_protocol", SmpType.STR, Use.L5SRV, (), "the server connection's TLS version"),
    ("ssl_bc_cipher", SmpType.STR, Use.L5SRV, (), "the server connection's cipher"),
    ("ssl_bc_alpn", SmpType.STR, Use.L5SRV, (), "the server connection's ALPN protocol"),
    ("ssl_bc_is_resumed", SmpType.BOOL, Use.L5SRV, (), "true for a resumed server session"),
    ("ssl_bc_err", SmpType.SINT, Use.L5SRV, (), "the server connection's last TLS error"),
    ("req.ssl_sni", SmpType.STR, Use.L6REQ, (), "the SNI of a ClientHello in the buffer"),
    ("req.ssl_ver", SmpType.SINT, Use.L6REQ, (), "the TLS version of a ClientHello"),
    ("req.ssl_alpn", SmpType.STR, Use.L6REQ, (), "the ALPN list of a ClientHello"),
    ("req.ssl_hello_type", SmpType.SINT, Use.L6REQ, (), "the TLS handshake message type"),
    ("req.ssl_st_ext", SmpType.SINT, Use.L6REQ, (), "session ticket extension presence"),
    ("req.ssl_ec_ext", SmpType.BOOL, Use.L6REQ, (), "elliptic curves extension presence"),
    ("req.ssl_cipherlist", SmpType.BIN, Use.L6REQ, (),
     "3.2: the ClientHello cipher list, 2-byte big-endian ids back to back"),
    ("req.ssl_sigalgs", SmpType.BIN, Use.L6REQ, (),
     "3.2: the ClientHello signature algorithms, 2-byte ids"),
    ("req.ssl_keyshare_groups", SmpType.BIN, Use.L6REQ, (),
     "3.2: the ClientHello key-share groups, 2-byte ids"),
    ("req.ssl_supported_groups", SmpType.BIN, Use.L6REQ, (),
     "3.2: the ClientHello supported groups, 2-byte ids"),
]

_ALIASES = {"req_ssl_sni": "req.ssl_sni", "req_ssl_ver": "req.ssl_ver",
            "req_ssl_hello_type": "req.ssl_hello_type"}


def _synopsis(name: str, args: tuple[Arg, ...]) -> str:
    if not args:
        return name
    inner = ""
    for i, arg in enumerate(args):
        part = ("," if i else "") + f"<{arg.name}>"
        inner += f"[{part}" if arg.optional else part
    closing = "]" * sum(1 for a in args if a.optional)
    return f"{name}({inner}{closing})"


def _fetch(name: str, out: SmpType, uses: Use, args: tuple[Arg, ...], what: str,
           impl: str | None = None) -> Fetch:
    process = PROCESSES.get(impl or name)
    tail = "" if process else "  Not active yet in this version of hapx."
    return Fetch(name, out_type=out, uses=uses, args=args, active=process is not None,
                 process=process, doc=f"{_synopsis(name, args)}\n\nReturns {what}.{tail}")


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    for name, out, uses, args, what in _FETCHES:
        fetches.add(_fetch(name, out, uses, args, what))
    for alias, target in _ALIASES.items():
        name, out, uses, args, what = next(f for f in _FETCHES if f[0] == target)
        fetches.add(_fetch(alias, out, uses, args, what + f" (old name of {target})",
                           impl=target))
    for base in ("ssl_fc_sni", "req.ssl_sni", "req_ssl_sni"):
        for method in ("end", "reg", "sub", "beg", "dom"):
            fetches.add(AclKeyword(f"{base}_{method}", fetch=base, match=method,
                                   doc=f"{base}_{method}\n\n{base} matched with -m {method}."))


@hookimpl
def hapx_register_features(features: Any) -> None:
    features.add(Feature(
        "OPENSSL", enabled=ssl.OPENSSL_VERSION.startswith("OpenSSL"),
        doc=f"OPENSSL\n\nPython's ssl module is built with {ssl.OPENSSL_VERSION}."))
