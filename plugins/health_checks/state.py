"""Server states and their changes, with HAProxy's log lines.

A server's operational state is ``UP``, ``STARTING`` (UP during ``slowstart``), ``STOPPING``
(``http-check disable-on-404`` answered 404: no new load-balanced traffic) or ``DOWN``;
its administrative state adds ``MAINT`` and/or ``DRAIN``.  :func:`set_server_state` is the
one place that changes them: it updates ``srv.up`` and ``srv.live.up`` together (eligible
for load balancing: UP or STARTING, neither MAINT nor DRAIN), tells the backend's picker
(``server_up`` / ``server_down``), keeps the counters of :class:`ServerHealth` and logs the
change in HAProxy's words to the backend's log targets and to stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hapx.core.runtime.backend import picker_for, server_state
from hapx.core.runtime.queue import server_down as queue_server_down
from hapx.core.runtime.queue import server_up as queue_server_up

from .status import ascii_encode, describe, shows_code

LOG_EMERG, LOG_ALERT, LOG_NOTICE = 0, 1, 5
ELIGIBLE = ("UP", "STARTING")


@dataclass
class CheckResult:
    """One check's outcome: status code (L4OK ...), HTTP or check code, info text and
    duration in milliseconds (-1: none)."""

    status: str
    code: int = 0
    info: str = ""
    duration: int = -1


@dataclass
class CheckCounters:
    """The health counter and the last result of a check (the health check, or the agent)."""

    rise: int = 2
    fall: int = 3
    health: int = 0
    status: str = "INI"
    code: int = 0
    info: str = ""
    duration: int = -1
    #: epoch seconds of the last completed check (0: none yet)
    last_check: float = 0.0
    in_progress: bool = False
    enabled: bool = False
    #: the check is configured (``check`` / ``agent-check``); ``enabled`` is False while
    #: ``disable health`` / ``disable agent`` pause it
    configured: bool = False

    @property
    def is_up(self) -> bool:
        return self.health >= self.rise

    def apply(self, result: str) -> bool:
        """Move the health counter for a check ``result`` (HAProxy's
        ``set_server_check_status``); True when the counter moved ("report")."""
        if result == "failed":
            if self.health > 0:
                self.health -= 1
                if self.health < self.rise:
                    self.health = 0
                return True
            return False
        if result in ("passed", "condpass"):
            if self.health < self.rise + self.fall - 1:
                self.health += 1
                if self.health >= self.rise:
                    self.health = self.rise + self.fall - 1
                return True
        return False

    def progress(self) -> str:
        """``2/3`` as in ``status: 2/3 UP`` and in the stats "UP 2/3" states."""
        if self.health >= self.rise:
            return f"{self.health - self.rise + 1}/{self.fall}"
        return f"{self.health}/{self.rise}"


@dataclass
class ServerHealth:
    """``srv.check_state``: the state of a server and the statistics the runtime API shows.

    - ``op``: "UP", "STARTING", "STOPPING" or "DOWN"; ``admin``: set of "MAINT", "DRAIN"
    - ``check`` / ``agent``: :class:`CheckCounters` (status code such as L4OK/L4CON/L7STS,
      code, info, duration in ms, rise/fall/health)
    - ``last_change``: epoch seconds of the last state change; ``downtime()``: seconds spent
      DOWN so far (HAProxy's ``downtime``); ``down_trans``: UP->DOWN transitions
      (``chkdown``); ``failed_checks``: failed checks while not already DOWN (``chkfail``)
    """

    name: str
    backend: Any = None
    op: str = "UP"
    admin: set[str] = field(default_factory=set)
    check: CheckCounters = field(default_factory=CheckCounters)
    agent: CheckCounters = field(default_factory=CheckCounters)
    last_change: float = field(default_factory=time.time)
    down_time: float = 0.0
    down_trans: int = 0
    failed_checks: int = 0
    #: called as notify(px, level, text, stderr_label) to log a line (set by the manager)
    notify: Callable[[Any, int, str, str], None] | None = None
    #: called after the server became eligible / ineligible (slowstart, shutdown-sessions)
    on_change: Callable[[Any, str, str], None] | None = None
    #: the HealthManager running the server's checks (None when none runs)
    manager: Any = None

    @property
    def eligible(self) -> bool:
        return self.op in ELIGIBLE and not self.admin

    def downtime(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        if self.op != "DOWN" and "MAINT" not in self.admin:
            return self.down_time
        return self.down_time + max(0.0, now - self.last_change)

    def status_text(self) -> str:
        """The stats ``status`` column: UP, DOWN, NOLB, MAINT, DRAIN, "UP 1/3" ..."""
        if "MAINT" in self.admin:
            return "MAINT"
        agent = self.agent.configured and self.agent.enabled
        if self.op == "DOWN" and agent and not self.agent.health:
            return "DOWN (agent)"
        if "DRAIN" in self.admin:
            return "DRAIN (agent)" if agent and self.op != "DOWN" else "DRAIN"
        if not self.check.enabled:
            return "no check" if self.op != "DOWN" else "DOWN"
        word = {"UP": "UP", "STARTING": "UP", "STOPPING": "NOLB", "DOWN": "DOWN"}[self.op]
        c = self.check
        if self.op == "DOWN" and c.health > 0:
            return f"DOWN {c.health}/{c.rise}"
        if self.op != "DOWN" and c.health < c.rise + c.fall - 1:
            return f"{word} {c.health - c.rise + 1}/{c.fall}" if c.health >= c.rise else \
                f"{word} {c.health}/{c.rise}"
        return word


def health_of(srv: Any) -> ServerHealth:
    st = getattr(srv, "check_state", None)
    if st is None:
        st = srv.check_state = ServerHealth(srv.name)
        if not getattr(srv, "up", True):
            st.op = "DOWN"
    return st


# -- log lines ------------------------------------------------------------------------------

def check_part(res: CheckResult) -> str:
    """``, reason: ..., code: ..., info: "...", check duration: Nms``."""
    out = f", reason: {describe(res.status)}"
    if shows_code(res.status):
        out += f", code: {res.code}"
    if res.info:
        out += f', info: "{ascii_encode(res.info)}"'
    if res.duration >= 0:
        out += f", check duration: {res.duration}ms"
    return out


def counts(backend: Any) -> tuple[int, int]:
    act = bck = 0
    for s in backend.servers:
        if s.usable:
            if s.backup:
                bck += 1
            else:
                act += 1
    return act, bck


def counts_part(srv: Any, backend: Any, going_down: bool, xferred: int = 0) -> str:
    act, bck = counts(backend)
    live = server_state(srv)
    backup = " Running on backup." if bck and not act else ""
    if going_down:
        return (f". {act} active and {bck} backup servers left.{backup} {live.served} "
                f"sessions active, {xferred} requeued, {live.queued} remaining in queue")
    return (f". {act} active and {bck} backup servers online.{backup} {xferred} sessions "
            f"requeued, {live.queued} total in queue")


def server_label(srv: Any) -> str:
    return f"{'Backup ' if srv.backup else ''}Server {srv.proxy}/{srv.name}"


def still_draining(srv: Any) -> None:
    """HAProxy's line when a server in forced drain mode has its weight set or its
    operational state changed."""
    st = health_of(srv)
    if "DRAIN" in st.admin:
        _emit(st, LOG_NOTICE, f"{server_label(srv)} remains in forced drain mode.")


def _emit(st: ServerHealth, level: int, text: str, label: str = "warning") -> None:
    if st.notify is not None:
        st.notify(st.backend, level, text, label)
    else:
        print(f"[{label.upper()}]  ({os.getpid()}) : {text}", file=sys.stderr, flush=True)


# -- the state change -------------------------------------------------------------------------

def set_server_state(srv: Any, *, op: str | None = None, add_admin: str | None = None,
                     del_admin: str | None = None, check: CheckResult | None = None,
                     log_check: bool = True, why: str = "") -> bool:
    """Change ``srv``'s operational state to ``op`` and/or set or clear an administrative
    flag; log the change (with ``check``'s details unless ``log_check`` is False, as with
    ``option log-health-checks`` which logs them on their own line; ``why`` instead of a
    check, such as "changed from CLI").  Returns True when something changed."""
    st = health_of(srv)
    backend = st.backend
    old_op, old_admin = st.op, set(st.admin)
    new_op = op or old_op
    new_admin = set(old_admin)
    if add_admin:
        new_admin.add(add_admin)
    if del_admin:
        new_admin.discard(del_admin)
    if new_op == old_op and new_admin == old_admin:
        return False
    now = time.time()
    was_down = old_op == "DOWN" or "MAINT" in old_admin
    will_be_down = new_op == "DOWN" or "MAINT" in new_admin
    if was_down and not will_be_down:
        st.down_time += max(0.0, now - st.last_change)
    if not was_down and will_be_down:
        st.down_trans += 1
    prev_count = sum(counts(backend)) if backend is not None else 0
    st.op, st.admin = new_op, new_admin
    st.last_change = now
    _commit(srv, st)
    if backend is None:
        return True
    detail = check_part(check) if check is not None and log_check else \
        (f", {why}" if why else "")
    text, level, down = _message(srv, st, old_op, old_admin, detail)
    if text:
        _emit(st, level, text + ".")
    if new_op != old_op and "DRAIN" in old_admin and "DRAIN" in new_admin:
        still_draining(srv)
    if down and prev_count and not sum(counts(backend)):
        from hapx.plugins.proxy_basics.common import proxy_type_str
        kind = proxy_type_str(backend)
        if st.notify is not None:
            st.notify(backend, LOG_EMERG, f"{kind} {backend.name} has no server available!",
                      "")
        _emit(st, -1, f"{kind} '{backend.name}' has no server available!", "alert")
    if st.on_change is not None:
        st.on_change(srv, old_op, new_op)
    return True


def _commit(srv: Any, st: ServerHealth) -> None:
    """``srv.up`` and ``srv.live.up`` follow eligibility; the picker hears of it."""
    up = st.eligible
    live = server_state(srv)
    if srv.up == up and live.up == up:
        return
    srv.up = live.up = up
    backend = st.backend
    if backend is None:
        return
    picker = picker_for(backend)
    fn = getattr(picker, "server_up" if up else "server_down", None)
    if fn is not None:
        fn(srv)
    srv.up = live.up = up
    # queues: a server coming up takes from the backend's queue; one going down hands its
    # own queue back to load balancing (option redispatch)
    if up:
        queue_server_up(srv, backend)
    else:
        queue_server_down(srv, backend)


def _message(srv: Any, st: ServerHealth, old_op: str, old_admin: set[str],
             detail: str) -> tuple[str, int, bool]:
    """(line, syslog level, whether the server left the pool) for a change; ``detail`` is
    what follows "is DOWN" (the check's reason, or why)."""
    label = server_label(srv)
    backend = st.backend
    if "MAINT" in st.admin and "MAINT" not in old_admin:
        if old_op == "DOWN":
            return f"{label} was DOWN and now enters maintenance", LOG_NOTICE, True
        return (f"{label} is going DOWN for maintenance" +
                counts_part(srv, backend, True), LOG_ALERT, True)
    if "MAINT" in old_admin and "MAINT" not in st.admin:
        state = "DOWN" if st.op == "DOWN" else "UP"
        sub = "DRAIN" if "DRAIN" in st.admin else "READY"
        return f"{label} is {state}/{sub} (leaving forced maintenance)", LOG_NOTICE, False
    if "DRAIN" in st.admin and "DRAIN" not in old_admin:
        return f"{label} enters drain state" + counts_part(srv, backend, False), \
            LOG_NOTICE, True
    if "DRAIN" in old_admin and "DRAIN" not in st.admin:
        state = "DOWN" if st.op == "DOWN" else "UP"
        return f"{label} is {state} (leaving forced drain)", LOG_NOTICE, False
    if "MAINT" in st.admin:
        return "", LOG_NOTICE, False
    if st.op == "DOWN" and old_op != "DOWN":
        level = LOG_NOTICE if old_op == "STOPPING" else LOG_ALERT
        return f"{label} is DOWN{detail}" + counts_part(srv, backend, True), level, True
    if st.op == "STOPPING" and old_op != "STOPPING":
        return f"{label} is stopping{detail}" + counts_part(srv, backend, False), \
            LOG_NOTICE, True
    if st.op in ELIGIBLE and old_op not in ELIGIBLE:
        return f"{label} is UP{detail}" + counts_part(srv, backend, False), LOG_NOTICE, False
    return "", LOG_NOTICE, False
