"""The hash functions of ``hash-type`` (HAProxy's ``gen_hash`` and ``full_hash``).

``make_hasher(function, avalanche)`` returns ``bytes -> unsigned 32-bit int``: sdbm, djb2,
wt6 and crc32 as in HAProxy's ``src/hash.c`` (shared with the hash converters); ``none``
reads the key as a decimal integer (HAProxy's ``read_int64``, keeping the low 32 bits);
``avalanche`` applies the 4-byte full avalanche hash to the result.
"""

from __future__ import annotations

from collections.abc import Callable

from hapx.plugins.conv_hash.hashes import crc32, djb2, full_hash, sdbm, wt6

_M32 = 0xFFFFFFFF
_I64_MAX = (1 << 63) - 1
_I64_MIN = -(1 << 63)
_U64_MAX = (1 << 64) - 1


def read_int64(data: bytes) -> int:
    """HAProxy's ``read_int64``: an optional sign, then the decimal digits up to the first
    other byte; the unsigned 64-bit value saturates, then is clamped to a signed one."""
    neg = data[:1] == b"-"
    pos = 1 if data[:1] in (b"-", b"+") else 0
    value = 0
    for c in data[pos:]:
        if not 48 <= c <= 57:
            break
        value = value * 10 + (c - 48)
        if value > _U64_MAX:
            value = _U64_MAX
            break
    if neg:
        return _I64_MIN if value > -_I64_MIN else -value
    return min(value, _I64_MAX)


def hash_none(data: bytes) -> int:
    """``none``: the key itself, read as an integer (low 32 bits)."""
    return read_int64(data) & _M32


FUNCTIONS: dict[str, Callable[[bytes], int]] = {
    "sdbm": sdbm, "djb2": djb2, "wt6": wt6, "crc32": crc32, "none": hash_none,
}


def make_hasher(function: str = "sdbm", avalanche: bool = False) -> Callable[[bytes], int]:
    """The hash of a key for the backend's ``hash-type``."""
    fn = FUNCTIONS[function]
    if not avalanche:
        return fn

    def hashed(data: bytes) -> int:
        return full_hash(fn(data))

    return hashed


__all__ = ["FUNCTIONS", "full_hash", "hash_none", "make_hasher", "read_int64"]
