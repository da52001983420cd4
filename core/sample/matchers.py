"""The compiled pattern matchers, one class per match method, each indexed for its method.

A matcher holds the patterns of one list under one method and flags.  ``add(seq, key,
value)`` parses and indexes one pattern (ValueError with HAProxy's text on a bad one),
``remove(seq, key)`` and ``set_value(seq, key, value)`` update it in place, ``find(smp)``
returns the :class:`~hapx.core.sample.pat_index.Hit` that wins and ``match(smp)`` says
whether any pattern matches.

Which pattern wins when several match is HAProxy's:

- tree-indexed methods: ``str`` (exact key), ``beg`` without ``-i`` (the longest prefix)
  and ``ip`` (the longest network prefix); among identical keys the first declared;
- list-based methods (``int``, ``len``, ``bin``, ``-i beg``, ``end``, ``sub``, ``dir``,
  ``dom``, ``reg``, ``regm``): the first declared among those matching, which the indexes
  below find without trying the patterns one by one (except ``sub`` and the regexes).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import string
from bisect import insort
from typing import Any

from ..records import SmpType
from .cast import caster
from .pat_index import Hit, KeyTable, Lengths, RangeIndex, first_of
from .types import Sample

_STR, _SINT = SmpType.STR, SmpType.SINT

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def lower(text: str) -> str:
    """ASCII-only lower case, as C's tolower() in the C locale."""
    return text.translate(_ASCII_LOWER)


# -- sample coercion (the casting matrix) ------------------------------------------------------

_to_str = caster(SmpType.STR)
_to_int = caster(SmpType.SINT)
_to_bool = caster(SmpType.BOOL)
_to_bin = caster(SmpType.BIN)
_to_addr = caster(SmpType.ADDR)


def sample_str(smp: Sample) -> str | None:
    if smp.type == SmpType.STR:
        return smp.value
    out = _to_str(smp) if smp.type != SmpType.METH else smp
    return None if out is None else out.value


def sample_int(smp: Sample) -> int | None:
    out = _to_int(smp)
    return None if out is None else int(out.value)


def sample_bool(smp: Sample) -> bool | None:
    out = _to_bool(smp)
    return None if out is None else bool(out.value)


def sample_bin(smp: Sample) -> bytes | None:
    out = _to_bin(smp)
    return None if out is None else out.value


def sample_addr(smp: Sample) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    out = _to_addr(smp)
    return None if out is None else out.value


# -- the interface -------------------------------------------------------------------------------

class Matcher:
    """Compiled patterns of one match method."""

    method = ""

    def __init__(self) -> None:
        self.count = 0

    def find(self, smp: Sample) -> Hit | None:  # pragma: no cover - the interface
        raise TypeError(f"{type(self).__name__} defines no find()")

    def match(self, smp: Sample) -> bool:
        return self.find(smp) is not None

    def lookup(self, smp: Sample) -> Any:
        """The value of the entry that matches, or None."""
        hit = self.find(smp)
        return None if hit is None else hit.value

    def add(self, seq: int, key: str, value: Any = None) -> None:
        """Index the pattern ``key`` of entry ``seq``; ValueError when it is invalid."""
        self.put(key, Hit(key, value, seq))

    def put(self, key: str, hit: Any) -> None:
        """Index ``hit`` (anything with ``key``, ``value`` and ``seq``, such as a list's
        PatternEntry itself when its value needs no parsing) for pattern ``key``."""
        self.count += 1

    def remove(self, seq: int, key: str) -> bool:
        """Forget entry ``seq`` (its pattern was ``key``); False when it is not indexed."""
        if self.count:
            self.count -= 1
            return True
        return False

    def hits(self, key: str) -> list[Hit]:
        """The indexed hits of pattern ``key`` (for value changes)."""
        return []

    def set_value(self, seq: int, key: str, value: Any) -> bool:
        """Change the value of entry ``seq``; False when it is not indexed."""
        for hit in self.hits(key):
            if hit.seq == seq:
                hit.value = value
                return True
        return False

    def __len__(self) -> int:
        return self.count


class FoundMatcher(Matcher):
    method = "found"
    _HIT = Hit("", None)

    def find(self, smp: Sample) -> Hit | None:
        return self._HIT


class BoolMatcher(Matcher):
    method = "bool"
    _HIT = Hit("", None)

    def find(self, smp: Sample) -> Hit | None:
        return self._HIT if sample_bool(smp) else None


# -- integers ------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?\d+(?:\.\d+)?\Z")


def parse_int_value(text: str) -> int:
    """An integer, or a dotted version ``x.y`` encoded as ``x << 16 | y``."""
    if not _INT_RE.match(text):
        raise ValueError(f"'{text}' is not a number")
    if "." in text:
        major, minor = text.split(".")
        sign = -1 if major.startswith("-") else 1
        return sign * ((abs(int(major)) << 16) + int(minor))
    return int(text)


def parse_int_range(text: str) -> tuple[int | None, int | None]:
    """``a``, ``a:b``, ``a:`` or ``:b``."""
    if ":" not in text:
        n = parse_int_value(text)
        return n, n
    lo_s, _, hi_s = text.partition(":")
    try:
        lo = parse_int_value(lo_s) if lo_s else None
        hi = parse_int_value(hi_s) if hi_s else None
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
    if lo is None and hi is None:
        raise ValueError(f"'{text}' is not a number")
    return lo, hi


class IntMatcher(Matcher):
    """``int`` and ``len`` (list-based: the first declared pattern holding the value wins).
    Single values are in a hash table, ranges in a :class:`RangeIndex`; the answer is the
    first declared of the two candidates."""

    method = "int"

    def __init__(self, length: bool = False) -> None:
        super().__init__()
        self.length = length
        self.method = "len" if length else "int"
        self.exact = KeyTable()
        self.ranges = RangeIndex()

    def put(self, key: str, hit: Any) -> None:
        if key.isascii() and key.isdigit():  # the usual plain number, without the regex
            lo = hi = int(key)
        else:
            lo, hi = parse_int_range(key)
        if lo is not None and lo == hi:
            self.exact.add(lo, hit)
        else:
            self.ranges.add(lo, hi, hit)
        self.count += 1

    def remove(self, seq: int, key: str) -> bool:
        try:
            lo, hi = parse_int_range(key)
        except ValueError:
            return False
        if lo is not None and lo == hi:
            done = bool(self.exact.remove(lo, seq))
        else:
            done = self.ranges.remove(seq)
        if done:
            self.count -= 1
        return done

    def hits(self, key: str) -> list[Hit]:
        lo, hi = parse_int_range(key)
        if lo is not None and lo == hi:
            return self.exact.hits(lo)
        return [r[2] for r in self.ranges.ranges.values() if r[2].key == key]

    def _number(self, smp: Sample) -> int | None:
        if self.length:
            s = sample_str(smp)
            return None if s is None else len(s)
        if smp.type is _SINT:
            return smp.value
        return sample_int(smp)

    def find(self, smp: Sample) -> Hit | None:
        n = self._number(smp)
        if n is None:
            return None
        hit = self.exact.first.get(n)
        if self.ranges.ranges:
            return first_of(hit, self.ranges.find(n))
        return hit

    def match(self, smp: Sample) -> bool:
        if smp.type is _SINT and not self.length:  # _number(), its common case in line
            n = smp.value
        else:
            n = self._number(smp)
            if n is None:
                return False
        if n in self.exact.first:
            return True
        return bool(self.ranges.ranges) and self.ranges.find(n) is not None


# -- IP addresses --------------------------------------------------------------------------------

def _resolve(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            infos = socket.getaddrinfo(host, None, family)
        except (OSError, UnicodeError):
            continue
        if infos:
            return ipaddress.ip_address(infos[0][4][0].split("%")[0])
    return None


_inet_pton = socket.inet_pton
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6
_from_bytes = int.from_bytes


def _parse_addr(text: str, resolve: bool) -> tuple[int, int] | None:
    """(version, address as an int) of a literal address (or a host name resolved when
    ``resolve``)."""
    try:
        return 4, _from_bytes(_inet_pton(_AF_INET, text), "big")
    except (OSError, ValueError):
        pass
    try:
        return 6, _from_bytes(_inet_pton(_AF_INET6, text), "big")
    except (OSError, ValueError):
        pass
    try:
        addr: Any = ipaddress.ip_address(text)  # e.g. a scoped IPv6 address
    except ValueError:
        addr = _resolve(text) if resolve and text else None
        if addr is None:
            return None
    return addr.version, int(addr)


def parse_ip_pattern(text: str, resolve: bool = True
                     ) -> tuple[int, int, int, bool]:
    """``addr[/mask]`` -> (version, network int, mask int, contiguous).  The mask is a
    prefix length or, for IPv4, a dotted mask; a host name is resolved unless ``resolve``
    is False."""
    addr_s, slash, mask_s = text.partition("/")
    parsed = _parse_addr(addr_s, resolve and not slash)
    if parsed is None:
        raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address")
    ver, a = parsed
    bits = 32 if ver == 4 else 128
    full = (1 << bits) - 1
    if not slash:
        mask = full
    elif mask_s.isdigit():
        plen = int(mask_s)
        if plen > bits:
            raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address")
        mask = (full << (bits - plen)) & full
    elif ver == 4:
        try:
            mask = _from_bytes(_inet_pton(_AF_INET, mask_s), "big")
        except (OSError, ValueError):
            raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address") from None
    else:
        raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address")
    inv = ~mask & full
    contiguous = (inv & (inv + 1)) == 0
    return ver, a & mask, mask, contiguous


_V4_MAPPED = 0xFFFF << 32
_FULL4 = 0xFFFFFFFF


def _v4_in_v6(a6: int) -> int | None:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible or 6to4 IPv6 address."""
    if a6 >> 32 in (0, 0xFFFF):
        return a6 & 0xFFFFFFFF
    if a6 >> 112 == 0x2002:
        return (a6 >> 80) & 0xFFFFFFFF
    return None


class _PrefixTables:
    """Networks of one address family: one :class:`KeyTable` per prefix length, probed
    from the longest prefix (at most 33 or 129 hash lookups, whatever the count)."""

    __slots__ = ("bits", "tables", "probes")

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.tables: dict[int, KeyTable] = {}
        #: (mask, table) from the longest prefix to the shortest
        self.probes: tuple[tuple[int, KeyTable], ...] = ()

    def _sort(self) -> None:
        full = (1 << self.bits) - 1
        self.probes = tuple(((full << (self.bits - plen)) & full, self.tables[plen])
                            for plen in sorted(self.tables, reverse=True))

    def add(self, plen: int, net: int, hit: Hit) -> None:
        table = self.tables.get(plen)
        if table is None:
            table = self.tables[plen] = KeyTable()
            self._sort()
        table.add(net, hit)

    def remove(self, plen: int, net: int, seq: int) -> bool:
        table = self.tables.get(plen)
        if table is None or not table.remove(net, seq):
            return False
        if not table.first:
            del self.tables[plen]
            self._sort()
        return True

    def hits(self, plen: int, net: int) -> list[Hit]:
        table = self.tables.get(plen)
        return [] if table is None else table.hits(net)

    def lookup(self, a: int) -> Hit | None:
        for mask, table in self.probes:
            hit = table.first.get(a & mask)
            if hit is not None:
                return hit
        return None


class IpMatcher(Matcher):
    """``ip``: networks in per-prefix-length tables (the longest prefix wins, as HAProxy's
    trees), then the IPv4 entries with non-contiguous masks in declaration order.  An
    IPv4 sample also looks in the IPv6 networks as ``::ffff:a.b.c.d``; an IPv6 sample
    holding an IPv4 address (mapped, compatible, 6to4) also looks in the IPv4 ones."""

    method = "ip"

    def __init__(self, resolve: bool = True) -> None:
        super().__init__()
        self.resolve = resolve
        self.v4 = _PrefixTables(32)
        self.v6 = _PrefixTables(128)
        #: non-contiguous IPv4 masks: (seq, net, mask, hit) in declaration order
        self.masked: list[tuple[int, int, int, Hit]] = []
        #: host name patterns as they were resolved when added (removal needs the same)
        self._names: dict[str, tuple[int, int, int, bool]] = {}

    def _parse(self, key: str) -> tuple[int, int, int, bool]:
        parsed = self._names.get(key)
        if parsed is None:
            parsed = parse_ip_pattern(key, self.resolve)
            if self.resolve and "/" not in key and _parse_addr(key, False) is None:
                self._names[key] = parsed
        return parsed

    def _locate(self, key: str) -> tuple[_PrefixTables | None, int, int, int]:
        if "/" not in key:  # the usual single IPv4 address, without the general parser
            try:
                return self.v4, 32, _from_bytes(_inet_pton(_AF_INET, key), "big"), _FULL4
            except (OSError, ValueError):
                pass
        ver, net, mask, contiguous = self._parse(key)
        if not contiguous:
            return None, 0, net, mask
        tables = self.v4 if ver == 4 else self.v6
        return tables, mask.bit_count(), net, mask

    def put(self, key: str, hit: Any) -> None:
        tables, plen, net, mask = self._locate(key)
        seq = hit.seq
        if tables is None:
            item = (seq, net, mask, hit)
            if not self.masked or seq > self.masked[-1][0]:
                self.masked.append(item)
            else:
                insort(self.masked, item, key=lambda t: t[0])
        else:
            tables.add(plen, net, hit)
        self.count += 1

    def remove(self, seq: int, key: str) -> bool:
        try:
            tables, plen, net, _ = self._locate(key)
        except ValueError:
            return False
        if tables is None:
            for i, item in enumerate(self.masked):
                if item[0] == seq:
                    del self.masked[i]
                    break
            else:
                return False
        elif not tables.remove(plen, net, seq):
            return False
        self.count -= 1
        return True

    def hits(self, key: str) -> list[Hit]:
        tables, plen, net, _ = self._locate(key)
        if tables is None:
            return [item[3] for item in self.masked if item[3].key == key]
        return tables.hits(plen, net)

    def _masked(self, a: int) -> Hit | None:
        for _, net, mask, hit in self.masked:
            if a & mask == net:
                return hit
        return None

    def find(self, smp: Sample) -> Hit | None:
        addr = sample_addr(smp)
        if addr is None:
            return None
        a = int(addr)
        if addr.version == 4:
            hit = self.v4.lookup(a)
            if hit is None and self.v6.probes:
                hit = self.v6.lookup(_V4_MAPPED | a)
            if hit is None and self.masked:
                hit = self._masked(a)
            return hit
        hit = self.v6.lookup(a)
        if hit is None and (self.v4.probes or self.masked):
            v4 = _v4_in_v6(a)
            if v4 is not None:
                hit = self.v4.lookup(v4)
                if hit is None and self.masked:
                    hit = self._masked(v4)
        return hit


# -- strings ----------------------------------------------------------------------------------

def parse_hex(text: str) -> bytes:
    if len(text) % 2:
        raise ValueError("an even number of hex digit is expected")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a valid hexadecimal string") from None


class _KeyedMatcher(Matcher):
    """Patterns indexed by one normalised key each (``_norm``)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = KeyTable()

    def _norm(self, key: str) -> Any:
        """The table key of a pattern: the pattern itself unless a subclass normalises it
        (case folding, parsing to an address or a number)."""
        return key

    def put(self, key: str, hit: Any) -> None:
        self.table.add(self._norm(key), hit)
        self.count += 1

    def remove(self, seq: int, key: str) -> bool:
        try:
            k = self._norm(key)
        except ValueError:
            return False
        if self.table.remove(k, seq):
            self.count -= 1
            return True
        return False

    def hits(self, key: str) -> list[Hit]:
        return self.table.hits(self._norm(key))


class BinMatcher(_KeyedMatcher):
    """``bin``: the bytes written in hexadecimal, looked up in a hash table."""

    method = "bin"

    def _norm(self, key: str) -> bytes:
        return parse_hex(key)

    def find(self, smp: Sample) -> Hit | None:
        b = sample_bin(smp)
        return None if b is None else self.table.first.get(b)


class StrMatcher(_KeyedMatcher):
    """``str``: exact match in a hash table (the first of duplicate keys wins)."""

    method = "str"

    def __init__(self, icase: bool) -> None:
        super().__init__()
        self.icase = icase

    def _norm(self, key: str) -> str:
        return lower(key) if self.icase else key

    def put(self, key: str, hit: Any) -> None:
        k = lower(key) if self.icase else key
        first = self.table.first
        if k in first:
            self.table.add(k, hit)
        else:
            first[k] = hit
        self.count += 1

    def find(self, smp: Sample) -> Hit | None:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is None:
            return None
        return self.table.first.get(lower(s) if self.icase else s)

    def match(self, smp: Sample) -> bool:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is None:
            return False
        return (lower(s) if self.icase else s) in self.table.first


class AffixMatcher(_KeyedMatcher):
    """``beg`` and ``end``: the patterns in a hash table and the set of their lengths; a
    lookup probes the sample's prefix (suffix) of each length present, so it costs at most
    one hash lookup per distinct pattern length, whatever the number of patterns.

    ``beg`` without ``-i`` is tree-indexed in HAProxy: the longest prefix wins.  ``-i beg``
    and ``end`` are list-based: the first declared of the matching patterns wins."""

    def __init__(self, method: str, icase: bool) -> None:
        super().__init__()
        self.method = method
        self.icase = icase
        self.suffix = method == "end"
        self.longest = method == "beg" and not icase
        self.lengths = Lengths()

    def _norm(self, key: str) -> str:
        return lower(key) if self.icase else key

    def put(self, key: str, hit: Any) -> None:
        k = lower(key) if self.icase else key
        if self.table.add(k, hit):
            self.lengths.add(len(k))
        self.count += 1

    def remove(self, seq: int, key: str) -> bool:
        k = self._norm(key)
        done = self.table.remove(k, seq)
        if done == 2:
            self.lengths.remove(len(k))
        if done:
            self.count -= 1
        return bool(done)

    def _sample(self, smp: Sample) -> str | None:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is not None and self.icase:
            s = lower(s)
        return s

    def find(self, smp: Sample) -> Hit | None:
        s = self._sample(smp)
        if s is None:
            return None
        get = self.table.first.get
        n = len(s)
        if self.longest:
            for length in self.lengths.desc:
                if length <= n:
                    hit = get(s[:length])
                    if hit is not None:
                        return hit
            return None
        best: Hit | None = None
        for length in self.lengths.asc:
            if length > n:
                break
            hit = get(s[n - length:] if self.suffix else s[:length])
            if hit is not None and (best is None or hit.seq < best.seq):
                best = hit
        return best

    def match(self, smp: Sample) -> bool:
        s = smp.value if smp.type is _STR else sample_str(smp)  # _sample(), in line
        if s is None:
            return False
        if self.icase:
            s = lower(s)
        table = self.table.first
        n = len(s)
        if self.suffix:
            for length in self.lengths.asc:
                if length > n:
                    return False
                if s[n - length:] in table:
                    return True
            return False
        for length in self.lengths.asc:
            if length > n:
                return False
            if s[:length] in table:
                return True
        return False


class OrderedMatcher(Matcher):
    """Patterns kept in declaration order (no index) as ``(seq, compiled, hit)`` items;
    :meth:`compile` turns a pattern's text into what :meth:`find` tests."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[int, Any, Hit]] = []

    def compile(self, key: str) -> Any:
        return key

    def put(self, key: str, hit: Any) -> None:
        seq = hit.seq
        item = (seq, self.compile(key), hit)
        if not self.items or seq > self.items[-1][0]:
            self.items.append(item)
        else:
            insort(self.items, item, key=lambda t: t[0])
        self.count += 1

    def remove(self, seq: int, key: str) -> bool:
        for i, item in enumerate(self.items):
            if item[0] == seq:
                del self.items[i]
                self.count -= 1
                return True
        return False

    def hits(self, key: str) -> list[Hit]:
        return [item[2] for item in self.items if item[2].key == key]


class SubMatcher(OrderedMatcher):
    """``sub``: the patterns tried in declaration order (no index: a substring may start
    anywhere)."""

    method = "sub"

    def __init__(self, icase: bool) -> None:
        super().__init__()
        self.icase = icase

    def compile(self, key: str) -> Any:
        return lower(key) if self.icase else key

    def find(self, smp: Sample) -> Hit | None:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is None:
            return None
        if self.icase:
            s = lower(s)
        for _, pat, hit in self.items:
            if pat in s:
                return hit
        return None


def match_word(s: str, pattern: str, delims: str) -> bool:
    """``dir``/``dom``: the pattern (its leading and trailing delimiters ignored) appears
    in ``s`` as a run of whole delimited segments."""
    start, end = 0, len(pattern)
    while start < end and pattern[start] in delims:
        start += 1
    while end > start and pattern[end - 1] in delims:
        end -= 1
    pat = pattern[start:end]
    pl = len(pat)
    if pl == 0 or pl > len(s):
        return False
    last = len(s) - pl
    may_match = True
    for i in range(last + 1):
        c = s[i]
        if c in delims:
            may_match = True
            continue
        if not may_match:
            continue
        if s.startswith(pat, i) and (i == last or s[i + pl] in delims):
            return True
        may_match = False
    return False


DIR_DELIMS = "/?"
DOM_DELIMS = "/?.:"


class WordMatcher(_KeyedMatcher):
    """``dir`` and ``dom`` by token lookup: a pattern (its outer delimiters stripped)
    matches when it equals a run of whole segments of the sample, i.e. the text from the
    start of segment i to the end of segment j.  The patterns are hashed and so are the
    candidate runs whose segment count some pattern has, so a lookup costs
    (segments x distinct pattern segment counts) hash probes.  List-based in HAProxy: the
    first declared matching pattern wins."""

    def __init__(self, method: str, icase: bool) -> None:
        super().__init__()
        self.method = method
        self.icase = icase
        self.delims = DIR_DELIMS if method == "dir" else DOM_DELIMS
        self.segment = re.compile(f"[^{re.escape(self.delims)}]+")
        #: segment counts of the distinct patterns
        self.sizes = Lengths()

    def _norm(self, key: str) -> str:
        return (lower(key) if self.icase else key).strip(self.delims)

    def put(self, key: str, hit: Any) -> None:
        k = self._norm(key)
        # an empty pattern never matches: counted, not indexed
        if k and self.table.add(k, hit):
            self.sizes.add(len(self.segment.findall(k)))
        self.count += 1

    def remove(self, seq: int, key: str) -> bool:
        k = self._norm(key)
        if not k:
            if self.count:
                self.count -= 1
                return True
            return False
        done = self.table.remove(k, seq)
        if done == 2:
            self.sizes.remove(len(self.segment.findall(k)))
        if done:
            self.count -= 1
        return bool(done)

    def _scan(self, smp: Sample, first: bool) -> Hit | None:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is None or not self.table.first:
            return None
        if self.icase:
            s = lower(s)
        spans = [m.span() for m in self.segment.finditer(s)]
        get = self.table.first.get
        sizes = self.sizes.asc
        t = len(spans)
        best: Hit | None = None
        for a in range(t):
            start = spans[a][0]
            for size in sizes:
                b = a + size - 1
                if b >= t:
                    break
                hit = get(s[start:spans[b][1]])
                if hit is not None:
                    if first:
                        return hit
                    if best is None or hit.seq < best.seq:
                        best = hit
        return best

    def find(self, smp: Sample) -> Hit | None:
        return self._scan(smp, False)

    def match(self, smp: Sample) -> bool:
        return self._scan(smp, True) is not None


@functools.lru_cache(maxsize=4096)
def compile_regex(text: str, icase: bool) -> re.Pattern[str]:
    """A regex compiled once (cached: the same pattern in several lists, or again after a
    list is replaced, is not compiled again)."""
    try:
        return re.compile(text, re.IGNORECASE if icase else 0)
    except re.error as exc:
        raise ValueError(f"regex '{text}' is invalid (error={exc.msg}, erroffset={exc.pos})"
                         ) from None


class RegMatcher(OrderedMatcher):
    """``reg`` (and ``regm`` for maps, which keeps the match for back-references): each
    regex compiled once when added, tried in declaration order."""

    def __init__(self, method: str, icase: bool) -> None:
        super().__init__()
        self.method = method
        self.icase = icase

    def compile(self, key: str) -> Any:
        return compile_regex(key, self.icase)

    def find(self, smp: Sample) -> Hit | None:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is None:
            return None
        for _, rx, hit in self.items:
            m = rx.search(s)
            if m is not None:
                return Hit(hit.key, hit.value, hit.seq, m) if self.method == "regm" else hit
        return None

    def match(self, smp: Sample) -> bool:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is None:
            return False
        for _, rx, _ in self.items:
            if rx.search(s) is not None:
                return True
        return False


class MultiMatcher(Matcher):
    """Several matchers tried in order (patterns of one ACL with different flags)."""

    def __init__(self, parts: list[Matcher]) -> None:
        super().__init__()
        self.parts = parts
        self.method = parts[0].method if parts else ""

    def find(self, smp: Sample) -> Hit | None:
        for part in self.parts:
            hit = part.find(smp)
            if hit is not None:
                return hit
        return None

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)
