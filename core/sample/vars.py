"""Variable names: ``<scope>.<name>`` and where each scope is stored.

========  =================================================
proc      ``strm.proc.vars`` (process-wide)
sess      ``strm.sess.vars`` (the client connection)
txn       ``strm.txn_vars`` (the transaction)
req/res   ``strm.req_vars`` / ``strm.res_vars``
check     ``strm.ext["check_vars"]`` (health checks)
========  =================================================

Values are stored as :class:`~hapx.core.sample.types.Sample` under the name without its
scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from ..stream import ProcState
from .types import Sample

SCOPES = ("proc", "sess", "txn", "req", "res", "check")
_BAD_CHAR = re.compile(r"[^a-zA-Z0-9._]")

#: proc-scoped variables used when a stream carries no process state (configuration time)
DEFAULT_PROC = ProcState()


def _proc(strm: Any) -> dict[str, Any]:
    proc = getattr(strm, "proc", None) if strm is not None else None
    return (proc or DEFAULT_PROC).vars


# the stream attribute holding each scope (C-level getters: no Python frame per access)
_sess = attrgetter("sess.vars")
_txn = attrgetter("txn_vars")
_req = attrgetter("req_vars")
_res = attrgetter("res_vars")


def _check(strm: Any) -> dict[str, Any]:
    return strm.ext.setdefault("check_vars", {})


_STORES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "proc": _proc, "sess": _sess, "txn": _txn, "req": _req, "res": _res, "check": _check,
}


class VarRef:
    """A resolved variable name: ``get``/``set``/``unset`` on a stream."""

    __slots__ = ("scope", "name", "_store")

    def __init__(self, scope: str, name: str) -> None:
        self.scope = scope
        self.name = name
        self._store = _STORES[scope]

    @property
    def store_of(self) -> Callable[[Any], dict[str, Any]]:
        """The function giving the dict that holds this scope's variables of a stream."""
        return self._store

    @property
    def full_name(self) -> str:
        return f"{self.scope}.{self.name}"

    def get(self, strm: Any) -> Sample | None:
        return self._store(strm).get(self.name)

    def set(self, strm: Any, smp: Sample) -> None:
        self._store(strm)[self.name] = smp

    def unset(self, strm: Any) -> None:
        self._store(strm).pop(self.name, None)

    def __repr__(self) -> str:
        return f"VarRef({self.full_name!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, VarRef) and other.scope == self.scope
                and other.name == self.name)

    def __hash__(self) -> int:
        return hash((self.scope, self.name))


def parse_var_name(text: str) -> VarRef:
    """``txn.foo`` -> VarRef; raises ValueError with HAProxy's message on a bad name."""
    if not text:
        raise ValueError("Empty variable name cannot be accepted")
    scope, dot, name = text.partition(".")
    if not dot or scope not in SCOPES:
        raise ValueError(
            f"invalid variable name '{text}'. A variable name must be start by its scope. "
            "The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'")
    if not name:
        raise ValueError("Empty variable name cannot be accepted")
    bad = _BAD_CHAR.search(name)
    if bad:
        raise ValueError(f"invalid syntax at char '{name[bad.start():]}'")
    return VarRef(scope, name)
