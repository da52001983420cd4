"""Integer arithmetic as HAProxy does it: signed 64 bits, saturating instead of wrapping.

Each function takes the input value and the operand (both already ints) and returns the
result, exactly as ``src/sample.c`` computes it, including its corner cases (division by
zero gives the largest integer, ``LLONG_MIN / -1`` saturates, C truncating division).
"""

from __future__ import annotations

from hapx.core.sample.types import SINT_MAX, SINT_MIN

_MASK64 = (1 << 64) - 1


def wrap64(n: int) -> int:
    """Two's complement wrap to signed 64 bits (for bitwise operations)."""
    n &= _MASK64
    return n - (1 << 64) if n >> 63 else n


def add(a: int, b: int) -> int:
    r = a + b
    if r > SINT_MAX:
        return SINT_MAX
    if r < SINT_MIN:
        return SINT_MIN
    return r


def sub(a: int, b: int) -> int:
    if b == SINT_MIN:
        # -LLONG_MIN does not exist: add LLONG_MAX, then one more if there is room
        r = add(a, SINT_MAX)
        return r + 1 if r < SINT_MAX else r
    return add(a, -b)


def mul(a: int, b: int) -> int:
    if not a or not b:
        return 0
    r = a * b
    if r > SINT_MAX:
        return SINT_MAX
    if r < SINT_MIN:
        return SINT_MIN
    return r


def _c_div(a: int, b: int) -> int:
    """C division: the quotient is truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def div(a: int, b: int) -> int:
    if not b:
        return SINT_MAX
    if a == SINT_MIN and b == -1:
        return SINT_MAX
    return _c_div(a, b)


def mod(a: int, b: int) -> int:
    if not b:
        return 0
    if a == SINT_MIN and b == -1:
        return 0
    # C remainder: same sign as the dividend
    return a - b * _c_div(a, b)


def neg(a: int) -> int:
    return SINT_MAX if a == SINT_MIN else -a


def band(a: int, b: int) -> int:
    return wrap64(a & b)


def bor(a: int, b: int) -> int:
    return wrap64(a | b)


def bxor(a: int, b: int) -> int:
    return wrap64(a ^ b)


def cpl(a: int) -> int:
    return wrap64(~a)
