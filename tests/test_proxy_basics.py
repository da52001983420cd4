"""The proxy_basics plugin: mode, ids, limits, options, error replies, captures."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins
from hapx.plugins.proxy_basics.errors import check_http_response

ERR503 = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<h1>down</h1>\n"


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(warn=lambda text: None)


def load(tmp_path: Path, plugins, text: str):
    (tmp_path / "503.http").write_bytes(ERR503)
    (tmp_path / "bad.http").write_bytes(b"hello\n")
    (tmp_path / "body.txt").write_bytes(b"sorry\n")
    cfg = tmp_path / "p.cfg"
    cfg.write_text(text.replace("@DIR@", str(tmp_path)))
    diag = Diagnostics(stream=io.StringIO())
    return parse_config([str(cfg)], plugins, diag), diag, str(cfg)


def alerts(diag):
    return [(m.line, m.text) for m in diag.alerts]


def warnings(diag):
    return [(m.line, m.text) for m in diag.warnings]


def test_basic_settings(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
defaults
    mode http
    timeout client 5s
    timeout connect 5s
    timeout server 5s
    option httpclose
    option forwardfor except 10.0.0.0/8 header X-Client if-none
    retries 2
frontend fe
    id 7
    description front  door
    maxconn 500
    option http-keep-alive
    unique-id-format %{+X}o\\ %ci:%cp_%Ts_%rt:%pid
    unique-id-header X-Unique-ID
    declare capture request len 32
    declare capture response len 8
backend be
    disabled
    http-reuse always
    retry-on conn-failure 503 all-retryable-errors
    no option forwardfor
    option redispatch 2
frontend other
""")
    assert not diag.alerts, diag.stream.getvalue()
    fe, be, other = config.proxies
    assert fe.mode == "http" and fe.uuid == 7 and fe.settings["id"] == 7
    assert (be.uuid, other.uuid) == (1, 2)
    assert fe.settings["description"] == "front door"
    assert fe.settings["maxconn"] == 500
    assert fe.options["http-keep-alive"] is True and fe.options["httpclose"] is False
    assert be.options["httpclose"] is True
    assert fe.settings["forwardfor"] == {"except": __import__("ipaddress").ip_network(
        "10.0.0.0/8"), "header": "X-Client", "if-none": True}
    assert be.options["forwardfor"] is False and "forwardfor" not in be.settings
    assert fe.settings["unique-id-format"].text == "%{+X}o %ci:%cp_%Ts_%rt:%pid"
    assert fe.settings["unique-id-header"] == "X-Unique-ID"
    caps = fe.settings["captures"]
    assert [c.length for c in caps["request"]] == [32]
    assert [c.length for c in caps["response"]] == [8]
    assert be.settings["disabled"] is True
    assert be.settings["http-reuse"] == "always"
    assert be.settings["retries"] == 2
    assert be.settings["retry-on"] == frozenset({"conn-failure", "empty-response",
                                                 "junk-response", "response-timeout",
                                                 "0rtt-rejected", "500", "502", "503", "504"})
    assert be.settings["redispatch"] == 2 and be.options["redispatch"] is True


def test_plain_options_and_negation(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
defaults
    mode http
    option abortonclose
    option http-buffer-request
    option accept-invalid-http-request
backend be
    no option abortonclose
    option http-drop-request-trailers
    option http-restrict-req-hdr-names delete
frontend fe
    default option http-buffer-request
    option tcpka
    option abortonclose
""")
    be, fe = config.proxies
    assert be.options["abortonclose"] is False
    assert be.options["http-drop-request-trailers"] is True
    assert be.settings["http-restrict-req-hdr-names"] == "delete"
    assert fe.options["http-buffer-request"] is True
    assert fe.options["accept-unsafe-violations-in-http-request"] is True
    assert fe.options["clitcpka"] is True and "srvtcpka" not in fe.options
    assert (14, "'abortonclose' ignored because frontend 'fe' has no backend capability.") \
        in warnings(diag)
    assert "option abortonclose" in {u.keyword for u in config.inactive}


def test_http_only_options_reset_in_tcp(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
frontend fe
    mode tcp
    option http-buffer-request
    option forwardfor
""")
    fe = config.proxies[0]
    assert fe.options["http-buffer-request"] is False and fe.options["forwardfor"] is False
    texts = [m.text for m in diag.warnings]
    assert "'option http-buffer-request' ignored for frontend 'fe' as it requires HTTP mode." \
        in texts


def test_errors(tmp_path, plugins):
    _, diag, path = load(tmp_path, plugins, """
defaults
    mode foo
    id 3
    description
    retries
    http-reuse sometimes
    option httpclose x
    option forwardfor foo
    option forwardfor except 1.2.3.4/40
    option forwardfor header
    option originalto foo
    option http-restrict-req-hdr-names foo
    declare capture request len 1
    capture request header X len 1
    rate-limit foo
    max-keep-alive-queue x
    unique-id-format a b
    unique-id-header
    retry-on foo
    source
frontend f
    id x
    capture request header X len
    declare capture request len x
    declare capture request len 0
    declare capture req len 1
    rate-limit sessions 1x
    maxconn
backend b
    retry-on none 503
listen l
    id 7
listen m
    id 7
""")
    assert alerts(diag) == [
        (3, "unknown proxy mode 'foo'."),
        (4, "'id' not allowed in 'defaults' section."),
        (5, "'description' not allowed in 'defaults' section."),
        (6, "'retries' expects an integer argument (dispatch counts for one)."),
        (7, "'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'."),
        (8, "'option httpclose' cannot handle unexpected argument 'x'."),
        (9, "'option forwardfor' only supports optional values: 'except', 'header' and "
            "'if-none'."),
        (10, "'option forwardfor except' expects <address>[/mask] as argument."),
        (11, "'option forwardfor header' expects <header_name> as argument."),
        (12, "'option originalto' only supports optional values: 'except' and 'header'."),
        (13, "invalid parameter 'foo'. option 'http-restrict-req-hdr-names' expects "
             "'preserve', 'reject' or 'delete' option."),
        (14, "'declare' not available in default section"),
        (15, "'capture request' not allowed in 'defaults' section."),
        (16, "'rate-limit' only supports 'sessions' (got 'foo')"),
        (17, "'max-keep-alive-queue' : unexpected character 'x' in integer value 'x'"),
        (18, "unique-id-format expects only one argument, don't forget to escape spaces!"),
        (19, "unique-id-header expects an argument."),
        (20, "'retry-on': unknown keyword 'foo'"),
        (21, "'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and "
             "'interface' <name>."),
        (23, "custom id has to be > 0."),
        (24, "'capture request' expects 'header' <header_name> 'len' <len>."),
        (25, "'declare capture': cannot parse the length 'len'."),
        (26, "length must be > 0"),
        (27, "'declare capture' requires a direction ('request' or 'response')"),
        (28, "'rate-limit sessions' : unexpected character 'x' in integer value '1x'"),
        (29, "'maxconn' expects an integer argument."),
        (31, "'retry-on' 'none' keyworld only usable alone"),
        (35, "proxy m reuses same custom id as proxy l (declared at "
             f"{path}:32)."),
    ]
    assert f"parsing [{path}:3] : unknown proxy mode 'foo'." in diag.stream.getvalue()


def test_mode_log_is_inactive(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
backend syslog
    mode log
""")
    assert not diag.alerts
    assert config.proxies[0].mode == "log"
    assert "mode log" in {u.keyword for u in config.inactive}


def test_error_replies(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
http-errors site
    errorfile 503 @DIR@/503.http
defaults
    mode http
    errorfile 503 @DIR@/503.http
frontend fe
    errorfiles site
    http-error status 404 content-type text/plain string "not here"
    http-error status 429 content-type text/plain lf-string "slow down %[src]" hdr X-Why "%[src]"
    http-error status 400 content-type text/plain file @DIR@/body.txt
    http-error status 500 default-errorfiles
backend be
    errorfiles later 503
    http-error status 502 errorfiles later
http-errors later
    errorfile 503 @DIR@/503.http
""")
    assert not diag.alerts, diag.stream.getvalue()
    assert "http-errors" in config.sections and "site" in config.sections["http-errors"]
    fe, be = config.proxies
    errs = fe.settings["http-errors"]
    assert errs[503].raw == ERR503
    assert errs[404].body == b"not here" and errs[404].content_type == "text/plain"
    assert errs[429].body_fmt.text == "slow down %[src]"
    assert errs[429].headers[0].name == "X-Why"
    assert errs[400].body == b"sorry\n"
    assert errs[500].builtin
    assert be.settings["http-errors"][503].raw == ERR503
    assert be.settings["http-errors"][502].builtin  # section has no 502: built-in reply


def test_error_reply_errors(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
defaults
    errorfile 999 @DIR@/503.http
    errorfile 503 /nonexistent/x
    errorfile 503
    errorfile 503 @DIR@/bad.http
    http-error status 999
    http-error
    http-error status 503 string foo
    http-error status 503 content-type text/plain string
    http-error status 503 content-type text/plain string foo hdr x
    http-error status 503 content-type text/plain string foo bar
    errorfiles
frontend fe
    errorfiles missing
""")
    got = alerts(diag)
    assert got == [
        (3, "errorfile : status code '999' not handled."),
        (4, "errorfile : error opening file '/nonexistent/x'."),
        (5, "errorfile : expects <status_code> and <file> as arguments."),
        (6, f"errorfile : '{tmp_path}/bad.http': unable to parse headers (error offset: 0)"),
        (7, "http-error : Unexpected status code '999'"),
        (8, "http-error : expects at least a <status> as arguments."),
        (9, "http-error : a content type must be defined when non-empty payload is "
            "configured"),
        (10, "http-error : 'string' expects <str> as argument"),
        (11, "http-error : 'hdr' expects <name> and <value> as arguments"),
        (12, "http-error : unknown keyword 'bar'."),
        (13, "errorfiles : expects <name> as argument."),
        (15, "errorfiles : unknown http-errors section 'missing' (frontend 'fe')."),
    ]


def test_errors_resolved_later(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
frontend fe
    errorfiles missing
""")
    assert alerts(diag) == [(3, "errorfiles : unknown http-errors section 'missing' "
                                "(frontend 'fe').")]


def test_default_path_for_errorfiles(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
global
    default-path config
defaults
    errorfile 503 503.http
frontend fe
""")
    assert not diag.alerts, diag.stream.getvalue()
    assert config.proxies[0].settings["http-errors"][503].raw == ERR503


def test_check_http_response():
    assert check_http_response(b"") is None
    assert check_http_response(ERR503) is None
    assert check_http_response(b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n") == 17
