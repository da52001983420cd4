"""What a parsed configuration is made of: the global settings, the proxies and the sections
that plugins own.  Plugins keep their own data in ``settings`` (keyed by keyword) and ``ext``
(keyed by plugin name); the kernel only knows the structure.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

from ..errors import Diagnostics
from ..records import ActionRule, Point

PROXY_NAME = re.compile(r"[A-Za-z0-9_.:-]+\Z")

#: section kinds that declare proxies, and what they are
FRONTEND_KINDS = frozenset({"frontend", "listen"})
BACKEND_KINDS = frozenset({"backend", "listen"})
PROXY_KINDS = frozenset({"frontend", "backend", "listen"})

#: convenient scopes for Directive.sections
ALL_PROXIES = frozenset({"defaults", "frontend", "backend", "listen"})
FE_PROXIES = frozenset({"defaults", "frontend", "listen"})
BE_PROXIES = frozenset({"defaults", "backend", "listen"})
GLOBAL = frozenset({"global"})


class Cap(IntFlag):
    """Capabilities of a proxy."""

    FE = 1
    BE = 2
    DEF = 4
    LISTEN = FE | BE


_KIND_CAP = {"frontend": Cap.FE, "backend": Cap.BE, "listen": Cap.LISTEN, "defaults": Cap.DEF}


_IMMUTABLE = (str, int, float, bool, bytes, type(None))


def _copy_value(value: Any) -> Any:
    """copy.deepcopy for what defaults sections hold, faster on the common shapes: dicts
    and lists are copied, plain immutable values shared, anything else deep-copied.  A
    proxy is declared thousands of times in large configurations."""
    if isinstance(value, _IMMUTABLE):
        return value
    cls = value.__class__
    if cls is dict:
        return {k: _copy_value(v) for k, v in value.items()}
    if cls is list:
        return [_copy_value(v) for v in value]
    if cls is tuple and all(isinstance(v, _IMMUTABLE) for v in value):
        return value
    return copy.deepcopy(value)


@dataclass
class Rule:
    """One rule of a rule set: its action, its condition and where it was written."""

    ruleset: str
    keyword: str
    action: ActionRule
    cond: Any = None  # a compiled condition, or None for "always"
    file: str = ""
    line: int = 0
    #: the compiled runners of the rule lists starting with this rule (core/rules.py):
    #: id(list) -> (list, its length, runner)
    runners: dict[int, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class Proxy:
    """A frontend, backend, listen or defaults section."""

    name: str
    kind: str
    file: str = ""
    line: int = 0
    defaults: Proxy | None = None
    mode: str = "tcp"
    options: dict[str, bool] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, list[Rule]] = field(default_factory=dict)
    acls: dict[str, Any] = field(default_factory=dict)
    binds: list[Any] = field(default_factory=list)
    servers: list[Any] = field(default_factory=list)
    ext: dict[str, Any] = field(default_factory=dict)
    uuid: int = 0
    #: set for defaults sections that carry rules, naming the first capability that used them
    used_by: set[str] = field(default_factory=set)
    #: called with each Stream when it ends, once its timers and counters are final (the
    #: logs plugin appends its log emitter here; any plugin may add observers)
    stream_end: list[Callable[[Any], None]] = field(default_factory=list)

    @property
    def cap(self) -> Cap:
        return _KIND_CAP[self.kind]

    @property
    def is_frontend(self) -> bool:
        return self.kind in FRONTEND_KINDS

    @property
    def is_backend(self) -> bool:
        return self.kind in BACKEND_KINDS

    @property
    def is_defaults(self) -> bool:
        return self.kind == "defaults"

    def describe(self) -> str:
        return f"{self.kind} '{self.name}'"

    def inherit(self, defaults: Proxy) -> None:
        """Copy what a defaults section sets, as HAProxy does when the proxy is declared."""
        self.defaults = defaults
        self.mode = defaults.mode
        self.options = dict(defaults.options)
        self.timeouts = dict(defaults.timeouts)
        self.settings = _copy_value(defaults.settings)
        self.ext = _copy_value(defaults.ext)
        self.rules = {k: list(v) for k, v in defaults.rules.items()}

    def add_rule(self, rule: Rule) -> None:
        self.rules.setdefault(rule.ruleset, []).append(rule)

    def server(self, name: str) -> Any:
        for srv in self.servers:
            if getattr(srv, "name", None) == name:
                return srv
        return None

    # rule sets whose samples are evaluated on the frontend or backend side
    def point(self, frontend_point: Point, backend_point: Point) -> Point:
        """The evaluation point for a rule written in this proxy."""
        if self.kind == "backend":
            return backend_point
        if self.kind == "frontend":
            return frontend_point
        return frontend_point | backend_point


@dataclass
class GlobalSettings:
    """The ``global`` section (several ``global`` sections merge into this one)."""

    settings: dict[str, Any] = field(default_factory=dict)
    ext: dict[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0

    def describe(self) -> str:
        return "global section"


@dataclass
class InactiveUse:
    """A keyword whose runtime is not available yet, used at file:line."""

    keyword: str
    kind: str
    owner: str
    file: str
    line: int


@dataclass
class Deferred:
    """A check that needs the whole configuration, reported at the line that asked for it."""

    fn: Callable[[Config], None]
    file: str
    line: int
    keyword: str


@dataclass
class Config:
    """One loaded configuration."""

    registry: Any
    diag: Diagnostics
    plugins: Any = None
    #: the plugins' command-line options (``hapx_add_options``), when run from the command
    #: line: an argparse Namespace; None otherwise
    options: Any = None
    files: list[str] = field(default_factory=list)
    global_: GlobalSettings = field(default_factory=GlobalSettings)
    defaults: dict[str, Proxy] = field(default_factory=dict)
    proxies: list[Proxy] = field(default_factory=list)
    #: plugin sections: kind -> name -> object returned by the section's parse_header
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    inactive: list[InactiveUse] = field(default_factory=list)
    deferred: list[Deferred] = field(default_factory=list)
    #: listeners declared outside proxies' ``binds`` (peers, log-forward, stats socket ...)
    extra_listeners: int = 0
    #: data shared by plugins across sections, keyed by plugin name
    ext: dict[str, Any] = field(default_factory=dict)
    _patterns: Any = None
    _by_name: dict[str, list[tuple[int, Proxy]]] | None = field(default=None, repr=False)
    _indexed: int = field(default=0, repr=False)

    @property
    def patterns(self) -> Any:
        """The pattern lists (ACL and map files, ``virt@`` lists) of this configuration."""
        if self._patterns is None:
            from ..sample.patterns import PatternStore

            self._patterns = PatternStore()
        return self._patterns

    def named(self, name: str) -> list[Proxy]:
        """The proxies called ``name``, in declaration order (a hash lookup; proxies
        appended since the last call are indexed first, and the index is rebuilt if
        ``proxies`` was changed otherwise)."""
        index = self._by_name
        proxies = self.proxies
        if index is None or self._indexed > len(proxies):
            index = self._index_from(0)
        elif self._indexed < len(proxies):
            index = self._index_from(self._indexed)
        found = index.get(name)
        if not found:
            return []
        for i, px in found:
            if i >= len(proxies) or proxies[i] is not px or px.name != name:
                found = self._index_from(0).get(name) or []
                break
        return [px for _, px in found]

    def _index_from(self, start: int) -> dict[str, list[tuple[int, Proxy]]]:
        index = self._by_name if start and self._by_name is not None else {}
        for i in range(start, len(self.proxies)):
            px = self.proxies[i]
            index.setdefault(px.name, []).append((i, px))
        self._by_name = index
        self._indexed = len(self.proxies)
        return index

    def frontend(self, name: str) -> Proxy | None:
        for px in self.named(name):
            if px.is_frontend:
                return px
        return None

    def backend(self, name: str) -> Proxy | None:
        for px in self.named(name):
            if px.is_backend:
                return px
        return None

    def proxy(self, name: str) -> Proxy | None:
        found = self.named(name)
        return found[0] if found else None

    @property
    def frontends(self) -> list[Proxy]:
        return [p for p in self.proxies if p.is_frontend]

    @property
    def backends(self) -> list[Proxy]:
        return [p for p in self.proxies if p.is_backend]

    def listener_count(self) -> int:
        return sum(len(p.binds) for p in self.proxies) + self.extra_listeners
