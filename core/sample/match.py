"""Match methods: how a sample is compared with a list of patterns.

``build_matcher(method, patterns, icase=...)`` parses the patterns once and returns a
:class:`~hapx.core.sample.matchers.Matcher`; ``match(smp)`` says whether the sample
matches one of them and, for maps, ``lookup(smp)`` returns the value of the entry that
matched.  Each method has its index (hash tables for exact strings, prefixes, suffixes,
dir/dom segments and integers, per-prefix-length tables for networks, a range index for
integer ranges): see :mod:`hapx.core.sample.matchers` for which entry wins.

:class:`RefMatcher` binds a matcher to a :class:`~hapx.core.sample.patterns.PatternRef`
and follows its changes entry by entry (``add``/``del``/``set``); a prepared version gets
its own matcher, filled as entries are added to it and swapped in by ``commit``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from ..records import SmpType
from .cast import can_cast
from .matchers import (
    DIR_DELIMS,
    DOM_DELIMS,
    AffixMatcher,
    BinMatcher,
    BoolMatcher,
    FoundMatcher,
    IntMatcher,
    IpMatcher,
    Matcher,
    MultiMatcher,
    RegMatcher,
    StrMatcher,
    SubMatcher,
    WordMatcher,
    compile_regex,
    lower,
    match_word,
    parse_hex,
    parse_int_range,
    parse_int_value,
    parse_ip_pattern,
    sample_addr,
    sample_bin,
    sample_bool,
    sample_int,
    sample_str,
)
from .pat_index import Hit
from .patterns import gc_paused
from .types import Sample

_STR = SmpType.STR

__all__ = [
    "DIR_DELIMS", "DOM_DELIMS", "EXPECT_TYPE", "INT_METHODS", "METHODS", "NO_PATTERN", "Hit",
    "Matcher", "MultiMatcher", "RefMatcher", "build_matcher", "check_pattern",
    "compile_regex", "default_method", "expand_backrefs", "lower", "match_word",
    "method_accepts", "new_matcher", "parse_hex", "parse_int_range", "parse_int_value",
    "parse_ip_pattern", "sample_addr", "sample_bin", "sample_bool", "sample_int",
    "sample_str",
]

#: the methods, in HAProxy's order
METHODS = ("found", "bool", "int", "ip", "bin", "len", "str", "beg", "sub", "dir", "dom",
           "end", "reg", "regm")
#: methods that take no pattern
NO_PATTERN = frozenset({"found", "bool"})
#: methods whose patterns are integers (operators eq/ge/gt/le/lt apply)
INT_METHODS = frozenset({"int", "len"})


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


# -- building --------------------------------------------------------------------------------

Pattern = str | tuple[str, Any]


def new_matcher(method: str, *, icase: bool = False, resolve: bool = True) -> Matcher:
    """An empty matcher for ``method`` (patterns are then added one by one)."""
    if method == "found":
        return FoundMatcher()
    if method == "bool":
        return BoolMatcher()
    if method in ("int", "len"):
        return IntMatcher(length=method == "len")
    if method == "ip":
        return IpMatcher(resolve)
    if method == "bin":
        return BinMatcher()
    if method == "str":
        return StrMatcher(icase)
    if method in ("reg", "regm"):
        return RegMatcher(method, icase)
    if method in ("beg", "end"):
        return AffixMatcher(method, icase)
    if method == "sub":
        return SubMatcher(icase)
    if method in ("dir", "dom"):
        return WordMatcher(method, icase)
    raise ValueError(f"unknown matching method '{method}'")


def build_matcher(method: str, patterns: Iterable[Pattern], *, icase: bool = False,
                  resolve: bool = True,
                  value_parser: Callable[[str], Any] | None = None) -> Matcher:
    """Compile ``patterns`` (strings, or (key, value) pairs for maps) for ``method``, in
    order.  ``value_parser`` converts map values (for typed map outputs).  Raises
    ValueError with HAProxy's text on a bad pattern or value."""
    m = new_matcher(method, icase=icase, resolve=resolve)
    add = m.add
    for seq, p in enumerate(patterns):
        key, value = (p, None) if isinstance(p, str) else p
        if value_parser is not None and value is not None:
            value = value_parser(value)
        add(seq, key, value)
    return m


def check_pattern(method: str, text: str, *, icase: bool = False, resolve: bool = True) -> None:
    """Raise ValueError when ``text`` is not a valid pattern for ``method`` (for runtime
    additions)."""
    new_matcher(method, icase=icase, resolve=resolve).add(0, text)


class RefIndexMatcher(Matcher):
    """``str`` without ``-i`` over a list whose values are used as written: the list's own
    index by key (:meth:`PatternRef.key_index`) is the hash table, so a large map is
    hashed once, and the list keeps it up to date."""

    method = "str"

    def __init__(self, ref: Any) -> None:
        super().__init__()
        self.ref = ref
        self.bind()

    def bind(self) -> None:
        """Follow the list's current index (a new dict after a clear or a commit)."""
        self._get = self.ref.key_index().get

    def find(self, smp: Sample) -> Hit | None:
        s = smp.value if smp.type is _STR else sample_str(smp)
        if s is None:
            return None
        cur = self._get(s)
        if cur is None or type(cur) is not list:
            return cur
        return cur[0]

    def match(self, smp: Sample) -> bool:
        s = smp.value if smp.type is _STR else sample_str(smp)
        return s is not None and self._get(s) is not None

    def __len__(self) -> int:
        return len(self.ref)


class RefMatcher(Matcher):
    """A matcher over a pattern list, following its changes (it is a
    :class:`~hapx.core.sample.patterns.PatternListener`).  At build time a bad entry
    raises ValueError; after a runtime change, bad entries are skipped (not indexed)."""

    def __init__(self, ref: Any, method: str, *, icase: bool = False, resolve: bool = True,
                 value_parser: Callable[[str], Any] | None = None,
                 use_values: bool = True) -> None:
        super().__init__()
        self.ref = ref
        self.method = method
        self.icase = icase
        self.resolve = resolve
        self.value_parser = value_parser
        self.use_values = use_values
        #: matchers of prepared versions, filled as entries are added to them
        self.pending: dict[int, Matcher] = {}
        #: exact strings with raw values: the list's own key index serves the lookups
        self.shared = method == "str" and not icase and (value_parser is None
                                                         or not use_values)
        self.matcher: Matcher
        if self.shared:
            self.matcher = RefIndexMatcher(ref)
        else:
            self.matcher = self._build(ref.version_entries(ref.curr_ver), strict=True)
        self._bind()
        ref.listen(self)

    def _bind(self) -> None:
        # the compiled matcher's own methods, called directly (rebound on every swap)
        self._match = self.matcher.match
        self._find = self.matcher.find

    def match(self, smp: Sample) -> bool:
        return self._match(smp)

    def find(self, smp: Sample) -> Hit | None:
        return self._find(smp)

    def _fill(self, m: Matcher, entries: Iterable[Any], strict: bool) -> None:
        parse = self.value_parser if self.use_values else None
        if parse is None:
            # values used as written (or not at all): the entries are the hits
            put = m.put
            for e in entries:
                try:
                    put(e.key, e)
                except ValueError:
                    if strict:
                        raise
            return
        add = m.add
        for e in entries:
            try:
                value = e.value
                add(e.seq, e.key, None if value is None else parse(value))
            except ValueError:
                if strict:
                    raise

    def _build(self, entries: Iterable[Any], strict: bool) -> Matcher:
        m = new_matcher(self.method, icase=self.icase, resolve=self.resolve)
        with gc_paused():
            self._fill(m, entries, strict)
        return m

    # -- PatternListener -----------------------------------------------------------------------
    def _rebind(self) -> None:
        self.matcher.bind()  # type: ignore[attr-defined]
        self._bind()

    def pattern_added(self, version: int, entries: list[Any]) -> None:
        if self.shared:
            return
        if version == self.ref.curr_ver:
            self._fill(self.matcher, entries, strict=False)
            return
        m = self.pending.get(version)
        if m is None:
            # first entries of this version seen here: the version already holds them
            self.pending[version] = self._build(self.ref.version_entries(version), False)
        else:
            self._fill(m, entries, strict=False)

    def pattern_removed(self, entries: list[Any]) -> None:
        if self.shared:
            return
        remove = self.matcher.remove
        for e in entries:
            remove(e.seq, e.key)

    def pattern_changed(self, entries: list[Any]) -> None:
        if self.shared or not self.use_values:
            return
        m = self.matcher
        parse = self.value_parser
        if parse is None:
            return  # the entries are the hits: they hold the new value already
        for e in entries:
            try:
                value = None if e.value is None else parse(e.value)
            except ValueError:
                m.remove(e.seq, e.key)
                continue
            try:
                if not m.set_value(e.seq, e.key, value):
                    m.add(e.seq, e.key, value)
            except ValueError:
                continue

    def pattern_cleared(self, version: int) -> None:
        if self.shared:
            if version == self.ref.curr_ver:
                self._rebind()
            return
        empty = new_matcher(self.method, icase=self.icase, resolve=self.resolve)
        if version == self.ref.curr_ver:
            self.matcher = empty
            self._bind()
        else:
            self.pending[version] = empty

    def pattern_committed(self, version: int) -> None:
        if self.shared:
            self._rebind()
            return
        m = self.pending.pop(version, None)
        for ver in [v for v in self.pending if v < version]:
            del self.pending[ver]
        if m is None:
            m = self._build(self.ref.version_entries(version), strict=False)
        self.matcher = m
        self._bind()

    def rebuild(self) -> None:
        """Recompile from the list (not needed after changes made through the list)."""
        if self.shared:
            self._rebind()
            return
        self.matcher = self._build(self.ref.version_entries(self.ref.curr_ver), False)
        self._bind()

    def release(self) -> None:
        self.ref.unlisten(self)
        self.pending.clear()

    def __len__(self) -> int:
        return len(self.matcher)
