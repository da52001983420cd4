"""The stats socket (global ``stats socket``, ``stats timeout``, ``stats maxconn``): the
runtime API served by :mod:`.server`, with the commands of :mod:`.commands` (process,
statistics, streams, errors) and :mod:`.patterns` (ACL and map lists).  The proxy ``stats``
keywords of the statistics page belong to the ``stats_page`` plugin.

A stats socket counts as a listener, as in HAProxy (a configuration with only a stats
socket is valid with ``haproxy -c``, exit 0).  ``expose-fd listeners`` lets the socket
answer ``_getsocks`` (:mod:`.getsocks`): a new process started with ``-x <socket>`` takes
this one's listening sockets over.  Under the master (``-W``) every generation hands its
listening sockets to the next through the master (:mod:`hapx.core.runtime.handover`),
whatever the stats socket says.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import GLOBAL
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.core.runtime import handover
from hapx.plugins.binds import parse_bind_words
from hapx.plugins.binds.options import BIND_OPTIONS
from hapx.plugins.confkit import simple_directive, v_int, v_time

from . import commands as _commands
from . import errors as _errors
from . import getsocks as _getsocks
from . import patterns
from .server import StatsServer

SOCKETS = "stats socket"
# the runtime API enforces levels; expose-fd lets the socket answer _getsocks (-x)
BIND_OPTIONS.activate("level", "expose-fd")
EXT = "stats_socket"


def _socket(ctx: Any, args: list[str]) -> None:
    binds = parse_bind_words(ctx, args, keyword="stats socket")
    for b in binds:
        b.options.setdefault("level", "operator")
    ctx.section.settings.setdefault(SOCKETS, []).extend(binds)
    ctx.config.extra_listeners += len(binds)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(
        Directive(SOCKETS, sections=GLOBAL, parse=_socket,
                  usage="stats socket [<address:port>|<path>] [param*]",
                  doc="stats socket [<address:port>|<path>] [param*]\n\nA runtime API socket "
                      "(unix path, ipv4@ip:port, ipv6@[ip]:port, abns@name) with bind "
                      "parameters: level user|operator|admin (default operator; each command "
                      "declares the level it needs), mode, uid, gid, user, group (unix "
                      "sockets), name, expose-fd listeners (the socket answers '_getsocks': a "
                      "new process started with '-x <socket>' takes the listening sockets "
                      "over instead of binding again)."),
        simple_directive("stats timeout", GLOBAL, "stats timeout <timeout, in milliseconds>"
                         "\n\nIdle timeout of runtime API sessions (default 10s).",
                         [v_time()], active=True),
        simple_directive("stats maxconn", GLOBAL, "stats maxconn <connections>\n\nMaximum "
                         "concurrent runtime API connections (default 10).", [v_int(1)],
                         active=True),
    )


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(*_commands.COMMANDS, *patterns.COMMANDS, *_errors.COMMANDS,
                 *_getsocks.COMMANDS)


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    srv = StatsServer(config, runtime)
    if not srv.binds and handover.master_cli_fd() is None:
        return
    errors = srv.open()
    if errors:
        for sock in srv.sockets:
            sock[1].close()
        raise RuntimeError("; ".join(errors))
    config.ext[EXT] = srv
    runtime.start_soon(srv.serve)


@hookimpl
def hapx_stopping(config: Any, runtime: Any) -> None:
    srv = config.ext.get(EXT)
    if srv is not None:
        srv.stop()


@hookimpl
def hapx_shutdown(config: Any, runtime: Any) -> None:
    srv = config.ext.pop(EXT, None)
    if srv is not None:
        srv.stop()
