"""Helpers shared by the string converters: argument checks and variable reading."""

from __future__ import annotations

from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import SmpType
from hapx.core.sample.cast import cast
from hapx.core.sample.types import Sample
from hapx.core.sample.vars import VarRef, parse_var_name


def text(v: Any) -> str:
    return v.decode("latin-1") if isinstance(v, bytes) else str(v)


def raw(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("latin-1")


def var_arg(name: str, *, required: bool) -> VarRef | None:
    """Resolve a variable-name argument at parse time (None for an empty optional one)."""
    if not name:
        if required:
            raise ConfigError("missing variable name")
        return None
    try:
        return parse_var_name(name)
    except ValueError:
        raise ConfigError(f"failed to register variable name '{name}'") from None


def read_var(ref: VarRef | None, strm: Any, to: SmpType) -> Sample | None:
    """The variable's current value cast to ``to``, or None (unset or not castable)."""
    if ref is None:
        return None
    smp = ref.get(strm)
    return None if smp is None else cast(smp, to)


def operand(arg: Any, strm: Any) -> int | None:
    """A numeric argument: the integer itself or the named variable cast to an integer."""
    if arg is None or isinstance(arg, int):
        return arg
    smp = read_var(arg, strm, SmpType.SINT)
    return None if smp is None else int(smp.value)
