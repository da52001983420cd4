"""bind lines: addresses, port ranges, options, errors with file:line and suggestions."""

from __future__ import annotations

import ipaddress

from cfgtools import CONFIGS, alerts, parse_file, parse_text
from hapx.plugins.binds import BIND_OPTIONS, add_bind_option, bind_options
from hapx.plugins.confkit import v_int
from tlspki import CA

HEAD = """defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend fe
"""


def test_bind_file_end_to_end():
    config, diag, _ = parse_file(CONFIGS / "binds.cfg")
    assert not diag.failed, alerts(diag)
    fe = config.frontend("web")
    ports = [b.address.port for b in fe.binds if b.address.is_ip]
    assert ports == [80, 8080, 8081, 8082, 8443, 9000]
    first = fe.binds[0]
    assert first.name == "plain" and first.maxconn == 100 and first.written == ":80,:8080-8082"
    v6 = fe.binds[4]
    assert v6.address.ip == ipaddress.IPv6Address("::1") and v6.opt("alpn") == ["h2", "http/1.1"]
    assert v6.opt("idle-ping") == 10_000 and v6.opt("v6only") is True
    unix = fe.binds[5]
    assert unix.address.family == "unix" and unix.opt("mode") == 0o600
    assert unix.opt("level") == "admin"
    last = fe.binds[6]
    assert last.opt("id") == 7 and last.opt("backlog") == 50 and last.opt("accept-proxy")
    assert config.listener_count() == 7
    inactive = {u.keyword for u in config.inactive}
    assert "bind" not in inactive and {"bind accept-proxy"} <= inactive


def test_unknown_option_suggests(tmp_path):
    _, diag, out = parse_text(tmp_path, HEAD + "    bind :80 tfoo\n")
    assert diag.failed
    msg = diag.alerts[0]
    assert msg.line == 7 and msg.file.endswith("test.cfg")
    assert "'bind :80' in section 'frontend' : unknown keyword 'tfoo'" in msg.text
    assert "did you mean 'tfo' maybe ?" in msg.text


def test_option_values_are_checked(tmp_path):
    cases = {
        "bind :80 maxconn": "'maxconn' : missing value",
        "bind :80 maxconn many": "expects an integer argument, got 'many'",
        "bind :80 level root": "only supports 'user', 'operator', and 'admin' (got 'root')",
        "bind :80 ssl-min-ver TLSv9": "expects one of 'SSLv3'",
        "bind :80 idle-ping 3x": "unexpected character 'x'",
        "bind :80 nice 5000": "expects a value between -1024 and 1024",
        "bind :80 quic-cc-algo foo": "unknown QUIC congestion control algorithm 'foo'",
        "bind :80 v4v6 v6only": "mutually exclusive",
        "bind :443 ssl crt /nonexistent/cert.pem": "unable to stat SSL certificate from file",
        "bind :443 ssl crt @store/x": "is not declared in a crt-store",
        "bind quic4@:443": "QUIC listeners need the 'ssl' keyword",
        "bind udp@:53": "dgram-type address not acceptable",
        "bind 1.2.3.4": "missing port specification in '1.2.3.4'",
        "bind :80-70": "invalid port range '80-70'",
        "bind": "'bind' expects {<path>|[addr1]:port1[-end1]}",
        "bind :80 id 1\n    bind :81 id 1": "is already used",
    }
    for line, expected in cases.items():
        _, diag, _ = parse_text(tmp_path, HEAD + f"    {line}\n    default_backend b\n"
                                "backend b\n    server s 1.1.1.1:80\n")
        assert diag.failed, line
        assert any(expected in m.text for m in diag.alerts), (line, alerts(diag))


def test_ssl_without_certificate_is_refused_unless_ssl_f_use(tmp_path):
    _, diag, _ = parse_text(tmp_path, HEAD + "    bind :443 ssl\n")
    assert any("no SSL certificate specified for 'bind :443'" in m.text for m in diag.alerts)
    cert = tmp_path / "c.pem"
    cert.write_bytes(CA().leaf(["c.test"]).bundle)
    _, diag, _ = parse_text(tmp_path, HEAD + f"    bind :443 ssl crt {cert} crt {cert}\n")
    assert not diag.failed, alerts(diag)


def test_bind_not_in_backend(tmp_path):
    _, diag, _ = parse_text(tmp_path, "backend b\n    bind :80\n")
    assert "unknown keyword 'bind' in 'backend' section" in diag.alerts[0].text


def test_process_is_deprecated(tmp_path):
    _, diag, _ = parse_text(tmp_path, HEAD + "    bind :80 process 1\n")
    assert not diag.failed
    assert any("deprecated" in m.text for m in diag.warnings)


def test_other_plugins_can_add_options(tmp_path):
    assert bind_options() is BIND_OPTIONS
    if "x-test-opt" not in BIND_OPTIONS:
        add_bind_option("x-test-opt", 1, v_int(1, 9), "x-test-opt <n>\n\nA test option.")
    config, diag, _ = parse_text(tmp_path, HEAD + "    bind :80 x-test-opt 3\n")
    assert not diag.failed
    assert config.frontend("fe").binds[0].opt("x-test-opt") == 3
    _, diag, _ = parse_text(tmp_path, HEAD + "    bind :80 x-test-opt 30\n")
    assert "between 1 and 9" in diag.alerts[0].text
