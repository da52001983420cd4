"""Sample values.

A :class:`Sample` carries a type (:class:`~hapx.core.records.SmpType`) and a Python value:

========  ==========================================
BOOL      ``bool``
SINT      ``int`` (saturated to signed 64 bits by producers)
IPV4      ``ipaddress.IPv4Address``
IPV6      ``ipaddress.IPv6Address``
STR       ``str`` holding bytes as latin-1 characters (one char per byte)
BIN       ``bytes``
METH      ``str`` (the method name)
========  ==========================================
"""

from __future__ import annotations

from typing import Any

from ..records import SmpType

#: the value may change later (more data may arrive): ACLs answer "unknown"
F_MAY_CHANGE = 1
#: the value is constant (known at configuration time)
F_CONST = 2
#: more values follow for this fetch (multi-valued fetches)
F_NOT_LAST = 4

SINT_MAX = 2**63 - 1
SINT_MIN = -(2**63)


class Sample:
    """One typed value."""

    __slots__ = ("type", "value", "flags")

    def __init__(self, type: SmpType, value: Any, flags: int = 0) -> None:
        self.type = type
        self.value = value
        self.flags = flags

    def __repr__(self) -> str:
        return f"Sample({self.type.name}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Sample) and self.type == other.type
                and self.value == other.value)

    def __hash__(self) -> int:
        return hash((self.type, self.value))


def saturate(n: int) -> int:
    """Clamp to the signed 64-bit range, as HAProxy's integer samples are."""
    if n > SINT_MAX:
        return SINT_MAX
    if n < SINT_MIN:
        return SINT_MIN
    return n


def smp_bool(v: bool) -> Sample:
    return Sample(SmpType.BOOL, bool(v))


def smp_int(v: int) -> Sample:
    return Sample(SmpType.SINT, saturate(int(v)))


def smp_str(v: str) -> Sample:
    return Sample(SmpType.STR, v)


def smp_bin(v: bytes) -> Sample:
    return Sample(SmpType.BIN, bytes(v))
