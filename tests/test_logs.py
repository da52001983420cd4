"""The logs plugin: log targets, formats, options, aliases and built-in format variables."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins
from hapx.core.stream import HttpMessage, Session, Stream
from hapx.plugins.logs import formats


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(warn=lambda text: None)


def load(tmp_path: Path, plugins, text: str):
    cfg = tmp_path / "l.cfg"
    cfg.write_text(text)
    diag = Diagnostics(stream=io.StringIO())
    return parse_config([str(cfg)], plugins, diag), diag, str(cfg)


def alerts(diag):
    return [(m.line, m.text) for m in diag.alerts]


def test_env_vars_hold_builtin_formats(plugins):
    assert os.environ["HAPROXY_TCP_LOG_FMT"] == (
        "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq")
    assert os.environ["HAPROXY_HTTP_LOG_FMT"] == (
        "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc "
        "%sq/%bq %hr %hs %{+Q}r")
    assert os.environ["HAPROXY_HTTPS_LOG_FMT"].startswith(os.environ["HAPROXY_HTTP_LOG_FMT"]
                                                          + " %[fc_err]/")
    assert os.environ["HAPROXY_HTTP_CLF_LOG_FMT"] == formats.HTTP_CLF
    assert os.environ["HAPROXY_TCP_CLF_LOG_FMT"].endswith('%sq %bq "" "" ')


def test_every_alias_is_registered(plugins):
    names = ("ci cp fi fp bi bp si sp f ft b s t T Tl Ts ms tr trg trl TR Tw Tc Tr Ta Tt Th "
             "Ti Tq Td Tu ST B U CC CS tsc ts ac fc bc sc rc sq bq hr hs hrl hsl r HM HU HP "
             "HPO HQ HV ID H pid rt lc OG sslc sslv").split()
    for name in names:
        rec = plugins.registry.log_alias(name)
        assert rec is not None and rec.owner == "logs", name
        assert (rec.fetch is None) != (rec.render is None), name
    assert plugins.registry.log_alias("ci").fetch == "src"


def test_targets(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
global
    log stdout format raw daemon info debug
    log 127.0.0.1:1514 len 200 sample 1-2,4:5 local0 notice
    log udp6@[::1]:515 local7
    log /dev/log local1
frontend fe
    log global
    log tcp@127.0.0.1:601 format rfc5424 local2 err
backend be
    log global
    no log
""")
    assert not diag.alerts, diag.stream.getvalue()
    glob = config.global_.settings["log"]
    assert [(t.kind, t.fd, t.format, t.facility, t.level, t.minlevel) for t in glob[:1]] == [
        ("fd", 1, "raw", 3, 6, 7)]
    t = glob[1]
    assert (t.kind, t.host, t.port, t.maxlen, t.sample, t.facility, t.level) == (
        "udp", "127.0.0.1", 1514, 200, (((1, 2), (4, 4)), 5), 16, 5)
    assert (glob[2].host, glob[2].port, glob[2].facility) == ("::1", 515, 23)
    assert (glob[3].kind, glob[3].path) == ("unix", "/dev/log")
    fe, be = config.proxies
    assert len(fe.settings["log"]) == 5 and fe.settings["log"][4].kind == "tcp"
    assert be.settings["log"] == []
    assert not config.inactive  # every target above is active (ring@/backend@ are not)


def test_target_errors(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
global
    log global
    log stdout
    log 127.0.0.1 foo
    log 127.0.0.1 local0 foo
    log 127.0.0.1 local0 info foo
    log 127.0.0.1 len x local0
    log 127.0.0.1 format foo local0
    log 127.0.0.1 sample 1 local0
    log 127.0.0.1 sample 1:x local0
    log 300.1.1.1:x local0
    log ring@nope local0
frontend fe
    log backend@nobe local0
""")
    assert alerts(diag) == [
        (3, "log : 'global' is not supported for a global syslog server"),
        (4, "log : expects <address> and <facility> or global as arguments"),
        (5, "log : unknown log facility 'foo'"),
        (6, "log : unknown optional log level 'foo'"),
        (7, "log : unknown optional minimum log level 'foo'"),
        (8, "log : invalid log length 'x', must be between 80 and 65535"),
        (9, "log : unknown log format 'foo'"),
        (10, "log : Missing sample size"),
        (11, "log : wrong sample size 'x' for sample range '1'"),
        (12, "log : invalid address: '300.1.1.1:x' in '300.1.1.1:x'"),
        (13, "log : unable to find sink 'nope'."),
        (15, "log : unable to find backend 'nobe'."),
    ]


def test_formats_and_options(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
defaults
    mode http
    option httplog
    option dontlognull
frontend fe
    log-format "${HAPROXY_HTTP_LOG_FMT} reused=%[src]"
    log-format-sd "[exampleSDID@1234 cip=\\"%ci\\"]"
    error-log-format "%ci err"
    log-tag front
frontend clf
    option httplog clf
    no option dontlognull
listen tcp
    mode tcp
    option tcplog
""")
    assert not diag.alerts, diag.stream.getvalue()
    fe, clf, tcp = config.proxies
    assert fe.settings["log-format"].text == formats.HTTP + " reused=%[src]"
    assert fe.settings["log-format-sd"].text == '[exampleSDID@1234 cip="%ci"]'
    assert fe.settings["error-log-format"].text == "%ci err"
    assert fe.settings["log-tag"] == "front"
    assert fe.options["httplog"] is True and fe.options["dontlognull"] is True
    assert clf.settings["log-format"].text == formats.HTTP_CLF
    assert clf.settings["log-format.origin"] == "option httplog clf"
    assert clf.options["dontlognull"] is False
    assert tcp.settings["log-format"].text == formats.TCP
    assert tcp.options["tcplog"] is True and tcp.options["httplog"] is False
    # compiled in each proxy, not shared with the defaults section
    defaults = fe.defaults
    assert defaults.settings["log-format"].__class__.__name__ == "LogFormatSource"
    assert clf.defaults is defaults


def test_format_errors(tmp_path, plugins):
    _, diag, _ = load(tmp_path, plugins, """
defaults
    log-format a b
    log-format
    option httplog foo
    option tcplog foo
    option dontlognull x
    log-format %[no_such_fetch_hapx]
    log-tag
""")
    got = alerts(diag)
    assert got[:5] == [
        (3, "log-format expects only one argument, don't forget to escape spaces!"),
        (4, "log-format expects an argument."),
        (5, "keyword 'httplog' only supports option 'clf'."),
        (6, "'option tcplog' cannot handle unexpected argument 'foo'."),
        (7, "'option dontlognull' cannot handle unexpected argument 'x'."),
    ]
    assert got[5][0] == 8 and "no_such_fetch_hapx" in got[5][1]
    assert got[6] == (9, "'log-tag' expects a tag for use in syslog.")


def test_httplog_override_warning_and_tcp_fallback(tmp_path, plugins):
    config, diag, path = load(tmp_path, plugins, """
frontend fe
    mode tcp
    log-format "%ci"
    option httplog
""")
    assert not diag.alerts, diag.stream.getvalue()
    warns = [(m.line, m.text) for m in diag.warnings]
    assert (5, "'option httplog' overrides previous 'log-format' in 'frontend' section.") \
        in warns
    assert (5, "'option httplog' not usable with frontend 'fe' (needs 'mode http'). Falling "
               "back to 'option tcplog'.") in warns
    fe = config.proxies[0]
    assert fe.settings["log-format"].text == formats.TCP
    assert fe.options["tcplog"] is True


def test_render_aliases(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
frontend fe
    mode http
    log-format "%f %b %s [%t] %Ts.%ms %ST %B %U %Tq/%Tw/%Tc/%Tr/%Tt %tsc %ts %rc %{+Q}r %HM %HP %HQ %HV %ID %hr"
    capture request header Host len 20
""")
    assert not diag.alerts, diag.stream.getvalue()
    fe = config.proxies[0]
    accept = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1)) + 0.089
    strm = Stream(sess=Session(accept_date=accept), frontend=fe)
    strm.req = HttpMessage(method="GET", uri="/a/b?x=1", version="1.1")
    strm.status = 200
    strm.counters.update(bytes_out=1234, bytes_in=56)
    strm.timers.update(Th=0, Ti=1, TR=2, Tw=3, Tc=4, Tr=5, Tt=20)
    strm.term_state = "--"
    strm.conn_retries, strm.redispatched = 1, True
    strm.unique_id = "abc"
    strm.captures_req = ["example.com"]
    line = fe.settings["log-format"].render(strm)
    assert line == ("fe fe <NOSRV> [04/Mar/2026:05:06:07.089] "
                    f"{int(accept)}.089 200 1234 56 3/3/4/5/20 ---- -- +1 "
                    '"GET /a/b?x=1 HTTP/1.1" GET /a/b ?x=1 HTTP/1.1 abc {example.com}')
