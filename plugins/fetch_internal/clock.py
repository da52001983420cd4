"""Fetches about time and the process: date, date_us, rand, uuid, thread, stopping, proc,
pid and uptime."""

from __future__ import annotations

import random
import time
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Fetch, SmpType, Use
from hapx.core.runtime.process import PROCESS
from hapx.core.sample.types import Sample, saturate

_MULT = {"s": 1, "ms": 1000, "us": 1000000}
_START = time.time()
_rng = random.SystemRandom()


def _validate_date(args: list[Any], ctx: Any) -> list[Any]:
    offset, unit = args[0] or 0, args[1]
    if unit is None:
        unit = "s"
    elif unit not in _MULT:
        raise ConfigError(f"expects 's', 'ms' or 'us', got '{unit}'")
    return [offset, _MULT[unit]]


def _date(args: list[Any], strm: Any) -> Sample:
    offset, mult = args
    return Sample(SmpType.SINT, saturate(int(time.time() * mult) + offset))


def _date_us(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.SINT, int(time.time() * 1000000) % 1000000)


def _rand(args: list[Any], strm: Any) -> Sample:
    value = _rng.getrandbits(32)
    if args[0] is not None:
        value = (value * args[0]) >> 32
    return Sample(SmpType.SINT, value)


def _validate_uuid(args: list[Any], ctx: Any) -> list[Any]:
    version = 4 if args[0] is None else args[0]
    if version not in (4, 7):
        raise ConfigError(f"Unsupported UUID version: '{version}'")
    return [version]


def make_uuid(version: int) -> str:
    """An RFC 9562 UUID: version 4 (random) or 7 (Unix milliseconds, then random)."""
    rnd = _rng.getrandbits(128)
    if version == 7:
        ms = int(time.time() * 1000) & ((1 << 48) - 1)
        rnd = (ms << 80) | (rnd & ((1 << 80) - 1))
    rnd &= ~(0xF << 76)
    rnd |= version << 76
    rnd &= ~(0x3 << 62)
    rnd |= 0x2 << 62
    h = f"{rnd:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.STR, make_uuid(args[0]))


def _thread(args: list[Any], strm: Any) -> Sample:
    # each of HAProxy's threads is a hapx worker process, numbered from 0
    return Sample(SmpType.SINT, PROCESS.thread)


def _stopping(args: list[Any], strm: Any) -> Sample:
    proc = getattr(strm, "proc", None)
    return Sample(SmpType.BOOL, bool(proc is not None and proc.stopping))


def _proc(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.SINT, 1)


def _pid(args: list[Any], strm: Any) -> Sample:
    # HAProxy's process: the one running (or supervising) the workers
    return Sample(SmpType.SINT, PROCESS.pid)


def _uptime(args: list[Any], strm: Any) -> Sample:
    proc = getattr(strm, "proc", None)
    start = proc.start_time if proc is not None else _START
    return Sample(SmpType.SINT, max(0, int(time.time() - start)))


RECORDS = (
    Fetch("date", process=_date, out_type=SmpType.SINT, uses=Use.INTERNAL,
          args=(Arg("offset", ArgType.SINT, optional=True),
                Arg("unit", ArgType.STR, optional=True)),
          validate=_validate_date,
          doc="date([<offset>[,<unit>]])\n\nReturns the current date as an epoch number in "
              "seconds, or in the <unit> given: 's', 'ms' or 'us'. <offset> (in that unit) is "
              "added first; it may be negative."),
    Fetch("date_us", process=_date_us, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="date_us\n\nReturns the microseconds part of the current date."),
    Fetch("rand", process=_rand, out_type=SmpType.SINT, uses=Use.INTERNAL,
          args=(Arg("range", ArgType.SINT, optional=True),),
          doc="rand([<range>])\n\nReturns a random integer from 0 to <range>-1, or a 32-bit "
              "random number without <range>. Not for security purposes."),
    Fetch("uuid", process=_uuid, out_type=SmpType.STR, uses=Use.INTERNAL,
          args=(Arg("version", ArgType.SINT, optional=True),), validate=_validate_uuid,
          doc="uuid([<version>])\n\nReturns a UUID: version 4 (random, the default) or 7 "
              "(time-ordered)."),
    Fetch("thread", process=_thread, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="thread\n\nReturns the position of the thread running the stream, between 0 "
              "and (global.nbthread-1): in hapx, the number of the worker process serving "
              "it (each of HAProxy's threads is a worker process)."),
    Fetch("stopping", process=_stopping, out_type=SmpType.BOOL, uses=Use.INTERNAL,
          doc="stopping\n\nReturns true once the process began a graceful stop."),
    Fetch("proc", process=_proc, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="proc\n\nAlways returns 1 (historically the process number)."),
    Fetch("pid", process=_pid, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="pid\n\nReturns the process id of the current process: with several "
              "workers (nbthread), the process supervising them, as every thread of a "
              "HAProxy process reports that process's pid."),
    Fetch("uptime", process=_uptime, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="uptime\n\nReturns the time the current process has been running, in "
              "seconds."),
)
