"""The live contents of a stick table: entries keyed by the table's key type, each holding
the stored data types, with expiry and a size limit (the entry that would expire first is
evicted when the table is full, as HAProxy's ``stktable_trash_oldest``).

Rates are HAProxy's ``freq_ctr`` over a period: the events of the current period plus the
previous period's weighted by the part of it still inside the sliding window
(``read_freq_ctr_period``: ``(prev * remain + curr * period) / period``).

Counters are unsigned 32-bit as in HAProxy (``gpc0 -3`` reads 4294967293); ``bytes_*_cnt``
are 64-bit.  Times are milliseconds of the monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF

#: data types in HAProxy's order (the order of ``show table`` items)
DT_ORDER = ("server_id", "gpt0", "gpc0", "gpc0_rate", "conn_cnt", "conn_rate", "conn_cur",
            "sess_cnt", "sess_rate", "http_req_cnt", "http_req_rate", "http_err_cnt",
            "http_err_rate", "bytes_in_cnt", "bytes_in_rate", "bytes_out_cnt",
            "bytes_out_rate", "gpc1", "gpc1_rate", "server_key", "http_fail_cnt",
            "http_fail_rate", "gpt", "gpc", "gpc_rate", "glitch_cnt", "glitch_rate")
#: 64-bit counters
DT_U64 = frozenset({"bytes_in_cnt", "bytes_out_cnt"})
#: signed integer (server_id)
DT_SINT = frozenset({"server_id"})


def now_ms() -> int:
    return int(time.monotonic() * 1000)


class FreqCtr:
    """HAProxy's ``freq_ctr`` used with a period (``update_freq_ctr_period``)."""

    __slots__ = ("tick", "curr", "prev")

    def __init__(self) -> None:
        self.tick = 0
        self.curr = 0
        self.prev = 0

    def _rotate(self, now: int, period: int) -> None:
        elapsed = now - self.tick
        if elapsed < period:
            return
        self.prev = self.curr if elapsed < 2 * period else 0
        self.curr = 0
        self.tick = now - (elapsed % period) if elapsed < 2 * period else now

    def add(self, n: int, period: int, now: int | None = None) -> None:
        now = now_ms() if now is None else now
        self._rotate(now, period)
        self.curr = (self.curr + n) & U32

    def read(self, period: int, now: int | None = None) -> int:
        now = now_ms() if now is None else now
        curr, past = self.curr, self.prev
        remain = self.tick + period - now
        if remain < 0:
            remain += period
            past = curr if remain >= 0 else 0
            curr = 0
        if remain < 0:
            remain = 0
        return (past * remain + curr * period) // period if period else curr

    def set(self, value: int, period: int, now: int | None = None) -> None:
        """``set table ... data.<rate> <v>``: the current period holds ``v`` events."""
        now = now_ms() if now is None else now
        self.tick = now
        self.curr = value & U32
        self.prev = 0


class Entry:
    """One key of a table: its data (``d``: data type -> value, arrays as lists), its
    expiry date (``exp``, None: never) and how many trackers reference it (``use``)."""

    __slots__ = ("key", "exp", "use", "d")

    def __init__(self, key: Any, data: dict[str, Any], exp: int | None) -> None:
        self.key = key
        self.d = data
        self.exp = exp
        self.use = 0


class Store:
    """The entries of one table.  ``entries`` is kept in expiry order (touching an entry
    moves it last), so the first entries are the oldest."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.size = spec.size
        self.expire = spec.expire
        self.nopurge = spec.nopurge
        self.entries: dict[Any, Entry] = {}
        #: ``Sample -> key`` for this table's key type (set by runtime.key_of)
        self.make_key: Any = None
        #: (data type, parameter) pairs of what each new entry carries
        self.layout = [(dt, spec.store[dt]) for dt in DT_ORDER if dt in spec.store]

    # -- entries ---------------------------------------------------------------------------------
    def _new_data(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for dt, param in self.layout:
            if dt in ("gpc", "gpt"):
                d[dt] = [0] * param
            elif dt == "gpc_rate":
                d[dt] = [FreqCtr() for _ in range(param[0])]
            elif dt.endswith("_rate"):
                d[dt] = FreqCtr()
            elif dt == "server_key":
                d[dt] = None
            else:
                d[dt] = 0
        return d

    def purge(self, now: int | None = None) -> None:
        """Remove the expired entries nobody tracks."""
        if self.expire is None or not self.entries:
            return
        now = now_ms() if now is None else now
        dead = []
        for key, e in self.entries.items():
            if e.exp is None or e.exp > now:
                break
            if not e.use:
                dead.append(key)
        for key in dead:
            del self.entries[key]

    def lookup(self, key: Any) -> Entry | None:
        e = self.entries.get(key)
        if e is not None and e.exp is not None and not e.use and e.exp <= now_ms():
            del self.entries[key]
            return None
        return e

    def get(self, key: Any) -> Entry | None:
        """The entry of ``key``, created when missing (None when the table is full and
        nothing can be evicted)."""
        e = self.lookup(key)
        if e is not None:
            return e
        if len(self.entries) >= self.size:
            self.purge()
            if len(self.entries) >= self.size:
                if self.nopurge or not self._evict((self.size >> 8) + 1):
                    return None
        now = now_ms()
        e = Entry(key, self._new_data(), now + self.expire if self.expire is not None
                  else None)
        self.entries[key] = e
        return e

    def _evict(self, count: int) -> int:
        victims = []
        for key, e in self.entries.items():
            if not e.use:
                victims.append(key)
                if len(victims) >= count:
                    break
        for key in victims:
            del self.entries[key]
        return len(victims)

    def touch(self, e: Entry) -> None:
        """Restart the entry's expiry (it becomes the youngest)."""
        if self.expire is not None:
            e.exp = now_ms() + self.expire
        entries = self.entries
        if entries.get(e.key) is e:
            del entries[e.key]
            entries[e.key] = e

    def remove(self, key: Any) -> bool:
        """Remove an entry nobody tracks (``clear table``)."""
        e = self.entries.get(key)
        if e is None or e.use:
            return False
        del self.entries[key]
        return True

    def used(self) -> int:
        self.purge()
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        self.purge()
        return iter(list(self.entries.values()))
