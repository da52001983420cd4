"""The server options of HAProxy's configuration manual, section 5.2."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from hapx.core.config.address import AddressError, Ports, parse_address
from hapx.plugins.confkit import (
    Opt,
    OptionTable,
    Validator,
    v_choice,
    v_int,
    v_list,
    v_str,
    v_time,
)

SERVER_OPTIONS = OptionTable("server", owner="servers", track_active=True)
TLS_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def add_server_option(name: str, nargs: int, validator: Validator | None, doc: str, *,
                      negatable: bool = False, active: bool = True) -> None:
    """Declare a server option (for plugins bringing new server features); a ``negatable``
    flag also gets its ``no-<name>`` form.  Declaring it again is a no-op."""
    if name in SERVER_OPTIONS:
        return
    SERVER_OPTIONS.add(Opt(name, nargs, validator, doc))
    names = [name]
    if negatable:
        neg = f"no-{name}"
        NEGATIONS[neg] = name
        SERVER_OPTIONS.add(Opt(neg, 0, None, f"{neg}\n\nCancel an inherited '{name}'."))
        names.append(neg)
    if active:
        SERVER_OPTIONS.activate(*names)


def _weight(text: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise ValueError(f"expects an integer argument, got '{text}'")
    value = int(text)
    if value > 256:
        raise ValueError(f"weight is not within 0 and 256 ({value})")
    return value


def _ip(text: str) -> Any:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"invalid address '{text}'") from None


def _check_addr(text: str) -> Any:
    try:
        return parse_address(text, ports=Ports.OPTIONAL)
    except AddressError as exc:
        raise ValueError(str(exc)) from None


def _init_addr(text: str) -> list[str]:
    def one(word: str) -> str:
        if word in ("last", "libc", "none"):
            return word
        _ip(word)
        return word
    return v_list(one)(text)


def _source(words: list[str], i: int) -> tuple[dict[str, Any], int]:
    """``source <addr>[:<port>[-<port2>]] [usesrc {<addr>[:<port>]|client|clientip|
    hdr_ip(<hdr>[,<occ>])}] [interface <name>]``"""
    if i >= len(words):
        raise ValueError("expects <addr>[:<port>] as argument")
    try:
        addr = parse_address(words[i], ports=Ports.OPTIONAL, ranges=True)
    except AddressError as exc:
        raise ValueError(str(exc)) from None
    out: dict[str, Any] = {"addr": addr}
    i += 1
    while i < len(words) and words[i] in ("usesrc", "interface"):
        if i + 1 >= len(words):
            raise ValueError(f"'{words[i]}' expects an argument")
        value = words[i + 1]
        if words[i] == "usesrc" and value not in ("client", "clientip") \
                and not value.startswith("hdr_ip("):
            try:
                parse_address(value, ports=Ports.OPTIONAL)
            except AddressError as exc:
                raise ValueError(str(exc)) from None
        out[words[i]] = value
        i += 2
    return out, i


#: flags and the options they cancel with their "no-" form
_NEGATABLE = ("agent-check", "backup", "check", "check-send-proxy", "check-ssl",
              "check-reuse-pool", "send-proxy", "send-proxy-v2", "send-proxy-v2-ssl",
              "send-proxy-v2-ssl-cn", "ssl", "ssl-reuse", "tfo", "tls-tickets")
NEGATIONS = {f"no-{name}": name for name in _NEGATABLE}

_FLAGS = {
    "agent-check": "Enable the agent check: every agent-inter, connect to agent-addr:"
                   "agent-port, send agent-send and read one line of words (up, down, "
                   "stopped, fail, ready, drain, maint, <n>%, maxconn:<n>, #description) "
                   "that set the server's state, weight and maxconn.",
    "allow-0rtt": "Send early data (TLS 1.3 0-RTT) to the server.",
    "backup": "A backup server: used only when no active server is up.",
    "check": "Enable health checks.",
    "check-send-proxy": "Send a PROXY header on health check connections too.",
    "check-ssl": "Run health checks over TLS.",
    "check-via-socks4": "Run health checks through the socks4 proxy.",
    "check-reuse-pool": "Health checks use an idle connection of the server pool when one "
                        "exists (3.2).",
    "disabled": "Start the server in maintenance.",
    "enabled": "Start the server ready (cancels 'disabled').",
    "non-stick": "Never add this server to stick tables.",
    "send-proxy": "Send a PROXY protocol v1 header.",
    "send-proxy-v2": "Send a PROXY protocol v2 header.",
    "send-proxy-v2-ssl": "PROXY v2 header with TLS information.",
    "send-proxy-v2-ssl-cn": "PROXY v2 header with TLS information and client CN.",
    "ssl": "Connect to the server with TLS.",
    "ssl-reuse": "Allow TLS session reuse (default).",
    "stick": "Cancel an inherited 'non-stick'.",
    "tfo": "TCP Fast Open to the server.",
    "tls-tickets": "Allow TLS session tickets.",
    "force-sslv3": "Only SSLv3.", "force-tlsv10": "Only TLSv1.0.",
    "force-tlsv11": "Only TLSv1.1.", "force-tlsv12": "Only TLSv1.2.",
    "force-tlsv13": "Only TLSv1.3.",
    "no-sslv3": "Refuse SSLv3.", "no-tlsv10": "Refuse TLSv1.0.", "no-tlsv11": "Refuse TLSv1.1.",
    "no-tlsv12": "Refuse TLSv1.2.", "no-tlsv13": "Refuse TLSv1.3.",
}

_PORT = v_int(1, 65535)
_VALUED: list[tuple[str, Validator, str]] = [
    ("addr", _ip, "addr <ipv4|ipv6>\n\nAddress health checks connect to."),
    ("agent-addr", v_str, "agent-addr <addr>\n\nAddress of the agent check."),
    ("agent-inter", v_time(), "agent-inter <delay>\n\nInterval between agent checks."),
    ("agent-port", _PORT, "agent-port <port>\n\nPort of the agent check."),
    ("agent-send", v_str, "agent-send <string>\n\nString sent to the agent."),
    ("alpn", v_list(), "alpn <protocols>\n\nALPN protocols offered to the server."),
    ("ca-file", v_str, "ca-file <cafile>\n\nCA certificates to verify the server."),
    ("check-alpn", v_list(), "check-alpn <protocols>\n\nALPN of TLS health checks."),
    ("check-pool-conn-name", v_str, "check-pool-conn-name <name>\n\nPool key of connections "
     "reused by checks (3.2)."),
    ("check-proto", v_str, "check-proto <name>\n\nMultiplexer of health checks: h2 runs "
     "HTTP checks over HTTP/2 (clear text or TLS), h1 over HTTP/1.1; without it the "
     "server's 'proto', else the check's TLS ALPN, decides."),
    ("check-sni", v_str, "check-sni <sni>\n\nSNI sent by TLS health checks."),
    ("ciphers", v_str, "ciphers <ciphers>\n\nTLS 1.2 cipher list."),
    ("ciphersuites", v_str, "ciphersuites <ciphersuites>\n\nTLS 1.3 cipher suites."),
    ("client-sigalgs", v_str, "client-sigalgs <sigalgs>\n\nSignature algorithms of the client "
     "certificate."),
    ("cookie", v_str, "cookie <value>\n\nValue of the persistence cookie for this server."),
    ("crl-file", v_str, "crl-file <crlfile>\n\nCertificate revocation list."),
    ("crt", v_str, "crt <cert>\n\nClient certificate presented to the server."),
    ("curves", v_str, "curves <curves>\n\nElliptic curves offered."),
    ("downinter", v_time(), "downinter <delay>\n\nCheck interval while the server is down."),
    ("error-limit", v_int(0), "error-limit <count>\n\nConsecutive errors before 'on-error' "
     "applies (default 10)."),
    ("fall", v_int(1), "fall <count>\n\nFailed checks before the server is marked down "
     "(default 3)."),
    ("fastinter", v_time(), "fastinter <delay>\n\nCheck interval during transitions."),
    ("guid", v_str, "guid <string>\n\nGlobal unique identifier of the server."),
    ("hash-key", v_choice("id", "addr", "addr-port"), "hash-key <id|addr|addr-port>\n\nWhat "
     "places the server on a consistent-hash ring."),
    ("id", v_int(1), "id <value>\n\nPersistent numeric ID of the server."),
    ("idle-ping", v_time(), "idle-ping <delay>\n\nProbe idle server connections every delay "
     "(HTTP/2 PING) (3.2)."),
    ("init-addr", _init_addr, "init-addr {last | libc | none | <ip>},[...]\n\nHow the "
     "address is found at start (default last,libc)."),
    ("init-state", v_choice("fully-up", "up", "down", "fully-down"), "init-state "
     "{fully-up|up|down|fully-down}\n\nInitial state of a checked server."),
    ("inter", v_time(), "inter <delay>\n\nInterval between health checks (default 2s)."),
    ("log-bufsize", v_int(1), "log-bufsize <bufsize>\n\nBuffer of a log server (mode log)."),
    ("log-proto", v_choice("legacy", "octet-count"), "log-proto <logproto>\n\nFraming of "
     "syslog over TCP."),
    ("max-reuse", v_int(-1), "max-reuse <count>\n\nRequests per server connection before it "
     "closes (-1 unlimited)."),
    ("maxconn", v_int(0), "maxconn <maxconn>\n\nMaximum concurrent requests (0 = no limit)."),
    ("maxqueue", v_int(0), "maxqueue <maxqueue>\n\nMaximum queued requests (0 = unlimited)."),
    ("minconn", v_int(0), "minconn <minconn>\n\nDynamic limit floor with backend fullconn."),
    ("namespace", v_str, "namespace <name>\n\nNetwork namespace of server connections."),
    ("npn", v_list(), "npn <protocols>\n\nNPN protocols offered."),
    ("observe", v_choice("none", "layer4", "layer7"), "observe <mode>\n\nPassive health "
     "monitoring of live traffic: layer4 or layer7."),
    ("on-error", v_choice("fastinter", "fail-check", "sudden-death", "mark-down"),
     "on-error <mode>\n\nWhat 'error-limit' consecutive errors do."),
    ("on-marked-down", v_choice("shutdown-sessions"), "on-marked-down <action>\n\nKill "
     "sessions when the server goes down."),
    ("on-marked-up", v_choice("shutdown-backup-sessions"), "on-marked-up <action>\n\nKill "
     "backup sessions when the server comes up."),
    ("pool-conn-name", v_str, "pool-conn-name <expr>\n\nKey of reusable idle connections."),
    ("pool-low-conn", v_int(0), "pool-low-conn <max>\n\nIdle connections below which a "
     "thread opens new ones."),
    ("pool-max-conn", v_int(-1), "pool-max-conn <max>\n\nIdle connections kept (-1 "
     "unlimited, 0 none)."),
    ("pool-purge-delay", v_time(), "pool-purge-delay <delay>\n\nHow often idle connections "
     "are closed progressively (default 5s)."),
    ("port", _PORT, "port <port>\n\nPort health checks connect to."),
    ("proto", v_choice("h1", "h2", "h3", "fcgi", "quic"), "proto <name>\n\nForce the "
     "multiplexer of server connections."),
    ("proxy-v2-options", v_list(v_choice("ssl", "ssl-cipher", "cert-sig", "cert-key",
                                         "authority", "crc32c", "unique-id", "cert-cn")),
     "proxy-v2-options <option>[,<option>]*\n\nTLVs added to PROXY v2 headers."),
    ("redir", v_str, "redir <prefix>\n\nRedirect GET/HEAD requests to this prefix."),
    ("resolve-net", v_list(), "resolve-net <network>[,<network>]\n\nPreferred networks of "
     "DNS answers."),
    ("resolve-opts", v_list(v_choice("allow-dup-ip", "ignore-weight", "prevent-dup-ip")),
     "resolve-opts <option>,<option>,...\n\nDNS resolution options."),
    ("resolve-prefer", v_choice("ipv4", "ipv6"), "resolve-prefer <family>\n\nPreferred "
     "family of DNS answers."),
    ("resolvers", v_str, "resolvers <id>\n\nThe resolvers section that resolves the server "
     "name at run time."),
    ("rise", v_int(1), "rise <count>\n\nSuccessful checks before the server is marked up "
     "(default 2)."),
    ("shard", v_int(0), "shard <shard>\n\nShard of a peers section server."),
    ("sigalgs", v_str, "sigalgs <sigalgs>\n\nSignature algorithms of the handshake."),
    ("slowstart", v_time(), "slowstart <start_time_in_ms>\n\nRamp weight and maxconn up over "
     "this delay after the server comes back."),
    ("sni", v_str, "sni <expression>\n\nSample expression giving the SNI sent."),
    ("socks4", _check_addr, "socks4 <addr>:<port>\n\nReach the server through a SOCKS4 "
     "proxy."),
    ("ssl-max-ver", v_choice(*TLS_VERSIONS), "ssl-max-ver [ SSLv3 | TLSv1.0 | TLSv1.1 | "
     "TLSv1.2 | TLSv1.3 ]\n\nHighest TLS version used."),
    ("ssl-min-ver", v_choice(*TLS_VERSIONS), "ssl-min-ver [ SSLv3 | TLSv1.0 | TLSv1.1 | "
     "TLSv1.2 | TLSv1.3 ]\n\nLowest TLS version used."),
    ("tcp-ut", v_time(), "tcp-ut <delay>\n\nTCP user timeout of server connections."),
    ("track", v_str, "track [<backend>/]<server>\n\nFollow the state of another server "
     "instead of checking."),
    ("verify", v_choice("none", "required"), "verify [none|required]\n\nServer certificate "
     "verification."),
    ("verifyhost", v_str, "verifyhost <hostname>\n\nName the server certificate must match."),
    ("weight", _weight, "weight <weight>\n\nLoad-balancing weight, 0 to 256 (default 1)."),
    ("ws", v_choice("auto", "h1", "h2"), "ws {auto | h1 | h2}\n\nProtocol of WebSocket "
     "requests."),
]

for _name, _doc in _FLAGS.items():
    SERVER_OPTIONS.add(Opt(_name, 0, None, f"{_name}\n\n{_doc}"))
for _neg, _pos in NEGATIONS.items():
    SERVER_OPTIONS.add(Opt(_neg, 0, None, f"{_neg}\n\nCancel an inherited '{_pos}'."))
for _name, _check, _doc in _VALUED:
    SERVER_OPTIONS.add(Opt(_name, 1, _check, _doc))
SERVER_OPTIONS.add(Opt("source", 0, None, "source <addr>[:<port>] [usesrc { <addr2>[:<port2>] "
                                          "| client | clientip } ] [interface <name>]\n\n"
                                          "Source address of server connections.",
                       greedy=_source))

# options whose runtime exists (the others are parsed, validated and reported as not yet
# active until their feature lands: health checks, queues, TLS ...)
SERVER_OPTIONS.activate("weight", "disabled", "enabled", "backup", "id", "maxconn", "maxqueue",
                        "minconn",
                        *(n for n in ("no-backup",) if n in SERVER_OPTIONS))
