"""Stick tables end to end: real hapx processes, httpx clients, stats socket commands.

Rate limiting on http_req_rate and on a gpc array element, ``set table`` visible through
``show table`` and the fetches, expiry, eviction of the oldest entry, ``stick on src``
persistence (and its move when the server goes down), the counters kept by tracking, and
``show table``/``set table``/``clear table`` compared with Debian's haproxy 2.6."""

from __future__ import annotations

import re
import shutil
import socket

import httpx
import pytest
from cliutil import socat_cli
from netutil import OriginServer, Response, free_port, run_haproxy, run_hapx, wait_until

SOCAT = shutil.which("socat")


def entries(text: str) -> dict[str, dict[str, str]]:
    """``show table <t>`` output -> {key: {field: value}}."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("0x"):
            continue
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        out[fields["key"]] = fields
    return out


# -- rate limiting ----------------------------------------------------------------------------

RATE_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 100 expire 30s store http_req_rate(10s),http_req_cnt,conn_cur,conn_cnt,gpc(3),gpc_rate(3,10s),http_err_cnt,http_fail_cnt,bytes_in_cnt,bytes_out_cnt
    http-request track-sc0 src
    http-request deny deny_status 429 if {{ path /limited }} {{ sc_http_req_rate(0) gt 5 }}
    http-request deny deny_status 429 if {{ path /gpc }} {{ sc_get_gpc(2,0) ge 5 }}
    http-request sc-inc-gpc(0,0) if {{ path /count }}
    http-request return status 200 content-type text/plain lf-string "%[sc_get_gpc(2,0)] %[src_get_gpc(2)] %[sc0_get_gpc(2)] %[sc_gpc_rate(0,0)] %[sc_trackers(0)] %[table_cnt] %[table_avl] %[sc0_key]" if {{ path /show }}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


@pytest.fixture()
def rate_proxy(tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    with OriginServer(routes={"/missing": Response(404, b"no\n"),
                              "/broken": Response(500, b"bad\n")}) as origin:
        cfg = RATE_CFG.format(sock=sock, port=port, origin=origin.port)
        with run_hapx(cfg, ready_ports=[port, sock]):
            yield port, sock


def test_http_req_rate_limit_answers_429_above_the_rate(rate_proxy):
    port, sock = rate_proxy
    with httpx.Client(timeout=10) as c:
        statuses = [c.get(f"http://127.0.0.1:{port}/limited").status_code for _ in range(10)]
    assert statuses == [200] * 5 + [429] * 5
    row = entries(socat_cli(sock, "show table fe"))["127.0.0.1"]
    assert row["http_req_rate(10000)"] == "10"
    assert row["http_req_cnt"] == "10"
    assert row["conn_cnt"] == "10"
    assert row["conn_cur"] == "0"  # decremented as each stream ended
    assert int(row["bytes_in_cnt"]) > 0 and int(row["bytes_out_cnt"]) > 0


def test_counters_errors_failures_and_tracking_fetches(rate_proxy):
    port, sock = rate_proxy
    with httpx.Client(timeout=10) as c:
        assert c.get(f"http://127.0.0.1:{port}/missing").status_code == 404
        assert c.get(f"http://127.0.0.1:{port}/broken").status_code == 500
        for _ in range(3):
            assert c.get(f"http://127.0.0.1:{port}/count").status_code == 200
        body = c.get(f"http://127.0.0.1:{port}/show").text
    row = entries(socat_cli(sock, "show table fe"))["127.0.0.1"]
    assert row["http_err_cnt"] == "1"
    assert row["http_fail_cnt"] == "1"
    assert row["gpc0"] == "3" and row["gpc0_rate(10000)"] == "3"
    # gpc[2], src_get_gpc(2), sc0_get_gpc(2), gpc_rate[0], trackers (this stream),
    # table_cnt, table_avl, the tracked key
    assert body == "0 0 0 3 1 1 99 127.0.0.1"


def test_set_gpc_array_element_is_visible_and_limits(rate_proxy):
    port, sock = rate_proxy
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=10) as c:
        assert c.get(url + "/gpc").status_code == 200
        assert socat_cli(sock, "set table fe key 127.0.0.1 data.gpc[2] 5") == "\n"
        row = entries(socat_cli(sock, "show table fe"))["127.0.0.1"]
        assert row["gpc2"] == "5" and row["gpc0"] == "0" and row["gpc1"] == "0"
        assert c.get(url + "/show").text.split()[:3] == ["5", "5", "5"]
        assert c.get(url + "/gpc").status_code == 429
        out = socat_cli(sock, "show table fe data.gpc[2] ge 5")
        assert "key=127.0.0.1" in out
        assert "key=" not in socat_cli(sock, "show table fe data.gpc[2] lt 5")
        assert socat_cli(sock, "set table fe key 127.0.0.1 data.gpc[3] 1") == (
            "Data type not stored in this table\n\n")
        socat_cli(sock, "set table fe key 127.0.0.1 data.gpc[2] 0")
        assert c.get(url + "/gpc").status_code == 200


# -- expiry, eviction ---------------------------------------------------------------------------

SMALL_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 3 expire {expire} store gpc0
    http-request track-sc0 src
    http-request return status 200 content-type text/plain lf-string "%[table_cnt]"
backend short
    stick-table type string len 8 size 10 expire 1s store gpt0
"""


def test_entries_expire_on_time(tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    with run_hapx(SMALL_CFG.format(sock=sock, port=port, expire="1m"),
                  ready_ports=[port, sock]):
        socat_cli(sock, "set table short key a data.gpt0 1")
        assert "used:1" in socat_cli(sock, "show table short")
        exp = int(entries(socat_cli(sock, "show table short"))["a"]["exp"])
        assert 0 < exp <= 1000
        wait_until(lambda: "used:0" in socat_cli(sock, "show table short"), timeout=5)
        assert "key=a" not in socat_cli(sock, "show table short")
        # an entry refreshed before its expiry stays
        socat_cli(sock, "set table short key b data.gpt0 1")
        socat_cli(sock, "set table short key b data.gpt0 2")
        assert entries(socat_cli(sock, "show table short"))["b"]["gpt0"] == "2"


def test_tracked_entry_expires_after_the_stream(tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    with run_hapx(SMALL_CFG.format(sock=sock, port=port, expire="1s"),
                  ready_ports=[port, sock]):
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "1"
        assert "key=127.0.0.1" in socat_cli(sock, "show table fe")
        wait_until(lambda: "used:0" in socat_cli(sock, "show table fe"), timeout=5)


def test_full_table_evicts_the_oldest(tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    with run_hapx(SMALL_CFG.format(sock=sock, port=port, expire="1m"),
                  ready_ports=[port, sock]):
        for i in (1, 2, 3):
            socat_cli(sock, f"set table fe key 10.0.0.{i} data.gpc0 {i}")
        assert set(entries(socat_cli(sock, "show table fe"))) == {"10.0.0.1", "10.0.0.2",
                                                             "10.0.0.3"}
        socat_cli(sock, "set table fe key 10.0.0.4 data.gpc0 4")
        assert set(entries(socat_cli(sock, "show table fe"))) == {"10.0.0.2", "10.0.0.3",
                                                             "10.0.0.4"}
        socat_cli(sock, "set table fe key 10.0.0.2 data.gpc0 22")  # refreshed: now the youngest
        # a tracked request adds its source: the oldest (10.0.0.3) goes
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "3"
        assert set(entries(socat_cli(sock, "show table fe"))) == {"10.0.0.2", "10.0.0.4",
                                                             "127.0.0.1"}
        assert "# table: fe, type: ip, size:3, used:3\n" in socat_cli(sock, "show table")


# -- persistence -------------------------------------------------------------------------------

STICK_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    stick-table type ip size 100 expire 10m
    stick on src
{servers}
"""


def _stick_setup(tmp_path, origins, check: bool):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    opts = " check inter 200 fall 1 rise 1" if check else ""
    servers = "\n".join(f"    server s{i + 1} 127.0.0.1:{o.port}{opts}"
                        for i, o in enumerate(origins))
    return sock, port, STICK_CFG.format(sock=sock, port=port, servers=servers)


def test_stick_on_src_keeps_the_client_and_moves_it_when_disabled(tmp_path):
    origins = [OriginServer(name=f"o{i}") for i in range(3)]
    with origins[0], origins[1], origins[2]:
        sock, port, cfg = _stick_setup(tmp_path, origins, check=False)
        with run_hapx(cfg, ready_ports=[port, sock]), httpx.Client(timeout=10) as c:
            url = f"http://127.0.0.1:{port}/"
            # new connections each time: roundrobin alone would rotate over the servers
            seen = [c.get(url, headers={"Connection": "close"}).headers["x-origin"]
                    for _ in range(100)]
            assert len(set(seen)) == 1
            first = seen[0]
            idx = [o.name for o in origins].index(first)
            row = entries(socat_cli(sock, "show table be"))["127.0.0.1"]
            assert row["server_id"] == str(idx + 1)
            assert row["server_key"] == f"s{idx + 1}"
            assert socat_cli(sock, f"disable server be/s{idx + 1}") == "\n"
            moved = {c.get(url, headers={"Connection": "close"}).headers["x-origin"]
                     for _ in range(20)}
            assert len(moved) == 1 and first not in moved
            new_idx = [o.name for o in origins].index(moved.pop())
            row = entries(socat_cli(sock, "show table be"))["127.0.0.1"]
            assert row["server_id"] == str(new_idx + 1)
            # back up: the entry now names the new server, the client stays there
            socat_cli(sock, f"enable server be/s{idx + 1}")
            again = {c.get(url, headers={"Connection": "close"}).headers["x-origin"]
                     for _ in range(20)}
            assert again == {origins[new_idx].name}


def test_stick_on_src_moves_when_the_check_fails(tmp_path):
    origins = [OriginServer(name=f"c{i}") for i in range(2)]
    with origins[0], origins[1]:
        sock, port, cfg = _stick_setup(tmp_path, origins, check=True)
        with run_hapx(cfg, ready_ports=[port, sock]), httpx.Client(timeout=10) as c:
            url = f"http://127.0.0.1:{port}/"
            first = {c.get(url).headers["x-origin"] for _ in range(10)}
            assert len(first) == 1
            name = first.pop()
            dead = next(o for o in origins if o.name == name)
            dead.close()
            other = next(o for o in origins if o.name != name).name

            def moved() -> bool:
                try:
                    return c.get(url).headers.get("x-origin") == other
                except httpx.HTTPError:
                    return False
            wait_until(moved, timeout=10, interval=0.1)
            assert {c.get(url).headers["x-origin"] for _ in range(10)} == {other}


# -- compared with haproxy 2.6 -------------------------------------------------------------------

CMP_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 10 expire 30s store gpc(3),gpc_rate(2,10s),gpt(2),conn_cnt,conn_cur,conn_rate(10s),sess_cnt,sess_rate(10s),http_req_cnt,http_req_rate(10s),http_err_cnt,http_err_rate(10s),http_fail_cnt,http_fail_rate(10s),bytes_in_cnt,bytes_in_rate(10s),bytes_out_cnt,bytes_out_rate(10s),server_id,server_key
    http-request track-sc0 src
    http-request sc-inc-gpc(1,0)
    http-request return status 200
backend st
    stick-table type string len 16 size 5 store gpc0,gpc1,gpt0,gpc0_rate(10s),gpc1_rate(5s)
backend bi
    stick-table type integer size 1m expire 1h
"""

CMP_SCRIPT = [
    "show table", "show table fe", "set table st key abc data.gpc0 4", "show table st",
    "show table fe data.conn_cnt gt 1", "show table fe data.conn_cnt gt 2",
    "show table fe data.gpc1 eq 2", "show table fe key 127.0.0.1", "show table fe key 10.9.9.9",
    "show table st key zzz", "show table nope", "set table fe key 1.2.3.4 data.conn_rate 5",
    "show table fe key 1.2.3.4", "set table bi key abc data.x 1", "set table fe key 1.2.3.4",
    "set table fe data.gpc0 1", "show table fe data.conn_rate xx 1",
    "show table fe data.conn_rate gt", "show table fe data.conn_rate gt abc",
    "show table fe foo", "show table fe key", "set table fe key 1.2.3.4 data.gpc0 abc",
    "set table fe key 1.2.3.4 data.nope 1", "set table fe key 1.2.3.4 data.server_id abc",
    "set table st key zzz data.gpc0 -3", "show table st", "set table bi key 42",
    "show table bi", "clear table fe key 1.2.3.4", "clear table fe data.conn_cnt gt 1",
    "show table fe", "clear table st", "clear table", "show table",
]


def _mask(text: str) -> str:
    text = re.sub(r"0x[0-9a-f]+", "PTR", text)
    text = text.replace(" shard=0", "")  # 3.x's field, not in 2.6
    text = re.sub(r"exp=\d+", "exp=N", text)
    # request and response sizes differ (different response headers)
    return re.sub(r"(bytes_(?:in|out)_(?:cnt|rate)(?:\(\d+\))?)=\d+", r"\1=N", text)


def _run_cmp(proc, tmp_path, name: str) -> list[str]:
    d = tmp_path / name
    d.mkdir()
    sock = str(d / "s.sock")
    port = free_port()
    with proc(CMP_CFG.format(sock=sock, port=port), ready_ports=[port, sock]):
        with httpx.Client(timeout=10) as c:
            for _ in range(2):
                assert c.get(f"http://127.0.0.1:{port}/").status_code == 200
        return [_mask(socat_cli(sock, cmd)) for cmd in CMP_SCRIPT]


def test_table_commands_match_haproxy(tmp_path):
    ours = _run_cmp(run_hapx, tmp_path, "hapx")
    theirs = _run_cmp(run_haproxy, tmp_path, "haproxy")
    for cmd, a, b in zip(CMP_SCRIPT, ours, theirs, strict=True):
        assert a == b, f"{cmd!r}:\nhapx:\n{a}\nhaproxy:\n{b}"


def test_rates_follow_freq_ctr():
    from hapx.plugins.stick_tables.store import FreqCtr

    fc = FreqCtr()
    fc.add(10, 1000, now=5000)
    assert fc.read(1000, now=5000) == 10
    assert fc.read(1000, now=5999) == 10
    # half of the previous period is still in the window
    assert fc.read(1000, now=6500) == 5
    fc.add(2, 1000, now=6500)
    assert fc.read(1000, now=6500) == 7
    assert fc.read(1000, now=8100) == 0


def test_configuration_errors(tmp_path):
    from cfgtools import alerts, parse_text

    cases = {
        "stick-table type ip size 1 store gpc(2),gpc0": "simultaneous usage of 'gpc' and "
                                                        "'gpc[0/1]'",
        "stick-table type ip size 1 store gpt(2),gpt0": "simultaneous usage of 'gpt' and "
                                                        "'gpt0'",
        "stick-table type ip size 1 store gpc(101)": "array size is out of allowed range",
        "http-request track-sc0 src table nope": "unable to find table 'nope'",
        "http-request sc-inc-gpc(0,3)": "invalid stick table track ID '3'",
        "http-request track-sc 5 src": "invalid stick counter 5",
    }
    for line, expected in cases.items():
        cfg = ("defaults\n    mode http\nfrontend f\n    bind 127.0.0.1:1\n"
               f"    stick-table type ip size 1\n    {line}\n")
        if line.startswith("stick-table"):
            cfg = cfg.replace("    stick-table type ip size 1\n", "", 1)
        _, diag, _ = parse_text(tmp_path, cfg)
        assert any(expected in m.text for m in diag.alerts), (line, alerts(diag))


def test_tables_listing_for_exporters(tmp_path):
    from cfgtools import parse_text
    from hapx.plugins.stick_tables import tables

    config, diag, _ = parse_text(tmp_path, SMALL_CFG.format(sock=tmp_path / "s.sock", port=1,
                                                            expire="1m"))
    assert not diag.failed
    assert tables(config) == [
        {"name": "short", "type": "string", "size": 10, "used": 0},
        {"name": "fe", "type": "ip", "size": 3, "used": 0},
    ]


# -- mode tcp: connection tracking, compared with haproxy 2.6 ----------------------------------

TCP_CFG = """
global
    stats socket {sock} level admin
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 10 expire 1m store conn_cur,conn_cnt,conn_rate(10s),sess_cnt,sess_rate(10s),bytes_in_cnt,bytes_out_cnt,gpc0,gpt0
    tcp-request connection track-sc0 src
    tcp-request connection reject if {{ sc0_conn_cur gt 2 }}
    tcp-request content sc-inc-gpc0(0)
    tcp-request content sc-set-gpt0(0) 7
    default_backend be
backend be
    server s1 127.0.0.1:{echo}
"""


def _tcp_scenario(proc, tmp_path, name: str, echo_port: int) -> list[dict[str, str]]:
    d = tmp_path / name
    d.mkdir()
    sock = str(d / "s.sock")
    port = free_port()
    rows = []

    def row() -> dict[str, str]:
        r = dict(entries(socat_cli(sock, "show table fe"))["127.0.0.1"])
        r.pop("exp")
        r.pop("shard", None)  # 3.x field, not in 2.6
        return r
    with proc(TCP_CFG.format(sock=sock, port=port, echo=echo_port), ready_ports=[port, sock]):
        held = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"hello")
            assert s.recv(100) == b"hello"
            held.append(s)
        rows.append(row())
        try:  # rejected: closed or reset
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"x")
                assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        wait_until(lambda: row()["conn_cnt"] == "3", timeout=5, message=lambda: f"{name}: {row()}")
        rows.append(row())
        for s in held:
            s.close()
        wait_until(lambda: row()["conn_cur"] == "0", timeout=5, message=lambda: f"{name}: {row()}")
        rows.append(row())
    return rows


def test_tcp_connection_tracking_matches_haproxy(tmp_path):
    from netutil import TcpEchoServer

    with TcpEchoServer() as echo:
        ours = _tcp_scenario(run_hapx, tmp_path, "hapx", echo.port)
        theirs = _tcp_scenario(run_haproxy, tmp_path, "haproxy", echo.port)
    assert ours == theirs
    assert ours[0]["conn_cur"] == "2" and ours[-1]["bytes_in_cnt"] == "10"


# -- 3.2 fetches and actions --------------------------------------------------------------------

FETCH_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 100 expire 1m store gpc(2),gpc_rate(2,10s),gpt(3),http_req_cnt
    http-request track-sc 1 src
    http-request track-sc2 req.hdr(x-user) table users if {{ req.hdr(x-user) -m found }}
    http-request sc-inc-gpc(1,1) if {{ path /hit }}
    http-request deny deny_status 429 if {{ path /hit }} {{ sc_get_gpc(1,1) gt 3 }}
    http-request sc-add-gpc(0,1) req.hdr(x-add) if {{ path /add }}
    http-request sc-set-gpt(2,1) int(42) if {{ path /gpt }}
    http-request sc-set-gpt0(2) 9 if {{ path /gpt }}
    http-request return status 200 content-type text/plain lf-string "%[sc_inc_gpc(0,1)] %[sc_clr_gpc(0,1)] %[sc_get_gpc(0,1)]" if {{ path /incclr }}
    http-request return status 200 content-type text/plain lf-string "%[sc_get_gpt(2,1)] %[sc1_get_gpt(2)] %[sc2_get_gpt0] %[sc_key(1)] %[sc2_key] %[sc_tracked(0)] %[sc_tracked(1)] %[src,table_gpt(2,fe)] %[src,in_table(fe)] %[str(9.9.9.9),in_table(fe)] %[sc_http_req_cnt(1)] %[src_http_req_cnt]" if {{ path /gpt }}
    http-request return status 200 content-type text/plain lf-string "%[sc_get_gpc(0,1)] %[sc_gpc_rate(0,1)]" if {{ path /add }}
    http-request return status 200
backend users
    stick-table type string len 16 size 10 store gpt0
"""


def test_gpc_actions_and_32_fetches(tmp_path):
    sock = str(tmp_path / "s.sock")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with run_hapx(FETCH_CFG.format(sock=sock, port=port), ready_ports=[port, sock]), \
            httpx.Client(timeout=10) as c:
        # rate limiting on a gpc array element incremented by the rules
        assert [c.get(url + "/hit").status_code for _ in range(6)] == [200] * 3 + [429] * 3
        assert c.get(url + "/add", headers={"x-add": "5"}).text == "5 5"
        assert c.get(url + "/add", headers={"x-add": "2"}).text == "7 7"
        # sc_inc_gpc returns the new value, sc_clr_gpc the previous one, then 0
        assert c.get(url + "/incclr").text == "8 8 0"
        body = c.get(url + "/gpt", headers={"x-user": "alice"}).text
        assert body == "42 42 9 127.0.0.1 alice 0 1 42 1 0 10 10"
        users = entries(socat_cli(sock, "show table users"))
        assert users["alice"]["gpt0"] == "9"
        row = entries(socat_cli(sock, "show table fe"))["127.0.0.1"]
        assert (row["gpc0"], row["gpc1"], row["gpt2"]) == ("0", "6", "42")


STORE_RES_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    stick-table type string len 32 size 100 expire 10m
    stick match req.hdr(x-want)
    stick store-response res.hdr(x-origin)
{servers}
"""


def test_stick_store_response_and_match(tmp_path):
    origins = [OriginServer(name=f"r{i}") for i in range(3)]
    with origins[0], origins[1], origins[2]:
        sock = str(tmp_path / "s.sock")
        port = free_port()
        servers = "\n".join(f"    server s{i + 1} 127.0.0.1:{o.port}"
                            for i, o in enumerate(origins))
        cfg = STORE_RES_CFG.format(sock=sock, port=port, servers=servers)
        with run_hapx(cfg, ready_ports=[port, sock]), httpx.Client(timeout=10) as c:
            url = f"http://127.0.0.1:{port}/"
            names = {c.get(url).headers["x-origin"] for _ in range(3)}
            assert names == {"r0", "r1", "r2"}
            table = entries(socat_cli(sock, "show table be"))
            assert {k: v["server_id"] for k, v in table.items()} == {
                "r0": "1", "r1": "2", "r2": "3"}
            for want in ("r2", "r0", "r1", "r2", "r2"):
                got = c.get(url, headers={"x-want": want}).headers["x-origin"]
                assert got == want


# -- mode http: connections tracked by tcp-request rules, compared with haproxy 2.6 -----------

HTTP_CONN_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 10 expire 1m store conn_cur,conn_cnt,sess_cnt,http_req_cnt,http_req_rate(10s),http_err_cnt,gpc0
    tcp-request connection track-sc0 src
    tcp-request connection reject if {{ sc0_conn_cur gt 2 }}
    tcp-request content track-sc1 src table ctab
    http-request sc-inc-gpc0(0)
    http-request deny deny_status 429 if {{ sc0_http_req_rate gt 6 }}
    http-request return status 200 content-type text/plain lf-string "%[sc0_http_req_cnt] %[sc0_conn_cur] %[sc_get_gpc0(0)] %[sc1_http_req_cnt] %[sc1_conn_cur]\\n"
backend ctab
    stick-table type ip size 10 expire 1m store conn_cur,conn_cnt,http_req_cnt
"""


def _http_conn_scenario(proc, tmp_path, name: str) -> list[object]:
    d = tmp_path / name
    d.mkdir()
    sock = str(d / "s.sock")
    port = free_port()
    out: list[object] = []

    def row() -> dict[str, str]:
        r = dict(entries(socat_cli(sock, "show table fe"))["127.0.0.1"])
        r.pop("exp")
        r.pop("shard", None)
        return r
    with proc(HTTP_CONN_CFG.format(sock=sock, port=port), ready_ports=[port, sock]):
        url = f"http://127.0.0.1:{port}/"
        with httpx.Client(timeout=10) as keep:  # one connection, three requests
            out += [keep.get(url).text for _ in range(3)]
            with httpx.Client(timeout=10) as other:
                out.append(other.get(url).text)
                out.append(row())
                try:  # a third connection at once: rejected
                    httpx.get(url, timeout=5)
                    out.append("served")
                except httpx.HTTPError:
                    out.append("rejected")
        wait_until(lambda: row()["conn_cur"] == "0", timeout=5)
        with httpx.Client(timeout=10) as late:
            out += [late.get(url).status_code for _ in range(3)]
        wait_until(lambda: row()["conn_cur"] == "0", timeout=5)
        out.append(row())
        ctab = dict(entries(socat_cli(sock, "show table ctab"))["127.0.0.1"])
        ctab.pop("exp")
        ctab.pop("shard", None)
        out.append(ctab)
    return out


def test_http_connection_tracking_matches_haproxy(tmp_path):
    ours = _http_conn_scenario(run_hapx, tmp_path, "hapx")
    theirs = _http_conn_scenario(run_haproxy, tmp_path, "haproxy")
    assert ours == theirs
    assert ours[:4] == ["1 1 1 1 1\n", "2 1 2 2 1\n", "3 1 3 3 1\n", "4 2 4 4 1\n"]


CONTENT_CFG = """
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 1s
    tcp-request content reject if {{ path /bad }}
    default_backend be
backend be
    tcp-request content reject if {{ path /bebad }}
    server s1 127.0.0.1:{origin}
"""


def _content_outcomes(proc, origin_port: int) -> list[object]:
    port = free_port()
    out: list[object] = []
    with proc(CONTENT_CFG.format(port=port, origin=origin_port), ready_ports=[port]):
        for path in ("/good", "/bad", "/bebad", "/good"):
            try:
                out.append(httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code)
            except httpx.HTTPError as exc:
                out.append(type(exc).__name__)
    return out


def test_tcp_request_content_rules_apply_to_http_requests():
    with OriginServer() as origin:
        ours = _content_outcomes(run_hapx, origin.port)
        theirs = _content_outcomes(run_haproxy, origin.port)
    assert ours == theirs
    assert ours[0] == 200 and ours[1] != 200 and ours[2] != 200
