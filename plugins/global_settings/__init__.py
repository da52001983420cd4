"""The global section's settings.

Every keyword stores its checked value in ``config.global_.settings[<keyword>]`` (the
latest line wins when several global sections repeat one):

- flags store True (False with a ``no`` prefix where HAProxy allows one);
- numbers, sizes (bytes) and times (ms) store ints; choices store the word;
- ``user`` / ``group`` store ``{"name", "uid"|"gid"}``; ``master-worker`` stores
  ``{"no-exit-on-failure": bool}``; ``default-path`` stores ``(mode, origin)``;
  ``dns-accept-family`` a tuple.

Threads and CPU placement (nbthread, thread-groups, cpu-map, cpu-policy, cpu-set ...) are the
``cpu_binding`` plugin's, which stores them in the same settings.

``setenv``, ``presetenv``, ``resetenv`` and ``unsetenv`` change ``os.environ`` at once, so
the following lines expand with the new values.  ``zero-warning`` turns warnings into a
refusal of the configuration at the end of the checks.

Records marked inactive are parsed and validated only: their runtime (process management,
TLS, HTTP/2, QUIC, the HTTP client, health checks, peers,
resolvers) comes in a later version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hapx.core.config.model import GLOBAL, Config
from hapx.core.config.parser import ParseContext
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, Feature

from . import special as sp
from .limits import apply_fd_limit
from .values import choice, flag, integer, on_off, size, string, time

Parser = Callable[[ParseContext, list[str]], Any]


def _bufsize(ctx: ParseContext, args: list[str]) -> int:
    return size(1)(ctx, args) if args and args[0][:1].isdigit() and args[0] != "0" else \
        integer(1)(ctx, args)


# name: (parser, active, negatable, synopsis arguments, explanation)
KEYWORDS: dict[str, tuple[Parser, bool, bool, str, str]] = {
    # -- process management (runtime comes later) -------------------------------------------
    "daemon": (flag, False, False, "", "Run in the background."),
    "master-worker": (sp.master_worker, True, False, "[no-exit-on-failure]",
                      "Run a master process supervising workers."),
    "pidfile": (string("'{kw}' expects a file name as an argument."), False, False,
                "<file>", "Write the pid(s) into <file>."),
    "user": (sp.user, False, False, "<name>", "Switch to this user's uid after start."),
    "group": (sp.group, False, False, "<name>", "Switch to this group's gid after start."),
    "uid": (sp.numeric_id, False, False, "<number>", "Switch to this uid after start."),
    "gid": (sp.numeric_id, False, False, "<number>", "Switch to this gid after start."),
    "chroot": (string("'{kw}' expects a directory as an argument."), False, False, "<dir>",
               "Change root to <dir> after start."),
    "ulimit-n": (integer(msg="'{kw}' expects an integer argument."), True, False,
                 "<number>", "Maximum number of file descriptors: the soft RLIMIT_NOFILE "
                 "is raised to it at start-up (by default to 2 x maxconn plus the "
                 "listeners and a small reserve).  What cannot be applied stops the start "
                 "under strict-limits (the default), else is reported."),
    "set-dumpable": (flag, False, False, "", "Allow core dumps after changing user."),
    "insecure-fork-wanted": (flag, False, False, "", "Allow forking processes (external "
                             "checks, Lua)."),
    "insecure-setuid-wanted": (flag, False, False, "", "Allow setuid binaries to be run."),
    "external-check": (flag, False, False, "", "Allow external health check programs."),
    "stats-file": (string("'{kw}' expects a file path as an argument."), False, False,
                   "<file>", "Preload the stats counters from <file>."),
    "localpeer": (string("'{kw}' expects a name as an argument."), False, False, "<name>",
                  "This process's name in peers sections."),
    "noepoll": (flag, False, False, "", "Do not use the epoll poller."),
    "nopoll": (flag, False, False, "", "Do not use the poll poller."),
    "nosplice": (flag, False, False, "", "Do not use kernel splicing."),
    "noreuseport": (flag, False, False, "", "Do not set SO_REUSEPORT on listeners."),
    "nogetaddrinfo": (flag, False, False, "", "Resolve names without getaddrinfo."),
    "busy-polling": (sp.busy_polling, False, True, "", "Poll actively instead of sleeping."),
    "spread-checks": (integer(0, 50, "'{kw}' needs a positive value in range 0..50."), False,
                      False, "<0..50>", "Random spread of health check intervals, in %."),
    "max-spread-checks": (time(), False, False, "<time>",
                          "Maximum delay before the first health check."),
    "dns-accept-family": (sp.dns_accept_family, False, False, "<family>[,<family>]",
                          "Address families accepted from DNS: ipv4, ipv6, auto (3.2)."),
    # -- values read by the kernel and the data path ------------------------------------------
    "maxconn": (integer(msg="'{kw}' expects an integer argument."), True, False, "<number>",
                "Maximum concurrent connections of the process."),
    "node": (sp.node, True, False, "<name>", "This node's name (stats, show info)."),
    "description": (string("'{kw}' expects a string argument.", join=True), True, False,
                    "<text>", "A description of this process (stats, show info)."),
    "setenv": (sp.setenv, True, False, "<name> <value>",
               "Set an environment variable now (later lines expand with it)."),
    "presetenv": (sp.setenv, True, False, "<name> <value>",
                  "Set an environment variable now unless it is already set."),
    "resetenv": (sp.resetenv, True, False, "[<name> ...]",
                 "Remove every environment variable except the listed ones."),
    "unsetenv": (sp.unsetenv, True, False, "<name> [<name> ...]",
                 "Remove environment variables."),
    "default-path": (sp.default_path, True, False, "{ current | config | parent | origin "
                     "<path> }", "The base of relative file paths in the configuration."),
    "expose-experimental-directives": (flag, True, False, "",
                                       "Allow keywords marked experimental."),
    "zero-warning": (flag, True, False, "", "Refuse a configuration that has warnings."),
    "hard-stop-after": (time(), True, False, "<time>",
                        "Maximum time a soft stop may last."),
    "grace": (time(), True, False, "<time>",
              "Delay between a stop signal and the stop of listeners."),
    "strict-limits": (flag, True, True, "", "Fail at start-up when the file-descriptor limit "
                      "that maxconn or ulimit-n needs cannot be set (the default); 'no "
                      "strict-limits' reports it and starts anyway."),
    "tune.bufsize": (_bufsize, True, False, "<size>", "Buffer size in bytes."),
    "tune.maxrewrite": (integer(0), True, False, "<number>",
                        "Space reserved in buffers for header rewrites."),
    "tune.http.maxhdr": (integer(1, 32767, "'{kw}' expects a numeric value between 1 and "
                                 "32767"), True, False, "<number>",
                         "Maximum number of headers in a message."),
    "tune.max-rules-at-once": (integer(1), True, False, "<number>",
                               "Rules evaluated in one pass before yielding (3.2)."),
    "tune.maxaccept": (integer(-1), True, False, "<number>",
                       "Connections accepted at once per listener (-1: no limit)."),
    "tune.maxpollevents": (integer(1), True, False, "<number>",
                           "Events processed per poll."),
    "tune.runqueue-depth": (integer(1), True, False, "<number>",
                            "Tasks run per scheduler loop."),
    "tune.idletimer": (time("ms", 0, 65535), True, False, "<time>",
                       "Idle delay before a stream may be fast-forwarded."),
    "tune.notsent-lowat.client": (size(0), False, False, "<size>",
                                  "TCP_NOTSENT_LOWAT on client sockets (3.2)."),
    "tune.notsent-lowat.server": (size(0), False, False, "<size>",
                                  "TCP_NOTSENT_LOWAT on server sockets (3.2)."),
    "tune.glitches.kill.cpu-usage": (integer(0, 100), True, False, "<0..100>",
                                     "Kill glitchy connections only above this CPU usage "
                                     "(3.2)."),
    # -- HTTP client ---------------------------------------------------------------------
    "httpclient.resolvers.prefer": (choice(("ipv4", "ipv6")), False, False, "{ ipv4 | ipv6 }",
                                    "Address family preferred by the HTTP client."),
    "httpclient.resolvers.disabled": (on_off, False, False, "{ on | off }",
                                      "Disable DNS resolution in the HTTP client."),
    "httpclient.resolvers.id": (string("'{kw}' expects a resolvers name."), False, False,
                                "<name>", "Resolvers section used by the HTTP client."),
    "httpclient.retries": (integer(0), False, False, "<number>",
                           "Connection retries of the HTTP client."),
    "httpclient.timeout.connect": (time(), False, False, "<time>",
                                   "Connect timeout of the HTTP client."),
    "httpclient.ssl.verify": (choice(("none", "required")), False, False,
                              "{ none | required }", "Certificate verification of the HTTP "
                              "client."),
    "httpclient.ssl.ca-file": (string("'{kw}' expects a file name."), False, False, "<file>",
                               "CA file of the HTTP client."),
    # -- TLS ------------------------------------------------------------------------------
    "ca-base": (sp.base_dir, True, False, "<dir>", "Base directory of relative CA and CRL "
                "file names."),
    "crt-base": (sp.base_dir, True, False, "<dir>", "Base directory of relative "
                 "certificate file names."),
    "key-base": (sp.base_dir, True, False, "<dir>", "Base directory of relative key file "
                 "names."),
    "ssl-server-verify": (choice(("none", "required")), True, False, "{ none | required }",
                          "Default certificate verification towards servers."),
}

#: sides whose ssl-default-<side>-* settings the TLS plugin applies
TLS_ACTIVE_SIDES = ("bind", "server")

for _side in ("bind", "server"):
    _ACTIVE = _side in TLS_ACTIVE_SIDES  # applied by the tls plugin
    KEYWORDS.update({
        f"ssl-default-{_side}-ciphers": (sp.ssl_text("a cipher suite"), _ACTIVE, False,
                                          "<ciphers>", f"Default TLS<=1.2 ciphers ({_side})."),
        f"ssl-default-{_side}-ciphersuites": (sp.ssl_text("a cipher suite"), _ACTIVE, False,
                                               "<ciphersuites>",
                                               f"Default TLS 1.3 ciphersuites ({_side})."),
        f"ssl-default-{_side}-curves": (sp.ssl_text("a curves suite"), _ACTIVE, False,
                                         "<curves>", f"Default ECDHE curves ({_side})."),
        f"ssl-default-{_side}-sigalgs": (sp.ssl_text("a signature algorithms list"), _ACTIVE,
                                          False, "<sigalgs>",
                                          f"Default signature algorithms ({_side})."),
        f"ssl-default-{_side}-client-sigalgs": (sp.ssl_text("a signature algorithms list"),
                                                 _ACTIVE, False, "<sigalgs>",
                                                 f"Default client signature algorithms "
                                                 f"({_side})."),
        f"ssl-default-{_side}-options": (sp.ssl_options, _ACTIVE, False, "<option>...",
                                          f"Default TLS options ({_side})."),
    })

# -- HTTP/2 and QUIC tuning (validated; used once those protocols exist) ------------------
_H2: dict[str, tuple[Parser, str]] = {
    "tune.h2.header-table-size": (integer(4096, 65536, "'{kw}' expects a numeric value "
                                          "between 4096 and 65536."), "<number>"),
    "tune.h2.initial-window-size": (integer(0), "<number>"),
    "tune.h2.fe.initial-window-size": (integer(0), "<number>"),
    "tune.h2.be.initial-window-size": (integer(0), "<number>"),
    "tune.h2.max-concurrent-streams": (integer(0), "<number>"),
    "tune.h2.fe.max-concurrent-streams": (integer(0), "<number>"),
    "tune.h2.be.max-concurrent-streams": (integer(0), "<number>"),
    "tune.h2.fe.max-total-streams": (integer(0), "<number>"),
    "tune.h2.fe.glitches-threshold": (integer(0), "<number>"),
    "tune.h2.be.glitches-threshold": (integer(0), "<number>"),
    "tune.h2.fe.rxbuf": (size(0), "<size>"),
    "tune.h2.be.rxbuf": (size(0), "<size>"),
    "tune.h2.max-frame-size": (integer(16384, 16777215), "<number>"),
    "tune.h2.zero-copy-fwd-send": (on_off, "{ on | off }"),
    "tune.quic.cc-hystart": (on_off, "{ on | off }"),
    "tune.quic.cc.cubic.min-losses": (integer(1), "<number>"),
    "tune.quic.disable-tx-pacing": (flag, ""),
    "tune.quic.disable-udp-gso": (flag, ""),
    "tune.quic.frontend.conn-tx-buffers.limit": (integer(1), "<number>"),
    "tune.quic.frontend.glitches-threshold": (integer(0), "<number>"),
    "tune.quic.frontend.max-idle-timeout": (time(), "<time>"),
    "tune.quic.frontend.max-streams-bidi": (integer(1), "<number>"),
    "tune.quic.frontend.max-tx-mem": (size(0), "<size>"),
    "tune.quic.frontend.default-max-window-size": (size(1), "<size>"),
    "tune.quic.frontend.stream-data-ratio": (integer(1, 100), "<0..100>"),
    "tune.quic.max-frame-loss": (integer(1), "<number>"),
    "tune.quic.reorder-ratio": (integer(0, 100), "<0..100>"),
    "tune.quic.retry-threshold": (integer(0), "<number>"),
    "tune.quic.socket-owner": (choice(("connection", "listener")), "{ connection | listener }"),
    "tune.quic.zero-copy-fwd-send": (on_off, "{ on | off }"),
}
#: the HTTP/2 tuning applied by the h2_mux plugin
_H2_ACTIVE = frozenset({
    "tune.h2.header-table-size", "tune.h2.initial-window-size",
    "tune.h2.fe.initial-window-size", "tune.h2.be.initial-window-size",
    "tune.h2.max-concurrent-streams", "tune.h2.fe.max-concurrent-streams",
    "tune.h2.be.max-concurrent-streams", "tune.h2.max-frame-size",
    "tune.h2.fe.glitches-threshold", "tune.h2.be.glitches-threshold",
    "tune.h2.fe.max-total-streams", "tune.h2.fe.rxbuf", "tune.h2.be.rxbuf"})
#: the QUIC tuning the quic plugin applies (see plugins/quic)
_QUIC_ACTIVE = {
    "tune.quic.disable-tx-pacing": "Send QUIC packets as soon as the congestion window "
    "allows, without pacing them.",
    "tune.quic.frontend.glitches-threshold": "Close a QUIC connection once it made this "
    "many protocol glitches (0: never).",
    "tune.quic.frontend.max-idle-timeout": "Close a QUIC connection idle for this long.",
    "tune.quic.frontend.max-streams-bidi": "Request streams a client may open at once; "
    "also sizes the connection's receive window (this many buffers).",
    "tune.quic.frontend.max-tx-mem": "Most response bytes sent over QUIC and not yet "
    "acknowledged, process-wide (0: no limit).",
    "tune.quic.frontend.stream-data-ratio": "Percentage of the connection's receive "
    "window one stream may use (default 90).",
}
#: what the h2_mux plugin does with these (see plugins/h2_mux/limits.py)
_H2_DOCS = {
    "tune.h2.fe.max-total-streams": "Once a client connection opened this many streams, "
    "send a graceful GOAWAY: the streams in progress are served, the client opens a new "
    "connection for the next ones (0: no limit).  MAX_CONCURRENT_STREAMS announces no "
    "more than this.",
    "tune.h2.fe.rxbuf": "Receive budget of one HTTP/2 client connection, rounded up to a "
    "multiple of tune.bufsize (default 1600k): the connection's window, divided between "
    "the streams receiving a request body (each at least one buffer and the initial "
    "window).",
    "tune.h2.be.rxbuf": "Receive budget of one HTTP/2 server connection, rounded up to a "
    "multiple of tune.bufsize (default 1600k): the connection's window, divided between "
    "its streams receiving a response.",
}
for _name, (_parser, _usage) in _H2.items():
    _what = "HTTP/2" if ".h2." in _name else "QUIC"
    if _name in _QUIC_ACTIVE:
        KEYWORDS[_name] = (_parser, True, False, _usage, _QUIC_ACTIVE[_name])
        continue
    if _name in _H2_DOCS:
        KEYWORDS[_name] = (_parser, True, False, _usage, _H2_DOCS[_name])
        continue
    KEYWORDS[_name] = (_parser, _name in _H2_ACTIVE, False, _usage,
                       f"{_what} tuning, with HAProxy's meaning." if _name in _H2_ACTIVE else
                       f"{_what} tuning; HAProxy's meaning, used once {_what} exists.")


def _store(name: str, parser: Parser) -> Parser:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        value = parser(ctx, args)
        if value is not None:
            ctx.section.settings[name] = value
    return parse


def _doc(name: str, usage: str, text: str, active: bool, negatable: bool) -> str:
    head = f"{'[no] ' if negatable else ''}{name}{' ' + usage if usage else ''}"
    tail = "" if active else "  Parsed and validated now; applied by a later version."
    return f"{head}\n\n{text}{tail}  Stored in global settings['{name}']."


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    for name, (parser, active, negatable, usage, text) in KEYWORDS.items():
        directives.add(Directive(name, sections=GLOBAL, parse=_store(name, parser),
                                 active=active, negatable=negatable,
                                 doc=_doc(name, usage, text, active, negatable)))


@hookimpl(tryfirst=True)
def hapx_prefork(config: Config, runtime: Any) -> None:
    """Workers inherit the supervisor's descriptor limit: set it before they fork."""
    apply_fd_limit(config, runtime)


@hookimpl(tryfirst=True)
def hapx_startup(config: Config, runtime: Any) -> None:
    """Set the descriptor limit before any listener opens."""
    apply_fd_limit(config, runtime)


@hookimpl
def hapx_register_features(features: Any) -> None:
    import os
    import select
    import sys

    linux = sys.platform.startswith("linux")
    features.add(
        Feature("EPOLL", enabled=hasattr(select, "epoll"),
                doc="EPOLL\n\nThe event loop polls with epoll."),
        Feature("POLL", enabled=hasattr(select, "poll"), doc="POLL\n\npoll() is available."),
        Feature("GETADDRINFO", doc="GETADDRINFO\n\nHost names resolve with getaddrinfo()."),
        Feature("CPU_AFFINITY", enabled=hasattr(os, "sched_setaffinity"),
                doc="CPU_AFFINITY\n\nThreads and processes can be bound to CPUs."),
        Feature("SYSTEMD", enabled=linux,
                doc="SYSTEMD\n\n-Ws notifies systemd through $NOTIFY_SOCKET."),
        Feature("PRCTL", enabled=linux, doc="PRCTL\n\nLinux process controls."),
    )


@hookimpl
def hapx_post_check(config: Config) -> None:
    if config.global_.settings.get("zero-warning") and config.diag.warnings:
        config.diag.alert("Some warnings were found and 'zero-warning' is set. Aborting.")
