"""Index structures of the pattern matchers (no sample or method knowledge here).

Every indexed pattern is a :class:`Hit` with the ``seq`` of its list entry: a smaller
``seq`` was declared first.  The structures are updated entry by entry (a runtime ``add``
or ``del`` costs a hash update, not a rebuild):

- :class:`KeyTable`: exact keys to hits; duplicates of a key are kept in ``seq`` order so
  that removing the first one uncovers the next.
- :class:`Lengths`: the distinct lengths present (prefix and suffix lookups probe one slice
  per length) with their counts.
- :class:`RangeIndex`: integer ranges, answering "the first declared range holding n" by a
  bisection over precomputed elementary segments (rebuilt lazily after a range changes).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right, insort
from operator import attrgetter
from typing import Any

_SEQ = attrgetter("seq")


class Hit:
    """A pattern as matched: its text (``key``), its value, its rank (``seq``) and, for
    ``regm``, the regex match."""

    __slots__ = ("key", "value", "seq", "m")

    def __init__(self, key: str, value: Any = None, seq: int = 0, m: Any = None) -> None:
        self.key = key
        self.value = value
        self.seq = seq
        self.m = m

    def with_match(self, m: Any) -> Hit:
        return Hit(self.key, self.value, self.seq, m)

    def __repr__(self) -> str:
        return f"Hit({self.key!r}, {self.value!r}, seq={self.seq})"


def first_of(a: Hit | None, b: Hit | None) -> Hit | None:
    """The hit declared first among two (either may be None)."""
    if a is None:
        return b
    if b is None or a.seq < b.seq:
        return a
    return b


class KeyTable:
    """Exact keys to hits.  ``first`` maps a key to its first declared hit (what lookups
    read); ``dups`` holds the hits of duplicated keys, in ``seq`` order."""

    __slots__ = ("first", "dups")

    def __init__(self) -> None:
        self.first: dict[Any, Hit] = {}
        self.dups: dict[Any, list[Hit]] = {}

    def add(self, key: Any, hit: Hit) -> bool:
        """Index ``hit`` under ``key``; True when the key is new."""
        cur = self.first.get(key)
        if cur is None:
            self.first[key] = hit
            return True
        lst = self.dups.get(key)
        if lst is None:
            lst = self.dups[key] = [cur]
        if hit.seq > lst[-1].seq:
            lst.append(hit)
        else:
            insort(lst, hit, key=_SEQ)
            self.first[key] = lst[0]
        return False

    def remove(self, key: Any, seq: int) -> int:
        """Remove the hit of entry ``seq`` under ``key``: 0 when absent, 1 when removed,
        2 when removed and the key is gone."""
        cur = self.first.get(key)
        if cur is None:
            return 0
        lst = self.dups.get(key)
        if lst is None:
            if cur.seq != seq:
                return 0
            del self.first[key]
            return 2
        for i, h in enumerate(lst):
            if h.seq == seq:
                del lst[i]
                break
        else:
            return 0
        self.first[key] = lst[0]
        if len(lst) == 1:
            del self.dups[key]
        return 1

    def hits(self, key: Any) -> list[Hit]:
        """Every hit under ``key``, first declared first."""
        lst = self.dups.get(key)
        if lst is not None:
            return lst
        cur = self.first.get(key)
        return [] if cur is None else [cur]

    def __len__(self) -> int:
        return len(self.first)


class Lengths:
    """A multiset of small integers (key lengths, token counts) with its distinct values
    sorted both ways, re-sorted only when a value appears or disappears."""

    __slots__ = ("counts", "asc", "desc")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.asc: tuple[int, ...] = ()
        self.desc: tuple[int, ...] = ()

    def add(self, n: int) -> None:
        c = self.counts.get(n, 0)
        self.counts[n] = c + 1
        if not c:
            self._sort()

    def remove(self, n: int) -> None:
        c = self.counts.get(n, 0)
        if c <= 1:
            self.counts.pop(n, None)
            self._sort()
        else:
            self.counts[n] = c - 1

    def _sort(self) -> None:
        self.asc = tuple(sorted(self.counts))
        self.desc = self.asc[::-1]


#: below every 64-bit sample: the start of a range without a lower bound
_NEG_INF = -(1 << 80)


class RangeIndex:
    """Integer ranges ``[lo, hi]`` (either bound may be None: unbounded), by ``seq``.

    ``find(n)`` returns the hit of the first declared range holding ``n`` in O(log n): the
    range bounds cut the integers into elementary segments, each knowing its first declared
    covering range (a sweep with a heap ordered by ``seq``).  A change marks the segments
    stale; they are recomputed on the next lookup, once for any number of changes."""

    __slots__ = ("ranges", "_points", "_owners")

    def __init__(self) -> None:
        self.ranges: dict[int, tuple[int | None, int | None, Hit]] = {}
        self._points: list[int] | None = None
        self._owners: list[Hit | None] = []

    def add(self, lo: int | None, hi: int | None, hit: Hit) -> None:
        self.ranges[hit.seq] = (lo, hi, hit)
        self._points = None

    def remove(self, seq: int) -> bool:
        if self.ranges.pop(seq, None) is None:
            return False
        self._points = None
        return True

    def get(self, seq: int) -> Hit | None:
        r = self.ranges.get(seq)
        return None if r is None else r[2]

    def _build(self) -> list[int]:
        starts = sorted(((_NEG_INF if lo is None else lo), hit.seq, hi, hit)
                        for lo, hi, hit in self.ranges.values())
        cuts = {s[0] for s in starts}
        cuts.update(hi + 1 for _, _, hi, _ in starts if hi is not None)
        points = sorted(cuts)
        owners: list[Hit | None] = []
        heap: list[tuple[int, int | None, Hit]] = []
        i = 0
        for p in points:
            while i < len(starts) and starts[i][0] <= p:
                _, seq, hi, hit = starts[i]
                heapq.heappush(heap, (seq, hi, hit))
                i += 1
            while heap and heap[0][1] is not None and heap[0][1] < p:  # type: ignore[operator]
                heapq.heappop(heap)
            owners.append(heap[0][2] if heap else None)
        self._owners = owners
        self._points = points
        return points

    def find(self, n: int) -> Hit | None:
        points = self._points
        if points is None:
            points = self._build()
        i = bisect_right(points, n) - 1
        return self._owners[i] if i >= 0 else None

    def __len__(self) -> int:
        return len(self.ranges)
