"""conv_string: text, encoding, comparison, address and date converters.

``HAPROXY_CASES`` are (input fetch, input, converter chain, output) as printed by HAProxy 2.6
for ``%[<fetch>(<input>),<chain>]`` (None: no sample); each chain runs here on a real Sample
the way the expression compiler runs it (cast to the converter's input type, then process).
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterator

import hapx.plugins.conv_encoding as encoding_plugin
import hapx.plugins.conv_string as plugin
import pytest
from hapx.core.errors import ConfigError
from hapx.core.loader import PluginSet
from hapx.core.records import Converter, SmpType
from hapx.core.registry import Registry
from hapx.core.sample.args import convert_args, find_closing, split_args
from hapx.core.sample.cast import cast
from hapx.core.sample.types import F_MAY_CHANGE, Sample
from hapx.core.sample.vars import parse_var_name
from hapx.core.stream import Session, Stream

REG = Registry()
plugin.hapx_register_converters(REG.for_owner("conv_string", Converter))
encoding_plugin.hapx_register_converters(REG.for_owner("conv_encoding", Converter))

T = SmpType


def prepare(name: str, argtext: str) -> list:
    conv = REG.converter(name)
    assert conv is not None, name
    args = convert_args(conv.args, split_args(argtext), None, f"converter '{name}'")
    if conv.validate is not None:
        args = conv.validate(args, None) or args
    return args


def _steps(chain: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(chain):
        end = pos
        while end < len(chain) and chain[end] not in ",(":
            end += 1
        name, argtext = chain[pos:end], ""
        if end < len(chain) and chain[end] == "(":
            close = find_closing(chain, end + 1)
            argtext, end = chain[end + 1:close], close + 1
        yield name, argtext
        pos = end + 1


def apply(smp: Sample | None, chain: str, strm: Stream | None = None) -> Sample | None:
    strm = strm or Stream(sess=Session())
    for name, argtext in _steps(chain):
        if smp is None:
            return None
        conv = REG.converter(name)
        args = prepare(name, argtext)
        smp = cast(smp, conv.in_type)
        if smp is None:
            return None
        smp = conv.process(args, smp, strm)
    return smp


def make(kind: str, arg: str) -> Sample:
    if kind == "str":
        return Sample(T.STR, arg)
    if kind == "bin":
        return Sample(T.BIN, bytes.fromhex(arg))
    if kind == "int":
        return Sample(T.SINT, int(arg))
    if kind == "ipv4":
        return Sample(T.IPV4, ipaddress.IPv4Address(arg))
    return Sample(T.IPV6, ipaddress.IPv6Address(arg))


def as_text(smp: Sample | None) -> str | None:
    if smp is None:
        return None
    out = cast(smp, T.STR)
    assert out is not None
    return out.value


@pytest.fixture
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


HAPROXY_CASES = [
    ('str', 'AbC', 'lower', 'abc'),
    ('bin', '41c9e061', 'lower,hex', '61C9E061'),
    ('bin', '41c9e061', 'upper,hex', '41C9E041'),
    ('str', 'hello', 'length', '5'),
    ('str', '', 'length', '0'),
    ('str', 'xxabcxx', 'ltrim(x)', 'abcxx'),
    ('str', 'xxabcxx', 'rtrim(x)', 'xxabc'),
    ('str', 'xyabc', 'ltrim(yx)', 'abc'),
    ('str', 'xxxx', 'ltrim(x)', ''),
    ('bin', '6162630d0a6465', 'cut_crlf', 'abc'),
    ('str', 'foo:80', 'port_only', '80'),
    ('str', '[::1]:443', 'port_only', '443'),
    ('str', '[::1]', 'port_only', '0'),
    ('str', 'foo:', 'port_only', '0'),
    ('str', 'foo:8x', 'port_only', '152'),
    ('str', 'WWW.Example.COM:8080', 'host_only', 'www.example.com'),
    ('str', '[::1]:80', 'host_only', '[::1]'),
    ('str', '[::1]', 'host_only', '[::1]'),
    ('str', 'a', 'concat(-)', 'a-'),
    ('str', 'a', 'add_item(-,,x)', 'a-x'),
    ('str', '', 'add_item(-,,x)', 'x'),
    ('str', 'abc', 'url_dec', 'abc'),
    ('str', 'a%41b', 'url_dec', 'aAb'),
    ('str', 'a+b?c+d', 'url_dec', 'a+b?c d'),
    ('str', 'a+b?c+d', 'url_dec(1)', 'a b?c d'),
    ('str', 'a%4', 'url_dec', None),
    ('str', 'a%zz', 'url_dec', None),
    ('str', 'a%25', 'url_dec', 'a%'),
    ('str', 'foo', 'url_enc', 'foo'),
    ('str', 'en-US', 'language(en;fr)', 'en'),
    ('bin', '66723b713d302e352c656e3b713d302e38', 'language(en;fr)', 'en'),
    ('bin', '64652c66723b713d302e35', 'language(en;fr)', 'fr'),
    ('str', 'de', 'language(en;fr)', None),
    ('str', 'de', 'language(en;fr,zz)', 'zz'),
    ('bin', '66722d43413b713d302e332c656e2d47423b713d302e32', 'language(en;fr)', 'fr'),
    ('bin', '656e3b713d302c66723b713d302e31', 'language(en;fr)', None),
    ('str', 'en;q=1.5', 'language(en;fr)', 'en'),
    ('bin', '656e3b713d782c6672', 'language(en;fr)', 'en'),
    ('str', 'en-us', 'language(en-US;en)', 'en'),
    ('bin', '656e3b713d302e352c66723b713d302e35', 'language(fr;en)', 'en'),
    ('bin', '6162632d5f2e7e212a28295b5d7b7d4023245e7c5c3b3c3e603d262b2f3f3a20017f80ff', 'url_enc', 'abc-_.~%21%2A%28%29%5B%5D%7B%7D%40%23%24%5E%7C%5C%3B%3C%3E%60%3D%26%2B%2F%3F%3A%20%01%7F%80%FF'),
    ('str', 'f1_f2_f3__f5', 'field(5,_)', 'f5'),
    ('str', 'f1_f2_f3__f5', 'field(2,_,0)', 'f2_f3__f5'),
    ('str', 'f1_f2_f3__f5', 'field(-2,_,3)', 'f2_f3_'),
    ('str', 'f1_f2_f3__f5', 'field(-3,_,0)', 'f1_f2_f3'),
    ('str', 'f1_f2_f3__f5', 'field(4,_)', ''),
    ('str', 'f1_f2_f3__f5', 'field(6,_)', None),
    ('str', 'f1_f2_f3__f5', 'field(-6,_)', None),
    ('str', 'f1_f2_f3__f5', 'field(-5,_)', 'f1'),
    ('str', 'f1_f2_f3__f5', 'field(5,_,3)', 'f5'),
    ('str', 'f1_f2_f3__f5', 'field(-1,_,9)', 'f1_f2_f3__f5'),
    ('str', 'f1_f2_f3__f5', 'field(2,_,-1)', 'f2_f3__f5'),
    ('str', 'a.b:c', 'field(2,.:)', 'b'),
    ('str', 'a.b:c', 'field(-1,.:,2)', 'b:c'),
    ('str', '', 'field(1,_)', ''),
    ('str', '', 'field(-1,_)', ''),
    ('str', 'abc', 'field(1,_)', 'abc'),
    ('str', 'abc', 'field(2,_)', None),
    ('str', '_a__b_c_', 'word(1,_)', 'a'),
    ('str', '_a__b_c_', 'word(2,_,0)', 'b_c_'),
    ('str', '_a__b_c_', 'word(-1,_)', 'c'),
    ('str', '_a__b_c_', 'word(-2,_,0)', '_a__b'),
    ('str', '_a__b_c_', 'word(3,_)', 'c'),
    ('str', '_a__b_c_', 'word(2,_,2)', 'b_c'),
    ('str', '_a__b_c_', 'word(-3,_,2)', '_a'),
    ('str', 'aBc', 'regsub(b,X,i)', 'aXc'),
    ('str', 'aBc', 'regsub(b,X)', 'aBc'),
    ('str', 'ab', 'regsub(x*,-,g)', '-a-b-'),
    ('str', 'abc', 'regsub(x*,-)', '-abc'),
    ('str', 'abc', 'regsub(b*,-,g)', '-a--c-'),
    ('str', 'aaa', 'regsub(^a,X,g)', 'Xaa'),
    ('bin', '2228295c2f080c0a0d09', 'json', '\\"()\\\\\\/\\b\\f\\n\\r\\t'),
    ('bin', '01c3a9e282ac7f', 'json', '\\u0001\\u00c3\\u00a9\\u00e2\\u0082\\u00ac\\u007f'),
    ('bin', '01c3a9e282ac7f', 'json(utf8)', '\\u0001\\u00e9\\u20ac\\u007f'),
    ('bin', 'c3e282ac', 'json(utf8)', None),
    ('bin', 'c3e282ac', 'json(utf8s)', '\\u20ac'),
    ('bin', 'c0af41', 'json(utf8)', None),
    ('bin', 'c0af41', 'json(utf8p)', '\\/A'),
    ('bin', 'c0af41', 'json(utf8ps)', '\\/A'),
    ('bin', 'f09f988041', 'json(utf8s)', 'A'),
    ('bin', 'f09f988041', 'json(utf8)', None),
    ('bin', 'f09f988041', 'json(utf8p)', None),
    ('bin', 'eda08041', 'json(utf8p)', None),
    ('bin', 'eda08041', 'json(utf8ps)', 'A'),
    ('bin', 'efbfbf41', 'json(utf8s)', 'A'),
    ('bin', 'e282', 'json(utf8s)', ''),
    ('bin', 'ff41', 'json(utf8ps)', 'A'),
    ('bin', 'f8888080804142', 'json(utf8ps)', 'AB'),
    ('ipv6', '::ffff:1.2.3.4', 'ipmask(24)', '1.2.3.0'),
    ('ipv6', '::1.2.3.4', 'ipmask(24)', None),
    ('ipv6', '2001:db8::1', 'ipmask(24)', None),
    ('ipv6', '2001:db8:1:2::1', 'ipmask(24,64)', '2001:db8:1:2::'),
    ('ipv4', '10.1.2.3', 'ipmask(255.255.0.0)', '10.1.0.0'),
    ('ipv4', '10.1.2.3', 'ipmask(0)', '0.0.0.0'),
    ('ipv4', '10.1.2.3', 'ipmask(32)', '10.1.2.3'),
    ('int', '16909060', 'ipmask(16)', '1.2.0.0'),
    ('str', '10.9.8.7', 'ipmask(8)', '10.0.0.0'),
    ('str', '::ffff:10.9.8.7', 'ipmask(8,64)', '10.0.0.0'),
    ('int', '784111777', 'utime(%Y-%m-%d_%H:%M:%S)', '1994-11-06_08:49:37'),
    ('int', '784111777', 'utime(%a_%b_%e_%j,3600)', 'Sun_Nov_ 6_310'),
    ('int', '784111777', 'ltime(%Y-%m-%d_%H:%M:%S_%z)', '1994-11-06_08:49:37_+0000'),
    ('int', '784111777', 'http_date', 'Sun, 06 Nov 1994 08:49:37 GMT'),
    ('int', '784111777', 'http_date(3600)', 'Sun, 06 Nov 1994 09:49:37 GMT'),
    ('int', '784111777123', 'http_date(0,ms)', 'Sun, 06 Nov 1994 08:49:37.123 GMT'),
    ('int', '784111777000005', 'http_date(0,us)', 'Sun, 06 Nov 1994 08:49:37.5 GMT'),
    ('int', '784111777', 'http_date(0,s)', 'Sun, 06 Nov 1994 08:49:37 GMT'),
    ('int', '-1', 'http_date', 'Sun, 13 Jun 1141709097 06:26:07 GMT'),
    ('int', '-1000', 'utime(%Y)', '1141709097'),
    ('str', 'a.b.c', 'regsub([.],-)', 'a-b.c'),
    ('str', 'a.b.c', 'regsub([.],-,g)', 'a-b-c'),
    ('str', 'abc', 'regsub(b,\\\\x41)', 'aAc'),
    ('str', 'abc', 'regsub(b,\\\\x4a)', 'aJc'),
    ('str', 'a1b22c', 'regsub([0-9]+,<\\\\0>,g)', 'a<1>b<22>c'),
    ('str', 'abc', 'regsub(.,<\\\\1>,g)', '<><><>'),
    ('str', 'abc', 'regsub(.,<\\\\q>,g)', '<q><q><q>'),
    ('str', 'abcabc', 'regsub(b|c,X,g)', 'aXXaXX'),
    ('str', 'ABC', 'regsub([a-b]+,x,i)', 'xC'),
    ('str', '', 'regsub(^,X)', 'X'),
    ('str', '', 'regsub(x,X)', ''),
]


@pytest.mark.parametrize(("kind", "arg", "chain", "expected"), HAPROXY_CASES)
def test_same_output_as_haproxy(kind: str, arg: str, chain: str, expected: str | None,
                                utc: None) -> None:
    assert as_text(apply(make(kind, arg), chain)) == expected


def test_registered_through_the_loader() -> None:
    plugins = PluginSet()
    assert plugins.add_plugin("conv_string", plugin)
    names = {r.name for r in plugins.registry.by_owner["conv_string"]}
    assert {"lower", "upper", "length", "ltrim", "rtrim", "field", "word", "regsub", "concat",
            "add_item", "param", "host_only", "port_only", "cut_crlf", "json", "url_dec",
            "url_enc", "strcmp", "secure_memcmp", "language", "ipmask", "bytes", "utime",
            "ltime", "ms_utime", "ms_ltime", "us_utime", "us_ltime", "http_date"} == names
    for rec in plugins.registry.by_owner["conv_string"]:
        first, blank = rec.doc.splitlines()[:2]
        assert first.startswith(rec.name) and blank == ""


@pytest.mark.parametrize(("name", "args", "message"), [
    ("field", "0,_", "Unexpected value 0 for index"),
    ("word", "0,_", "Unexpected value 0 for index"),
    ("field", "1,", "Empty separators list"),
    ("regsub", "a,b,gx", "invalid regex flag 'x', only 'i' and 'g' are supported"),
    ("param", "a,&&", "Delimiter must be exactly 1 character."),
    ("json", "utf16", "Unexpected input code type"),
    ("url_enc", "path", "Unexpected encode type. Allowed value is 'query'"),
    ("http_date", "0,ns", "expects 's', 'ms' or 'us', got 'ns'"),
    ("bytes", "-1", "expects a non-negative integer"),
    ("bytes", "1,0", "expects a positive integer"),
    ("add_item", "-,,", "one of the optional arguments has to be nonempty"),
    ("strcmp", "", "missing variable name"),
    ("strcmp", "nope", "failed to register variable name 'nope'"),
    ("concat", "a,bad,b", "failed to register variable name 'bad'"),
])
def test_argument_checks(name: str, args: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare(name, args)


@pytest.fixture
def strm() -> Stream:
    s = Stream(sess=Session())
    parse_var_name("txn.s").set(s, Sample(T.STR, "hello"))
    parse_var_name("txn.ten").set(s, Sample(T.SINT, 10))
    parse_var_name("txn.zero").set(s, Sample(T.SINT, 0))
    parse_var_name("req.two").set(s, Sample(T.SINT, 2))
    parse_var_name("txn.empty").set(s, Sample(T.STR, ""))
    return s


def text_of(value: str, chain: str, strm: Stream) -> str | None:
    return as_text(apply(Sample(T.STR, value), chain, strm))


def test_concat_and_add_item_with_variables(strm: Stream) -> None:
    assert text_of("a", "concat(b,txn.s,c)", strm) == "abhelloc"
    assert text_of("a", "concat(b,txn.nope,c)", strm) == "abc"
    assert text_of("a", "concat(,txn.ten,)", strm) == "a10"
    assert text_of("a", "concat(-)", strm) == "a-"
    assert text_of("a", "add_item(-,txn.s)", strm) == "a-hello"
    assert text_of("", "add_item(-,txn.s)", strm) == "hello"
    assert text_of("a", "add_item(-,txn.nope)", strm) == "a"
    assert text_of("a", "add_item(-,txn.empty)", strm) == "a"
    assert text_of("a", "add_item(-,txn.nope,x)", strm) == "a-x"
    assert text_of("a", "add_item(',',txn.s,'(site1)')", strm) == "a,hello(site1)"
    assert text_of("", "add_item(-,,x)", strm) == "x"


def test_strcmp_and_secure_memcmp(strm: Stream) -> None:
    # strcmp(3)'s byte difference, as HAProxy prints it
    assert text_of("abc", "strcmp(txn.s)", strm) == "-7"
    assert text_of("hello", "strcmp(txn.s)", strm) == "0"
    assert text_of("hellz", "strcmp(txn.s)", strm) == "11"
    assert text_of("hell", "strcmp(txn.s)", strm) == "-1"
    assert text_of("helloo", "strcmp(txn.s)", strm) == "1"
    assert text_of("10", "strcmp(txn.ten)", strm) == "0"
    assert text_of("abc", "strcmp(txn.nope)", strm) is None
    assert apply(Sample(T.BIN, b"hello"), "secure_memcmp(txn.s)", strm) == Sample(T.BOOL, True)
    assert apply(Sample(T.BIN, b"hellp"), "secure_memcmp(txn.s)", strm) == \
        Sample(T.BOOL, False)
    assert apply(Sample(T.BIN, b"hell"), "secure_memcmp(txn.s)", strm) == Sample(T.BOOL, False)
    assert apply(Sample(T.BIN, b"x"), "secure_memcmp(txn.nope)", strm) is None


def test_param() -> None:
    strm = Stream(sess=Session())
    assert text_of("a=1&b=2&c", "param(b)", strm) == "2"
    assert text_of("a=1&b=2&c", "param(c)", strm) == ""
    assert text_of("a=1&b=2&c", "param(d)", strm) is None
    assert text_of("ab=1&a=2", "param(a)", strm) == "2"
    assert text_of("a=1;bb=2", "param(bb,;)", strm) == "2"
    assert text_of("a=1&b=x=y", "param(b)", strm) == "x=y"


def test_lower_upper_ascii_only() -> None:
    strm = Stream(sess=Session())
    assert text_of("AbC\xc9", "lower", strm) == "abc\xc9"
    assert text_of("aBc\xe9", "upper", strm) == "ABC\xe9"


def test_bytes(strm: Stream) -> None:
    data = Sample(T.BIN, bytes.fromhex("0102030405"))
    assert apply(data, "bytes(1,2)").value == bytes.fromhex("0203")
    assert apply(data, "bytes(3)").value == bytes.fromhex("0405")
    assert apply(data, "bytes(5)").value == b""
    assert apply(data, "bytes(2,9)").value == bytes.fromhex("030405")
    assert apply(data, "bytes(txn.zero,req.two)", strm).value == bytes.fromhex("0102")
    assert apply(data, "bytes(txn.nope)", strm) is None
    # more data may come: wait rather than answer with a short result
    partial = Sample(T.BIN, bytes.fromhex("0102"), F_MAY_CHANGE)
    assert apply(partial, "bytes(1,4)") is None
    assert apply(partial, "bytes(2)") is None
    assert apply(partial, "bytes(0,1)").value == b"\x01"


def test_subsecond_dates(utc: None) -> None:
    ms = Sample(T.SINT, 784111777123)
    assert as_text(apply(ms, "ms_utime(%Y-%m-%dT%H:%M:%S.%3N)")) == "1994-11-06T08:49:37.123"
    assert as_text(apply(ms, "ms_utime(%N|%6N|%12N|%1N)")) == \
        "123000000|123000|123000000|1"
    assert as_text(apply(ms, "ms_utime(%s,10)")) == "784111787"
    us = Sample(T.SINT, 784111777123456)
    assert as_text(apply(us, "us_utime(%s.%N)")) == "784111777.123456000"
    assert as_text(apply(us, "us_ltime(%T.%4N,60)")) == "08:50:37.1234"
    assert as_text(apply(us, "us_utime(100%%)")) == "100%"


def test_local_time_follows_tz() -> None:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XST-2"
    time.tzset()
    try:
        smp = Sample(T.SINT, 784111777)
        assert as_text(apply(smp, "ltime(%H:%M_%z)")) == "10:49_+0200"
        assert as_text(apply(smp, "utime(%H:%M)")) == "08:49"
        ms = Sample(T.SINT, 784111777123)
        assert as_text(apply(ms, "ms_ltime(%H:%M:%S.%3N)")) == "10:49:37.123"
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_language_default_and_ties() -> None:
    strm = Stream(sess=Session())
    assert text_of("de", "language(en;fr,zz)", strm) == "zz"
    assert text_of("fr;q=0.5, en;q=0.8", "language(en;fr)", strm) == "en"
    assert text_of("fr;q=0.5, en;q=0.5", "language(en;fr)", strm) == "fr"
    assert text_of("en;q=0", "language(en;fr)", strm) is None


def test_json_escapes_control_characters() -> None:
    strm = Stream(sess=Session())
    assert text_of('Very "Ugly" UA 1/2', "json(utf8s)", strm) == 'Very \\"Ugly\\" UA 1\\/2'
    assert text_of("\x00\x1f", "json", strm) == "\\u0000\\u001f"
