"""conv_hash: hash and digest converters.  Expected values come from HAProxy 2.6 running
the same expressions (``str(abc),crc32`` ...) and from the published test vectors."""

from __future__ import annotations

import hashlib
import hmac
import zlib

import hapx.plugins.conv_hash as plugin
import pytest
from hapx.core.errors import ConfigError
from hapx.core.loader import PluginSet
from hapx.core.records import Converter, SmpType
from hapx.core.registry import Registry
from hapx.core.sample.args import convert_args, split_args
from hapx.core.sample.types import Sample
from hapx.core.sample.vars import parse_var_name
from hapx.core.stream import Session, Stream
from hapx.plugins.conv_hash import hashes

REG = Registry()
plugin.hapx_register_converters(REG.for_owner("conv_hash", Converter))


def prepare(name: str, argtext: str) -> list:
    conv = REG.converter(name)
    assert conv is not None, name
    args = convert_args(conv.args, split_args(argtext), None, f"converter '{name}'")
    if conv.validate is not None:
        args = conv.validate(args, None) or args
    return args


def run(name: str, argtext: str, data: bytes, strm: Stream | None = None) -> Sample | None:
    conv = REG.converter(name)
    args = prepare(name, argtext)
    return conv.process(args, Sample(SmpType.BIN, data), strm or Stream(sess=Session()))


def value(name: str, argtext: str, data: bytes, strm: Stream | None = None) -> object:
    smp = run(name, argtext, data, strm)
    return None if smp is None else smp.value


def test_registered_through_the_loader() -> None:
    plugins = PluginSet()
    assert plugins.add_plugin("conv_hash", plugin)
    names = {r.name for r in plugins.registry.by_owner["conv_hash"]}
    assert names == {"crc32", "crc32c", "djb2", "sdbm", "wt6", "xxh3", "xxh32", "xxh64",
                     "sha1", "sha2", "digest", "hmac"}
    for rec in plugins.registry.by_owner["conv_hash"]:
        assert rec.in_type == SmpType.BIN
        assert rec.doc.splitlines()[1] == ""


# values printed by HAProxy 2.6 for the same input
@pytest.mark.parametrize(("name", "arg", "data", "expected"), [
    ("crc32", "", b"abc", 891568578),
    ("djb2", "", b"abc", 193485963),
    ("wt6", "", b"abc", 2483038440),
    ("sdbm", "", b"abc", 807794786),
    ("crc32c", "", b"abc", 910901175),
    ("crc32", "1", b"abc", 930845320),
    ("djb2", "1", b"abc", 2235766107),
    ("sdbm", "1", b"abc", 659243622),
    ("crc32c", "1", b"abc", 1285784220),
    ("wt6", "1", b"abc", 266135527),
    ("wt6", "", bytes.fromhex("00ff80fe7f"), 2817194905),
    ("djb2", "", bytes.fromhex("00ff80fe7f"), 143464065),
    ("sdbm", "", bytes.fromhex("00ff80fe7f"), 2555375042),
    ("crc32", "", bytes.fromhex("00ff80fe7f"), 3013036786),
    ("crc32c", "", bytes.fromhex("00ff80fe7f"), 2040282601),
    ("djb2", "", b"abcdefghijklmnopqrstuvwxyz0123456789", 2001498641),
    ("crc32", "", b"", 0),
    ("crc32", "1", b"", 2874071335),
    ("wt6", "", b"", 4187620192),
    ("djb2", "", b"", 5381),
    ("sdbm", "", b"", 0),
    ("crc32c", "", b"", 0),
    ("xxh32", "", b"abc", 852579327),
    ("xxh32", "5", b"abc", 1562728233),
    ("xxh32", "", b"", 46947589),
    ("xxh64", "", b"abc", 4952883123889572249),
    ("xxh64", "-1", b"abc", 2895935887265243510),
    ("xxh64", "12345", b"abc", 103598618232108297),
    ("xxh64", "", b"", -1205034819632174695),
])
def test_hashes_match_haproxy(name: str, arg: str, data: bytes, expected: int) -> None:
    smp = run(name, arg, data)
    assert smp == Sample(SmpType.SINT, expected)


def test_independent_references() -> None:
    data = bytes(range(256)) * 3
    assert value("crc32", "", data) == zlib.crc32(data)
    # CRC-32C check value (RFC 3720 / iSCSI): "123456789" -> 0xE3069283
    assert value("crc32c", "", b"123456789") == 0xE3069283
    # djb2 and sdbm by their textbook definitions
    h = 5381
    for c in data:
        h = (h * 33 + c) % 2**32
    assert value("djb2", "", data) == h
    h = 0
    for c in data:
        h = (c + h * 65599) % 2**32
    assert value("sdbm", "", data) == h
    # XXH3 64-bit of the empty input, seed 0 (xxHash test vector 0x2D06800538D394C2)
    assert value("xxh3", "", b"") == 0x2D06800538D394C2
    # XXH64("", 0) = 0xEF46DB3751D8E999, returned signed
    assert value("xxh64", "", b"") == 0xEF46DB3751D8E999 - 2**64


def test_avalanche_is_full_hash() -> None:
    assert hashes.full_hash(0) == 2874071335  # crc32("") avalanched, from HAProxy
    assert value("djb2", "1", b"abc") == hashes.full_hash(value("djb2", "", b"abc"))
    assert value("djb2", "0", b"abc") == value("djb2", "", b"abc")


def test_xxh3_signed_and_seeded() -> None:
    a = value("xxh3", "", b"abc")
    b = value("xxh3", "1", b"abc")
    assert isinstance(a, int) and -(2**63) <= a < 2**63
    assert a != b


def test_digests() -> None:
    assert value("sha1", "", b"abc").hex().upper() == "A9993E364706816ABA3E25717850C26C9CD0D89D"
    assert value("sha2", "", b"abc") == hashlib.sha256(b"abc").digest()
    assert value("sha2", "224", b"abc").hex().upper() == \
        "23097D223405D8228642A477BDA255B32AADBCE4BDA0B3F7E36C9DA7"
    assert value("sha2", "384", b"abc") == hashlib.sha384(b"abc").digest()
    assert value("sha2", "512", b"abc") == hashlib.sha512(b"abc").digest()
    assert value("digest", "md5", b"abc").hex().upper() == "900150983CD24FB0D6963F7D28E17F72"
    assert value("digest", "SHA384", b"abc") == hashlib.sha384(b"abc").digest()
    assert run("sha1", "", b"abc").type == SmpType.BIN


def test_digest_arguments_checked() -> None:
    with pytest.raises(ConfigError, match="Unsupported number of bits: '128'"):
        prepare("sha2", "128")
    with pytest.raises(ConfigError, match="valid OpenSSL message digest name"):
        prepare("digest", "nope")
    with pytest.raises(ConfigError, match="valid OpenSSL message digest name"):
        prepare("hmac", "nope,c2VjcmV0")
    with pytest.raises(ConfigError, match="base64"):
        prepare("hmac", "sha256,abc")


def test_hmac_constant_and_variable_keys() -> None:
    expected = "9946DAD4E00E913FC8BE8E5D3F7E110A4A9E832F83FB09C345285D78638D8A0E"
    assert value("hmac", "sha256,c2VjcmV0", b"abc").hex().upper() == expected
    strm = Stream(sess=Session())
    parse_var_name("txn.key").set(strm, Sample(SmpType.STR, "c2VjcmV0"))
    parse_var_name("txn.bad").set(strm, Sample(SmpType.STR, "hello"))
    assert value("hmac", "sha1,txn.key", b"abc", strm).hex().upper() == \
        "694ABD10842D161DDBC54DF8A0D57CF64D0DBCC9"
    assert value("hmac", "sha256,txn.key", b"abc", strm) == \
        hmac.new(b"secret", b"abc", "sha256").digest()
    # not base64 at run time, or not set: no sample
    assert run("hmac", "sha256,txn.bad", b"abc", strm) is None
    assert run("hmac", "sha256,txn.none", b"abc", strm) is None
