"""conv_encoding: base64, base64url, hex and big-endian dumps (expected outputs from
HAProxy 2.6 and the examples of its documentation)."""

from __future__ import annotations

import base64

import hapx.plugins.conv_encoding as plugin
import pytest
from hapx.core.errors import ConfigError
from hapx.core.loader import PluginSet
from hapx.core.records import Converter, SmpType
from hapx.core.registry import Registry
from hapx.core.sample.args import convert_args, split_args
from hapx.core.sample.types import Sample
from hapx.core.stream import Session, Stream

REG = Registry()
plugin.hapx_register_converters(REG.for_owner("conv_encoding", Converter))


def prepare(name: str, argtext: str) -> list:
    conv = REG.converter(name)
    assert conv is not None, name
    args = convert_args(conv.args, split_args(argtext), None, f"converter '{name}'")
    if conv.validate is not None:
        args = conv.validate(args, None) or args
    return args


def run(name: str, argtext: str, smp: Sample) -> Sample | None:
    return REG.converter(name).process(prepare(name, argtext), smp, Stream(sess=Session()))


def b(data: bytes) -> Sample:
    return Sample(SmpType.BIN, data)


def s(text: str) -> Sample:
    return Sample(SmpType.STR, text)


def test_registered_through_the_loader() -> None:
    plugins = PluginSet()
    assert plugins.add_plugin("conv_encoding", plugin)
    names = {r.name for r in plugins.registry.by_owner["conv_encoding"]}
    assert names == {"base64", "b64dec", "ub64enc", "ub64dec", "hex", "hex2i", "be2dec",
                     "be2hex", "htonl"}


def test_base64() -> None:
    assert run("base64", "", b(b"ab")) == s("YWI=")
    assert run("base64", "", b(b"abc")) == s("YWJj")
    assert run("base64", "", b(b"")) == s("")
    assert run("base64", "", b(bytes.fromhex("fbff"))) == s("+/8=")
    assert run("ub64enc", "", b(bytes.fromhex("fbff"))) == s("-_8")
    assert run("ub64enc", "", b(b"ab")) == s("YWI")


@pytest.mark.parametrize(("text", "expected"), [
    ("YWJj", b"abc"), ("YWI=", b"ab"), ("YW==", b"a"), ("", b""),
    ("Y===", b""),  # accepted by HAProxy, decodes to nothing
    ("YQ=", None), ("YW-_", None), ("YQ==YWJj", b"aabc"), ("YW=j", None), ("=AAA", None),
    ("Y", None),
])
def test_b64dec(text: str, expected: bytes | None) -> None:
    out = run("b64dec", "", s(text))
    assert (None if out is None else out.value) == expected
    if out is not None:
        assert out.type == SmpType.BIN


@pytest.mark.parametrize(("text", "expected"), [
    ("YWJj", b"abc"), ("YWI", b"ab"), ("YQ", b"a"), ("a-_b", bytes.fromhex("6befdb")),
    ("_-8", bytes.fromhex("ffef")), ("", b""), ("Y", None), ("YW+/", None),
    ("YWI=", b"ab"),
])
def test_ub64dec(text: str, expected: bytes | None) -> None:
    out = run("ub64dec", "", s(text))
    assert (None if out is None else out.value) == expected


def test_roundtrip() -> None:
    data = bytes(range(256))
    enc = run("ub64enc", "", b(data)).value
    assert enc == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert run("ub64dec", "", s(enc)).value == data
    assert run("b64dec", "", run("base64", "", b(data))).value == data


def test_hex_and_hex2i() -> None:
    assert run("hex", "", b(bytes.fromhex("00ff1a"))) == s("00FF1A")
    assert run("hex2i", "", s("1F")) == Sample(SmpType.SINT, 31)
    assert run("hex2i", "", s("abc")) == Sample(SmpType.SINT, 2748)
    assert run("hex2i", "", s("")) == Sample(SmpType.SINT, 0)
    assert run("hex2i", "", s("ffffffffffffffffff")) == Sample(SmpType.SINT, -1)
    assert run("hex2i", "", s("zz")) is None
    assert run("hex2i", "", s("-1")) is None


@pytest.mark.parametrize(("data", "args", "expected"), [
    ("01020304050607", ":,2", "258:772:1286:7"),
    ("01020304050607", "-,2,1", "258-772-1286"),
    ("01020304050607", ",2,1", "2587721286"),
    ("7f000001", ".,1", "127.0.0.1"),
    ("ffffffffffffffffff", ":,8", "18446744073709551615:255"),
    ("", ":,2", ""),
])
def test_be2dec(data: str, args: str, expected: str) -> None:
    assert run("be2dec", args, b(bytes.fromhex(data))) == s(expected)


@pytest.mark.parametrize(("data", "args", "expected"), [
    ("01020304050607", "", "01020304050607"),
    ("01020304050607", ":,2", "0102:0304:0506:07"),
    ("01020304050607", "--,2,1", "0102--0304--0506"),
    ("0102030405060708", ",3,1", "010203040506"),
    ("0102030405060708", ",3", "0102030405060708"),
    ("", ":,2", ""),
])
def test_be2hex(data: str, args: str, expected: str) -> None:
    assert run("be2hex", args, b(bytes.fromhex(data))) == s(expected)


def test_be2_arguments_checked() -> None:
    with pytest.raises(ConfigError, match=r"chunk_size out of \[1..8\] range \(9\)"):
        prepare("be2dec", ":,9")
    with pytest.raises(ConfigError, match=r"chunk_size out of \[1..8\] range \(0\)"):
        prepare("be2dec", ":")
    with pytest.raises(ConfigError, match=r"Unsupported truncate value \(2\)"):
        prepare("be2dec", ":,2,2")
    with pytest.raises(ConfigError, match=r"chunk_size needs to be positive \(0\)"):
        prepare("be2hex", ":")
    with pytest.raises(ConfigError, match=r"Unsupported truncate value \(3\)"):
        prepare("be2hex", ":,1,3")


def test_htonl() -> None:
    assert run("htonl", "", Sample(SmpType.SINT, 1)) == b(bytes.fromhex("00000001"))
    assert run("htonl", "", Sample(SmpType.SINT, -1)) == b(bytes.fromhex("ffffffff"))
    assert run("htonl", "", Sample(SmpType.SINT, 4294967297)) == b(bytes.fromhex("00000001"))
