"""The bind options of HAProxy's configuration manual, section 5.1: a table other plugins
(TLS, QUIC) may extend with :func:`add_bind_option`."""

from __future__ import annotations

import re
from typing import Any

from hapx.plugins.confkit import (
    Opt,
    OptionTable,
    Validator,
    v_choice,
    v_int,
    v_list,
    v_octal,
    v_on_off,
    v_str,
    v_time,
)

BIND_OPTIONS = OptionTable("bind", owner="binds", track_active=True)

TLS_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
LEVELS = ("user", "operator", "admin")


def add_bind_option(name: str, nargs: int, validator: Validator | tuple[Validator, ...] | None,
                    doc: str, *, multi: bool = False) -> None:
    """Declare a bind option: ``nargs`` values checked by ``validator``; ``doc`` starts with
    the usage (``alpn <protocols>``)."""
    BIND_OPTIONS.add(Opt(name, nargs, validator, doc, multi))


def bind_options() -> OptionTable:
    return BIND_OPTIONS


def _level(text: str) -> str:
    if text not in LEVELS:
        raise ValueError(f"only supports 'user', 'operator', and 'admin' (got '{text}')")
    return text


def _cc_algo(text: str) -> str:
    m = re.fullmatch(r"(cubic|newreno|bbr|nocc)(\(([^)]*)\))?", text)
    if not m:
        raise ValueError(f"unknown QUIC congestion control algorithm '{text}' (expects "
                         "'cubic', 'newreno', 'bbr' or 'nocc', optionally with "
                         "'(<max-window>[,<options>])')")
    return text


def _shards(text: str) -> Any:
    if text in ("by-thread", "by-group"):
        return text
    return v_int(1, 1024)(text)


def _thread(text: str) -> str:
    if not re.fullmatch(r"(all|odd|even|\d+(-\d*)?)(/(all|odd|even|\d+(-\d*)?))?"
                        r"(,(all|odd|even|\d+(-\d*)?))*", text):
        raise ValueError(f"invalid thread set '{text}'")
    return text


def _alpn(text: str) -> list[str]:
    return v_list(v_str)(text)


def _expose_fd(text: str) -> str:
    if text != "listeners":
        raise ValueError(f"'{text}' is not a supported value (only 'listeners')")
    return text


def _cip_magic(text: str) -> int:
    return v_int(0, 2**32 - 1)(text)


_F = None  # a flag validator
_FLAGS = {
    "accept-proxy": "accept-proxy\n\nExpect a PROXY protocol header (v1 or v2) first on every "
                    "accepted connection and use the addresses it carries.",
    "defer-accept": "defer-accept\n\nAccept connections only when data arrived (Linux "
                    "TCP_DEFER_ACCEPT).",
    "tfo": "tfo\n\nEnable TCP Fast Open on the listening socket.",
    "transparent": "transparent\n\nAllow binding to a non-local address (Linux IP_TRANSPARENT).",
    "v4v6": "v4v6\n\nAn IPv6 socket also accepts IPv4 connections.",
    "v6only": "v6only\n\nAn IPv6 socket accepts IPv6 connections only.",
    "ssl": "ssl\n\nEnable TLS on this listener; certificates come from 'crt', 'crt-list' or "
           "the frontend's 'ssl-f-use' lines.",
    "allow-0rtt": "allow-0rtt\n\nAccept TLS 1.3 early data.",
    "generate-certificates": "generate-certificates\n\nForge certificates for unknown SNI "
                             "values with the CA of 'ca-sign-file'.",
    "no-alpn": "no-alpn\n\nAnnounce no ALPN, even a default one.",
    "no-ca-names": "no-ca-names\n\nDo not send the CA names of 'ca-file' to clients.",
    "no-sslv3": "no-sslv3\n\nRefuse SSLv3 (prefer ssl-min-ver).",
    "no-tlsv10": "no-tlsv10\n\nRefuse TLSv1.0 (prefer ssl-min-ver).",
    "no-tlsv11": "no-tlsv11\n\nRefuse TLSv1.1 (prefer ssl-min-ver).",
    "no-tlsv12": "no-tlsv12\n\nRefuse TLSv1.2 (prefer ssl-min-ver).",
    "no-tlsv13": "no-tlsv13\n\nRefuse TLSv1.3 (prefer ssl-max-ver).",
    "no-tls-tickets": "no-tls-tickets\n\nDisable stateless session resumption.",
    "force-sslv3": "force-sslv3\n\nOnly SSLv3 (prefer ssl-min-ver/ssl-max-ver).",
    "force-tlsv10": "force-tlsv10\n\nOnly TLSv1.0.",
    "force-tlsv11": "force-tlsv11\n\nOnly TLSv1.1.",
    "force-tlsv12": "force-tlsv12\n\nOnly TLSv1.2.",
    "force-tlsv13": "force-tlsv13\n\nOnly TLSv1.3.",
    "prefer-client-ciphers": "prefer-client-ciphers\n\nUse the client's cipher preference.",
    "strict-sni": "strict-sni\n\nRefuse the handshake when no certificate matches the SNI.",
    "quic-force-retry": "quic-force-retry\n\nAlways send a Retry packet to validate "
                        "QUIC client addresses.",
}

_VALUED: list[tuple[str, Validator, str]] = [
    ("accept-netscaler-cip", _cip_magic, "accept-netscaler-cip <magic>\n\nExpect a NetScaler "
     "Client IP insertion header with this magic number."),
    ("backlog", v_int(1), "backlog <backlog>\n\nLength of the listen queue."),
    ("expose-fd", _expose_fd, "expose-fd listeners\n\nLet this (stats) socket hand listening "
     "sockets to a new process on reload."),
    ("gid", v_int(0), "gid <gid>\n\nGroup owning a unix socket."),
    ("group", v_str, "group <group>\n\nGroup owning a unix socket, by name."),
    ("guid-prefix", v_str, "guid-prefix <string>\n\nPrefix of the global IDs of the "
     "listeners of this line."),
    ("id", v_int(1), "id <id>\n\nPersistent numeric ID of the listener (unique in the proxy)."),
    ("idle-ping", v_time(), "idle-ping <delay>\n\nProbe idle client connections every delay "
     "(HTTP/2 PING); no answer before the next probe closes the connection (3.2)."),
    ("interface", v_str, "interface <interface>\n\nBind to this network interface only."),
    ("level", _level, "level <level>\n\nPrivilege level of a stats socket: user, operator or "
     "admin."),
    ("maxconn", v_int(0), "maxconn <maxconn>\n\nMaximum concurrent connections on this "
     "listener."),
    ("mode", v_octal, "mode <mode>\n\nOctal permissions of a unix socket."),
    ("mss", v_int(-65535, 65535), "mss <maxseg>\n\nTCP maximum segment size advertised."),
    ("name", v_str, "name <name>\n\nName of the listener in stats and logs."),
    ("namespace", v_str, "namespace <name>\n\nBind in this network namespace."),
    ("nbconn", v_int(1), "nbconn <count>\n\nNumber of reverse-HTTP connections to keep."),
    ("nice", v_int(-1024, 1024), "nice <nice>\n\nScheduling priority of tasks of this "
     "listener (-1024..1024)."),
    ("process", _thread, "process <process-set>[/<thread-set>]\n\nDeprecated: only one "
     "process exists; accepted and ignored with a warning."),
    ("proto", v_choice("h1", "h2", "h3", "quic"), "proto <name>\n\nForce the multiplexer "
     "(h1, h2, h3, quic) instead of ALPN negotiation."),
    ("quic-cc-algo", _cc_algo, "quic-cc-algo {cubic|newreno|bbr|nocc}[(<args>)]\n\nQUIC "
     "congestion control algorithm; pacing is on by default (3.2)."),
    ("quic-socket", v_choice("connection", "listener"), "quic-socket connection|listener\n\n"
     "Use one socket per QUIC connection or the listener's only."),
    ("severity-output", v_choice("none", "number", "string"), "severity-output "
     "none|number|string\n\nHow a stats socket reports the severity of messages."),
    ("shards", _shards, "shards <number> | by-thread | by-group\n\nSplit the listener into "
     "several sockets."),
    ("tcp-md5sig", v_str, "tcp-md5sig <password>\n\nEnable TCP MD5 signatures (RFC 2385)."),
    ("tcp-ut", v_time(), "tcp-ut <delay>\n\nTCP user timeout of client connections."),
    ("thread", _thread, "thread [<thread-group>/]<thread-set>\n\nThreads that may accept "
     "connections on this listener."),
    ("uid", v_int(0), "uid <uid>\n\nUser owning a unix socket."),
    ("user", v_str, "user <user>\n\nUser owning a unix socket, by name."),
    # TLS
    ("alpn", _alpn, "alpn <protocols>\n\nComma-separated ALPN protocols offered (h2,http/1.1)."),
    ("ca-file", v_str, "ca-file <cafile>\n\nCA certificates to verify client certificates."),
    ("ca-ignore-err", v_str, "ca-ignore-err [all|<errorID>,...]\n\nCA verification errors to "
     "ignore."),
    ("ca-sign-file", v_str, "ca-sign-file <cafile>\n\nCA used by generate-certificates."),
    ("ca-sign-pass", v_str, "ca-sign-pass <passphrase>\n\nPassphrase of ca-sign-file's key."),
    ("ca-verify-file", v_str, "ca-verify-file <cafile>\n\nCA certificates used only to "
     "verify (not announced)."),
    ("ciphers", v_str, "ciphers <ciphers>\n\nTLS 1.2 and older cipher list."),
    ("ciphersuites", v_str, "ciphersuites <ciphersuites>\n\nTLS 1.3 cipher suites."),
    ("client-sigalgs", v_str, "client-sigalgs <sigalgs>\n\nSignature algorithms for client "
     "certificates."),
    ("crl-file", v_str, "crl-file <crlfile>\n\nCertificate revocation list."),
    ("crt-ignore-err", v_str, "crt-ignore-err [all|<errorID>,...]\n\nCertificate "
     "verification errors to ignore."),
    ("curves", v_str, "curves <curves>\n\nColon-separated elliptic curves offered."),
    ("ecdhe", v_str, "ecdhe <named curve>\n\nCurve for ECDHE key exchange."),
    ("npn", _alpn, "npn <protocols>\n\nNPN protocols offered (obsolete TLS extension)."),
    ("ocsp-update", v_on_off, "ocsp-update on|off\n\nAutomatic OCSP response updates."),
    ("sigalgs", v_str, "sigalgs <sigalgs>\n\nSignature algorithms for the handshake."),
    ("ssl-max-ver", v_choice(*TLS_VERSIONS), "ssl-max-ver [ SSLv3 | TLSv1.0 | TLSv1.1 | "
     "TLSv1.2 | TLSv1.3 ]\n\nHighest TLS version accepted."),
    ("ssl-min-ver", v_choice(*TLS_VERSIONS), "ssl-min-ver [ SSLv3 | TLSv1.0 | TLSv1.1 | "
     "TLSv1.2 | TLSv1.3 ]\n\nLowest TLS version accepted."),
    ("tls-ticket-keys", v_str, "tls-ticket-keys <keyfile>\n\nFile of TLS ticket keys."),
    ("verify", v_choice("none", "optional", "required"), "verify [none|optional|required]\n\n"
     "Client certificate verification."),
]

_MULTI: list[tuple[str, str]] = [
    ("crt", "crt <cert>\n\nA certificate (PEM file, directory, or '@<store>/<name>' entry "
            "of a crt-store).  May be repeated."),
    ("crt-list", "crt-list <file>\n\nA file of certificates with per-certificate SNI filters "
                 "and options.  May be repeated."),
]

for _name, _doc in _FLAGS.items():
    BIND_OPTIONS.add(Opt(_name, 0, None, _doc))
for _name, _check, _doc in _VALUED:
    BIND_OPTIONS.add(Opt(_name, 1, _check, _doc))
for _name, _doc in _MULTI:
    BIND_OPTIONS.add(Opt(_name, 1, v_str, _doc, multi=True))

# options whose runtime exists (the others are parsed, validated and reported as not yet
# active until their feature lands: TLS, PROXY protocol, QUIC ...)
BIND_OPTIONS.activate("name", "id", "maxconn", "backlog", "v4v6", "v6only", "transparent",
                      "defer-accept", "mode", "uid", "gid", "user", "group")
