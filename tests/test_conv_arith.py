"""conv_arith: arithmetic, bitwise and boolean converters (values checked against HAProxy
2.6 for the same expressions)."""

from __future__ import annotations

import hapx.plugins.conv_arith as plugin
import pytest
from hapx.core.errors import ConfigError
from hapx.core.loader import PluginSet
from hapx.core.records import Converter, SmpType
from hapx.core.registry import Registry
from hapx.core.sample.args import convert_args, split_args
from hapx.core.sample.types import SINT_MAX, SINT_MIN, Sample
from hapx.core.sample.vars import parse_var_name
from hapx.core.stream import Session, Stream

REG = Registry()
plugin.hapx_register_converters(REG.for_owner("conv_arith", Converter))


def run(name: str, argtext: str, value: object, strm: Stream | None = None,
        in_type: SmpType = SmpType.SINT) -> Sample | None:
    conv = REG.converter(name)
    assert conv is not None, name
    args = convert_args(conv.args, split_args(argtext), None, f"converter '{name}'")
    if conv.validate is not None:
        args = conv.validate(args, None) or args
    return conv.process(args, Sample(in_type, value), strm or Stream(sess=Session()))


def ival(name: str, argtext: str, value: int, strm: Stream | None = None) -> int | None:
    smp = run(name, argtext, value, strm)
    if smp is None:
        return None
    assert smp.type == SmpType.SINT
    return smp.value


@pytest.fixture
def strm() -> Stream:
    s = Stream(sess=Session())
    parse_var_name("txn.ten").set(s, Sample(SmpType.SINT, 10))
    parse_var_name("txn.zero").set(s, Sample(SmpType.SINT, 0))
    parse_var_name("txn.neg").set(s, Sample(SmpType.SINT, -3))
    parse_var_name("txn.num").set(s, Sample(SmpType.STR, "42abc"))
    parse_var_name("txn.word").set(s, Sample(SmpType.STR, "hello"))
    parse_var_name("sess.flag").set(s, Sample(SmpType.BOOL, True))
    return s


def test_registered_through_the_loader() -> None:
    plugins = PluginSet()
    assert plugins.add_plugin("conv_arith", plugin)
    names = {r.name for r in plugins.registry.by_owner["conv_arith"]}
    assert names == {"add", "sub", "mul", "div", "mod", "neg", "and", "or", "xor", "cpl",
                     "bool", "not", "odd", "even", "iif"}
    for rec in plugins.registry.by_owner["conv_arith"]:
        assert rec.owner == "conv_arith"
        assert rec.doc.splitlines()[0].startswith(rec.name)
        assert rec.doc.splitlines()[1] == ""


def test_types() -> None:
    assert REG.converter("add").in_type == SmpType.SINT
    assert REG.converter("add").out_type == SmpType.SINT
    assert REG.converter("odd").out_type == SmpType.BOOL
    assert REG.converter("iif").in_type == SmpType.BOOL
    assert REG.converter("iif").out_type == SmpType.STR


@pytest.mark.parametrize(("name", "arg", "value", "expected"), [
    ("add", "5", 10, 15),
    ("add", "1", SINT_MAX, SINT_MAX),
    ("add", "-1", SINT_MIN, SINT_MIN),
    ("sub", "1", SINT_MIN, SINT_MIN),
    ("sub", "-9223372036854775808", 5, SINT_MAX),
    ("sub", "-9223372036854775808", -5, 9223372036854775803),
    ("sub", "3", 10, 7),
    ("mul", "2", 4611686018427387904, SINT_MAX),
    ("mul", "-2", 4611686018427387904, SINT_MIN),
    ("mul", "2", -4611686018427387904, SINT_MIN),
    ("mul", "-1", SINT_MIN, SINT_MAX),
    ("mul", "0", SINT_MIN, 0),
    ("div", "2", 7, 3),
    ("div", "2", -7, -3),
    ("div", "0", 7, SINT_MAX),
    ("div", "0", -7, SINT_MAX),
    ("div", "-1", SINT_MIN, SINT_MAX),
    ("mod", "2", -7, -1),
    ("mod", "-2", 7, 1),
    ("mod", "0", 7, 0),
    ("mod", "-1", SINT_MIN, 0),
    ("and", "10", 12, 8),
    ("or", "3", 12, 15),
    ("xor", "10", 12, 6),
    ("and", "-1", -5, -5),
])
def test_binary_operators(name: str, arg: str, value: int, expected: int) -> None:
    assert ival(name, arg, value) == expected


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("neg", 5, -5), ("neg", SINT_MIN, SINT_MAX), ("neg", 0, 0),
    ("cpl", 0, -1), ("cpl", 5, -6), ("cpl", SINT_MIN, SINT_MAX),
])
def test_unary(name: str, value: int, expected: int) -> None:
    assert ival(name, "", value) == expected


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("bool", 5, True), ("bool", 0, False), ("not", 0, True), ("not", -2, False),
    ("odd", 3, True), ("odd", -3, True), ("odd", 4, False),
    ("even", -4, True), ("even", 7, False), ("even", 0, True),
])
def test_booleans(name: str, value: int, expected: bool) -> None:
    smp = run(name, "", value)
    assert smp == Sample(SmpType.BOOL, expected)


def test_operand_from_variable(strm: Stream) -> None:
    assert ival("add", "txn.ten", 10, strm) == 20
    assert ival("div", "txn.zero", 7, strm) == SINT_MAX
    assert ival("mul", "txn.neg", -3, strm) == 9
    assert ival("xor", "txn.ten", 12, strm) == 6
    # a string variable is cast like HAProxy does: leading digits
    assert ival("add", "txn.num", 10, strm) == 52
    # a non-numeric string casts to 0, a boolean to 0/1
    assert ival("add", "txn.word", 10, strm) == 10
    assert ival("add", "sess.flag", 10, strm) == 11
    # a variable read at run time: changes are seen
    parse_var_name("txn.ten").set(strm, Sample(SmpType.SINT, 1))
    assert ival("add", "txn.ten", 10, strm) == 11


def test_missing_variable_fails(strm: Stream) -> None:
    assert run("add", "txn.nope", 10, strm) is None
    assert run("and", "req.nope", 10, strm) is None


def test_bad_operand_is_a_config_error() -> None:
    conv = REG.converter("add")
    with pytest.raises(ConfigError, match="expects an integer or a variable name"):
        convert_args(conv.args, ["abc"], None, "converter 'add'")
    with pytest.raises(ConfigError, match="invalid arg 1 in converter .add."):
        convert_args(conv.args, [], None, "converter 'add'")


def test_iif() -> None:
    assert run("iif", "https,http", True, in_type=SmpType.BOOL) == Sample(SmpType.STR, "https")
    assert run("iif", "https,http", False, in_type=SmpType.BOOL) == Sample(SmpType.STR, "http")
    assert run("iif", "yes,", False, in_type=SmpType.BOOL) == Sample(SmpType.STR, "")
