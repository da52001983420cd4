"""The global_settings plugin: values, validation messages, environment keywords."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(warn=lambda text: None)


@pytest.fixture(autouse=True)
def keep_environ():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def load(tmp_path: Path, plugins, text: str):
    cfg = tmp_path / "g.cfg"
    cfg.write_text(text)
    diag = Diagnostics(stream=io.StringIO())
    return parse_config([str(cfg)], plugins, diag), diag, str(cfg)


def alerts(diag):
    return [(m.line, m.text) for m in diag.alerts]


def test_values(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
global
    maxconn 2000
    node web-1
    description "main  proxy" on edge
    hard-stop-after 30s
    grace 100
    tune.bufsize 32k
    tune.maxrewrite 1024
    tune.http.maxhdr 150
    tune.max-rules-at-once 50
    tune.idletimer 1s
    strict-limits
    no numa-cpu-mapping
    nbthread 4
    master-worker no-exit-on-failure
    default-path config
    tune.h2.header-table-size 8192
    tune.quic.frontend.max-idle-timeout 30s
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
    cpu-policy performance
    cpu-set only-node 0 drop-cpu 2-3
    cpu-map 1/all 0-3
    dns-accept-family ipv4,auto
    httpclient.resolvers.prefer ipv6
""")
    assert not diag.alerts, diag.stream.getvalue()
    s = config.global_.settings
    assert s["maxconn"] == 2000
    assert s["node"] == "web-1"
    assert s["description"] == "main  proxy on edge"
    assert s["hard-stop-after"] == 30000 and s["grace"] == 100
    assert s["tune.bufsize"] == 32768 and s["tune.maxrewrite"] == 1024
    assert s["tune.http.maxhdr"] == 150 and s["tune.max-rules-at-once"] == 50
    assert s["tune.idletimer"] == 1000
    assert s["strict-limits"] is True and s["numa-cpu-mapping"] is False
    assert s["nbthread"] == 4
    assert s["master-worker"] == {"no-exit-on-failure": True}
    assert s["default-path"] == ("config", None)
    assert s["tune.h2.header-table-size"] == 8192
    assert s["tune.quic.frontend.max-idle-timeout"] == 30000
    assert s["ssl-default-bind-options"] == ["ssl-min-ver TLSv1.2", "no-tls-tickets"]
    assert s["cpu-set"] == [("only-node", "0"), ("drop-cpu", "2-3")]
    assert s["cpu-map"] == [("1/all", ["0-3"])]
    assert s["dns-accept-family"] == ("ipv4", "auto")
    inactive = {u.keyword for u in config.inactive}
    assert "httpclient.resolvers.prefer" in inactive
    # (the HTTP/2 tuning is applied by the h2_mux plugin)
    assert "tune.h2.header-table-size" not in inactive
    assert not {"master-worker", "maxconn", "node", "tune.bufsize", "hard-stop-after",
                "nbthread", "cpu-map",
                "cpu-set", "cpu-policy", "numa-cpu-mapping"} & inactive


def test_validation_messages(tmp_path, plugins):
    _, diag, path = load(tmp_path, plugins, """
global
    maxconn abc
    nbthread x
    nbthread 0
    pidfile
    node bad/name
    setenv A
    hard-stop-after 10x
    tune.http.maxhdr 70000
    spread-checks 60
    ssl-server-verify maybe
    busy-polling x
    description
    unsetenv
    chroot
    daemon x
    tune.idletimer 70000
    httpclient.resolvers.prefer ipv5
    master-worker foo
    default-path foo
    ca-base /a
    ca-base /b
    cpu-policy fastest
    cpu-set only-core
    log-tag
    uid abc
    gid
    user no-such-user-hapx
""")
    got = alerts(diag)
    assert got[:13] == [
        (3, "'maxconn' expects an integer argument."),
        (4, "'nbthread' passed a missing or unparsable integer value in 'x'"),
        (5, "'nbthread' value must be between 1 and 1024 (was 0)"),
        (6, "'pidfile' expects a file name as an argument."),
        (7, "'node' requires valid node name - non-empty string with digits(0-9), "
            "letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_)."),
        (8, "'setenv' expects a name and a value."),
        (9, "unexpected character 'x' in argument to <hard-stop-after>."),
        (10, "'tune.http.maxhdr' expects a numeric value between 1 and 32767"),
        (11, "'spread-checks' needs a positive value in range 0..50."),
        (12, "'ssl-server-verify' expects 'none' or 'required' as argument."),
        (13, "'busy-polling' cannot handle unexpected argument 'x'."),
        (14, "'description' expects a string argument."),
        (15, "'unsetenv' expects at least one variable name."),
    ]
    rest = dict(got[13:])
    assert rest[16] == "'chroot' expects a directory as an argument."
    assert rest[17] == "'daemon' cannot handle unexpected argument 'x'."
    assert rest[18] == "'tune.idletimer' expects a timer value between 0 and 65535 ms."
    assert rest[19] == "'httpclient.resolvers.prefer' expects 'ipv4' or 'ipv6' as argument."
    assert rest[20] == "'master-worker' only supports 'no-exit-on-failure' option."
    assert rest[21].startswith("unsupported default-path mode 'foo' for 'default-path'")
    assert rest[23] == "'ca-base' already specified."
    assert rest[24].startswith("'cpu-policy' passed an unknown CPU policy 'fastest'. "
                               "Supported values are: and 'none' (use all available CPUs), "
                               "'first-usable-node' (")
    assert rest[25] == "'cpu-set only-core': missing core set\n."
    assert rest[26] == "'log-tag' expects a tag for use in syslog."
    assert rest[27].startswith("uid: string 'abc' is not a number.")
    assert rest[28] == "'gid' expects an integer argument."
    assert rest[29] == "cannot find user id for 'no-such-user-hapx' (0:Success)"
    assert f"parsing [{path}:3] : 'maxconn' expects an integer argument." in \
        diag.stream.getvalue()


def test_environment_keywords(tmp_path, plugins):
    os.environ["HAPX_T_KEEP"] = "kept"
    os.environ["HAPX_T_GONE"] = "x"
    config, diag, _ = load(tmp_path, plugins, """
global
    setenv HAPX_T_A alpha
    presetenv HAPX_T_A beta
    presetenv HAPX_T_B "${HAPX_T_A}-b"
    description "${HAPX_T_B} ${HAPX_T_GONE-none}"
    unsetenv HAPX_T_GONE
    node "n${HAPX_T_GONE-1}"
""")
    assert not diag.alerts, diag.stream.getvalue()
    assert os.environ["HAPX_T_A"] == "alpha"
    assert os.environ["HAPX_T_B"] == "alpha-b"
    assert "HAPX_T_GONE" not in os.environ
    assert config.global_.settings["description"] == "alpha-b x"
    assert config.global_.settings["node"] == "n1"


def test_resetenv(tmp_path, plugins):
    os.environ["HAPX_T_KEEP"] = "kept"
    os.environ["HAPX_T_DROP"] = "dropped"
    _, diag, _ = load(tmp_path, plugins, """
global
    resetenv HAPX_T_KEEP
    node "a${HAPX_T_DROP-z}"
""")
    assert not diag.alerts
    assert os.environ.get("HAPX_T_KEEP") == "kept"
    assert "HAPX_T_DROP" not in os.environ and "PATH" not in os.environ


def test_builtin_log_formats_expand(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
global
    description "${HAPROXY_TCP_LOG_FMT}"
""")
    assert config.global_.settings["description"].startswith("%ci:%cp [%t] %ft %b/%s")


def test_zero_warning(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
global
    zero-warning
frontend fe
    timeout client 5s
    timeout server 5s
""")
    assert diag.warnings
    assert [m.text for m in diag.alerts] == [
        "Some warnings were found and 'zero-warning' is set. Aborting."]


def test_no_prefix_only_where_allowed(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
global
    no daemon
    no strict-limits
""")
    assert alerts(diag) == [(3, "'no' is not supported for keyword 'daemon'.")]
