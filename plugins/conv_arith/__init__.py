"""Arithmetic, bitwise and boolean converters: add, sub, mul, div, mod, neg, and, or, xor,
cpl, bool, not, odd, even and iif.

Integers are signed 64 bits and saturate instead of wrapping, as in HAProxy.  The operand of
the binary operators is a number or a variable name (``add(txn.x)``), the variable being read
and cast to an integer each time the converter runs; a missing or non-numeric variable makes
the conversion fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, SmpType
from hapx.core.sample.cast import cast
from hapx.core.sample.types import Sample

from . import ops

_VAR_SCOPES = """  <value> can be a number or a variable name such as "txn.count"; the variable is
  read when the converter runs and cast to an integer.  Scopes: proc, sess, txn, req, res."""


def operand(arg: Any, strm: Any) -> int | None:
    """The integer value of a numeric argument: the number itself, or the current value of
    the variable it names cast to an integer (None when missing or not castable)."""
    if isinstance(arg, int):
        return arg
    smp = arg.get(strm)
    if smp is None:
        return None
    smp = cast(smp, SmpType.SINT)
    return None if smp is None else int(smp.value)


def _binary(fn: Callable[[int, int], int]) -> Callable[..., Sample | None]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
        b = operand(args[0], strm)
        if b is None:
            return None
        return Sample(SmpType.SINT, fn(int(smp.value), b), smp.flags)

    return process


def _unary(fn: Callable[[int], int]) -> Callable[..., Sample]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample:
        return Sample(SmpType.SINT, fn(int(smp.value)), smp.flags)

    return process


def _test(fn: Callable[[int], bool]) -> Callable[..., Sample]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample:
        return Sample(SmpType.BOOL, fn(int(smp.value)), smp.flags)

    return process


def _iif(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(SmpType.STR, args[0] if smp.value else args[1], smp.flags)


_VALUE = (Arg("value", ArgType.SINT, var_ok=True),)


def _binop(name: str, fn: Callable[[int, int], int], text: str) -> Converter:
    return Converter(name, process=_binary(fn), in_type=SmpType.SINT, out_type=SmpType.SINT,
                     args=_VALUE, doc=f"{name}(<value>)\n\n{text}\n{_VAR_SCOPES}")


def records() -> list[Converter]:
    sint, boolean = SmpType.SINT, SmpType.BOOL
    return [
        _binop("add", ops.add, "Adds <value> to the input integer; the result saturates at the "
               "signed 64-bit limits."),
        _binop("sub", ops.sub, "Subtracts <value> from the input integer, saturating."),
        _binop("mul", ops.mul, "Multiplies the input integer by <value>, saturating."),
        _binop("div", ops.div, "Divides the input integer by <value>, truncating toward zero. "
               "Dividing by zero returns the largest integer (2^63-1)."),
        _binop("mod", ops.mod, "Remainder of the division of the input integer by <value> "
               "(sign of the input). A zero <value> returns 0."),
        _binop("and", ops.band, "Bitwise AND of the input integer and <value>."),
        _binop("or", ops.bor, "Bitwise OR of the input integer and <value>."),
        _binop("xor", ops.bxor, "Bitwise exclusive OR of the input integer and <value>."),
        Converter("neg", process=_unary(ops.neg), in_type=sint, out_type=sint,
                  doc="neg\n\nNegates the input integer (-2^63 gives 2^63-1)."),
        Converter("cpl", process=_unary(ops.cpl), in_type=sint, out_type=sint,
                  doc="cpl\n\nOnes' complement of the input integer (flips all bits)."),
        Converter("bool", process=_test(lambda n: n != 0), in_type=sint, out_type=boolean,
                  doc="bool\n\nTrue if the input integer is not zero."),
        Converter("not", process=_test(lambda n: n == 0), in_type=sint, out_type=boolean,
                  doc="not\n\nTrue if the input integer is zero."),
        Converter("odd", process=_test(lambda n: bool(n & 1)), in_type=sint,
                  out_type=boolean, doc="odd\n\nTrue if the input integer is odd."),
        Converter("even", process=_test(lambda n: not n & 1), in_type=sint,
                  out_type=boolean, doc="even\n\nTrue if the input integer is even."),
        Converter("iif", process=_iif, in_type=boolean, out_type=SmpType.STR,
                  args=(Arg("true"), Arg("false")),
                  doc="iif(<true>,<false>)\n\nReturns the string <true> when the input boolean "
                      "is true, <false> otherwise.\n"
                      "  Example: http-request set-header x-proto %[ssl_fc,iif(https,http)]"),
    ]


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(*records())

