"""Rules that wait: how an action suspends a stream's rule evaluation without blocking
anything else.

An action that cannot finish now registers what it waits for and returns the result of
one of these functions (:attr:`ActResult.YIELD`)::

    return wake_on(strm, future)      # resume when ``future`` completes (an asyncio
                                      # Future/Task, or anything with add_done_callback)
    return wake_after(strm, ms)       # resume after ``ms`` milliseconds
    return wake_on_body(strm, ms)     # resume when more of the message body arrived, the
                                      # body is complete, or ``ms`` passed (then
                                      # strm.ext["wait_for_body_expired"] is True)

The data path (HTTP request and response rules, TCP content rules) then stops evaluating,
keeps the stream's place, and when woken runs the same rule list again: ``run_rules``
resumes at the rule that yielded, which runs again and either finishes (CONT or a final
result) or waits once more.  A YIELD without a registered wake-up (a condition that lacks
data nobody asked to wait for) is evaluated once more at once as final: conditions that
cannot decide count as not matching, as HAProxy does when no buffering was requested.

Nothing here runs per request unless an action waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..records import ActResult

#: the key of the pending wake-up in ``strm.ext``
WAKE = "wake"


@dataclass(frozen=True, slots=True)
class Wake:
    """What a yielding action waits for: ``kind`` is "future", "delay" or "body"."""

    kind: str
    future: Any = None
    ms: int = 0


def wake_on(strm: Any, future: Any) -> ActResult:
    """Resume the rules when ``future`` completes."""
    strm.ext[WAKE] = Wake("future", future=future)
    return ActResult.YIELD


def wake_after(strm: Any, ms: int) -> ActResult:
    """Resume the rules after ``ms`` milliseconds (0: at the next loop iteration)."""
    strm.ext[WAKE] = Wake("delay", ms=max(0, int(ms)))
    return ActResult.YIELD


def wake_on_body(strm: Any, ms: int) -> ActResult:
    """Resume the rules when more body data arrived or the body is complete, or after
    ``ms`` milliseconds (0: no limit) with ``strm.ext["wait_for_body_expired"]`` set."""
    strm.ext[WAKE] = Wake("body", ms=max(0, int(ms)))
    return ActResult.YIELD


def take_wake(strm: Any) -> Wake | None:
    """The wake-up the last yielding action registered (and forget it)."""
    ext = strm.ext
    return ext.pop(WAKE, None) if ext else None
