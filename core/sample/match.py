"""Match methods: how a sample is compared with a list of patterns.

``build_matcher(method, patterns, icase=...)`` parses the patterns once and returns a
:class:`Matcher`; ``match(smp)`` says whether the sample matches one of them and, for maps,
``lookup(smp)`` returns the value of the entry that matched.  Exact strings, binary strings
and IP addresses are looked up in hash tables (longest prefix first for networks); the other
methods try their patterns in order, so the first line of a file wins.

:class:`RefMatcher` binds a matcher to a :class:`~hapx.core.sample.patterns.PatternRef` and
rebuilds it whenever the list changes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import string
from collections.abc import Callable, Iterable
from typing import Any

from ..records import SmpType
from .cast import can_cast, caster
from .types import Sample

_STR, _SINT = SmpType.STR, SmpType.SINT

#: the methods, in HAProxy's order
METHODS = ("found", "bool", "int", "ip", "bin", "len", "str", "beg", "sub", "dir", "dom",
           "end", "reg", "regm")
#: methods that take no pattern
NO_PATTERN = frozenset({"found", "bool"})
#: methods whose patterns are integers (operators eq/ge/gt/le/lt apply)
INT_METHODS = frozenset({"int", "len"})

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def lower(text: str) -> str:
    """ASCII-only lower case, as C's tolower() in the C locale."""
    return text.translate(_ASCII_LOWER)


def default_method(smp_type: SmpType) -> str | None:
    """The match method used when ``-m`` is not given (None for binary and untyped samples:
    ``-m`` is then mandatory)."""
    return {
        SmpType.BOOL: "bool", SmpType.SINT: "int", SmpType.IPV4: "ip", SmpType.IPV6: "ip",
        SmpType.ADDR: "ip", SmpType.STR: "str", SmpType.METH: "str",
    }.get(smp_type)


#: the sample type each method compares (HAProxy's pat_match_types)
EXPECT_TYPE = {
    "found": SmpType.ANY, "bool": SmpType.BOOL, "int": SmpType.SINT, "ip": SmpType.ADDR,
    "bin": SmpType.BIN, "len": SmpType.STR, "str": SmpType.STR, "beg": SmpType.STR,
    "sub": SmpType.STR, "dir": SmpType.STR, "dom": SmpType.STR, "end": SmpType.STR,
    "reg": SmpType.STR, "regm": SmpType.STR,
}


def method_accepts(method: str, smp_type: SmpType) -> bool:
    """Whether samples of ``smp_type`` can be compared with ``method``."""
    return can_cast(smp_type, EXPECT_TYPE[method])


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


# -- hits and matchers ---------------------------------------------------------------------------

class Hit:
    """The entry that matched: its pattern text, its value and the regex match (regm)."""

    __slots__ = ("key", "value", "m")

    def __init__(self, key: str, value: Any = None, m: re.Match[str] | None = None) -> None:
        self.key = key
        self.value = value
        self.m = m

    def with_match(self, m: re.Match[str]) -> Hit:
        return Hit(self.key, self.value, m)


class Matcher:
    """Compiled patterns of one match method."""

    method = ""

    def find(self, smp: Sample) -> Hit | None:  # pragma: no cover - the interface
        raise TypeError(f"{type(self).__name__} defines no find()")

    def match(self, smp: Sample) -> bool:
        return self.find(smp) is not None

    def lookup(self, smp: Sample) -> Any:
        """The value of the entry that matches, or None."""
        hit = self.find(smp)
        return None if hit is None else hit.value

    def __len__(self) -> int:
        return 0


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
    """``int``: integers and ranges, tried in order; ``len`` compares the length."""

    method = "int"

    def __init__(self, items: list[tuple[str, Any]], length: bool = False) -> None:
        self.length = length
        self.method = "len" if length else "int"
        self.exact: dict[int, Hit] = {}
        self.ranges: list[tuple[int | None, int | None, Hit, int]] = []
        for idx, (key, value) in enumerate(items):
            lo, hi = parse_int_range(key)
            hit = Hit(key, value)
            if lo is not None and lo == hi:
                self.exact.setdefault(lo, hit)
                self.ranges.append((lo, hi, hit, idx))
            else:
                self.ranges.append((lo, hi, hit, idx))
        self._only_exact = all(lo is not None and lo == hi for lo, hi, _, _ in self.ranges)
        self._bounds = tuple((lo, hi) for lo, hi, _, _ in self.ranges)

    def match(self, smp: Sample) -> bool:
        if smp.type is not _SINT or self.length:
            return self.find(smp) is not None
        n = smp.value
        if self._only_exact:
            return n in self.exact
        for lo, hi in self._bounds:
            if (lo is None or n >= lo) and (hi is None or n <= hi):
                return True
        return False

    def find(self, smp: Sample) -> Hit | None:
        if self.length:
            s = sample_str(smp)
            if s is None:
                return None
            n: int | None = len(s)
        else:
            n = sample_int(smp)
            if n is None:
                return None
        if self._only_exact:
            return self.exact.get(n)  # type: ignore[arg-type]
        for lo, hi, hit, _ in self.ranges:
            if (lo is None or n >= lo) and (hi is None or n <= hi):  # type: ignore[operator]
                return hit
        return None

    def __len__(self) -> int:
        return len(self.ranges)


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


def parse_ip_pattern(text: str, resolve: bool = True
                     ) -> tuple[int, int, int, bool]:
    """``addr[/mask]`` -> (version, network int, mask int, contiguous).  The mask is a
    prefix length or, for IPv4, a dotted mask; a host name is resolved unless ``resolve``
    is False."""
    bad = ValueError(f"'{text}' is not a valid IPv4 or IPv6 address")
    addr_s, slash, mask_s = text.partition("/")
    try:
        addr: Any = ipaddress.ip_address(addr_s)
    except ValueError:
        addr = _resolve(addr_s) if resolve and addr_s and not slash else None
        if addr is None:
            raise bad from None
    bits = addr.max_prefixlen
    full = (1 << bits) - 1
    if not slash:
        mask = full
    elif mask_s.isdigit():
        plen = int(mask_s)
        if plen > bits:
            raise bad
        mask = (full << (bits - plen)) & full
    elif addr.version == 4:
        try:
            mask = int(ipaddress.IPv4Address(mask_s))
        except ValueError:
            raise bad from None
    else:
        raise bad
    inv = ~mask & full
    contiguous = (inv & (inv + 1)) == 0
    return addr.version, int(addr) & mask, mask, contiguous


_V4_MAPPED = 0xFFFF << 32


def _v4_in_v6(a6: int) -> int | None:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible or 6to4 IPv6 address."""
    if a6 >> 32 in (0, 0xFFFF):
        return a6 & 0xFFFFFFFF
    if a6 >> 112 == 0x2002:
        return (a6 >> 80) & 0xFFFFFFFF
    return None


class IpMatcher(Matcher):
    """``ip``: networks in per-prefix-length tables (longest prefix wins), then the
    entries with non-contiguous masks in order.  IPv4 samples also match IPv4-mapped IPv6
    patterns and IPv6 samples carrying an IPv4 address match IPv4 patterns."""

    method = "ip"

    def __init__(self, items: list[tuple[str, Any]], resolve: bool = True) -> None:
        # version -> prefix length -> network -> hit
        self.trees: dict[int, dict[int, dict[int, Hit]]] = {4: {}, 6: {}}
        self.lists: dict[int, list[tuple[int, int, Hit]]] = {4: [], 6: []}
        self.count = 0
        for key, value in items:
            ver, net, mask, contiguous = parse_ip_pattern(key, resolve)
            hit = Hit(key, value)
            self.count += 1
            if contiguous:
                plen = bin(mask).count("1")
                self.trees[ver].setdefault(plen, {}).setdefault(net, hit)
            else:
                self.lists[ver].append((net, mask, hit))
        bits = {4: 32, 6: 128}
        self._plens = {v: sorted(self.trees[v], reverse=True) for v in (4, 6)}
        self._full = {v: (1 << bits[v]) - 1 for v in (4, 6)}

    def _lookup(self, ver: int, a: int) -> Hit | None:
        full = self._full[ver]
        bits = 32 if ver == 4 else 128
        tree = self.trees[ver]
        for plen in self._plens[ver]:
            hit = tree[plen].get(a & ((full << (bits - plen)) & full))
            if hit is not None:
                return hit
        for net, mask, hit in self.lists[ver]:
            if a & mask == net:
                return hit
        return None

    def find(self, smp: Sample) -> Hit | None:
        addr = sample_addr(smp)
        if addr is None:
            return None
        a = int(addr)
        if addr.version == 4:
            hit = self._lookup(4, a)
            if hit is None and (self._plens[6] or self.lists[6]):
                hit = self._lookup(6, _V4_MAPPED | a)
            return hit
        hit = self._lookup(6, a)
        if hit is None and (self._plens[4] or self.lists[4]):
            v4 = _v4_in_v6(a)
            if v4 is not None:
                hit = self._lookup(4, v4)
        return hit

    def __len__(self) -> int:
        return self.count


# -- strings ----------------------------------------------------------------------------------

def parse_hex(text: str) -> bytes:
    if len(text) % 2:
        raise ValueError("an even number of hex digit is expected")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a valid hexadecimal string") from None


class BinMatcher(Matcher):
    method = "bin"

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.table: dict[bytes, Hit] = {}
        for key, value in items:
            self.table.setdefault(parse_hex(key), Hit(key, value))

    def find(self, smp: Sample) -> Hit | None:
        b = sample_bin(smp)
        return None if b is None else self.table.get(b)

    def __len__(self) -> int:
        return len(self.table)


class StrMatcher(Matcher):
    """``str``: exact match in a hash table (the first of duplicate keys wins)."""

    method = "str"

    def __init__(self, items: list[tuple[str, Any]], icase: bool) -> None:
        self.icase = icase
        self.table: dict[str, Hit] = {}
        for key, value in items:
            self.table.setdefault(lower(key) if icase else key, Hit(key, value))

    def find(self, smp: Sample) -> Hit | None:
        s = sample_str(smp)
        if s is None:
            return None
        return self.table.get(lower(s) if self.icase else s)

    def __len__(self) -> int:
        return len(self.table)


def _is_delim(c: str, delims: str) -> bool:
    return c in delims


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


class ListMatcher(Matcher):
    """The list-based string methods: patterns tried in order, the first match wins."""

    def __init__(self, method: str, items: list[tuple[str, Any]], icase: bool) -> None:
        self.method = method
        self.icase = icase
        self.items = [(lower(k) if icase else k, Hit(k, v)) for k, v in items]
        test: Callable[[str, str], bool]
        if method == "beg":
            test = str.startswith
        elif method == "end":
            test = str.endswith
        elif method == "sub":
            test = str.__contains__
        elif method == "dir":
            test = lambda s, p: match_word(s, p, DIR_DELIMS)  # noqa: E731
        elif method == "dom":
            test = lambda s, p: match_word(s, p, DOM_DELIMS)  # noqa: E731
        else:
            raise ValueError(f"unknown matching method '{method}'")
        self.test = test

    def find(self, smp: Sample) -> Hit | None:
        s = sample_str(smp)
        if s is None:
            return None
        if self.icase:
            s = lower(s)
        test = self.test
        for pat, hit in self.items:
            if test(s, pat):
                return hit
        return None

    def __len__(self) -> int:
        return len(self.items)


class PrefixTreeMatcher(Matcher):
    """``beg`` without ``-i``: HAProxy indexes the prefixes in a tree, so the longest
    matching prefix wins (a map with ``/a`` then ``/ab`` gives ``/ab``'s value for ``/abc``),
    and the first of identical prefixes."""

    method = "beg"

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.prefixes: dict[str, Hit] = {}
        for key, value in items:
            self.prefixes.setdefault(key, Hit(key, value))
        self.lengths = sorted({len(k) for k in self.prefixes}, reverse=True)

    def match(self, smp: Sample) -> bool:
        if smp.type is not _STR:
            return self.find(smp) is not None
        s = smp.value
        prefixes = self.prefixes
        n = len(s)
        for length in self.lengths:
            if length <= n and s[:length] in prefixes:
                return True
        return False

    def find(self, smp: Sample) -> Hit | None:
        s = sample_str(smp)
        if s is None:
            return None
        get = self.prefixes.get
        n = len(s)
        for length in self.lengths:
            if length <= n:
                hit = get(s[:length])
                if hit is not None:
                    return hit
        return None

    def __len__(self) -> int:
        return len(self.prefixes)


def compile_regex(text: str, icase: bool) -> re.Pattern[str]:
    try:
        return re.compile(text, re.IGNORECASE if icase else 0)
    except re.error as exc:
        raise ValueError(f"regex '{text}' is invalid (error={exc.msg}, erroffset={exc.pos})"
                         ) from None


class RegMatcher(Matcher):
    """``reg`` (and ``regm`` for maps, which keeps the match for back-references)."""

    def __init__(self, method: str, items: list[tuple[str, Any]], icase: bool) -> None:
        self.method = method
        self.items = [(compile_regex(k, icase), Hit(k, v)) for k, v in items]

    def find(self, smp: Sample) -> Hit | None:
        s = sample_str(smp)
        if s is None:
            return None
        for rx, hit in self.items:
            m = rx.search(s)
            if m is not None:
                return hit.with_match(m) if self.method == "regm" else hit
        return None

    def __len__(self) -> int:
        return len(self.items)


_BACKREF = re.compile(r"\\(\d)")


def expand_backrefs(template: str, m: re.Match[str] | None) -> str:
    r"""Replace ``\0``..``\9`` in a map_regm value with the groups of the match."""
    if m is None:
        return template

    def group(g: re.Match[str]) -> str:
        n = int(g.group(1))
        if n > (m.re.groups or 0):
            return ""
        return m.group(n) or ""

    return _BACKREF.sub(group, template)


class MultiMatcher(Matcher):
    """Several matchers tried in order (patterns of one ACL with different flags)."""

    def __init__(self, parts: list[Matcher]) -> None:
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


# -- building --------------------------------------------------------------------------------

Pattern = str | tuple[str, Any]


def build_matcher(method: str, patterns: Iterable[Pattern], *, icase: bool = False,
                  resolve: bool = True,
                  value_parser: Callable[[str], Any] | None = None) -> Matcher:
    """Compile ``patterns`` (strings, or (key, value) pairs for maps) for ``method``.
    ``value_parser`` converts map values (for typed map outputs).  Raises ValueError with
    HAProxy's text on a bad pattern or value."""
    items: list[tuple[str, Any]] = []
    for p in patterns:
        key, value = (p, None) if isinstance(p, str) else p
        if value_parser is not None and value is not None:
            value = value_parser(value)
        items.append((key, value))
    if method == "found":
        return FoundMatcher()
    if method == "bool":
        return BoolMatcher()
    if method in ("int", "len"):
        return IntMatcher(items, length=method == "len")
    if method == "ip":
        return IpMatcher(items, resolve)
    if method == "bin":
        return BinMatcher(items)
    if method == "str":
        return StrMatcher(items, icase)
    if method in ("reg", "regm"):
        return RegMatcher(method, items, icase)
    if method == "beg" and not icase:
        return PrefixTreeMatcher(items)
    if method in ("beg", "end", "sub", "dir", "dom"):
        return ListMatcher(method, items, icase)
    raise ValueError(f"unknown matching method '{method}'")


def check_pattern(method: str, text: str, *, icase: bool = False, resolve: bool = True) -> None:
    """Raise ValueError when ``text`` is not a valid pattern for ``method`` (for runtime
    additions)."""
    build_matcher(method, [text], icase=icase, resolve=resolve)


class RefMatcher(Matcher):
    """A matcher over a pattern list, rebuilt whenever the list changes.  At build time a
    bad entry raises ValueError; after a runtime change, bad entries are skipped."""

    def __init__(self, ref: Any, method: str, *, icase: bool = False, resolve: bool = True,
                 value_parser: Callable[[str], Any] | None = None,
                 use_values: bool = True) -> None:
        self.ref = ref
        self.method = method
        self.icase = icase
        self.resolve = resolve
        self.value_parser = value_parser
        self.use_values = use_values
        self.matcher = self._build(strict=True)
        self._bind()
        ref.subscribe(self.rebuild)

    def _bind(self) -> None:
        # the compiled matcher's own methods, called directly (rebound on every rebuild)
        self._match = self.matcher.match
        self._find = self.matcher.find

    def match(self, smp: Sample) -> bool:
        return self._match(smp)

    def find(self, smp: Sample) -> Hit | None:
        return self._find(smp)

    def _compile(self, items: list[tuple[str, Any]]) -> Matcher:
        return build_matcher(self.method, items, icase=self.icase, resolve=self.resolve,
                             value_parser=self.value_parser)

    def _build(self, strict: bool) -> Matcher:
        items = [(e.key, e.value if self.use_values else None) for e in self.ref.entries]
        try:
            return self._compile(items)
        except ValueError:
            if strict:
                raise
        good = []
        for item in items:
            try:
                self._compile([item])
            except ValueError:
                continue
            good.append(item)
        return self._compile(good)

    def rebuild(self) -> None:
        self.matcher = self._build(strict=False)
        self._bind()

    def release(self) -> None:
        self.ref.unsubscribe(self.rebuild)

    def __len__(self) -> int:
        return len(self.matcher)
