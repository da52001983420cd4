"""Conditions of .if blocks and -cc."""

import ssl

import pytest
from hapx.core.config.condition import CondContext, ConditionError, evaluate


def ev(text: str, **kw) -> bool:
    ctx = CondContext(env=kw.pop("env", {"SET": "1", "EMPTY": ""}),
                      features=kw.pop("features", lambda n: n in {"OPENSSL", "LUA"}))
    return evaluate(text, ctx)


@pytest.mark.parametrize("text,expected", [
    ("", False), ("0", False), ("1", True), ("-3", True), ("!0", True), ("!1", False),
    ("1 && 0", False), ("1 || 0", True), ("0 || 0", False), ("0 || 1 && 0", False),
    ("(0 || 1) && 1", True), ("!(1 && 0)", True), ("1&&1", True),
])
def test_operators(text, expected):
    assert ev(text) is expected


def test_and_binds_tighter_than_or():
    assert ev("1 || 0 && 0") is True


@pytest.mark.parametrize("text,expected", [
    ("defined(SET)", True), ("defined(EMPTY)", True), ("defined(NOPE)", False),
    ("feature(OPENSSL)", True), ("feature(QUIC)", False),
    ("streq(a,a)", True), ("streq(a,b)", False), ("strneq(a,b)", True),
    ("strstr(haystack,st)", True), ("strstr(hay,needle)", False),
    ("streq('a,b',\"a,b\")", True),
    ("version_atleast(3.2)", True), ("version_atleast(3.2.0)", True),
    ("version_atleast(3.3)", False), ("version_atleast(2.6)", True),
    ("version_before(3.3)", True), ("version_before(3.2)", False),
    ("enabled(POLL)", True), ("enabled(KQUEUE)", False),
])
def test_predicates(text, expected):
    assert ev(text) is expected


def test_openssl_predicates():
    major = ssl.OPENSSL_VERSION_INFO[0]
    assert ev(f"openssl_version_atleast({major}.0.0)") is True
    assert ev(f"openssl_version_before({major + 1}.0.0)") is True


def test_short_circuit_skips_evaluation_errors_in_dead_branch():
    # the right side is parsed (syntax checked) but not evaluated
    assert ev("0 && version_atleast(x)") is False
    assert ev("1 || defined(X)") is True


@pytest.mark.parametrize("text", [
    "foo(1)", "defined(A", "(1", "1 )", "streq(a)", "defined", "@", "version_atleast(x)",
])
def test_errors(text):
    with pytest.raises(ConditionError):
        ev(text)
