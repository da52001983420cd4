"""Parse-only plugins of later features, the stats socket, and every configuration example
of the HAProxy 3.2 release notes (tests/configs/seeds)."""

from __future__ import annotations

import pytest
from cfgtools import SEEDS, alerts, parse_file, parse_text, plugins, seed
from hapx.core.records import Action, Filter, RuleSet, Service
from hapx.plugins.lua.scan import scan
from tlspki import CA

TIMEOUTS = """defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
"""

# -- release notes ---------------------------------------------------------------------------

SEED_INACTIVE = {
    "cpu_set.cfg": set(),  # cpu-set and cpu-policy are active (plugin cpu_binding)
    "crt_store_ssl_f_use.cfg": set(),  # TLS plugin
    "acme.cfg": {"acme", "directory"},  # stats socket, crt-store, ssl-f-use: active
    "term_events.cfg": set(),  # term_events plugin
    "compression.cfg": set(),  # compression plugin
    "log_forward_syslog.cfg": {"log-forward", "option dont-parse-log",
                               "option assume-rfc6587-ntf", "dgram-bind"},
    "log_forward_graylog.cfg": {"log-forward", "option host", "dgram-bind"},
    "patref.cfg": set(),  # cache plugin (the Lua part is checked by the Lua issue)
    "h2_tracer.cfg": {"filter lua.h2-tracer"},
    "trisdemo.cfg": set(),
}


def test_every_seed_has_expectations():
    assert {p.name for p in SEEDS.iterdir()} == set(SEED_INACTIVE)


@pytest.mark.parametrize("name", sorted(SEED_INACTIVE))
def test_release_notes_examples_validate(tmp_path, name):
    config, diag, _ = parse_file(seed(tmp_path, name))
    assert not diag.failed, alerts(diag)
    inactive = {u.keyword for u in config.inactive}
    missing = SEED_INACTIVE[name] - inactive
    assert not missing, (missing, inactive)


def test_seed_listeners(tmp_path):
    config, _, _ = parse_file(seed(tmp_path, "log_forward_syslog.cfg"))
    assert config.listener_count() == 2  # bind + dgram-bind
    lf = config.sections["log-forward"]["syslog"]
    assert lf.settings["dgram-bind"][0].address.transport == "dgram"
    assert lf.settings["bind"][0].address.transport == "stream"
    config, _, _ = parse_file(seed(tmp_path, "cpu_set.cfg"))
    assert config.listener_count() == 1  # the listener added to the fragment


# -- stats socket ----------------------------------------------------------------------------

def test_stats_socket_counts_as_listener(tmp_path):
    sock = tmp_path / "s.sock"
    config, diag, _ = parse_text(tmp_path, f"global\n    stats socket {sock} mode 660 "
                                 "level admin expose-fd listeners\n"
                                 "    stats socket ipv4@127.0.0.1:9999\n"
                                 "    stats timeout 30s\n    stats maxconn 5\n")
    assert not diag.failed, alerts(diag)
    socks = config.global_.settings["stats socket"]
    assert socks[0].address.family == "unix" and socks[0].opt("mode") == 0o660
    assert socks[0].opt("level") == "admin" and socks[1].opt("level") == "operator"
    assert config.global_.settings["stats timeout"] == 30_000
    assert config.listener_count() == 2
    _, diag, _ = parse_text(tmp_path, "global\n    stats socket /tmp/x level boss\n")
    assert "only supports 'user', 'operator', and 'admin'" in diag.alerts[0].text


def test_proxy_stats_keywords(tmp_path):
    config, diag, _ = parse_text(tmp_path, TIMEOUTS + """frontend fe
    bind :8404
    stats enable
    stats uri /stats
    stats realm Stats
    stats auth admin:secret
    stats auth ops:pw
    stats refresh 10
    stats hide-version
    stats show-node web1
    stats scope .
""")
    assert not diag.failed, alerts(diag)
    s = config.frontend("fe").settings
    assert s["stats uri"] == "/stats" and s["stats refresh"] == 10_000
    assert s["stats auth"] == [("admin", "secret"), ("ops", "pw")]
    _, diag, _ = parse_text(tmp_path, TIMEOUTS + "frontend fe\n    stats auth nopassword\n")
    assert "expects <user>:<password>" in diag.alerts[0].text


# -- crt-store / ssl-f-use / acme --------------------------------------------------------------

def test_crt_store_errors(tmp_path):
    (tmp_path / "a.pem").write_text("x")
    base = f"crt-store s\n    crt-base {tmp_path}\n"
    cases = {
        base + "    load key a.pem\n": "'crt' is mandatory",
        base + "    load crt missing.pem\n": "unable to load 'crt' file",
        base + "    load crt a.pem ocsp-update maybe\n": "expects 'on' or 'off'",
        base + "    load crt a.pem alias x\n    load crt a.pem alias x\n": "already declared",
        base + "    load crt a.pem acme le\n": "'acme' is experimental",
        base + "    load crt a.pem domains x.com\n": "only meaningful with 'acme'",
        base + "    load crt a.pem alais x\n": "did you mean 'alias' maybe ?",
        TIMEOUTS + "frontend f\n    ssl-f-use crt @nostore/x\n": "is not declared",
        TIMEOUTS + f"frontend f\n    ssl-f-use crt {tmp_path}/a.pem ssl-min-ver TLSv5\n":
            "expects one of 'SSLv3'",
        TIMEOUTS + f"frontend f\n    ssl-f-use crt {tmp_path}/a.pem maxconn 4\n":
            "unknown keyword 'maxconn'",
    }
    for text, expected in cases.items():
        _, diag, _ = parse_text(tmp_path, text)
        assert any(expected in m.text for m in diag.alerts), (text, alerts(diag))


def test_unnamed_store_references(tmp_path):
    (tmp_path / "a.pem").write_bytes(CA().leaf(["a.test"]).bundle)
    config, diag, _ = parse_text(tmp_path, f"""crt-store
    load crt {tmp_path}/a.pem alias site
{TIMEOUTS}frontend f
    bind :443 ssl crt @/site
    bind :444 ssl crt {tmp_path}/a.pem
""")
    assert not diag.failed, alerts(diag)
    assert "@/site" in config.ext["crt_store"]["refs"]


def test_acme_section_checks(tmp_path):
    _, diag, _ = parse_text(tmp_path, "acme le\n    directory https://x/dir\n")
    assert "must be allowed via a global 'expose-experimental-directives'" in \
        diag.alerts[0].text
    exp = "global\n    expose-experimental-directives\n"
    config, diag, _ = parse_text(tmp_path, exp + "acme le\n    contact a@b.c\n")
    assert "no 'directory' URL configured" in diag.alerts[0].text
    cases = {"challenge TLS-ALPN-01": "expects one of 'HTTP-01', 'DNS-01'",
             "keytype DSA": "expects one of 'RSA', 'ECDSA'", "bits 12": "between 1024",
             "contact nobody": "expects an e-mail address", "directory ftp://x": "URL",
             "curves P-999": "expects one of 'P-256'"}
    for line, expected in cases.items():
        _, diag, _ = parse_text(tmp_path, exp + f"acme le\n    directory https://x/\n"
                                f"    {line}\n")
        assert any(expected in m.text for m in diag.alerts), (line, alerts(diag))
    config, diag, _ = parse_text(tmp_path, exp + "acme le\n    directory https://x/d\n")
    assert config.sections["acme"]["le"].settings["account-key"] == "le.account.key"


# -- cache, compression, filters ------------------------------------------------------------------

def test_cache_checks(tmp_path):
    _, diag, _ = parse_text(tmp_path, "cache c\n    total-max-size 1\n"
                            "    max-object-size 900000\n")
    assert "cannot be larger than half of 'total-max-size'" in diag.alerts[0].text
    _, diag, _ = parse_text(tmp_path, "cache c\n    total-max-size 5000\n")
    assert "between 1 and 4095" in diag.alerts[0].text
    _, diag, _ = parse_text(tmp_path, TIMEOUTS + "frontend f\n    bind :80\n"
                            "    filter cache nope\n    http-request cache-use nope\n")
    texts = [m.text for m in diag.alerts]
    assert any("unable to find cache 'nope'" in t for t in texts)
    assert len(texts) == 2
    reg = plugins().registry
    assert reg.action("cache-use", RuleSet.HTTP_REQ).active is True
    assert reg.action("cache-store", RuleSet.HTTP_RES) is not None
    assert reg.action("cache-store", RuleSet.HTTP_REQ) is None


def test_compression_checks(tmp_path):
    cases = {
        "compression algo brotli": "'brotli' is not a supported algorithm",
        "compression algo-req gzip deflate": "only one algorithm",
        "compression algo deflate raw-deflate": "cannot be combined",
        "compression direction sideways": "expects 'request', 'response', or 'both'",
        "compression minsize-res big": "invalid size value",
        "compression speed 3": "unknown keyword 'compression speed'",
        "filter compression now": "takes no argument",
        "filter compresion": "did you mean 'compression' maybe ?",
    }
    for line, expected in cases.items():
        _, diag, _ = parse_text(tmp_path, TIMEOUTS + f"backend b\n    {line}\n")
        assert any(expected in m.text for m in diag.alerts), (line, alerts(diag))
    config, diag, _ = parse_text(tmp_path, TIMEOUTS + "    compression offload\n"
                                 "    compression algo gzip deflate\nbackend b\n")
    assert not diag.failed
    assert any("'compression offload' ignored" in m.text for m in diag.warnings)
    assert config.backend("b").settings["compression"] == {"algo-res": ["gzip", "deflate"]}


# -- lua -------------------------------------------------------------------------------------------

def test_lua_scan():
    regs = scan("""-- core.register_action("commented", {"http-req"}, f)
core.register_action("two", { 'tcp-req', "http-res" }, function(txn, a, b) return f(a, b) end, 2)
core.register_service("svc", "http", function(applet) end)
core.register_converters("conv", function(v) return v end)
""")
    assert [(r.kind, r.name, r.words, r.nargs) for r in regs] == [
        ("action", "two", ("tcp-req", "http-res"), 2),
        ("service", "svc", ("http",), 0),
        ("converters", "conv", (), 0)]


def test_lua_names_exist_only_when_a_script_declares_them(tmp_path):
    script = tmp_path / "x.lua"
    script.write_text('core.register_action("greet-xyz", {"http-req", "http-res"}, '
                      'function(txn, a) end, 1)\n'
                      'core.register_service("svc-xyz", "http", function(applet) end)\n')
    head = f"global\n    tune.lua.bool-sample-conversion normal\n    lua-load {script}\n"
    config, diag, _ = parse_text(tmp_path, head + TIMEOUTS + """frontend f
    bind :80
    http-request lua.greet-xyz hello
    http-response lua.greet-xyz bye
    http-request use-service lua.svc-xyz
""")
    assert not diag.failed, alerts(diag)
    reg = config.registry
    act = reg.action("lua.greet-xyz", RuleSet.HTTP_REQ)
    assert isinstance(act, Action) and act.active and act.owner == "lua-scripts"
    assert isinstance(reg.service("lua.svc-xyz"), Service)
    _, diag, _ = parse_text(tmp_path, head + TIMEOUTS + "frontend f\n"
                            "    http-request lua.greet-xyz\n")
    assert "expect 1 arguments" in diag.alerts[0].text
    # without the script, the names are unknown, as in HAProxy
    _, diag, _ = parse_text(tmp_path, TIMEOUTS + "frontend f\n    http-request lua.nothere\n"
                            "    filter lua.nothere\n")
    assert len(diag.alerts) == 2


def test_lua_load_errors_and_warnings(tmp_path):
    _, diag, _ = parse_text(tmp_path, "global\n    lua-load /nonexistent/x.lua\n")
    assert "failed to load Lua file" in diag.alerts[0].text
    script = tmp_path / "y.lua"
    script.write_text("F = {}\ncore.register_filter('flt-xyz', F, function(f, a) return f end)\n")
    config, diag, _ = parse_text(tmp_path, f"global\n    lua-load {script}\n"
                                 "    tune.lua.bool-sample-conversion normal\n")
    assert not diag.failed
    texts = [m.text for m in diag.warnings]
    assert any("is not set" in t for t in texts) and any("is ignored" in t for t in texts)
    assert isinstance(config.registry.filter("lua.flt-xyz"), Filter)
    _, diag, _ = parse_text(tmp_path, "global\n    lua-prepend-path /x nopath\n")
    assert "'path' or 'cpath'" in diag.alerts[0].text


# -- log-forward, userlist, peers, resolvers, mailers, ring, traces, program, fcgi-app ------------

def test_log_forward_checks(tmp_path):
    cases = {"option host overwrite": "expects one of 'replace', 'fill', 'keep', 'append'",
             "dgram-bind udp@:514 accept-netscaler-cip 1": "unknown keyword 'accept-netscaler-cip'",
             "bind :514 level admin": "unknown keyword 'level'",
             "maxconn none": "expects an integer",
             "log backend@nope local0": "unable to find backend 'nope'"}
    for line, expected in cases.items():
        _, diag, _ = parse_text(tmp_path, f"log-forward lf\n    bind :1514\n    {line}\n")
        assert any(expected in m.text for m in diag.alerts), (line, alerts(diag))


def test_userlist(tmp_path):
    config, diag, _ = parse_text(tmp_path, """userlist L
    group admins users alice,bob
    user alice password $5$salt$hash groups admins
    user bob insecure-password secret
""")
    assert not diag.failed, alerts(diag)
    users = config.sections["userlist"]["L"].settings["users"]
    assert users["bob"]["insecure"] and users["alice"]["groups"] == ["admins"]
    for body, expected in {"    user a groups ghosts\n": "no such group 'ghosts'",
                           "    group g users zed\n": "no such user 'zed'",
                           "    user a\n    user a\n": "already declared",
                           "    user a pass x\n": "expects 'password <hash>'"}.items():
        _, diag, _ = parse_text(tmp_path, "userlist L\n" + body)
        assert any(expected in m.text for m in diag.alerts), (body, alerts(diag))


def test_peers_and_stick_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("HAPROXY_LOCALPEER", "me")
    config, diag, _ = parse_text(tmp_path, """peers mypeers
    peer me 127.0.0.1:10000
    peer other 10.0.0.2:10000
    table t1 type string len 32 size 1m expire 30s store gpc(3),http_req_rate(10s)
""" + TIMEOUTS + """backend be
    stick-table type ip size 100k expire 30m peers mypeers store conn_cur,gpc_rate(2,1m)
    server s 1.1.1.1:80
""")
    assert not diag.failed, alerts(diag)
    assert config.listener_count() == 1  # the local peer
    t1 = config.ext["tables"]["mypeers/t1"]
    assert t1.key_len == 32 and t1.size == 1024 * 1024 and t1.store["gpc"] == 3
    be_table = config.backend("be").settings["stick-table"]
    assert be_table.store["gpc_rate"] == (2, 60_000) and be_table.peers == "mypeers"
    for line, expected in {"stick-table type ip": "missing size",
                           "stick-table type ipv7 size 1": "unknown type 'ipv7'",
                           "stick-table type ip size 1 store foo": "unknown data type 'foo'",
                           "stick-table type ip size 1 store conn_rate": "missing period",
                           "stick-table type ip size 1 store gpc(200)":
                               "out of allowed range (1-100)",
                           "stick-table type ip size 1 peers nope": "unable to find peers",
                           "stick-table type ip size 1\n    stick-table type ip size 1":
                               "only one stick-table"}.items():
        _, diag, _ = parse_text(tmp_path, TIMEOUTS + f"backend be\n    {line}\n")
        assert any(expected in m.text for m in diag.alerts), (line, alerts(diag))


def test_small_sections(tmp_path):
    config, diag, _ = parse_text(tmp_path, """resolvers dns
    nameserver ns1 10.0.0.53
    nameserver ns2 tcp@10.0.0.54:53
    accepted_payload_size 8192
    hold valid 10s
    resolve_retries 3
    timeout resolve 1s
mailers m
    mailer smtp1 10.0.0.25:25
    timeout mail 20s
ring logs
    description "request logs"
    format rfc3164
    maxlen 1200
    size 32764
    timeout connect 5s
    server syslog 10.0.0.30:514 log-proto octet-count
traces
    trace fcgi sink stderr level developer
program api
    command /usr/bin/true --flag
    no option start-on-reload
fcgi-app php
    docroot /var/www
    index index.php
    path-info ^(/.+\\.php)(/.*)?$
    option keep-conn
    set-param SCRIPT_NAME /x if { path_beg /x }
""" + TIMEOUTS + """backend be
    email-alert mailers m
    email-alert level notice
    use-fcgi-app php
    server s 1.1.1.1:9000 resolvers dns
""")
    assert not diag.failed, alerts(diag)
    secs = config.sections
    assert secs["resolvers"]["dns"].settings["nameservers"]["ns1"].port == 53
    assert secs["ring"]["logs"].settings["description"] == "request logs"
    assert secs["ring"]["logs"].entries[0].opt("log-proto") == "octet-count"
    assert [words for words, _file, _line in config.global_.settings["traces"]] == \
        [["fcgi", "sink", "stderr", "level", "developer"]]
    # fcgi has no trace source in hapx (no FastCGI mux): refused at start, named
    assert [u.keyword for u in config.inactive if u.keyword.startswith("trace")] == \
        ["trace fcgi"]
    assert secs["program"]["api"].settings["option start-on-reload"] is False
    assert any("deprecated" in m.text for m in diag.warnings)
    errors = {
        "resolvers r\n    hold forever 1s\n": "'hold' expects one of",
        "mailers m\n    mailer a nowhere\n": "missing port specification",
        "ring r\n    format json\n": "expects one of 'iso'",
        "traces\n    trace h9\n": "unknown trace source 'h9'",
        "program p\n    user x\n": "no command found",
        "fcgi-app f\n    index x\n": "no docroot configured",
        TIMEOUTS + "backend b\n    use-fcgi-app nope\n": "unable to find FCGI application",
        TIMEOUTS + "backend b\n    email-alert mailers nope\n": "no such mailers section",
        "cache a\ncache a\n": "has the same name as another cache section",
    }
    for text, expected in errors.items():
        _, diag, _ = parse_text(tmp_path, text)
        assert any(expected in m.text for m in diag.alerts), (text, alerts(diag))


def test_every_record_is_documented():
    owners = {"acme", "cache", "compression", "crt_store", "fcgi_app", "filters",
              "log_forward", "lua", "mailers", "peers", "program", "resolvers", "ring",
              "stick_tables", "traces", "userlist", "binds", "servers", "stats_socket",
              "balance_roundrobin", "balance_static_rr"}
    reg = plugins().registry
    seen = set()
    for owner in owners:
        recs = reg.by_owner.get(owner, [])
        assert recs, owner
        seen.add(owner)
        for rec in recs:
            assert rec.doc.strip(), (owner, rec.name)
    assert seen == owners
