"""Setting a variable under conditions (the ``ifexists`` ... ``iflt`` words of set-var)."""

from __future__ import annotations

from enum import IntFlag
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import SmpType
from hapx.core.sample.types import Sample
from hapx.core.sample.vars import VarRef


class Cond(IntFlag):
    """Conditions of set-var (HAProxy's VF_COND_*)."""

    IFEXISTS = 1  # only if the variable already exists
    IFNOTEXISTS = 2  # only if it does not exist yet
    IFEMPTY = 4  # only if the sample is an empty string or binary
    IFNOTEMPTY = 8  # only if the sample is not empty (non-string samples never are)
    IFSET = 16  # only if the variable holds a value
    IFNOTSET = 32  # only if it holds none
    IFGT = 64  # only if the variable's integer is greater than the sample's
    IFLT = 128  # only if the variable's integer is less than the sample's


COND_NAMES: dict[str, Cond] = {c.name.lower(): c for c in Cond}  # type: ignore[union-attr]
NONE = Cond(0)


def parse_conds(words: list[str]) -> Cond:
    """The conditions named by ``words`` (raises ConfigError on an unknown one)."""
    conds = NONE
    for word in words:
        flag = COND_NAMES.get(word)
        if flag is None:
            raise ConfigError(f'unknown condition "{word}"')
        conds |= flag
    return conds


def store(var: VarRef, strm: Any, smp: Sample, conds: Cond = NONE) -> bool:
    """Store a copy of ``smp`` in ``var`` when every condition holds; True when stored."""
    if conds:
        cur = var.get(strm)
        if cur is None:
            if conds & Cond.IFEXISTS:
                return False
        elif conds & Cond.IFNOTEXISTS:
            return False
        is_set = cur is not None and cur.type != SmpType.ANY
        if (conds & Cond.IFSET and not is_set) or (conds & Cond.IFNOTSET and is_set):
            return False
        stringy = smp.type in (SmpType.STR, SmpType.BIN)
        if conds & Cond.IFEMPTY and (not stringy or smp.value):
            return False
        if conds & Cond.IFNOTEMPTY and stringy and not smp.value:
            return False
        if (conds & (Cond.IFGT | Cond.IFLT) and smp.type == SmpType.SINT
                and cur is not None and cur.type == SmpType.SINT):
            if conds & Cond.IFGT and not cur.value > smp.value:
                return False
            if conds & Cond.IFLT and not cur.value < smp.value:
                return False
    var.set(strm, Sample(smp.type, smp.value))
    return True
