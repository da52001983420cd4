"""The agent check (``agent-check``): an auxiliary check that asks a program running on
the server how the server is doing.

Every ``agent-inter`` (default 2s) hapx connects to ``agent-addr`` (default the server's
address) on ``agent-port``, sends ``agent-send`` if set, and reads one line.  The line is
made of words separated by spaces, tabs or commas, in any order, and an optional
description after a ``#``:

- ``up``, ``down``, ``stopped``, ``fail``: the operational state the agent reports
  (``down``, ``stopped`` and ``fail`` all mark the server DOWN; the stats show "DOWN
  (agent)");
- ``ready``, ``drain``, ``maint``: the administrative state to set;
- ``<n>%``: the weight, relative to the configured one;
- ``maxconn:<n>``: the server's maxconn.

As in HAProxy, an agent that cannot be reached, does not answer in time or closes
without a word changes nothing (only its status in the stats); the server is UP only
while both the health check and the agent allow it.  The agent's own rise and fall are
1.  ``disable agent`` pauses the checks and ``set server <b>/<s> agent up|down`` forces
the agent's verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from .plan import DEFAULT_INTER, PlanError
from .state import CheckResult, ServerHealth, health_of, set_server_state

#: the longest agent line read (HAProxy's check buffer)
MAX_REPLY = 16384
HEALTH_WORDS = ("up", "down", "stopped", "fail")
ADMIN_WORDS = ("ready", "drain", "maint")


@dataclass
class AgentPlan:
    """Where and how often a server's agent is asked."""

    host: str
    port: int
    inter: int = DEFAULT_INTER
    send: bytes = b""
    timeout_check: int | None = None
    timeout_connect: int | None = None


@dataclass
class AgentReply:
    """An agent's line taken apart: the last word of each kind, the first unknown word
    (``error``) and the description after ``#``."""

    health: str = ""
    admin: str = ""
    weight: str = ""
    maxconn: str = ""
    error: str = ""
    description: str = ""
    words: list[str] = field(default_factory=list)


def build_agent_plan(srv: Any, px: Any) -> AgentPlan:
    port = srv.opt("agent-port")
    if not port:
        raise PlanError(f"'server {px.name}/{srv.name}' : server {srv.name} does not have "
                        "agent port. Agent check has been disabled.")
    addr = srv.opt("agent-addr")
    a = srv.address
    host = str(addr) if addr is not None else (str(a.ip) if a.ip is not None else a.host)
    send = srv.opt("agent-send") or ""
    return AgentPlan(host=host, port=int(port), inter=int(srv.opt("agent-inter") or
                                                           DEFAULT_INTER),
                     send=send.encode("latin-1", "replace"),
                     timeout_check=px.timeouts.get("check"),
                     timeout_connect=px.timeouts.get("connect"))


def init_agent(st: ServerHealth, enabled: bool) -> None:
    """The agent's counters of a server with ``agent-check``: configured, rise and fall 1
    (HAProxy's defaults for agents), up; ``enabled`` False for a dynamic server until
    ``enable agent``."""
    a = st.agent
    a.configured, a.enabled = True, enabled
    a.rise = a.fall = a.health = 1


def parse_reply(text: str) -> AgentReply:
    """HAProxy's reading of an agent line (the first line only)."""
    for end in ("\r", "\n"):
        cut = text.find(end)
        if cut >= 0:
            text = text[:cut]
    reply = AgentReply()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t,":
            i += 1
            continue
        if ch == "#":
            reply.description = text[i + 1:].lstrip(" \t")
            break
        j = i + 1
        while j < n and text[j] not in " \t,":
            j += 1
        word = text[i:j]
        i = j
        low = word.lower()
        reply.words.append(word)
        if low in HEALTH_WORDS:
            reply.health = word
        elif low in ADMIN_WORDS:
            reply.admin = low
        elif word[0].isdigit() and "%" in word:
            reply.weight = word
        elif low.startswith("maxconn:"):
            reply.maxconn = word[len("maxconn:"):]
        elif not reply.error:
            reply.error = word
    return reply


# -- asking the agent -----------------------------------------------------------------------

async def ask(plan: AgentPlan) -> tuple[CheckResult, str | None]:
    """One agent check: (the status when nothing was read, or L7OK as a placeholder, the
    line read or None)."""
    start = anyio.current_time()
    inter = plan.inter / 1000
    connect_limit = min(inter, plan.timeout_connect / 1000) \
        if plan.timeout_check and plan.timeout_connect else inter

    def took() -> int:
        return int((anyio.current_time() - start) * 1000)

    try:
        with anyio.fail_after(connect_limit):
            stream = await anyio.connect_tcp(plan.host, plan.port)
    except TimeoutError:
        return CheckResult("L4TOUT", info="", duration=took()), None
    except OSError as exc:
        info = exc.strerror or str(exc)
        return CheckResult("L4CON", info=info, duration=took()), None
    read_limit = plan.timeout_check / 1000 if plan.timeout_check else \
        max(0.0, inter - (anyio.current_time() - start))
    data = b""
    try:
        with anyio.fail_after(read_limit):
            if plan.send:
                await stream.send(plan.send)
            while b"\n" not in data and len(data) < MAX_REPLY:
                try:
                    chunk = await stream.receive(MAX_REPLY)
                except (anyio.EndOfStream, anyio.ClosedResourceError,
                        anyio.BrokenResourceError, OSError):
                    break
                data += chunk
    except TimeoutError:
        if b"\n" not in data:
            return CheckResult("L7TOUT", duration=took()), None
    finally:
        with anyio.CancelScope(shield=True):
            await stream.aclose()
    return CheckResult("L7OK", duration=took()), data[:MAX_REPLY].decode("latin-1")


# -- what the answer does ---------------------------------------------------------------------

def allows_up(st: ServerHealth) -> bool:
    """The agent does not hold the server DOWN (no agent, a paused one, or one saying up)."""
    a = st.agent
    return not (a.configured and a.enabled and a.health == 0)


def check_allows_up(st: ServerHealth) -> bool:
    c = st.check
    return not (c.configured and c.enabled and c.health < c.rise)


def apply_reply(srv: Any, res: CheckResult, line: str | None) -> None:
    """Record an agent check's outcome and act on what the agent said (HAProxy's order:
    administrative state, weight, maxconn, then the operational state)."""
    from .cli import apply_weight, parse_weight, set_drain, set_maint, set_ready

    st = health_of(srv)
    agent = st.agent
    agent.last_check = time.time()
    agent.duration = res.duration
    if line is None:
        # unreachable, silent or slow agent: reported, nothing changes
        agent.status, agent.code, agent.info = res.status, 0, res.info
        return
    reply = parse_reply(line)
    if reply.admin and agent.enabled:
        if reply.admin == "drain":
            set_drain(srv)
        elif reply.admin == "maint":
            set_maint(srv)
        else:
            set_ready(srv)
    if reply.weight and agent.enabled:
        try:
            apply_weight(st.backend, srv, parse_weight(st.backend, srv, reply.weight))
        except Exception:  # noqa: BLE001 - an unusable weight word changes nothing
            pass
    if reply.maxconn.isdigit():
        srv.options["maxconn"] = int(reply.maxconn)
    if reply.health:
        info = f"via agent : {reply.health}"
        if reply.description:
            info += f" ({reply.description})"
        up = reply.health.lower() == "up"
        agent.status, agent.code, agent.info = ("L7OK" if up else "L7STS"), 0, info
        agent.apply("passed" if up else "failed")
        result = CheckResult(agent.status, 0, info, res.duration)
        if up:
            if st.op == "DOWN" and check_allows_up(st) and "MAINT" not in st.admin:
                set_server_state(srv, op="UP", check=result)
        elif st.op != "DOWN":
            set_server_state(srv, op="DOWN", check=result)
        return
    agent.status, agent.code = "CHECKED", 0
    agent.info = f"agent reports an error : {reply.error}" if reply.error else ""

