"""Pattern lists: the contents of ACL files, map files and ``virt@`` lists.

A :class:`PatternRef` is one named list of entries (a key, and a value for maps) that every
ACL and map converter using the name shares, so that a runtime change (``add acl``,
``set map``, ``http-request set-map``...) is seen by all of them: compiled matchers
subscribe to the list and rebuild when its current version changes.

Each list has a current version (``curr_ver``, what matching sees) and a counter of
prepared versions (``next_ver``): :meth:`PatternRef.prepare` allocates a version that
entries can be added to without being visible, and :meth:`PatternRef.commit` makes it the
current content at once.

Names: a plain path or ``file@path`` (the file must exist, it may be empty), ``opt@path``
(a missing file is an empty list) and ``virt@name`` (memory only, never read from disk; the
prefix is part of the name).  The :class:`PatternStore` of a configuration holds them all.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count, repeat
from typing import Any, Protocol

from ..errors import ConfigError


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a large list is loaded or indexed: the millions of
    objects created would otherwise trigger collections that scan them all again and again
    (the objects hold no cycles; collection resumes after)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class PatternEntry:
    """One entry of a list: the pattern (``key``) and, for maps, its ``value``; ``gen`` is
    the version it belongs to and ``seq`` its rank in the list (entries added later have a
    larger ``seq``: the order "first declared" refers to)."""

    __slots__ = ("key", "value", "gen", "seq")

    def __init__(self, key: str, value: str | None = None, gen: int = 0, seq: int = 0
                 ) -> None:
        self.key = key
        self.value = value
        self.gen = gen
        self.seq = seq

    @property
    def ptr(self) -> str:
        """The entry's reference for the runtime API (``#<ptr>``)."""
        return f"0x{id(self):x}"

    def __repr__(self) -> str:
        return f"PatternEntry({self.key!r}, {self.value!r}, gen={self.gen}, seq={self.seq})"


class PatternListener(Protocol):
    """What a compiled matcher implements to follow a list incrementally (see
    :meth:`PatternRef.listen`).  Entries are given after the list has changed."""

    def pattern_added(self, version: int, entries: list[PatternEntry]) -> None: ...

    def pattern_removed(self, entries: list[PatternEntry]) -> None: ...

    def pattern_changed(self, entries: list[PatternEntry]) -> None: ...

    def pattern_cleared(self, version: int) -> None: ...

    def pattern_committed(self, version: int) -> None: ...


@dataclass(frozen=True)
class UsedBy:
    """Where the configuration uses a list."""

    kind: str  # "acl" or "map"
    file: str
    line: int


@dataclass(frozen=True)
class RefName:
    """A parsed list name: the key it is stored under, the file to read and how."""

    name: str
    path: str | None  # None for virt@ lists
    optional: bool = False


def parse_ref_name(text: str) -> RefName:
    """Split the ``file@``, ``opt@`` and ``virt@`` prefixes off a list name."""
    if text.startswith("virt@"):
        return RefName(text, None)
    if text.startswith("opt@"):
        return RefName(text[4:], text[4:], optional=True)
    if text.startswith("file@"):
        return RefName(text[5:], text[5:])
    return RefName(text, text)


#: one ACL file line: not starting with "#"; leading spaces and tabs skipped (possessive, so
#: that a line of blanks before a CR stays empty); the pattern runs to the first CR or LF
_ACL_LINE = re.compile(r"^(?!#)[ \t]*+([^\r\n]+)", re.M)

#: one map file line: spaces, the key (not starting with "#"), spaces, the value up to the
#: first CR or LF (the spaces are HAProxy's isspace() set, without LF which ends a line)
_MAP_LINE = re.compile(r"^[ \t\r\v\f]*+([^ \t\r\v\f\n#][^ \t\r\v\f\n]*)[ \t\r\v\f]*+([^\r\n]*)",
                       re.M)


def read_acl_lines(data: str) -> list[str]:
    """ACL file format: one pattern per line.  Lines starting with ``#`` and empty lines
    are ignored; leading spaces and tabs are stripped (after the ``#`` test, so a pattern
    starting with ``#`` is written with a space before it)."""
    return _ACL_LINE.findall(data)


_SPACES = " \t\n\r\v\f"


def split_map_line(line: str) -> tuple[str, str] | None:
    """Map file format: ``<key><spaces><value>``; the key ends at the first space or tab,
    the value runs to the end of the line.  None for comments and empty lines."""
    m = _MAP_LINE.match(line.split("\n", 1)[0])
    return None if m is None else (m.group(1), m.group(2))


def read_map_lines(data: str) -> list[tuple[str, str]]:
    """Every ``(key, value)`` of a map file, in order (one regex pass over the text)."""
    return _MAP_LINE.findall(data)


def _index_put(idx: dict[str, Any], entries: Iterable[PatternEntry]) -> None:
    """Add ``entries`` to a key index: a key's first entry alone, then the list of the
    entries sharing the key, in order."""
    for e in entries:
        cur = idx.get(e.key)
        if cur is None:
            idx[e.key] = e
        elif type(cur) is list:
            cur.append(e)
        else:
            idx[e.key] = [cur, e]


class PatternRef:
    """One list of patterns, shared by everything that names it.

    Each version holds its entries in an insertion-ordered dict (O(1) removal of an
    entry, order kept).  The current version also has an index by key, built the first
    time a key is looked up (``find``, ``delete``, ``set``) and kept up to date after."""

    def __init__(self, name: str, kind: str = "acl", *, display: str = "",
                 path: str | None = None, unique_id: int = -1) -> None:
        self.name = name
        #: "acl" or "map": the format the list was first loaded with
        self.kind = kind
        #: every kind of use ("acl", "map"); ``add acl`` is refused on a list used as a map
        self.kinds: set[str] = {kind}
        self.path = path
        self.unique_id = unique_id
        self.display = display
        self.used_by: list[UsedBy] = []
        self.curr_ver = 0
        self.next_ver = 0
        self._gens: dict[int, dict[PatternEntry, None]] = {0: {}}
        self._seq = count()
        #: key -> entry, or list of entries when the key is duplicated (current version)
        self._index: dict[str, PatternEntry | list[PatternEntry]] | None = None
        self._subscribers: list[Callable[[], None]] = []
        self._listeners: list[PatternListener] = []
        #: compiled matchers shared by the users of this list, keyed by their settings
        self.cache: dict[Any, Any] = {}

    # -- reading ------------------------------------------------------------------------------
    @property
    def entries(self) -> list[PatternEntry]:
        """The entries of the current version, in order (a copy)."""
        return list(self._gens.get(self.curr_ver, ()))

    def version_entries(self, version: int) -> list[PatternEntry]:
        return list(self._gens.get(version, ()))

    def __len__(self) -> int:
        return len(self._gens.get(self.curr_ver, ()))

    def __iter__(self) -> Iterator[PatternEntry]:
        return iter(self.entries)

    def key_index(self) -> dict[str, PatternEntry | list[PatternEntry]]:
        """The current version's entries by key: an entry, or the list of the entries
        sharing the key (first declared first).  Built on first use, then kept up to date
        by every change; a clear, replace or commit makes a new dict."""
        idx = self._index
        if idx is None:
            entries = self._gens.get(self.curr_ver, {})
            idx = {e.key: e for e in entries}
            if len(idx) != len(entries):  # duplicated keys: keep them all, in order
                idx = {}
                _index_put(idx, entries)
            self._index = idx
        return idx

    def _index_add(self, entries: Iterable[PatternEntry]) -> None:
        if self._index is not None:
            _index_put(self._index, entries)

    def _index_remove(self, entry: PatternEntry) -> None:
        idx = self._index
        if idx is None:
            return
        cur = idx.get(entry.key)
        if cur is entry:
            del idx[entry.key]
        elif type(cur) is list:
            cur.remove(entry)
            if len(cur) == 1:
                idx[entry.key] = cur[0]

    def find(self, key: str) -> list[PatternEntry]:
        """The current entries with this key, in order (a hash lookup)."""
        cur = self.key_index().get(key)
        if cur is None:
            return []
        return list(cur) if type(cur) is list else [cur]  # type: ignore[list-item]

    def find_ptr(self, ptr: str) -> PatternEntry | None:
        try:
            want = int(ptr, 16)
        except ValueError:
            return None
        for e in self._gens.get(self.curr_ver, ()):
            if id(e) == want:
                return e
        return None

    @property
    def is_map(self) -> bool:
        return "map" in self.kinds

    @property
    def description(self) -> str:
        """The text ``show acl`` / ``show map`` prints for this list."""
        if self.display:
            return self.display
        if not self.used_by:
            return f"pattern loaded from file '{self.path or self.name}'"
        first = self.used_by[0]
        text = (f"pattern loaded from file '{self.path or self.name}' used by {first.kind} "
                f"at file '{first.file}' line {first.line}")
        for use in self.used_by[1:]:
            text += f", by {use.kind} at file '{use.file}' line {use.line}"
        return text

    # -- changes -------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the current content changes."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def listen(self, listener: PatternListener) -> None:
        """Tell ``listener`` about every change, entry by entry (of pending versions too),
        so that it can update its structures instead of rebuilding them."""
        self._listeners.append(listener)

    @property
    def listeners(self) -> list[PatternListener]:
        """The listeners of the list (compiled matchers), in subscription order (a copy)."""
        return list(self._listeners)

    def unlisten(self, listener: PatternListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self, version: int | None = None) -> None:
        if version is not None and version != self.curr_ver:
            return
        for cb in list(self._subscribers):
            cb()

    def _check_version(self, version: int) -> None:
        if not self._in_range(version):
            raise ValueError("Version number out of range.")

    def _in_range(self, version: int) -> bool:
        return self.curr_ver <= version <= self.next_ver

    def add(self, key: str, value: str | None = None, *, version: int | None = None
            ) -> PatternEntry:
        ver = self.curr_ver if version is None else version
        self._check_version(ver)
        entry = PatternEntry(key, value, ver, next(self._seq))
        self._gens.setdefault(ver, {})[entry] = None
        if ver == self.curr_ver:
            self._index_add((entry,))
        for li in list(self._listeners):
            li.pattern_added(ver, [entry])
        self._changed(ver)
        return entry

    def add_many(self, items: Iterable[tuple[str, str | None]], *,
                 version: int | None = None) -> list[PatternEntry]:
        ver = self.curr_ver if version is None else version
        self._check_version(ver)
        seq = self._seq
        new = [PatternEntry(k, v, ver, s) for (k, v), s in zip(items, seq, strict=False)]
        gen = self._gens.setdefault(ver, {})
        gen.update(dict.fromkeys(new))
        if ver == self.curr_ver:
            self._index_add(new)
        if new:
            for li in list(self._listeners):
                li.pattern_added(ver, new)
            self._changed(ver)
        return new

    def _remove(self, entries: list[PatternEntry]) -> None:
        cur = self._gens.setdefault(self.curr_ver, {})
        for e in entries:
            del cur[e]
            self._index_remove(e)
        for li in list(self._listeners):
            li.pattern_removed(entries)
        self._changed()

    def delete(self, key: str) -> int:
        """Remove every current entry with this key; returns how many."""
        found = self.find(key)
        if found:
            self._remove(found)
        return len(found)

    def delete_entry(self, entry: PatternEntry) -> bool:
        if entry not in self._gens.get(self.curr_ver, ()):
            return False
        self._remove([entry])
        return True

    def _set(self, entries: list[PatternEntry], value: str) -> None:
        for e in entries:
            e.value = value
        for li in list(self._listeners):
            li.pattern_changed(entries)
        self._changed()

    def set(self, key: str, value: str) -> int:
        """Change the value of every current entry with this key; returns how many."""
        found = self.find(key)
        if found:
            self._set(found, value)
        return len(found)

    def set_entry(self, entry: PatternEntry, value: str) -> None:
        self._set([entry], value)

    def clear(self, version: int | None = None) -> None:
        """Drop every entry of a version (the current one by default)."""
        ver = self.curr_ver if version is None else version
        self._check_version(ver)
        self._gens[ver] = {}
        if ver == self.curr_ver:
            self._index = None
        for li in list(self._listeners):
            li.pattern_cleared(ver)
        self._changed(ver)

    def replace(self, items: Iterable[tuple[str, str | None]]) -> None:
        """Replace the current content at once."""
        ver = self.curr_ver
        items = list(items)
        keys, values = zip(*items, strict=True) if items else ((), ())
        new = list(map(PatternEntry, keys, values, repeat(ver), self._seq))
        self._gens[ver] = dict.fromkeys(new)
        self._index = None
        for li in list(self._listeners):
            li.pattern_cleared(ver)
            if new:
                li.pattern_added(ver, new)
        self._changed()

    # -- versions ------------------------------------------------------------------------------
    def prepare(self) -> int:
        """Allocate a new, empty, invisible version and return its number."""
        self.next_ver += 1
        self._gens[self.next_ver] = {}
        return self.next_ver

    def commit(self, version: int) -> None:
        """Make ``version`` the current content; older versions are discarded, newer
        prepared ones are kept."""
        self._check_version(version)
        for ver in list(self._gens):
            if ver < version:
                del self._gens[ver]
        self._gens.setdefault(version, {})
        changed = version != self.curr_ver
        self.curr_ver = version
        if changed:
            self._index = None
            for li in list(self._listeners):
                li.pattern_committed(version)
            self._changed()

    def __repr__(self) -> str:
        return f"PatternRef({self.name!r}, {self.kind}, {len(self)} entries)"


@dataclass
class PatternStore:
    """Every pattern list of one configuration (``config.patterns``)."""

    refs: list[PatternRef] = field(default_factory=list)
    _by_name: dict[str, PatternRef] = field(default_factory=dict)

    def get(self, name: str) -> PatternRef | None:
        """The list with this name (prefixes ``file@``/``opt@`` are not part of names), or
        its unique id written ``#<id>``."""
        if name.startswith("#"):
            try:
                return self.by_id(int(name[1:]))
            except ValueError:
                return None
        ref = self._by_name.get(name)
        if ref is None and not name.startswith("virt@"):
            ref = self._by_name.get(parse_ref_name(name).name)
        return ref

    def by_id(self, uid: int) -> PatternRef | None:
        self.assign_ids()
        for ref in self.refs:
            if ref.unique_id == uid:
                return ref
        return None

    def assign_ids(self) -> None:
        """Give every list without a ``-u`` id the next free number, in creation order."""
        taken = {r.unique_id for r in self.refs if r.unique_id >= 0}
        nxt = 0
        for ref in self.refs:
            if ref.unique_id >= 0:
                continue
            while nxt in taken:
                nxt += 1
            ref.unique_id = nxt
            taken.add(nxt)

    def _add(self, ref: PatternRef) -> PatternRef:
        if ref.unique_id >= 0 and any(r.unique_id == ref.unique_id for r in self.refs):
            raise ConfigError(f"the unique id '{ref.unique_id}' is already used by another "
                              "pattern list")
        self.refs.append(ref)
        if ref.name:
            self._by_name[ref.name] = ref
        return ref

    def new_inline(self, display: str, kind: str = "acl", unique_id: int = -1) -> PatternRef:
        """An unnamed list holding the patterns written on a configuration line."""
        return self._add(PatternRef("", kind, display=display, unique_id=unique_id))

    def load(self, name: str, ctx: Any = None, *, kind: str = "acl",
             unique_id: int = -1) -> PatternRef:
        """The list ``name``, read from its file the first time it is used.  ``kind`` is the
        file format ("acl": one pattern a line, "map": key and value).  Raises ConfigError
        when a required file cannot be read."""
        if not name:
            raise ConfigError("missing pattern file name")
        rn = parse_ref_name(name)
        ref = self._by_name.get(rn.name)
        if ref is None:
            with gc_paused():
                items = self._read(rn, kind)
                ref = self._add(PatternRef(rn.name, kind, path=rn.path, unique_id=unique_id))
                ref.replace(items)
        elif unique_id >= 0 and ref.unique_id != unique_id:
            if ref.unique_id >= 0:
                raise ConfigError(f"pattern list '{rn.name}' already has unique id "
                                  f"'{ref.unique_id}'")
            ref.unique_id = unique_id
        ref.kinds.add(kind)
        if ctx is not None:
            ref.used_by.append(UsedBy(kind, ctx.file, ctx.line))
        return ref

    @staticmethod
    def _read(rn: RefName, kind: str) -> list[tuple[str, str | None]]:
        if rn.path is None:
            return []
        try:
            with open(rn.path, "rb") as fh:
                data = fh.read().decode("latin-1")
        except FileNotFoundError:
            if rn.optional:
                return []
            raise ConfigError(f"failed to open pattern file <{rn.path}>") from None
        except OSError:
            raise ConfigError(f"failed to open pattern file <{rn.path}>") from None
        if kind == "map":
            return read_map_lines(data)
        return [(line, None) for line in read_acl_lines(data)]

    def __iter__(self) -> Iterator[PatternRef]:
        self.assign_ids()
        return iter(self.refs)
