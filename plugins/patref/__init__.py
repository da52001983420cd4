"""patref: HAProxy 3.2's Lua ``Patref`` class over the configuration's pattern lists.

``core.get_patref(name)`` gives a Patref over an ACL or map list (a file name, ``opt@``
file or ``virt@`` list) already known to the configuration, or nil.  Its changes go to the
shared :class:`~hapx.core.sample.patterns.PatternRef`, so the ACLs and ``map()``
converters using the list, and ``show acl`` / ``show map``, see them at once.

``prepare()`` opens a pending, empty version: ``add``/``add_bulk``/``del``/``set`` then
change it, invisibly, until ``commit()`` swaps it in at once (``giveup()`` drops it).
``event_sub({"PAT_REF_ADD", ...}, fn)`` calls ``fn(event, nil, sub, when)`` after each
change (as a Lua task, as HAProxy's event handlers).  The legacy ``core.add_acl``,
``core.del_acl``, ``core.set_map`` and ``core.del_map`` are provided too.

The API reaches Lua through the lua plugin's ``hapx_lua_api`` hook.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.plugins.lua.values import as_text

LUA = (Path(__file__).parent / "patref.lua").read_text()
EVENTS = ("PAT_REF_ADD", "PAT_REF_DEL", "PAT_REF_SET", "PAT_REF_CLEAR", "PAT_REF_COMMIT")


class _Watcher:
    """The PatternListener of one list that turns its changes into Lua events."""

    def __init__(self, bridge: Bridge, ref: Any) -> None:
        self.bridge, self.ref = bridge, ref
        self.subs: list[tuple[frozenset[str], Any, Any, int]] = []

    def fire(self, event: str) -> None:
        for types, fn, sub, _id in list(self.subs):
            if event in types:
                self.bridge.dispatch(fn, event, sub)

    def pattern_added(self, version: int, entries: list[Any]) -> None:
        self.fire("PAT_REF_ADD")

    def pattern_removed(self, entries: list[Any]) -> None:
        self.fire("PAT_REF_DEL")

    def pattern_changed(self, entries: list[Any]) -> None:
        self.fire("PAT_REF_SET")

    def pattern_cleared(self, version: int) -> None:
        self.fire("PAT_REF_CLEAR")

    def pattern_committed(self, version: int) -> None:
        self.fire("PAT_REF_COMMIT")


class Handle:
    """One Lua Patref object: the list and its pending version (None when none)."""

    __slots__ = ("ref", "pending")

    def __init__(self, ref: Any) -> None:
        self.ref = ref
        self.pending: list[list[Any]] | None = None


class Bridge:
    """The Python side of the Patref class (the ``H`` table of patref.lua)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.state = api.state
        self.watchers: dict[int, _Watcher] = {}
        self.next_id = 0

    def functions(self) -> dict[str, Any]:
        names = ("get", "name", "is_map", "add", "delete", "set", "purge", "prepare",
                 "commit", "giveup", "lookup", "items", "subscribe", "unsubscribe")
        return {n: getattr(self, n) for n in names}

    def _error(self, msg: str) -> Exception:
        from lupa.lua54 import LuaError

        return LuaError(msg)

    # -- lookups ---------------------------------------------------------------------------
    def get(self, name: Any) -> Any:
        ref = self.api.config.patterns.get(as_text(name))
        return None if ref is None else Handle(ref)

    @staticmethod
    def name(h: Handle) -> str:
        ref = h.ref
        return ref.name or ref.display

    @staticmethod
    def is_map(h: Handle) -> bool:
        return bool(h.ref.is_map)

    @staticmethod
    def lookup(h: Handle, key: Any) -> Any:
        found = h.ref.find(as_text(key))
        if not found:
            return None
        e = found[0]
        return e.value if h.ref.is_map else e.key

    def items(self, h: Handle) -> Any:
        """The current (key, value) pairs, first duplicate only, in order."""
        seen: dict[str, str] = {}
        for e in h.ref.entries:
            if e.key not in seen:
                seen[e.key] = e.value if h.ref.is_map else e.key
        lua = self.state.lua
        return lua.table_from([lua.table_from([k, v]) for k, v in seen.items()])

    # -- changes ---------------------------------------------------------------------------
    def add(self, h: Handle, key: Any, value: Any = None) -> bool:
        if value is None and "acl" not in h.ref.kinds:
            raise self._error("add: a map entry needs a value")
        k, v = as_text(key), (None if value is None else as_text(value))
        if h.pending is not None:
            h.pending.append([k, v])
        else:
            h.ref.add(k, v)
        return True

    def delete(self, h: Handle, key: Any) -> bool:
        k = as_text(key)
        if h.pending is not None:
            before = len(h.pending)
            h.pending[:] = [kv for kv in h.pending if kv[0] != k]
            return len(h.pending) != before
        return h.ref.delete(k) > 0

    def set(self, h: Handle, key: Any, value: Any, force: Any = None) -> bool:
        if not h.ref.is_map:
            raise self._error("set: only maps have values")
        k, v = as_text(key), as_text(value)
        if h.pending is not None:
            hits = [kv for kv in h.pending if kv[0] == k]
            for kv in hits:
                kv[1] = v
            if not hits and force:
                h.pending.append([k, v])
            return bool(hits) or bool(force)
        if h.ref.set(k, v) > 0:
            return True
        if force:
            h.ref.add(k, v)
            return True
        return False

    @staticmethod
    def purge(h: Handle) -> None:
        if h.pending is not None:
            h.pending = []
        else:
            h.ref.clear()

    @staticmethod
    def prepare(h: Handle) -> None:
        h.pending = []

    @staticmethod
    def commit(h: Handle) -> Any:
        if h.pending is None:
            return None, "no pending version: call prepare() first"
        items = [(k, v) for k, v in h.pending]
        h.pending = None
        ref = h.ref
        ver = ref.prepare()
        ref.add_many(items, version=ver)
        ref.commit(ver)
        return True

    @staticmethod
    def giveup(h: Handle) -> None:
        h.pending = None

    # -- events ----------------------------------------------------------------------------
    def subscribe(self, h: Handle, types: Any, fn: Any, sub: Any) -> int:
        words = [as_text(t) for t in (types.values() if hasattr(types, "values") else [types])]
        wanted: set[str] = set()
        for w in words:
            if w == "PAT_REF":
                wanted.update(EVENTS)
            elif w in EVENTS:
                wanted.add(w)
            else:
                raise self._error(f"event_sub: unknown event type '{w}'")
        w = self.watchers.get(id(h.ref))
        if w is None:
            w = self.watchers[id(h.ref)] = _Watcher(self, h.ref)
            h.ref.listen(w)
        self.next_id += 1
        w.subs.append((frozenset(wanted), fn, sub, self.next_id))
        return self.next_id

    def unsubscribe(self, sub_id: Any) -> None:
        for w in self.watchers.values():
            w.subs = [s for s in w.subs if s[3] != sub_id]

    def dispatch(self, fn: Any, event: str, sub: Any) -> None:
        """Run a subscriber as a Lua task of its own (it may block), after the change."""
        st = self.state
        when = int(time.time())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None

        async def run() -> None:
            from hapx.plugins.lua.runtime import alert

            co = st.start(fn, st.session_ms, event, None, sub, when)
            res = await st.drive(co, st.step_once(co))
            if res[0] == "error":
                alert(f"Lua event handler '{event}': runtime error: {res[1]}")

        if loop is not None:
            loop.create_task(run())
        else:  # body or init context: run at once (no blocking call allowed)
            co = st.start(fn, st.session_ms, event, None, sub, when)
            st.step_once(co)


@hookimpl(optionalhook=True)
def hapx_lua_api(api: Any) -> None:
    """core.get_patref, the Patref class and the legacy core.add_acl & co."""
    api.define(LUA, Bridge(api).functions())


__all__ = ["Bridge", "Handle"]
