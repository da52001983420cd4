"""HTTP/2 protocol glitches: frames that are legal but abusive or useless (a request reset
before its response began, an empty DATA frame that does not end its stream, a protocol
error).  A connection past its threshold (``tune.h2.fe.glitches-threshold`` /
``tune.h2.be.glitches-threshold``) is killed, and with ``tune.glitches.kill.cpu-usage`` only
while the process uses at least that share of the CPU."""

from __future__ import annotations

import time
from typing import Any

#: tune.glitches.kill.cpu-usage (0: always kill), set at configuration time
KILL_CPU = {"usage": 0}


class _CpuMeter:
    """The process's CPU usage (percent) over the last measured second or so."""

    def __init__(self) -> None:
        self.wall = time.monotonic()
        self.cpu = time.process_time()
        self.usage = 0.0

    def current(self) -> float:
        wall = time.monotonic()
        dt = wall - self.wall
        if dt >= 0.25:
            cpu = time.process_time()
            self.usage = min(100.0, 100.0 * (cpu - self.cpu) / dt)
            self.wall, self.cpu = wall, cpu
        return self.usage


CPU = _CpuMeter()


class GlitchCounter:
    """The glitches of one connection; the count is also kept on the client Session
    (``sess.conn_glitches``, read by ``fc_glitches``)."""

    __slots__ = ("threshold", "count", "sess")

    def __init__(self, threshold: int, sess: Any = None) -> None:
        self.threshold = threshold
        self.count = 0
        self.sess = sess

    def add(self, n: int) -> None:
        self.count += n
        if self.sess is not None:
            self.sess.conn_glitches = self.count

    def exceeded(self) -> bool:
        """Past the threshold, and the CPU usage gate (if any) is reached."""
        if not self.threshold or self.count < self.threshold:
            return False
        gate = KILL_CPU["usage"]
        return not gate or CPU.current() >= gate
