"""The casting matrix, string-to-integer rules, address text and variable names."""

from __future__ import annotations

import ipaddress

import pytest
from hapx.core.records import SmpType as T
from hapx.core.sample.cast import CASTS, can_cast, cast, caster, ipv6_text, str_to_int
from hapx.core.sample.types import SINT_MAX, SINT_MIN, Sample
from hapx.core.sample.vars import DEFAULT_PROC, VarRef, parse_var_name
from hapx.core.stream import ProcState, Session, Stream

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address

CONCRETE = (T.BOOL, T.SINT, T.IPV4, T.IPV6, T.STR, T.BIN, T.METH)

# (from, to) -> possible?   ("-" cells of the spec's matrix are False)
POSSIBLE = {
    T.BOOL: {T.BOOL, T.SINT, T.STR, T.BIN},
    T.SINT: {T.BOOL, T.SINT, T.ADDR, T.IPV4, T.IPV6, T.STR, T.BIN},
    T.IPV4: {T.SINT, T.ADDR, T.IPV4, T.IPV6, T.STR, T.BIN},
    T.IPV6: {T.ADDR, T.IPV4, T.IPV6, T.STR, T.BIN},
    T.STR: {T.BOOL, T.SINT, T.ADDR, T.IPV4, T.IPV6, T.STR, T.BIN, T.METH},
    T.BIN: {T.STR, T.BIN, T.METH},
    T.METH: {T.STR, T.BIN, T.METH},
}


@pytest.mark.parametrize("src", CONCRETE)
@pytest.mark.parametrize("dst", (*CONCRETE, T.ADDR))
def test_matrix_cells(src, dst):
    assert can_cast(src, dst) == (dst in POSSIBLE[src])
    if src != dst and dst != T.ADDR:
        assert ((src, dst) in CASTS) == (dst in POSSIBLE[src])


def test_pseudo_types():
    assert can_cast(T.ANY, T.IPV6) and can_cast(T.METH, T.ANY)
    assert can_cast(T.ADDR, T.SINT)  # an IPv4 may become an integer
    assert can_cast(T.ADDR, T.STR) and can_cast(T.ADDR, T.IPV6)
    assert not can_cast(T.ADDR, T.BOOL) and not can_cast(T.ADDR, T.METH)


CELLS = [
    # bool
    (Sample(T.BOOL, True), T.SINT, Sample(T.SINT, 1)),
    (Sample(T.BOOL, False), T.SINT, Sample(T.SINT, 0)),
    (Sample(T.BOOL, True), T.STR, Sample(T.STR, "1")),
    (Sample(T.BOOL, False), T.STR, Sample(T.STR, "0")),
    (Sample(T.BOOL, True), T.BIN, Sample(T.BIN, b"\x00" * 7 + b"\x01")),
    # sint
    (Sample(T.SINT, 5), T.BOOL, Sample(T.BOOL, True)),
    (Sample(T.SINT, 0), T.BOOL, Sample(T.BOOL, False)),
    (Sample(T.SINT, 0x01020304), T.IPV4, Sample(T.IPV4, V4("1.2.3.4"))),
    (Sample(T.SINT, 0x01020304), T.ADDR, Sample(T.IPV4, V4("1.2.3.4"))),
    (Sample(T.SINT, -1), T.IPV4, Sample(T.IPV4, V4("255.255.255.255"))),
    (Sample(T.SINT, 0x0A000001), T.IPV6, Sample(T.IPV6, V6("::ffff:10.0.0.1"))),
    (Sample(T.SINT, -42), T.STR, Sample(T.STR, "-42")),
    (Sample(T.SINT, 258), T.BIN, Sample(T.BIN, b"\x00" * 6 + b"\x01\x02")),
    (Sample(T.SINT, -1), T.BIN, Sample(T.BIN, b"\xff" * 8)),
    # ipv4
    (Sample(T.IPV4, V4("1.2.3.4")), T.SINT, Sample(T.SINT, 0x01020304)),
    (Sample(T.IPV4, V4("1.2.3.4")), T.IPV6, Sample(T.IPV6, V6("::ffff:1.2.3.4"))),
    (Sample(T.IPV4, V4("1.2.3.4")), T.STR, Sample(T.STR, "1.2.3.4")),
    (Sample(T.IPV4, V4("1.2.3.4")), T.BIN, Sample(T.BIN, b"\x01\x02\x03\x04")),
    (Sample(T.IPV4, V4("1.2.3.4")), T.ADDR, Sample(T.IPV4, V4("1.2.3.4"))),
    # ipv6
    (Sample(T.IPV6, V6("::ffff:1.2.3.4")), T.IPV4, Sample(T.IPV4, V4("1.2.3.4"))),
    (Sample(T.IPV6, V6("::1.2.3.4")), T.IPV4, Sample(T.IPV4, V4("1.2.3.4"))),
    (Sample(T.IPV6, V6("2001:db8::1")), T.IPV4, None),
    (Sample(T.IPV6, V6("2001:db8::1")), T.STR, Sample(T.STR, "2001:db8::1")),
    (Sample(T.IPV6, V6("::1")), T.BIN, Sample(T.BIN, b"\x00" * 15 + b"\x01")),
    (Sample(T.IPV6, V6("::1")), T.ADDR, Sample(T.IPV6, V6("::1"))),
    # str
    (Sample(T.STR, "12ab"), T.SINT, Sample(T.SINT, 12)),
    (Sample(T.STR, "7"), T.BOOL, Sample(T.BOOL, True)),
    (Sample(T.STR, "0"), T.BOOL, Sample(T.BOOL, False)),
    (Sample(T.STR, "10.0.0.1"), T.IPV4, Sample(T.IPV4, V4("10.0.0.1"))),
    (Sample(T.STR, "10.0.0.1"), T.ADDR, Sample(T.IPV4, V4("10.0.0.1"))),
    (Sample(T.STR, "::1"), T.ADDR, Sample(T.IPV6, V6("::1"))),
    (Sample(T.STR, "::1"), T.IPV4, None),
    (Sample(T.STR, "nope"), T.ADDR, None),
    (Sample(T.STR, "2001:db8::2"), T.IPV6, Sample(T.IPV6, V6("2001:db8::2"))),
    (Sample(T.STR, "1.2.3.4"), T.IPV6, None),
    (Sample(T.STR, "a\xe9"), T.BIN, Sample(T.BIN, b"a\xe9")),
    (Sample(T.STR, "GET"), T.METH, Sample(T.METH, "GET")),
    (Sample(T.STR, "PURGE"), T.METH, Sample(T.METH, "PURGE")),
    # bin
    (Sample(T.BIN, b"ab\x00cd"), T.STR, Sample(T.STR, "ab")),
    (Sample(T.BIN, b"\xff"), T.STR, Sample(T.STR, "\xff")),
    (Sample(T.BIN, b"POST"), T.METH, Sample(T.METH, "POST")),
    # meth
    (Sample(T.METH, "GET"), T.STR, Sample(T.STR, "GET")),
    (Sample(T.METH, "GET"), T.BIN, Sample(T.BIN, b"GET")),
]


@pytest.mark.parametrize("smp,dst,expected", CELLS, ids=lambda v: repr(v))
def test_cast_values(smp, dst, expected):
    assert cast(smp, dst) == expected


@pytest.mark.parametrize("src", CONCRETE)
def test_identity_and_impossible(src):
    values = {T.BOOL: True, T.SINT: 1, T.IPV4: V4("1.1.1.1"), T.IPV6: V6("::2"),
              T.STR: "x", T.BIN: b"x", T.METH: "GET"}
    smp = Sample(src, values[src])
    assert cast(smp, src) is smp
    assert cast(smp, T.ANY) is smp
    for dst in CONCRETE:
        if dst not in POSSIBLE[src] and dst != src:
            assert cast(smp, dst) is None


def test_caster_keeps_accepted_types():
    to_addr = caster(T.ADDR)
    v6 = Sample(T.IPV6, V6("::1"))
    assert to_addr(v6) is v6
    assert to_addr(Sample(T.STR, "1.2.3.4")) == Sample(T.IPV4, V4("1.2.3.4"))
    assert caster(T.SINT)(Sample(T.METH, "GET")) is None


@pytest.mark.parametrize("text,value", [
    ("", None), ("0", 0), ("42", 42), ("+42", 42), ("-42", -42), ("12ab", 12), ("ab", 0),
    ("-", 0), (" 1", 0), ("007", 7),
    ("9223372036854775807", SINT_MAX), ("9223372036854775808", SINT_MAX),
    ("99999999999999999999999", SINT_MAX), ("-9223372036854775808", SINT_MIN),
    ("-99999999999999999999999", SINT_MIN),
])
def test_str_to_int(text, value):
    assert str_to_int(text) == value
    res = cast(Sample(T.STR, text), T.SINT)
    assert (res is None) if value is None else res == Sample(T.SINT, value)


@pytest.mark.parametrize("text,ok", [
    ("1.2.3.4", True), ("1.2.3.4xyz", True), ("1.2.3", False), ("1.2.3.256", False),
    ("1..2.3", False), ("1.2.3.4.5", False), ("", False), ("a.b.c.d", False),
])
def test_str_to_ipv4_rules(text, ok):
    res = cast(Sample(T.STR, text), T.IPV4)
    assert (res == Sample(T.IPV4, V4("1.2.3.4"))) if ok else res is None


@pytest.mark.parametrize("addr,text", [
    ("::", "::"), ("::1", "::1"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
    ("::1.2.3.4", "::1.2.3.4"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ("2001:db8::", "2001:db8::"), ("fe80:0:1::", "fe80:0:1::"), ("1:0:2::3", "1:0:2::3"),
    ("::ffff:0:5", "::ffff:0.0.0.5"),
])
def test_ipv6_text(addr, text):
    assert ipv6_text(V6(addr)) == text


def test_int_saturates_before_bin():
    assert cast(Sample(T.SINT, 2**70), T.BIN) == Sample(T.BIN, b"\x7f" + b"\xff" * 7)


# -- variables ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,scope,short", [
    ("txn.foo", "txn", "foo"), ("sess.a.b_c", "sess", "a.b_c"), ("proc.X9", "proc", "X9"),
    ("req.r", "req", "r"), ("res.r", "res", "r"), ("check.c", "check", "c"),
])
def test_var_names(name, scope, short):
    ref = parse_var_name(name)
    assert (ref.scope, ref.name, ref.full_name) == (scope, short, name)


@pytest.mark.parametrize("name,message", [
    ("", "Empty variable name cannot be accepted"),
    ("txn.", "Empty variable name cannot be accepted"),
    ("txn", "invalid variable name 'txn'. A variable name must be start by its scope. The "
            "scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'"),
    ("foo.ab", "invalid variable name 'foo.ab'. A variable name must be start by its scope. "
               "The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'"),
    ("txn.a-b", "invalid syntax at char '-b'"),
    ("txn.a b", "invalid syntax at char ' b'"),
])
def test_bad_var_names(name, message):
    with pytest.raises(ValueError) as info:
        parse_var_name(name)
    assert str(info.value) == message


def test_var_storage_per_scope():
    proc = ProcState()
    strm = Stream(sess=Session(), proc=proc)
    values = {}
    for i, scope in enumerate(("proc", "sess", "txn", "req", "res", "check")):
        ref = parse_var_name(f"{scope}.v")
        smp = Sample(T.SINT, i)
        ref.set(strm, smp)
        values[scope] = smp
        assert ref.get(strm) is smp
    assert proc.vars["v"] == values["proc"]
    assert strm.sess.vars["v"] == values["sess"]
    assert strm.txn_vars["v"] == values["txn"]
    assert strm.req_vars["v"] == values["req"]
    assert strm.res_vars["v"] == values["res"]
    assert strm.ext["check_vars"]["v"] == values["check"]
    ref = parse_var_name("txn.v")
    ref.unset(strm)
    ref.unset(strm)
    assert ref.get(strm) is None and "v" not in strm.txn_vars


def test_proc_vars_without_proc_state():
    ref = VarRef("proc", "t_default_proc")
    ref.set(None, Sample(T.STR, "x"))
    assert DEFAULT_PROC.vars["t_default_proc"] == Sample(T.STR, "x")
    assert ref.get(Stream(sess=Session())) == Sample(T.STR, "x")
    ref.unset(None)
    assert ref == parse_var_name("proc.t_default_proc")
