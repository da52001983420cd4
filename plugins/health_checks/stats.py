"""The health checks' statistics: servers' ``status`` (MAINT, DRAIN, "UP 1/3", "no check"
...), ``lastchg`` and, for checked servers, the check columns of ``show stat`` and of the
statistics page (``check_status``, ``check_code``, ``check_duration``, ``check_desc``,
``last_chk``, ``chkfail``, ``chkdown``, ``downtime``, rise/fall/health, and the agent's),
provided to the statistics registry (:meth:`~hapx.core.stats.StatsRegistry.provide`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .status import STATUSES, describe, shows_code


def _state(obj: Any) -> Any:
    return getattr(obj.srv, "check_state", None)


def _status(kind: str, obj: Any, default: Callable[[], Any]) -> Any:
    st = _state(obj)
    return st.status_text() if st is not None else default()


def _lastchg(kind: str, obj: Any, default: Callable[[], Any]) -> Any:
    st = _state(obj)
    return int(time.time() - st.last_change) if st is not None else default()


def _checked(which: str, read: Callable[[Any, Any], Any]) -> Any:
    """A column with a value only for a server whose check (or agent) is configured."""
    def get(kind: str, obj: Any, default: Callable[[], Any]) -> Any:
        st = _state(obj)
        if st is None:
            return default()
        counters = getattr(st, which)
        if not counters.configured:
            return default()
        return read(st, counters)
    return get


def _status_code(st: Any, c: Any) -> str:
    return ("* " if c.in_progress else "") + c.status


def _code(st: Any, c: Any) -> Any:
    return c.code if c.status in STATUSES and shows_code(c.status) else None


def _duration(st: Any, c: Any) -> Any:
    return c.duration if c.duration >= 0 else None


def _desc(st: Any, c: Any) -> Any:
    return describe(c.status) if c.status in STATUSES else None


PROVIDED: list[tuple[str, Any]] = [
    ("status", _status),
    ("lastchg", _lastchg),
    ("chkfail", _checked("check", lambda st, c: st.failed_checks)),
    ("chkdown", _checked("check", lambda st, c: st.down_trans)),
    ("downtime", _checked("check", lambda st, c: int(st.downtime()))),
    ("check_status", _checked("check", _status_code)),
    ("check_code", _checked("check", _code)),
    ("check_duration", _checked("check", _duration)),
    ("last_chk", _checked("check", lambda st, c: c.info or None)),
    ("check_desc", _checked("check", _desc)),
    ("check_rise", _checked("check", lambda st, c: c.rise)),
    ("check_fall", _checked("check", lambda st, c: c.fall)),
    ("check_health", _checked("check", lambda st, c: c.health)),
    ("agent_status", _checked("agent", _status_code)),
    ("agent_code", _checked("agent", _code)),
    ("agent_duration", _checked("agent", _duration)),
    ("last_agt", _checked("agent", lambda st, c: c.info or None)),
    ("agent_desc", _checked("agent", _desc)),
    ("agent_rise", _checked("agent", lambda st, c: c.rise)),
    ("agent_fall", _checked("agent", lambda st, c: c.fall)),
    ("agent_health", _checked("agent", lambda st, c: c.health)),
]


def register(stats: Any) -> None:
    for name, get in PROVIDED:
        stats.provide(name, get, "S")
