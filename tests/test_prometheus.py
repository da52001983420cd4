"""The Prometheus exporter (``http-request use-service prometheus-exporter``): a real hapx
under traffic scraped with httpx, the text read back by prometheus-client's own parser, the
values compared with ``show stat`` / ``show info`` on the stats socket; scopes, no-maint and
metric filters; fields a plugin adds to the statistics registry, and stick tables."""

from __future__ import annotations

import csv
import io
import threading

import httpx
import pytest
from cfgtools import parse_text
from cliutil import cli
from hapx.core.stats import StatField, stats_of
from hapx.plugins.prometheus_exporter.exporter import Query, render
from netutil import OriginServer, free_port, run_hapx
from prometheus_client.parser import text_string_to_metric_families


def config(port: int, origin_port: int, dead_port: int, sockdir: str) -> str:
    return f"""
global
    stats socket {sockdir}/admin.sock level admin

defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s

frontend fe
    bind 127.0.0.1:{port}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    default_backend be

backend be
    server s1 127.0.0.1:{origin_port}
    server s2 127.0.0.1:{origin_port}
    server s3 127.0.0.1:{dead_port} disabled

backend other
    mode tcp
    server t1 127.0.0.1:{dead_port}
"""


def show_stat(path: str) -> dict[tuple[str, str], dict[str, str]]:
    text = cli(path, "show stat")
    rows = list(csv.reader(io.StringIO(text[2:])))
    header = rows[0][:-1]
    return {(r[0], r[1]): dict(zip(header, r[:-1], strict=True)) for r in rows[1:] if r}


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(fams: dict[str, object], family: str, name: str | None = None) -> dict:
    """{frozenset(labels): value} of one family's samples (``name``: the sample name)."""
    fam = fams[family]
    return {frozenset(s.labels.items()): s.value for s in fam.samples
            if name is None or s.name == name}


@pytest.fixture
def proxy(tmp_path):
    origin = OriginServer()
    port, dead = free_port(), free_port()
    with origin:
        cfg = config(port, origin.port, dead, str(tmp_path))
        with run_hapx(cfg, ready_ports=[port, str(tmp_path / "admin.sock")]) as proc:
            yield proc, port, str(tmp_path / "admin.sock")


def test_scrape_under_traffic_matches_show_stat(proxy):
    _proc, port, sock = proxy
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    statuses: list[int] = []

    def load() -> None:
        with httpx.Client() as c:
            while not stop.is_set():
                statuses.append(c.get(f"{base}/x").status_code)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        # scrapes while requests flow: always complete, parseable text
        with httpx.Client() as c:
            for _ in range(5):
                r = c.get(f"{base}/metrics")
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/plain; version=0.0.4"
                fams = families(r.text)
                assert "haproxy_frontend_current_sessions" in fams
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert statuses and set(statuses) == {200}

    with httpx.Client() as c:
        text = c.get(f"{base}/metrics").text
    stat = show_stat(sock)
    fams = families(text)

    # HAProxy's names, types and help texts
    for name in ("haproxy_process_nbthread", "haproxy_process_uptime_seconds",
                 "haproxy_process_current_session_rate", "haproxy_process_build_info",
                 "haproxy_frontend_current_sessions", "haproxy_frontend_sessions",
                 "haproxy_frontend_current_session_rate", "haproxy_frontend_http_requests",
                 "haproxy_frontend_http_responses", "haproxy_frontend_status",
                 "haproxy_backend_current_queue", "haproxy_backend_status",
                 "haproxy_backend_current_session_rate", "haproxy_backend_loadbalanced",
                 "haproxy_backend_response_time_average_seconds",
                 "haproxy_server_current_sessions", "haproxy_server_status",
                 "haproxy_server_current_session_rate", "haproxy_server_bytes_out"):
        assert name in fams, name
    # prometheus-client names a counter family without its _total suffix
    assert fams["haproxy_frontend_sessions"].type == "counter"
    assert fams["haproxy_frontend_current_sessions"].type == "gauge"
    assert fams["haproxy_frontend_current_sessions"].documentation == \
        "Number of current sessions on the frontend, backend or server"
    assert "\nhaproxy_frontend_sessions_total{proxy=\"fe\"} " in text
    assert "# TYPE haproxy_frontend_sessions_total counter\n" in text
    assert fams["haproxy_process_build_info"].samples[0].labels["version"].startswith("3.2")
    # no mode-http metrics for a tcp backend, and no frontend row for backends
    resp = samples(fams, "haproxy_backend_http_responses")
    assert {dict(k)["proxy"] for k in resp} == {"be"}
    assert {dict(k)["proxy"] for k in samples(fams, "haproxy_frontend_current_sessions")} \
        == {"fe"}

    # values: backend and server counters did not move since the scrape
    def one(family: str, **labels: str) -> float:
        return samples(fams, family)[frozenset(labels.items())]

    for sv in ("s1", "s2"):
        row = stat[("be", sv)]
        assert one("haproxy_server_sessions", proxy="be", server=sv) == int(row["stot"])
        assert one("haproxy_server_bytes_in", proxy="be", server=sv) == int(row["bin"])
        assert one("haproxy_server_bytes_out", proxy="be", server=sv) == int(row["bout"])
        assert one("haproxy_server_loadbalanced", proxy="be", server=sv) == int(row["lbtot"])
        assert one("haproxy_server_http_responses", proxy="be", server=sv, code="2xx") == \
            int(row["hrsp_2xx"])
        assert one("haproxy_server_weight", proxy="be", server=sv) == int(row["weight"])
        assert one("haproxy_server_status", proxy="be", server=sv, state="UP") == 1
        assert one("haproxy_server_status", proxy="be", server=sv, state="DOWN") == 0
        assert one("haproxy_server_response_time_average_seconds", proxy="be", server=sv) \
            == pytest.approx(int(row["rtime"]) / 1000)
    assert one("haproxy_server_status", proxy="be", server="s3", state="MAINT") == 1
    be = stat[("be", "BACKEND")]
    total = int(be["stot"])
    assert total == len(statuses)
    assert one("haproxy_backend_sessions", proxy="be") == total
    assert one("haproxy_backend_http_requests", proxy="be") == int(be["req_tot"])
    assert one("haproxy_backend_http_responses", proxy="be", code="2xx") == total
    assert one("haproxy_backend_active_servers", proxy="be") == int(be["act"]) == 2
    assert one("haproxy_backend_status", proxy="be", state="UP") == 1
    assert one("haproxy_backend_status", proxy="other", state="UP") == 1
    # the frontend: the scrape's own request ended after it was rendered
    fe = stat[("fe", "FRONTEND")]
    assert one("haproxy_frontend_connections", proxy="fe") == int(fe["conn_tot"])
    assert one("haproxy_frontend_http_requests", proxy="fe") == int(fe["req_tot"]) - 1
    assert one("haproxy_frontend_limit_sessions", proxy="fe") == int(fe["slim"])
    assert one("haproxy_frontend_status", proxy="fe", state="UP") == 1
    # every scrape is a request the service intercepted (this one counts once it ended)
    assert one("haproxy_frontend_intercepted_requests", proxy="fe") == \
        int(fe["intercepted"]) - 1 == 5
    # the process: show info's fields
    info = dict(line.split(": ", 1) for line in cli(sock, "show info").splitlines() if line)
    assert one("haproxy_process_max_connections") == int(info["Maxconn"])
    assert one("haproxy_process_nbthread") == int(info["Nbthread"]) == 1
    assert one("haproxy_process_start_time_seconds") == int(info["Start_time_sec"])


def test_scopes_filters_and_no_maint(proxy):
    _proc, port, _sock = proxy
    base = f"http://127.0.0.1:{port}/metrics"
    with httpx.Client() as c:
        c.get(f"http://127.0.0.1:{port}/x")

        def prefixes(query: str) -> set[str]:
            r = c.get(f"{base}?{query}")
            assert r.status_code == 200
            return {"_".join(f.name.split("_")[:2]) for f in
                    text_string_to_metric_families(r.text)}

        assert prefixes("scope=server") == {"haproxy_server"}
        assert prefixes("scope=frontend&scope=backend") == {"haproxy_frontend",
                                                           "haproxy_backend"}
        assert prefixes("scope=global") == {"haproxy_process"}
        assert prefixes("scope=*") == {"haproxy_process", "haproxy_frontend",
                                       "haproxy_backend", "haproxy_server"}
        assert c.get(f"{base}?scope=*&scope=").text == ""
        assert prefixes("scope=&scope=global") == {"haproxy_process"}
        assert prefixes("") == prefixes("scope=*")
        assert c.get(f"{base}?scope=nonsense").status_code == 400

        all_servers = c.get(f"{base}?scope=server").text
        assert 'server="s3"' in all_servers
        no_maint = c.get(f"{base}?scope=server&no-maint").text
        assert 'server="s3"' not in no_maint and 'server="s1"' in no_maint

        only = families(c.get(f"{base}?metrics=haproxy_backend_status,"
                              "haproxy_server_weight").text)
        assert set(only) == {"haproxy_backend_status", "haproxy_server_weight"}
        dropped = families(c.get(f"{base}?scope=server&metrics=-haproxy_server_weight").text)
        assert "haproxy_server_weight" not in dropped and "haproxy_server_status" in dropped


def test_registry_fields_a_plugin_adds_are_exported(tmp_path):
    """A statistic added to the registry (as plugins do in hapx_register_stats) appears in
    the scrape without any list being edited: under promex's name when the field is one of
    HAProxy's, else under a name derived from the field, typed from its nature tag."""
    cfg, diag, _out = parse_text(tmp_path, """
defaults
    mode http
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    server s1 127.0.0.1:9
""")
    assert not diag.alerts
    reg = stats_of(cfg)
    reg.add(StatField("widgets_frobbed", "MCP", "u64", "FB", "Widgets frobbed by the proxy",
                      lambda kind, obj: 7, owner="example"))
    reg.add(StatField("Queue Depth", "MGP", "u32", "S", "Depth of something",
                      lambda kind, obj: 3, owner="example"))
    fams = families(render(cfg, Query.parse("")))
    fe = fams["haproxy_frontend_widgets_frobbed"]
    assert fe.type == "counter" and fe.documentation == "Widgets frobbed by the proxy"
    assert [(s.name, s.labels, s.value) for s in fe.samples] == [
        ("haproxy_frontend_widgets_frobbed_total", {"proxy": "fe"}, 7.0)]
    assert samples(fams, "haproxy_backend_widgets_frobbed") == {
        frozenset({("proxy", "be")}): 7.0}
    depth = fams["haproxy_server_queue_depth"]
    assert depth.type == "gauge"
    assert samples(fams, "haproxy_server_queue_depth") == {
        frozenset({("proxy", "be"), ("server", "s1")}): 3.0}
    # not for kinds the field does not declare
    assert "haproxy_frontend_queue_depth" not in fams


def test_sticktable_metrics(tmp_path):
    cfg, diag, _out = parse_text(tmp_path, """
defaults
    mode http
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    stick-table type ip size 1m expire 10s store http_req_rate(10s)
    server s1 127.0.0.1:9
backend names
    stick-table type string len 32 size 200
""")
    assert not diag.alerts
    text = render(cfg, Query.parse("scope=sticktable"))
    fams = families(text)
    assert set(fams) == {"haproxy_sticktable_size", "haproxy_sticktable_used"}
    assert fams["haproxy_sticktable_size"].documentation == "Stick table size."
    assert samples(fams, "haproxy_sticktable_size") == {
        frozenset({("name", "be"), ("type", "ip")}): 1048576.0,
        frozenset({("name", "names"), ("type", "string")}): 200.0}
    assert set(samples(fams, "haproxy_sticktable_used").values()) == {0.0}


def test_prometheus_client_collector(tmp_path):
    """The same families through prometheus-client's own registry and writer."""
    from hapx.plugins.prometheus_exporter.exporter import PromexCollector
    from prometheus_client import CollectorRegistry, generate_latest

    cfg, diag, _out = parse_text(tmp_path, """
defaults
    mode http
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    server s1 127.0.0.1:9
""")
    assert not diag.alerts
    registry = CollectorRegistry()
    registry.register(PromexCollector(cfg, Query.parse("scope=frontend&scope=server")))
    theirs = families(generate_latest(registry).decode())
    ours = families(render(cfg, Query.parse("scope=frontend&scope=server")))
    assert set(theirs) == set(ours)
    for name in ("haproxy_frontend_sessions", "haproxy_server_status",
                 "haproxy_frontend_http_responses"):
        assert theirs[name].type == ours[name].type
        assert [(s.name, s.labels, s.value) for s in theirs[name].samples] == \
            [(s.name, s.labels, s.value) for s in ours[name].samples]


def test_promex_feature(tmp_path):
    """HAProxy built with the exporter lists PROMEX: configurations test it with
    feature(PROMEX)."""
    import subprocess
    import sys

    cfg = tmp_path / "x.cfg"
    cfg.write_text(".if feature(PROMEX)\n.notice promex here\n.endif\n")
    out = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-c", "-f", str(cfg)],
                         capture_output=True, text=True, timeout=120)
    assert "parsing [" in out.stderr and ":2] : promex here" in out.stderr
