"""Health checks and server states.

Keywords: the server options ``check``, ``inter``, ``fastinter``, ``downinter``, ``rise``,
``fall``, ``port``, ``addr``, ``check-reuse-pool`` (3.2), ``init-state``, ``slowstart``,
``on-marked-down shutdown-sessions``, ``on-marked-up shutdown-backup-sessions``; the proxy
keywords ``option httpchk``, ``http-check send|expect|connect|comment|disable-on-404``,
``option tcp-check``, ``tcp-check connect|send|send-binary|expect|comment`` and ``option
log-health-checks`` (registered by the logs plugin, run here).

How it runs: at ``hapx_startup`` a :class:`~.manager.HealthManager` starts one anyio task
per checked server on the runtime's work group (``runtime.start_soon``); ``hapx_stopping``
cancels them.  Nothing runs per request: the data path only reads ``srv.up`` through the
backend's picker.

Per-server state and statistics, for the runtime API: ``srv.check_state`` is a
:class:`~.state.ServerHealth`:

- ``op``: "UP", "STARTING" (slowstart), "STOPPING" (disable-on-404) or "DOWN";
  ``admin``: a set of "MAINT", "DRAIN"; ``status_text()``: the stats status column
  ("UP", "DOWN 1/2", "NOLB", "MAINT", "DRAIN", "no check")
- ``check`` (and ``agent``): :class:`~.state.CheckCounters` with ``status`` (HAProxy's
  codes: INI, L4OK, L4CON, L4TOUT, L6OK, L7OK, L7OKC, L7STS, L7RSP, L7TOUT, SOCKERR ...),
  ``code`` (HTTP status), ``info``, ``duration`` (ms), ``rise``/``fall``/``health``,
  ``last_check`` (epoch s), ``in_progress``, ``enabled``
- ``last_change`` (epoch s of the last state change), ``downtime()`` (seconds spent DOWN or
  in maintenance), ``down_trans`` (chkdown: transitions to DOWN), ``failed_checks``
  (chkfail: failed checks counted by HAProxy's rules)

Changing a state (for the runtime API's ``set server ... state``, ``disable server``):
:func:`~.state.set_server_state` (``op=``, ``add_admin="MAINT"|"DRAIN"``, ``del_admin=``):
it updates ``srv.up`` and ``srv.live.up``, tells the picker and logs HAProxy's line.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.plugins.servers import SERVER_OPTIONS

from . import cli as _cli
from . import stats as _stats
from .directives import directives as check_directives
from .manager import EXT, HealthManager, kill_sessions
from .state import CheckResult, ServerHealth, health_of, set_server_state

__all__ = ["CheckResult", "HealthManager", "ServerHealth", "health_of", "kill_sessions",
           "set_server_state"]

#: the server options whose runtime this plugin brings
ACTIVE_OPTIONS = ("check", "no-check", "inter", "fastinter", "downinter", "rise", "fall",
                  "port", "addr", "check-reuse-pool", "no-check-reuse-pool", "init-state",
                  "slowstart", "on-marked-down", "on-marked-up", "agent-check",
                  "no-agent-check", "agent-port", "agent-addr", "agent-inter", "agent-send",
                  "check-proto")


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(*check_directives())
    SERVER_OPTIONS.activate(*ACTIVE_OPTIONS)


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(*_cli.COMMANDS)


@hookimpl
def hapx_register_stats(stats: Any) -> None:
    _stats.register(stats)


@hookimpl
def hapx_configure(config: Any) -> None:
    for px in config.backends:
        kind = px.settings.get("check-type")
        if px.settings.get("http-check") and kind != "httpchk":
            config.diag.warning(f"{px.kind} '{px.name}' uses http-check rules without "
                                "'option httpchk', so the rules are ignored.")
        if px.settings.get("tcp-check") and kind != "tcp-check":
            config.diag.warning(f"{px.kind} '{px.name}' uses tcp-check rules without "
                                "'option tcp-check', so the rules are ignored.")


@hookimpl
def hapx_post_check(config: Any) -> None:
    manager = HealthManager(config)
    for error, srv in manager.prepare():
        if srv is None:
            config.diag.alert(error)
        else:
            config.diag.alert(error, srv.file, srv.line)
    config.ext[EXT] = manager


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    manager = config.ext.get(EXT)
    if manager is not None:
        runtime.start_soon(manager.run)


@hookimpl
def hapx_stopping(config: Any, runtime: Any) -> None:
    manager = config.ext.get(EXT)
    if manager is not None:
        manager.stop()
