"""The runtime API over real stats sockets (unix and TCP), driven with socat and a Python
client against a running hapx under traffic; formats compared with Debian's haproxy 2.6."""

from __future__ import annotations

import csv
import io
import os
import socket
import stat
import threading

import httpx
import pytest
from cliutil import socat_cli
from netutil import (
    OriginServer,
    Response,
    free_port,
    recv_until,
    recv_until_eof,
    run_haproxy,
    run_hapx,
    wait_until,
)

#: HAProxy 3.2's show stat columns (doc/management.txt, section 9.1)
COLUMNS_32 = (
    "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,"
    "throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
    "check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,"
    "req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
    "lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,"
    "agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,"
    "agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,"
    "intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,"
    "qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,"
    "used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,"
    "agg_check_status,srid,sess_other,h1sess,h2sess,h3sess,req_other,h1req,h2req,h3req,"
    "proto").split(",")


def config(port: int, origin_port: int, dead_port: int, sockdir: str, *,
           extra_global: str = "", weight: int = 5) -> str:
    return f"""
global
    stats socket {sockdir}/admin.sock level admin
    stats socket {sockdir}/user.sock level user mode 600
    stats socket {sockdir}/oper.sock
{extra_global}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s

frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    server s1 127.0.0.1:{origin_port}
    server s2 127.0.0.1:{origin_port} weight {weight}
    server s3 127.0.0.1:{dead_port} weight 0
"""


@pytest.fixture
def setup(tmp_path):
    origin = OriginServer()
    port, dead = free_port(), free_port()
    with origin:
        cfg = config(port, origin.port, dead, str(tmp_path))
        with run_hapx(cfg, ready_ports=[port, str(tmp_path / "admin.sock")]) as proc:
            yield proc, port, str(tmp_path), origin


def traffic(port: int, n: int) -> list[int]:
    with httpx.Client() as c:
        return [c.get(f"http://127.0.0.1:{port}/x").status_code for _ in range(n)]


def parse_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    assert text.startswith("# ")
    lines = text[2:].splitlines()
    assert lines[-1] == ""  # the empty line that ends a response
    rows = list(csv.reader(io.StringIO("\n".join(lines[:-1]))))
    header = rows[0]
    assert header[-1] == ""  # every line ends with a comma
    header = header[:-1]
    out = []
    for r in rows[1:]:
        assert r[-1] == ""
        out.append(dict(zip(header, r[:-1], strict=True)))
    return header, out


# -- framing, levels, help ---------------------------------------------------------------------

def test_help_unknown_and_permission(setup):
    proc, port, d, _ = setup
    out = socat_cli(f"{d}/user.sock", "help")
    assert out.startswith("The following commands are valid at this level:\n")
    assert out.endswith("  quit                                    : disconnect\n\n")
    lines = out.splitlines()[1:-4]
    assert lines == sorted(lines)
    assert "  show stat [desc|json|no-maint|typed|up]*: report counters for each proxy " \
           "and server" in lines
    out = socat_cli(f"{d}/admin.sock", "show foo")
    assert out.startswith("Unknown command: 'show', but maybe one of the following ones is "
                          "a better match:\n")
    assert "  show info [desc|json|typed|float]*      : report information about the " \
           "running process\n" in out
    # level user: show sess (operator) and shutdown session (admin) are refused
    assert socat_cli(f"{d}/user.sock", "show sess") == "Permission denied\n\n"
    assert socat_cli(f"{d}/oper.sock", "shutdown session 0x1") == "Permission denied\n\n"
    assert socat_cli(f"{d}/oper.sock", "show cli level") == "operator\n\n"
    # lowering the level inside a session
    assert socat_cli(f"{d}/admin.sock", "show cli level; user; show cli level; show sess") == \
        "admin\n\n\nuser\n\nPermission denied\n\n"


def test_unix_socket_mode(setup):
    _proc, _port, d, _ = setup
    assert stat.S_IMODE(os.stat(f"{d}/user.sock").st_mode) == 0o600


def test_several_commands_escapes_and_prompt(setup):
    _proc, _port, d, _ = setup
    out = socat_cli(f"{d}/oper.sock", "show version;show cli level")
    version = out.split("\n")[0]
    assert out == f"{version}\n\noperator\n\n"
    # an escaped ';' stays in the word: show env of a variable that does not exist
    assert socat_cli(f"{d}/oper.sock", r"show env A\;B") == "Variable not found\n\n"
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(f"{d}/oper.sock")
        s.sendall(b"prompt\n")
        assert recv_until(s, b"> ") == b"\n> "
        s.sendall(b"show cli level\n")
        assert recv_until(s, b"> ") == b"operator\n\n> "
        s.sendall(b"prompt i\n")
        assert recv_until(s, b"\n") == b"\n"
        s.sendall(b"show cli level\n")
        assert recv_until(s, b"\n\n") == b"operator\n\n"
        s.sendall(b"prompt p timed\n")
        got = recv_until(s, b"]> ").decode()
        assert got.startswith("\n[0:00:00:") and got.endswith("]> ")
        s.sendall(b"quit\n")
        assert recv_until_eof(s) == b""


def test_stats_timeout_closes_idle_sessions(tmp_path):
    origin = OriginServer()
    port, dead = free_port(), free_port()
    with origin:
        cfg = config(port, origin.port, dead, str(tmp_path),
                     extra_global="    stats timeout 1s")
        with run_hapx(cfg, ready_ports=[port, str(tmp_path / "admin.sock")]):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(tmp_path / "admin.sock"))
                s.sendall(b"prompt i\n")
                assert recv_until(s, b"\n") == b"\n"
                s.settimeout(10)
                assert s.recv(100) == b""  # closed by the server after 1s idle


def test_tcp_stats_socket(tmp_path):
    origin = OriginServer()
    port, cport, dead = free_port(), free_port(), free_port()
    with origin:
        cfg = config(port, origin.port, dead, str(tmp_path),
                     extra_global=f"    stats socket ipv4@127.0.0.1:{cport} level user")
        with run_hapx(cfg, ready_ports=[port, cport]):
            with socket.create_connection(("127.0.0.1", cport), timeout=10) as s:
                s.sendall(b"show cli level\n")
                assert recv_until_eof(s) == b"user\n\n"


# -- statistics --------------------------------------------------------------------------------

def test_show_stat_csv_under_traffic(setup):
    _proc, port, d, origin = setup
    statuses = traffic(port, 12)
    assert statuses == [200] * 12
    header, rows = parse_csv(socat_cli(f"{d}/user.sock", "show stat"))
    assert header == COLUMNS_32
    assert [(r["pxname"], r["svname"]) for r in rows] == [
        ("fe", "FRONTEND"), ("be", "s1"), ("be", "s2"), ("be", "s3"), ("be", "BACKEND")]
    fe, s1, s2, s3, be = rows
    assert fe["status"] == "OPEN" and fe["type"] == "0" and fe["mode"] == "http"
    # one keep-alive connection: one session, twelve requests
    assert fe["stot"] == fe["conn_tot"] == "1"
    assert fe["req_tot"] == fe["hrsp_2xx"] == fe["h1req"] == "12"
    assert be["status"] == "UP" and be["type"] == "1" and be["algo"] == "roundrobin"
    assert be["weight"] == "6" and be["act"] == "2" and be["bck"] == "0"
    assert be["stot"] == be["hrsp_2xx"] == be["req_tot"] == "12"
    # the weight-0 server gets none; lbtot counts the choices
    assert int(s1["stot"]) + int(s2["stot"]) == 12 and s3["stot"] == "0"
    assert (s1["lbtot"], s2["lbtot"]) == (s1["stot"], s2["stot"])
    assert s1["status"] == "no check" and s1["weight"] == "1" and s1["type"] == "2"
    assert s1["addr"] == f"127.0.0.1:{origin.port}" and s1["sid"] == "1"
    assert int(fe["bin"]) > 0 and int(fe["bout"]) > 0
    assert int(s1["bout"]) + int(s2["bout"]) == int(be["bout"])
    # cells that do not apply stay empty
    assert fe["qcur"] == fe["weight"] == fe["addr"] == ""
    assert s1["slim"] == s1["ereq"] == ""
    # filters: backend 'be' servers only
    _h, only = parse_csv(socat_cli(f"{d}/user.sock", "show stat be 4 -1"))
    assert [r["svname"] for r in only] == ["s1", "s2", "s3"]
    _h, one = parse_csv(socat_cli(f"{d}/user.sock", "show stat be 4 2"))
    assert [r["svname"] for r in one] == ["s2"]


def test_show_stat_typed_json_and_info(setup):
    _proc, port, d, _ = setup
    traffic(port, 3)
    typed = socat_cli(f"{d}/user.sock", "show stat typed").splitlines()
    assert typed[0].startswith("F.")
    assert "F.1.0.0.pxname.1:KNS:str:fe" in typed
    assert any(line.endswith(".48.req_tot.1:MCP:u64:3") and line.startswith("F.")
               for line in typed)
    assert any(line.startswith("S.") and ".17.status.1:SGP:str:no check" in line
               for line in typed)
    import json

    data = json.loads(socat_cli(f"{d}/user.sock", "show stat json"))
    first = data[0][0]
    assert first == {"objType": "Frontend", "proxyId": 1, "id": 0,
                     "field": {"pos": 0, "name": "pxname"}, "processNum": 1,
                     "tags": {"origin": "Key", "nature": "Name", "scope": "Service"},
                     "value": {"type": "str", "value": "fe"}}
    info = socat_cli(f"{d}/user.sock", "show info")
    keys = [line.split(":", 1)[0] for line in info.splitlines() if line]
    assert keys[:8] == ["Name", "Version", "Release_date", "Nbthread", "Nbproc",
                        "Process_num", "Pid", "Uptime"]
    assert keys[-3:] == ["CurrStreams", "CumStreams", "BlockedTrafficWarnings"]
    values = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
    assert values["Name"] == "HAProxy" and values["CumReq"] == "3"
    assert values["Listeners"] == "4"
    typed_info = socat_cli(f"{d}/user.sock", "show info typed").splitlines()
    assert typed_info[0] == "0.Name.1:POS:str:HAProxy"


def test_show_stat_matches_haproxy_26(tmp_path):
    """Same configuration and traffic on haproxy 2.6 and hapx: the 2.6 columns are a prefix
    of ours in the same order, and the cells filled for each row kind agree on the fields
    both compute."""
    origin = OriginServer()
    outs = {}
    dead = free_port()
    with origin:
        for name, runner in (("haproxy", run_haproxy), ("hapx", run_hapx)):
            port = free_port()
            sub = tmp_path / name
            sub.mkdir()
            cfg = config(port, origin.port, dead, str(sub), weight=1)
            with runner(cfg, ready_ports=[port, str(sub / "admin.sock")]):
                assert traffic(port, 6) == [200] * 6
                outs[name] = socat_cli(str(sub / "admin.sock"), "show stat")
    ref_text = outs["haproxy"]
    ref_header = ref_text[2:].split("\n", 1)[0].split(",")
    common = ref_header[:ref_header.index("-")]
    header, rows = parse_csv(outs["hapx"])
    assert header[:len(common)] == common
    ref_rows = list(csv.reader(io.StringIO(ref_text[2:])))[1:]
    ref = [dict(zip(ref_header, r, strict=False)) for r in ref_rows if len(r) > 2]
    assert [(r["pxname"], r["svname"]) for r in ref] == \
        [(r["pxname"], r["svname"]) for r in rows]
    same = ("pxname", "svname", "qcur", "scur", "stot", "dreq", "dresp", "ereq", "econ",
            "eresp", "wretr", "wredis", "status", "weight", "act", "bck", "pid", "sid",
            "lbtot", "type", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx",
            "hrsp_other", "req_tot", "cli_abrt", "srv_abrt", "addr", "mode", "algo",
            "conn_tot", "intercepted", "dcon", "dses", "wrew", "eint", "uweight")
    for mine, theirs in zip(rows, ref, strict=True):
        for col in same:
            assert mine[col] == theirs[col], (mine["svname"], col, mine[col], theirs[col])
        # a cell empty in haproxy's row is empty in ours for the columns both know
        for col in common:
            if theirs[col] == "" and col not in ("chkfail", "downtime", "qlimit"):
                assert mine[col] == "", (mine["svname"], col, mine[col])


# -- streams -----------------------------------------------------------------------------------

def test_show_sess_filters_and_shutdown(tmp_path):
    release = threading.Event()

    def hold(req):
        release.wait(20)
        return Response(200, b"late\n")

    origin = OriginServer({"/hold": hold})
    port, dead = free_port(), free_port()
    with origin:
        cfg = config(port, origin.port, dead, str(tmp_path))
        with run_hapx(cfg, ready_ports=[port, str(tmp_path / "admin.sock")]):
            adm = str(tmp_path / "admin.sock")
            results: list[object] = []

            def client():
                try:
                    with httpx.Client(timeout=20) as c:
                        results.append(c.get(f"http://127.0.0.1:{port}/hold").status_code)
                except httpx.HTTPError as exc:
                    results.append(type(exc).__name__)

            threads = [threading.Thread(target=client) for _ in range(2)]
            for t in threads:
                t.start()
            wait_until(lambda: socat_cli(adm, "show sess").count("\n") >= 3, timeout=10)
            lines = [x for x in socat_cli(adm, "show sess").splitlines() if x]
            assert len(lines) == 2
            for line in lines:
                assert line.startswith("0x") and " proto=tcpv4 src=127.0.0.1:" in line
                assert " fe=fe be=be srv=s" in line
            assert socat_cli(adm, "show sess frontend fe").count("\n") == 3
            assert socat_cli(adm, "show sess backend be").count("\n") == 3
            by_srv = [x for x in socat_cli(adm, "show sess server be/s1").splitlines() if x]
            by_srv += [x for x in socat_cli(adm, "show sess server be/s2").splitlines() if x]
            assert sorted(by_srv) == sorted(lines)
            assert socat_cli(adm, "show sess frontend nope") == "Unknown frontend 'nope'.\n\n"
            ptr = lines[0].split(":", 1)[0]
            detail = socat_cli(adm, f"show sess {ptr}")
            assert detail.startswith(f"{ptr}: [") and "frontend=fe" in detail
            assert "req.uri=/hold" in detail
            assert socat_cli(adm, f"shutdown session {ptr}") == "\n"
            wait_until(lambda: len(results) == 1, timeout=10)
            assert results[0] != 200
            rest = [x for x in socat_cli(adm, "show sess").splitlines() if x]
            assert len(rest) == 1 and rest[0] != lines[0]
            release.set()
            for t in threads:
                t.join(20)
            assert sorted(map(str, results)) == sorted([str(results[0]), "200"])
            wait_until(lambda: socat_cli(adm, "show sess") == "\n", timeout=10)
            assert socat_cli(adm, "shutdown session 0x1") == \
                "No such session (use 'show sess').\n\n"


def test_show_env_version_activity_pools(setup):
    _proc, port, d, _ = setup
    traffic(port, 2)
    env = socat_cli(f"{d}/oper.sock", "show env PATH")
    assert env.startswith("PATH=") and env.endswith("\n\n")
    assert socat_cli(f"{d}/user.sock", "show env") == "Permission denied\n\n"
    act = socat_cli(f"{d}/user.sock", "show activity")
    assert "accepted: " in act and "requests: 2 [ 2 ]" in act
    pools = socat_cli(f"{d}/user.sock", "show pools byname 5")
    lines = pools.splitlines()
    assert lines[0] == "Dumping pools usage. Use SIGQUIT to flush them."
    assert len([x for x in lines if x.startswith("  - Pool ")]) == 5
    assert lines[-2].startswith("Total: 5 pools, ") and lines[-1] == ""
