"""The timeouts plugin: timeout keywords, legacy names, missing-timeouts warning."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(warn=lambda text: None)


def load(tmp_path: Path, plugins, text: str):
    cfg = tmp_path / "t.cfg"
    cfg.write_text(text)
    diag = Diagnostics(stream=io.StringIO())
    return parse_config([str(cfg)], plugins, diag), diag, str(cfg)


def texts(diag, level="alert"):
    return [(m.line, m.text) for m in diag.messages if m.level == level]


def test_values_and_units(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
defaults
    mode http
    timeout client 30s
    timeout connect 5000
    timeout server 1m
    timeout http-request 10s
    timeout http-keep-alive 2s
    timeout queue 1h
    timeout tunnel 1d
    timeout client-fin 1500us
    timeout check 3s
backend be
    timeout server 45s
""")
    assert not diag.alerts, diag.stream.getvalue()
    be = config.backend("be")
    assert be.timeouts == {"client": 30000, "connect": 5000, "server": 45000,
                           "http-request": 10000, "http-keep-alive": 2000, "queue": 3600000,
                           "tunnel": 86400000, "client-fin": 2, "check": 3000}
    assert {u.keyword for u in config.inactive} >= {"timeout check"}


def test_errors(tmp_path, plugins):
    _, diag, path = load(tmp_path, plugins, """
defaults
    timeout client 10x
    timeout server
    timeout foo 1
    timeout connect 5s 6s
    timeout queue 1000000d
    contimeout 1
    clitimeout 1
    srvtimeout 1
""")
    assert texts(diag) == [
        (3, "unexpected character 'x' in 'timeout client'"),
        (4, "'timeout server' expects an integer value (in milliseconds)"),
        (5, "'timeout' supports 'client', 'server', 'connect', 'check', 'queue', "
            "'handshake', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' "
            "and 'server-fin' (got 'foo')"),
        (6, "'timeout connect' : unexpected extra argument '6s' after value '5s'."),
        (7, "timer overflow in argument '1000000d' to 'timeout queue' (maximum value is "
            "2147483647 ms or ~24.8 days)"),
        (8, "the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use "
            "'timeout connect'."),
        (9, "the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use "
            "'timeout client'."),
        (10, "the 'srvtimeout' directive is not supported anymore since HAProxy 2.1. Use "
             "'timeout server'."),
    ]
    out = diag.stream.getvalue()
    assert f"parsing [{path}:3] : unexpected character 'x' in 'timeout client'" in out


def test_warnings(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
frontend fe
    timeout client 50
    timeout server 10s
    timeout client 10s
    timeout client 20s
""")
    warns = texts(diag, "warning")
    assert (3, "'timeout client 50' in frontend 'fe' is suspiciously small for a value in "
               "milliseconds. Please use an explicit unit ('50ms') if that was the intent.") \
        in warns
    assert (4, "'timeout server' will be ignored because frontend 'fe' has no backend "
               "capability") in warns
    assert (6, "overwriting 'timeout client' which was already specified") in warns


def test_missing_timeouts(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
frontend fe
    mode http
listen li
    mode tcp
    timeout client 5s
frontend ok
    timeout client 5s
""")
    warns = [m.text for m in diag.warnings]
    assert any(w.startswith("missing timeouts for frontend 'fe'.\n   | While not properly "
                            "invalid") and w.endswith("'client', 'connect', 'server'.")
               for w in warns)
    assert not any("'ok'" in w for w in warns)
    assert not any("'li'" in w for w in warns)  # no servers: backend side not checked
