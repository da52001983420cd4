"""Process activity measured without touching the data path: CPU time used versus wall
time between two readings (``Idle_pct`` of ``show info``, ``show activity``)."""

from __future__ import annotations

import os
import time

_last: list[float] = [time.monotonic(), sum(os.times()[:2])]
_idle = [100]
STARTED = time.time()


def idle_pct() -> int:
    """Percentage of wall time not spent on CPU since the previous reading (at least one
    second apart; the last value otherwise)."""
    now = time.monotonic()
    cpu = sum(os.times()[:2])
    wall = now - _last[0]
    if wall >= 1.0:
        busy = (cpu - _last[1]) / wall
        _idle[0] = max(0, min(100, int(round(100 - busy * 100))))
        _last[0], _last[1] = now, cpu
    return _idle[0]
