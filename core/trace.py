"""The trace framework (HAProxy's ``trace.c``): plugins register trace sources; operators
start them with the runtime API's ``trace`` command or the ``traces`` section.

A plugin creates its source once, at import, with :func:`register_source` and keeps it in
a module constant.  Per-request code pays one attribute check while the source is stopped::

    if H1_TRACE.on:
        H1_TRACE.trace(USER, "rx_headers", "rcvd H1 request headers", detail=..., ctx=...)

A source has named ``events`` (all reported by default), a reporting ``level`` (default
``user``), a ``verbosity`` (its decoding levels, default the first after ``quiet``), a
``sink`` (:mod:`hapx.core.sinks`, none by default: nothing is written), a ``lock``
criterion and the events that ``start``, ``stop`` or ``pause`` it.  Its state is stopped,
waiting (for a start event) or running.  A trace line is written to the sink at level 0,
facility 0 (the sink's format builds its header) as
``[<thread>|<source>|<level>|<file>:<line>] <message>[ : <detail>]``; the detail is given
only when the verbosity is above ``quiet``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .runtime.process import PROCESS

#: (name, description) of the levels, in order (the number is the index)
LEVELS = (
    ("error", "report errors"),
    ("user", "also information useful to the end user"),
    ("proto", "also protocol-level updates"),
    ("state", "also report internal state changes"),
    ("data", "also report data transfers"),
    ("developer", "also report information useful only to the developer"),
)
ERROR, USER, PROTO, STATE, DATA, DEVELOPER = range(6)
LEVEL_NAMES = tuple(n for n, _ in LEVELS)
#: the generic lock-on criteria a source may offer (HAProxy's descriptions)
LOCK_CRITERIA = {
    "backend": "lock on the backend that started the trace",
    "check": "lock on the check that started the trace",
    "connection": "lock on the connection that started the trace",
    "frontend": "lock on the frontend that started the trace",
    "listener": "lock on the listener that started the trace",
    "nothing": "do not lock on anything",
    "server": "lock on the server that started the trace",
    "session": "lock on the session that started the trace",
    "stream": "lock on the stream that started the trace",
    "thread": "lock on the thread that started the trace",
}
QUIET = ("quiet", "only report basic information with no decoding")
DEFAULT_VERBOSITY = ("default", "report extra information when available")
#: the verbosities of HAProxy's stream trace source, which its check source uses too
STREAM_VERBOSITIES = (
    ("clean", 'only user-friendly stuff, generally suitable for level "user"'),
    ("minimal", "report info on streams and connectors"),
    ("simple", "add info on request and response channels"),
    ("advanced", "add info on channel's buffer for data and developer levels only"),
    ("complete", "add info on channel's buffer"),
)


@dataclass(eq=False)
class TraceSource:
    """One trace source and its live settings."""

    name: str
    desc: str
    #: (name, description) of its events, in order
    events: tuple[tuple[str, str], ...]
    #: its decoding levels after ``quiet`` (empty: ``default`` only)
    verbosities: tuple[tuple[str, str], ...] = ()
    #: the generic lock criteria it offers (keys of LOCK_CRITERIA, "nothing" is implied)
    locks: tuple[str, ...] = ("backend", "connection", "frontend", "listener", "server",
                              "session", "thread")
    #: its own lock criteria: (name, description)
    own_locks: tuple[tuple[str, str], ...] = ()
    # -- live state ----------------------------------------------------------------------
    #: the fast check of the per-request path: the source is waiting or running
    on: bool = False
    state: str = "stopped"
    level: int = USER
    verbosity: int = 1
    sink: Any = None
    lock: str = "nothing"
    lock_value: Any = None
    report: set[str] = field(default_factory=set)
    start_on: set[str] = field(default_factory=set)
    stop_on: set[str] = field(default_factory=set)
    pause_on: set[str] = field(default_factory=set)
    dropped: int = 0

    def __post_init__(self) -> None:
        self.report = {n for n, _ in self.events}

    # -- settings ------------------------------------------------------------------------
    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.events)

    def verbosity_list(self) -> tuple[tuple[str, str], ...]:
        return (QUIET,) + (self.verbosities or (DEFAULT_VERBOSITY,))

    def lock_list(self) -> list[tuple[str, str]]:
        names = sorted(set(self.locks) | {"nothing"})
        return [(n, LOCK_CRITERIA[n]) for n in names] + list(self.own_locks)

    def set_state(self, state: str) -> None:
        self.state = state
        self.on = state != "stopped"
        self.lock_value = None

    def reset(self) -> None:
        """Back to the registration defaults (a new configuration)."""
        self.set_state("stopped")
        self.level, self.verbosity, self.sink, self.lock = USER, 1, None, "nothing"
        self.report = set(self.event_names)
        self.start_on, self.stop_on, self.pause_on = set(), set(), set()
        self.dropped = 0

    # -- tracing -------------------------------------------------------------------------
    def trace(self, level: int, event: str | tuple[str, ...], message: str,
              detail: str | Callable[[], str] = "", lock: dict[str, Any] | None = None
              ) -> None:
        """Report ``event`` at ``level`` (call only when ``on``).  ``event`` may be a tuple
        of event names (HAProxy's event masks: the line concerns each of them, it is
        reported when one is enabled).  ``detail`` (text, or a function giving it) follows
        the message when the verbosity is above quiet; ``lock`` maps lock criteria to this
        event's objects (frontend, connection ...)."""
        events = (event,) if type(event) is str else event
        if self.state == "waiting":
            if self.start_on.isdisjoint(events):
                return
            self.set_state("running")
        if not self.stop_on.isdisjoint(events):
            self.set_state("stopped")
            return
        if level > self.level or self.report.isdisjoint(events):
            return
        if self.lock != "nothing":
            value = PROCESS.thread if self.lock == "thread" else (lock or {}).get(self.lock)
            if value is None:
                return
            if self.lock_value is None:
                self.lock_value = value
            elif value is not self.lock_value and value != self.lock_value:
                return
        if self.sink is not None:
            frame = sys._getframe(1)  # noqa: SLF001 - the caller's place, as HAProxy's where
            where = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
            if self.verbosity > 0 and detail:
                text = detail() if callable(detail) else detail
                if text:
                    message = f"{message} : {text}"
            line = f"[{PROCESS.thread:02d}|{self.name}|{level}|{where}] {message}"
            if not self.sink.write(line.encode("latin-1", "replace"), 0, 0):
                self.dropped += 1
        if not self.pause_on.isdisjoint(events):
            self.set_state("waiting")


#: every registered source, in registration order
SOURCES: dict[str, TraceSource] = {}


def register_source(source: TraceSource) -> TraceSource:
    """Register ``source`` (idempotent by name: the first one is kept and returned)."""
    return SOURCES.setdefault(source.name, source)


def reset_all() -> None:
    for src in SOURCES.values():
        src.reset()
