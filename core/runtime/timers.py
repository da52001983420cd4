"""A loop-level timer wheel for per-connection timeouts.

Interface::

    wheel = timers_of(loop)                  # one wheel per event loop
    handle = wheel.schedule(deadline_ms, callback, *args)   # deadline: now_ms() + delay
    handle.reschedule(deadline_ms)           # move it (cheap: no allocation, no heap push
                                             # when the deadline moves later)
    handle.cancel()
    now_ms()                                 # the loop's clock in ms (loop.time() * 1000)

Inactivity timeouts are pushed back on every read or write; with ``loop.call_later`` each
push would allocate a TimerHandle and push onto the loop's heap.  Here a handle is filed in
a slot of ``TICK_MS`` milliseconds and a later deadline is noticed only when its slot comes
due: the handle is then filed again for its new deadline.  One loop timer is armed, for the
earliest slot.  Callbacks fire at most ``TICK_MS`` late, never early.
"""

from __future__ import annotations

import asyncio
import heapq
import weakref
from collections.abc import Callable
from typing import Any

#: resolution of the wheel
TICK_MS = 10

_WHEELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerWheel] = (
    weakref.WeakKeyDictionary())


def now_ms() -> float:
    """The running loop's clock, in milliseconds."""
    return asyncio.get_running_loop().time() * 1000


class TimerHandle:
    """A scheduled callback; ``deadline`` is in loop milliseconds."""

    __slots__ = ("deadline", "callback", "args", "cancelled", "tick", "wheel")

    def __init__(self, wheel: TimerWheel, deadline: float, callback: Callable[..., Any],
                 args: tuple[Any, ...]) -> None:
        self.wheel = wheel
        self.deadline = deadline
        self.callback = callback
        self.args = args
        self.cancelled = False
        self.tick = 0

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            wheel = self.wheel
            wheel.stale += 1
            if wheel.stale > _COMPACT_MIN and wheel.stale * 2 > wheel.filed:
                wheel.compact()

    def reschedule(self, deadline_ms: float) -> None:
        """Fire at ``deadline_ms`` instead (also revives a cancelled or fired handle)."""
        self.deadline = deadline_ms
        if self.cancelled or -int(-deadline_ms // TICK_MS) < self.tick:  # (_tick inlined)
            self.cancelled = False
            self.wheel._file(self)


#: cancelled handles a wheel may hold before :meth:`TimerWheel.compact` is considered
_COMPACT_MIN = 1024


def _tick(deadline_ms: float) -> int:
    return -int(-deadline_ms // TICK_MS)  # ceiling: never early


class TimerWheel:
    """Slots of ``TICK_MS`` holding handles, run from one loop timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.slots: dict[int, list[TimerHandle]] = {}
        self.ticks: list[int] = []
        self.armed_tick = 0
        self.armed: asyncio.TimerHandle | None = None
        #: entries in the slots, and how many of them are cancelled handles: a cancelled
        #: handle stays in its slot (and keeps its callback's object alive) until the slot
        #: runs, so the slots are compacted when those pass half of the entries
        self.filed = 0
        self.stale = 0

    def schedule(self, deadline_ms: float, callback: Callable[..., Any], *args: Any
                 ) -> TimerHandle:
        handle = TimerHandle(self, deadline_ms, callback, args)
        self._file(handle)
        return handle

    def _file(self, handle: TimerHandle) -> None:
        tick = _tick(handle.deadline)
        handle.tick = tick
        slot = self.slots.get(tick)
        if slot is None:
            slot = self.slots[tick] = []
            heapq.heappush(self.ticks, tick)
        slot.append(handle)
        self.filed += 1
        if self.armed is None or tick < self.armed_tick:
            self._arm(tick)

    def _arm(self, tick: int) -> None:
        if self.armed is not None:
            self.armed.cancel()
        self.armed_tick = tick
        self.armed = self.loop.call_at(tick * TICK_MS / 1000, self._run)

    def _run(self) -> None:
        self.armed = None
        now = self.loop.time() * 1000
        current = int(now // TICK_MS)  # slots wholly in the past
        while self.ticks and self.ticks[0] <= current:
            tick = heapq.heappop(self.ticks)
            slot = self.slots.pop(tick, ())
            self.filed -= len(slot)
            for handle in slot:
                if handle.cancelled or handle.tick != tick:
                    if handle.tick == tick:
                        self.stale -= 1
                    continue  # cancelled, or filed again in an earlier slot
                if handle.deadline > now:
                    self._file(handle)  # pushed back since it was filed
                    continue
                handle.cancelled = True
                try:
                    handle.callback(*handle.args)
                except Exception as exc:  # noqa: BLE001 - one callback never stops the wheel
                    self.loop.call_exception_handler({
                        "message": "timer callback failed", "exception": exc})
        # handles filed again above may have armed a later slot than the earliest one
        if self.ticks and (self.armed is None or self.armed_tick != self.ticks[0]):
            self._arm(self.ticks[0])

    def compact(self) -> None:
        """Drop the cancelled handles, and the entries of handles filed again in another
        slot, from every slot (the handles themselves stay usable: ``reschedule`` files
        a cancelled one again)."""
        slots: dict[int, list[TimerHandle]] = {}
        filed = 0
        for tick, slot in self.slots.items():
            kept = [h for h in slot if not h.cancelled and h.tick == tick]
            if kept:
                slots[tick] = kept
                filed += len(kept)
        self.slots = slots
        self.ticks = sorted(slots)
        self.filed = filed
        self.stale = 0
        if self.ticks and (self.armed is None or self.armed_tick != self.ticks[0]):
            self._arm(self.ticks[0])

    def __len__(self) -> int:
        return sum(1 for slot in self.slots.values() for h in slot if not h.cancelled)


def timers_of(loop: asyncio.AbstractEventLoop | None = None) -> TimerWheel:
    """The wheel of ``loop`` (the running loop by default), created on first use."""
    loop = loop or asyncio.get_running_loop()
    wheel = _WHEELS.get(loop)
    if wheel is None:
        wheel = _WHEELS[loop] = TimerWheel(loop)
    return wheel
