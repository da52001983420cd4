"""server, default-server, balance and the load-balancing tuning directives."""

from __future__ import annotations

from cfgtools import CONFIGS, alerts, parse_file, parse_text
from hapx.plugins.servers import BalanceSetting, balance_of

HEAD = """defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
backend be
"""


def test_servers_file_end_to_end():
    config, diag, _ = parse_file(CONFIGS / "servers.cfg")
    assert not diag.failed, alerts(diag)
    app = config.backend("app")
    s1, s2, s3, s4, s5, s6 = app.servers
    # default-server from the defaults section and from the backend
    assert s1.opt("inter") == 3000 and s1.check and s1.maxconn == 50
    assert s1.weight == 3 and s1.uweight == 3 and s1.maxqueue == 10
    assert s1.opt("slowstart") == 30_000
    assert not s2.check and s2.backup and s2.id == 10
    assert s2.opt("idle-ping") == 5000 and s2.opt("strict-maxconn")
    assert s2.opt("check-reuse-pool")
    assert s3.disabled and not s3.up and s3.address.port is None
    assert s4.address.needs_resolution and s4.address.port_offset == 100
    assert s4.opt("init-addr") == ["last", "libc", "none"]
    assert s5.address.family == "unix" and s5.opt("source")["usesrc"] == "clientip"
    assert s6.opt("track") == "s1" and s6.opt("observe") == "layer7"
    # IDs: forced ones kept, the others take the first free numbers
    assert [s.id for s in app.servers] == [1, 10, 2, 3, 4, 5]
    bal = app.settings["balance"]
    assert isinstance(bal, BalanceSetting) and bal.name == "static-rr"
    hashed = config.backend("hashed")
    assert hashed.settings["hash-type"] == {"method": "consistent", "function": "sdbm",
                                            "avalanche": True}
    assert hashed.settings["hash-balance-factor"] == 150
    assert hashed.settings["hash-preserve-affinity"] == "maxqueue"
    cookie = hashed.settings["cookie"]
    assert cookie["name"] == "SRV" and {"insert", "indirect"} <= cookie["flags"]
    assert cookie["maxidle"] == 1_800_000
    inactive = {u.keyword for u in config.inactive}
    assert {"server observe", "cookie"} <= inactive
    assert not {"hash-type", "hash-balance-factor", "hash-preserve-affinity"} & inactive
    assert "server check" not in inactive  # the health_checks plugin runs checks
    assert "server" not in inactive and "default-server" not in inactive
    assert "balance static-rr" not in inactive


def test_errors(tmp_path):
    cases = {
        "server s1 1.2.3.4:80 weight 300": "weight is not within 0 and 256 (300)",
        "server s1 1.2.3.4:80 foo": "'server be/s1' : unknown keyword 'foo'; did you mean "
                                    "'tfo' maybe ?",
        "server s1 1.2.3.4:80 inter 3x": "unexpected character 'x'",
        "server s1": "'server' expects <name> and <addr>[:<port>] as arguments.",
        "server s1 1.2.3.4:99999": "invalid port '99999'",
        "server s1 1.2.3.4:80-90": "port range not permitted here in '1.2.3.4:80-90'",
        "server s1 1.2.3.4:x": "invalid character 'x' in port number 'x'",
        "server s1 1.2.3.4:80\n    server s1 1.2.3.5:80": "the name 's1' is already used",
        "server s1 1.2.3.4:80 id 3\n    server s2 1.2.3.5:80 id 3": "custom id 3 already used",
        "server s1 1.2.3.4:80 observe layer9": "expects one of 'none', 'layer4', 'layer7'",
        "server s1 1.2.3.4:80 track nope": "unable to find required server 'nope'",
        "server s1 1.2.3.4:80 track other/s1": "unable to find required proxy 'other'",
        "server s1 1.2.3.4:80 resolvers dns": "unable to find required resolvers section",
        "server s1 udp@1.2.3.4:514": "only usable in a 'mode log' backend",
        "balance roundrobbin": "unknown balance algorithm 'roundrobbin'; did you mean "
                               "'roundrobin' maybe ?",
        "balance roundrobin extra": "takes no argument",
        "hash-type magic": "unknown method 'magic'",
        "hash-type consistent md5": "unknown function 'md5'",
        "hash-balance-factor 50": "must be 0 or greater than 100",
        "hash-preserve-affinity sometimes": "expects one of 'always', 'maxconn', 'maxqueue'",
        "cookie SRV insert rewrite": "mutually exclusive",
        "cookie SRV postonly": "'postonly' option is only possible with 'insert'",
        "cookie SRV badflag": "(got 'badflag')",
        "persist rdp": "'persist' only supports 'rdp-cookie[(<name>)]'",
    }
    for line, expected in cases.items():
        _, diag, _ = parse_text(tmp_path, HEAD + f"    {line}\n")
        assert diag.failed, line
        assert any(expected in m.text for m in diag.alerts), (line, alerts(diag))
        assert diag.alerts[0].file.endswith("test.cfg") and diag.alerts[0].line >= 7


def test_default_server_no_forms_and_inheritance(tmp_path):
    text = """defaults d
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
    default-server check backup weight 7
    balance static-rr
backend be from d
    server a 1.1.1.1:80
    server b 1.1.1.2:80 no-check no-backup
    server c 1.1.1.3:80 weight 2
backend other
    server z 1.1.1.9:80
"""
    config, diag, _ = parse_text(tmp_path, text)
    assert not diag.failed, alerts(diag)
    a, b, c = config.backend("be").servers
    assert a.check and a.backup and a.weight == 7
    assert not b.check and not b.backup and "no-check" not in b.options
    assert c.weight == 2
    assert config.backend("be").settings["balance"].name == "static-rr"
    z = config.backend("other").servers[0]  # inherits the last defaults too
    assert z.check and z.weight == 7


def test_default_algorithm_is_roundrobin(tmp_path):
    config, diag, _ = parse_text(tmp_path, HEAD + "    server s 1.1.1.1:80\n")
    assert not diag.failed
    be = config.backend("be")
    setting = balance_of(be, config.registry)
    assert setting.name == "roundrobin"
    picker = setting.build(be)
    assert picker.pick(None) is be.servers[0]


def test_dispatch_and_persist(tmp_path):
    config, diag, _ = parse_text(tmp_path, HEAD + "    dispatch 10.0.0.1:80\n"
                                 "    persist rdp-cookie(user)\n")
    assert not diag.failed, alerts(diag)
    be = config.backend("be")
    assert be.settings["dispatch"].port == 80
    assert be.settings["persist"] == {"rdp-cookie": "user"}
