"""roundrobin and static-rr pickers: distributions, interleaving, dynamic weights, states,
backups."""

from __future__ import annotations

from collections import Counter

import pytest
from cfgtools import parse_text, plugins
from hapx.core.config.address import Ports, parse_address
from hapx.plugins.balance_roundrobin import RoundRobin
from hapx.plugins.balance_static_rr import StaticRoundRobin
from hapx.plugins.servers import Server


def servers(*weights: int, backups: tuple[int, ...] = ()) -> list[Server]:
    out = []
    for i, w in enumerate(weights + backups):
        srv = Server(f"s{i}", parse_address(f"10.0.0.{i + 1}", ports=Ports.OPTIONAL), "be")
        srv.weight = srv.uweight = w
        if i >= len(weights):
            srv.options["backup"] = True
        out.append(srv)
    return out


def names(picker, n: int) -> list[str]:
    return [picker.pick(None).name for _ in range(n)]


@pytest.mark.parametrize("cls", [RoundRobin, StaticRoundRobin])
def test_weighted_distribution(cls):
    srvs = servers(5, 3, 1, 1)
    picker = cls(srvs)
    counts = Counter(names(picker, 10_000))
    assert counts == {"s0": 5000, "s1": 3000, "s2": 1000, "s3": 1000}


@pytest.mark.parametrize("cls", [RoundRobin, StaticRoundRobin])
def test_interleaved_not_bursty(cls):
    picker = cls(servers(3, 1))
    assert names(picker, 8) == ["s0", "s0", "s1", "s0"] * 2


@pytest.mark.parametrize("cls", [RoundRobin, StaticRoundRobin])
def test_down_and_zero_weight_servers_are_skipped(cls):
    srvs = servers(1, 1, 1)
    picker = cls(srvs)
    picker.server_down(srvs[1])
    assert set(names(picker, 100)) == {"s0", "s2"}
    picker.set_weight(srvs[2], 0)
    assert set(names(picker, 10)) == {"s0"}
    picker.server_up(srvs[1])
    assert Counter(names(picker, 100)) == {"s0": 50, "s1": 50}


def test_roundrobin_weight_changes_apply_live():
    srvs = servers(1, 1)
    picker = RoundRobin(srvs)
    picker.set_weight(srvs[0], 3)
    assert Counter(names(picker, 400)) == {"s0": 300, "s1": 100}
    with pytest.raises(ValueError):
        picker.set_weight(srvs[0], 257)


def test_static_rr_weight_only_zero_or_initial():
    srvs = servers(1, 1)
    picker = StaticRoundRobin(srvs)
    picker.set_weight(srvs[0], 200)  # not applied: static-rr keeps the initial weight
    assert Counter(names(picker, 100)) == {"s0": 50, "s1": 50}
    picker.set_weight(srvs[0], 0)
    assert set(names(picker, 10)) == {"s1"}
    picker.set_weight(srvs[0], 5)
    assert srvs[0].uweight == 1
    assert Counter(names(picker, 100)) == {"s0": 50, "s1": 50}


@pytest.mark.parametrize("cls", [RoundRobin, StaticRoundRobin])
def test_backups(cls):
    srvs = servers(1, 1, backups=(1, 1))
    picker = cls(srvs)
    assert set(names(picker, 20)) == {"s0", "s1"}
    picker.server_down(srvs[0])
    picker.server_down(srvs[1])
    assert set(names(picker, 20)) == {"s2"}  # first backup only
    picker.server_down(srvs[2])
    assert set(names(picker, 20)) == {"s3"}
    picker.server_down(srvs[3])
    assert picker.pick(None) is None
    picker.server_up(srvs[1])
    assert set(names(picker, 5)) == {"s1"}


@pytest.mark.parametrize("cls", [RoundRobin, StaticRoundRobin])
def test_allbackups(cls):
    srvs = servers(1, backups=(2, 1))
    picker = cls(srvs, allbackups=True)
    picker.server_down(srvs[0])
    assert Counter(names(picker, 300)) == {"s1": 200, "s2": 100}


def test_no_server_at_all():
    assert RoundRobin([]).pick(None) is None
    assert StaticRoundRobin([]).pick(None) is None


@pytest.mark.parametrize("algo,cls", [("roundrobin", RoundRobin),
                                      ("static-rr", StaticRoundRobin)])
def test_records_build_pickers_from_config(tmp_path, algo, cls):
    text = f"""defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
    option allbackups
backend be
    balance {algo}
    server a 1.1.1.1:80 weight 2
    server b 1.1.1.2:80
    server c 1.1.1.3:80 backup
"""
    config, diag, _ = parse_text(tmp_path, text)
    assert not diag.failed, [m.text for m in diag.alerts]
    be = config.backend("be")
    picker = be.settings["balance"].build(be)
    assert isinstance(picker, cls) and picker.allbackups
    assert Counter(names(picker, 30)) == {"a": 20, "b": 10}
    rec = plugins().registry.balancer(algo)
    assert rec.active and rec.doc.startswith(algo)


def test_algorithm_arguments(tmp_path):
    head = """defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
backend be
    server a 1.1.1.1:80
"""
    good = {"leastconn": None, "uri len 10 depth 2 whole path-only":
            {"len": 10, "depth": 2, "whole": True, "path-only": True},
            "url_param userid check_post 64": {"name": "userid", "check_post": True},
            "hdr(host) use_domain_only": {"name": "host", "use_domain_only": True},
            "random(3)": {"draws": 3}, "random": {"draws": 2},
            "rdp-cookie": {"name": "mstshash"}, "source": None, "first": None}
    for line, settings in good.items():
        config, diag, _ = parse_text(tmp_path, head + f"    balance {line}\n")
        assert not diag.failed, (line, [m.text for m in diag.alerts])
        bal = config.backend("be").settings["balance"]
        assert bal.settings == settings
        assert not config.inactive, (line, config.inactive)
    bad = {"uri depth x": "'depth' expects a positive integer",
           "uri deep 2": "only accepts parameters",
           "url_param": "requires an URL parameter name",
           "hdr": "requires an http header field name",
           "random(0)": "positive integer", "leastconn(2)": "takes no parameter",
           "source now": "takes no argument", "hash": "exactly one sample expression"}
    for line, expected in bad.items():
        _, diag, _ = parse_text(tmp_path, head + f"    balance {line}\n")
        assert any(expected in m.text for m in diag.alerts), (line, diag.alerts)
