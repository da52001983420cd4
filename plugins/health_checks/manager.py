"""The running checks of a configuration: one anyio task per checked server in a task
group started at ``hapx_startup`` (on ``runtime``'s work group) and cancelled at
``hapx_stopping``; the reaction to each result (health counter, ``option
log-health-checks`` lines, state changes), ``slowstart`` and the ``on-marked-down`` /
``on-marked-up`` session kills."""

from __future__ import annotations

import math
import time
from typing import Any

import anyio
from hapx.core.cli.check import say
from hapx.core.runtime.backend import picker_for, server_state

from .agent import AgentPlan, allows_up, apply_reply, ask, build_agent_plan, init_agent
from .plan import CheckPlan, build_plan
from .probe import Probe
from .state import (
    LOG_NOTICE,
    CheckResult,
    ServerHealth,
    check_part,
    health_of,
    set_server_state,
)
from .status import result_of
from .tracing import CHECK_TRACE, trace_result, trace_start

EXT = "health_checks"
INIT_HEALTH = {"fully-up": lambda r, f: r + f - 1, "up": lambda r, f: r,
               "down": lambda r, f: r - 1, "fully-down": lambda r, f: 0}


class HealthManager:
    """Checks and server states of one configuration (``config.ext["health_checks"]``)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.plans: list[tuple[Any, CheckPlan]] = []
        self.agents: list[tuple[Any, AgentPlan]] = []
        self.scope: anyio.CancelScope | None = None
        self.ramps: dict[int, anyio.CancelScope] = {}
        #: the check loops of servers added at run time, by id(server)
        self.loops: dict[int, anyio.CancelScope] = {}
        self.agent_loops: dict[int, anyio.CancelScope] = {}

    # -- setting up --------------------------------------------------------------------------
    def prepare(self) -> list[tuple[str, Any]]:
        """Give every server of every backend its :class:`ServerHealth` and build the plans
        of checked servers; returns the errors (HAProxy's messages), each with the server
        whose line it is about (None: no line to name)."""
        errors = []
        for px in self.config.backends:
            for srv in px.servers:
                st = health_of(srv)
                st.backend = px
                st.notify = self.notify
                st.manager = self
                st.on_change = self.on_change
                if srv.disabled:
                    st.admin.add("MAINT")
                if srv.opt("agent-check"):
                    try:
                        self.agents.append((srv, build_agent_plan(srv, px)))
                    except ValueError as exc:
                        errors.append((str(exc), srv))
                    else:
                        init_agent(st, enabled=True)
                if not srv.check:
                    continue
                try:
                    plan = build_plan(srv, px)
                except ValueError as exc:
                    errors.append((str(exc), None))
                    continue
                self._init_counters(srv, st)
                self.plans.append((srv, plan))
        return errors

    def _init_counters(self, srv: Any, st: ServerHealth) -> None:
        c = st.check
        c.enabled = c.configured = True
        c.rise = int(srv.opt("rise") or 2)
        c.fall = int(srv.opt("fall") or 3)
        init = srv.opt("init-state") or "up"
        c.health = INIT_HEALTH[init](c.rise, c.fall)
        st.op = "UP" if c.health >= c.rise else "DOWN"
        srv.up = server_state(srv).up = st.eligible

    # -- logging -----------------------------------------------------------------------------
    def notify(self, px: Any, level: int, text: str, label: str) -> None:
        """Send ``text`` at syslog ``level`` to ``px``'s log targets (level < 0: none) and
        print it on stderr as a ``label`` message (empty: not printed)."""
        if level >= 0 and px is not None:
            try:
                from hapx.plugins.logs.emit import proxy_log
            except ImportError:  # the logs plugin is not installed
                proxy_log = None
            if proxy_log is not None:
                proxy_log(self.config, px).send(level, text.encode("latin-1", "replace"))
        if label:
            say(label, text)

    # -- running -------------------------------------------------------------------------------
    async def run(self) -> None:
        with anyio.CancelScope() as scope:
            self.scope = scope
            async with anyio.create_task_group() as tg:
                self.tg = tg
                # kept open for the checks of servers added at run time
                tg.start_soon(anyio.sleep_forever)
                count = len(self.plans)
                spread = max((p.inter for _s, p in self.plans), default=0)
                for pos, (srv, plan) in enumerate(self.plans):
                    tg.start_soon(self._loop, srv, plan, spread * pos / max(count, 1))
                count = len(self.agents)
                spread = max((p.inter for _s, p in self.agents), default=0)
                for pos, (srv, agent) in enumerate(self.agents):
                    tg.start_soon(self._agent_loop, srv, agent, spread * pos / max(count, 1))

    def add_plan(self, srv: Any, plan: CheckPlan) -> None:
        """Check a server added at run time (``add server ... check``)."""
        self.plans.append((srv, plan))
        self._start_scoped(self.loops, self._loop, srv, plan)

    def add_agent(self, srv: Any, plan: AgentPlan) -> None:
        """Ask the agent of a server added at run time (``add server ... agent-check``)."""
        self.agents.append((srv, plan))
        self._start_scoped(self.agent_loops, self._agent_loop, srv, plan)

    def _start_scoped(self, loops: dict[int, anyio.CancelScope], loop: Any, srv: Any,
                      plan: Any) -> None:
        """Run ``loop(srv, plan, 0)`` in its own cancel scope, kept in ``loops`` so that
        :meth:`remove_plan` can stop it."""
        tg = getattr(self, "tg", None)
        if tg is None:
            return
        scope = anyio.CancelScope()
        loops[id(srv)] = scope

        async def scoped() -> None:
            with scope:
                await loop(srv, plan, 0)
        tg.start_soon(scoped)

    def remove_plan(self, srv: Any) -> None:
        """Stop checking a server deleted at run time (its agent too)."""
        self.plans = [(s, p) for s, p in self.plans if s is not srv]
        self.agents = [(s, p) for s, p in self.agents if s is not srv]
        for loops in (self.loops, self.agent_loops):
            scope = loops.pop(id(srv), None)
            if scope is not None:
                scope.cancel()

    def stop(self) -> None:
        if self.scope is not None:
            self.scope.cancel()

    async def _loop(self, srv: Any, plan: CheckPlan, delay_ms: float) -> None:
        st = health_of(srv)
        await anyio.sleep(delay_ms / 1000)
        while True:
            if "MAINT" in st.admin or not st.check.enabled:
                await anyio.sleep(plan.inter / 1000)
                continue
            st.check.in_progress = True
            if CHECK_TRACE.on:
                trace_start(srv)
            try:
                result = await Probe(plan, srv, st.op == "DOWN").run()
            finally:
                st.check.in_progress = False
            if CHECK_TRACE.on:
                trace_result(srv, result, result_of(result.status) == "failed")
            if "MAINT" not in st.admin:
                self.report(srv, plan, result)
            await anyio.sleep(plan.interval(st.check, st.op == "DOWN") / 1000)

    async def _agent_loop(self, srv: Any, plan: AgentPlan, delay_ms: float) -> None:
        """Ask the server's agent every ``agent-inter`` (also in maintenance: the agent
        may say ``ready``), while ``disable agent`` has not paused it."""
        st = health_of(srv)
        await anyio.sleep(delay_ms / 1000)
        while True:
            if st.agent.enabled:
                st.agent.in_progress = True
                st.agent.info = ""  # as HAProxy, no info while a check runs
                try:
                    res, line = await ask(plan)
                finally:
                    st.agent.in_progress = False
                apply_reply(srv, res, line)
            await anyio.sleep(plan.inter / 1000)

    def report(self, srv: Any, plan: CheckPlan, res: CheckResult) -> None:
        """What HAProxy's ``set_server_check_status`` and the check notifications do."""
        st = health_of(srv)
        c = st.check
        prev = c.status
        c.status, c.code, c.info, c.duration = res.status, res.code, res.info, res.duration
        c.last_check = time.time()
        result = result_of(res.status)
        if result == "failed" and c.health > 0:
            st.failed_checks += 1
        moved = c.apply(result)
        if plan.log_health_checks and (res.status != prev or moved):
            word = ("UP" if srv.uweight else "DRAIN") if c.is_up else "DOWN"
            how = {"passed": "succeeded", "condpass": "conditionally succeeded"}.get(
                result, "failed")
            line = (f"Health check for {'backup ' if srv.backup else ''}server "
                    f"{srv.proxy}/{srv.name} {how}{check_part(res)}, status: "
                    f"{c.progress()} {word}.")
            self.notify(st.backend, LOG_NOTICE, line, "warning")
        detail = not plan.log_health_checks
        if result == "failed" and c.health == 0:
            set_server_state(srv, op="DOWN", check=res, log_check=detail)
        elif result == "condpass" and c.health >= c.rise:
            set_server_state(srv, op="STOPPING", check=res, log_check=detail)
        elif result == "passed" and c.health >= c.rise and st.op not in ("UP", "STARTING") \
                and allows_up(st):
            op = "STARTING" if plan.slowstart and st.op == "DOWN" else "UP"
            set_server_state(srv, op=op, check=res, log_check=detail)

    # -- reactions to state changes --------------------------------------------------------------
    def on_change(self, srv: Any, old_op: str, new_op: str) -> None:
        st = health_of(srv)
        if new_op == "DOWN" and old_op != "DOWN" and \
                srv.opt("on-marked-down") == "shutdown-sessions":
            kill_sessions(srv)
        if new_op in ("UP", "STARTING") and old_op not in ("UP", "STARTING"):
            if not srv.backup and srv.opt("on-marked-up") == "shutdown-backup-sessions":
                for other in st.backend.servers:
                    if other.backup:
                        kill_sessions(other)
            if new_op == "STARTING":
                self._start_ramp(srv)
        elif new_op not in ("UP", "STARTING"):
            ramp = self.ramps.pop(id(srv), None)
            if ramp is not None:
                ramp.cancel()

    def _start_ramp(self, srv: Any) -> None:
        tg = getattr(self, "tg", None)
        st = health_of(srv)
        set_weight = getattr(picker_for(st.backend), "set_weight", None)
        if tg is None or set_weight is None:
            return
        old = self.ramps.pop(id(srv), None)
        if old is not None:
            old.cancel()
        target = getattr(srv, "_hapx_slowstart_target", None) or srv.uweight
        srv._hapx_slowstart_target = target
        set_weight(srv, 1)
        scope = anyio.CancelScope()
        self.ramps[id(srv)] = scope
        tg.start_soon(self._ramp, srv, scope, set_weight, target)

    async def _ramp(self, srv: Any, scope: anyio.CancelScope, set_weight: Any,
                    target: int) -> None:
        """``slowstart``: the weight grows linearly from 1 to the user weight, in steps of
        max(slowstart/20, 100ms); the full weight comes back however the ramp ends."""
        plan = next(p for s, p in self.plans if s is srv)
        st = health_of(srv)
        try:
            with scope:
                start = anyio.current_time()
                step = max(plan.slowstart / 20, 100) / 1000
                while True:
                    await anyio.sleep(step)
                    elapsed = (anyio.current_time() - start) * 1000
                    if elapsed >= plan.slowstart:
                        break
                    set_weight(srv, max(1, math.ceil(target * elapsed / plan.slowstart)))
        finally:
            set_weight(srv, target)
            srv._hapx_slowstart_target = None
            if self.ramps.get(id(srv)) is scope:
                del self.ramps[id(srv)]
        if st.op == "STARTING":
            set_server_state(srv, op="UP")


def kill_sessions(srv: Any) -> int:
    """Abort every established connection to ``srv`` (``shutdown-sessions``)."""
    conns = list(server_state(srv).conns)
    for transport in conns:
        transport.abort()
    return len(conns)
