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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass(eq=False)
class PatternEntry:
    """One entry of a list: the pattern (``key``) and, for maps, its ``value``."""

    key: str
    value: str | None = None
    gen: int = 0

    @property
    def ptr(self) -> str:
        """The entry's reference for the runtime API (``#<ptr>``)."""
        return f"0x{id(self):x}"


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


def read_acl_lines(data: str) -> list[str]:
    """ACL file format: one pattern per line.  Lines starting with ``#`` and empty lines
    are ignored; leading spaces and tabs are stripped (after the ``#`` test, so a pattern
    starting with ``#`` is written with a space before it)."""
    out = []
    for line in data.split("\n"):
        line = line.rstrip("\r")
        if line.startswith("#"):
            continue
        line = line.lstrip(" \t")
        cut = line.find("\r")
        if cut >= 0:
            line = line[:cut]
        if line:
            out.append(line)
    return out


_SPACES = " \t\n\r\v\f"


def split_map_line(line: str) -> tuple[str, str] | None:
    """Map file format: ``<key><spaces><value>``; the key ends at the first space or tab,
    the value runs to the end of the line.  None for comments and empty lines."""
    line = line.lstrip(_SPACES)
    if not line or line.startswith("#"):
        return None
    end = 0
    while end < len(line) and line[end] not in _SPACES:
        end += 1
    key = line[:end]
    rest = line[end:].lstrip(_SPACES)
    cut = len(rest)
    for stop in ("\n", "\r"):
        pos = rest.find(stop)
        if 0 <= pos < cut:
            cut = pos
    return key, rest[:cut]


def read_map_lines(data: str) -> list[tuple[str, str]]:
    return [kv for kv in (split_map_line(line) for line in data.split("\n")) if kv is not None]


class PatternRef:
    """One list of patterns, shared by everything that names it."""

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
        self._gens: dict[int, list[PatternEntry]] = {0: []}
        self._subscribers: list[Callable[[], None]] = []
        #: compiled matchers shared by the users of this list, keyed by their settings
        self.cache: dict[Any, Any] = {}

    # -- reading ------------------------------------------------------------------------------
    @property
    def entries(self) -> list[PatternEntry]:
        """The entries of the current version, in order."""
        return self._gens.get(self.curr_ver, [])

    def version_entries(self, version: int) -> list[PatternEntry]:
        return self._gens.get(version, [])

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[PatternEntry]:
        return iter(list(self.entries))

    def find(self, key: str) -> list[PatternEntry]:
        return [e for e in self.entries if e.key == key]

    def find_ptr(self, ptr: str) -> PatternEntry | None:
        for e in self.entries:
            if e.ptr == ptr.lower():
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
        entry = PatternEntry(key, value, ver)
        self._gens.setdefault(ver, []).append(entry)
        self._changed(ver)
        return entry

    def add_many(self, items: list[tuple[str, str | None]], *, version: int | None = None
                 ) -> None:
        ver = self.curr_ver if version is None else version
        self._check_version(ver)
        self._gens.setdefault(ver, []).extend(PatternEntry(k, v, ver) for k, v in items)
        self._changed(ver)

    def delete(self, key: str) -> int:
        """Remove every current entry with this key; returns how many."""
        cur = self.entries
        keep = [e for e in cur if e.key != key]
        removed = len(cur) - len(keep)
        if removed:
            self._gens[self.curr_ver] = keep
            self._changed()
        return removed

    def delete_entry(self, entry: PatternEntry) -> bool:
        cur = self.entries
        for i, e in enumerate(cur):
            if e is entry:
                del cur[i]
                self._changed()
                return True
        return False

    def set(self, key: str, value: str) -> int:
        """Change the value of every current entry with this key; returns how many."""
        count = 0
        for e in self.entries:
            if e.key == key:
                e.value = value
                count += 1
        if count:
            self._changed()
        return count

    def set_entry(self, entry: PatternEntry, value: str) -> None:
        entry.value = value
        self._changed()

    def clear(self, version: int | None = None) -> None:
        """Drop every entry of a version (the current one by default)."""
        ver = self.curr_ver if version is None else version
        self._check_version(ver)
        self._gens[ver] = []
        self._changed(ver)

    def replace(self, items: list[tuple[str, str | None]]) -> None:
        """Replace the current content at once."""
        self._gens[self.curr_ver] = [PatternEntry(k, v, self.curr_ver) for k, v in items]
        self._changed()

    # -- versions ------------------------------------------------------------------------------
    def prepare(self) -> int:
        """Allocate a new, empty, invisible version and return its number."""
        self.next_ver += 1
        self._gens[self.next_ver] = []
        return self.next_ver

    def commit(self, version: int) -> None:
        """Make ``version`` the current content; older versions are discarded, newer
        prepared ones are kept."""
        self._check_version(version)
        for ver in list(self._gens):
            if ver < version:
                del self._gens[ver]
        self._gens.setdefault(version, [])
        changed = version != self.curr_ver
        self.curr_ver = version
        if changed:
            self._changed()

    def __repr__(self) -> str:
        return f"PatternRef({self.name!r}, {self.kind}, {len(self.entries)} entries)"


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
            return list(read_map_lines(data))
        return [(line, None) for line in read_acl_lines(data)]

    def __iter__(self) -> Iterator[PatternRef]:
        self.assign_ids()
        return iter(self.refs)
