"""Runtime API commands over ACL/map lists, servers, captured errors and listener statistics,
through a real stats socket against a running hapx under traffic; outputs compared with
Debian's haproxy 2.6 where it has the command."""

from __future__ import annotations

import re
import shutil
import threading
import time

import httpx
from cliutil import socat_cli
from netutil import OriginServer, free_port, run_haproxy, run_hapx, wait_until

SOCAT = shutil.which("socat")


class Traffic:
    """A client sending requests without pause in a thread; records every status (or the
    exception's name) until stopped."""

    def __init__(self, port: int, path: str = "/t") -> None:
        self.url = f"http://127.0.0.1:{port}{path}"
        self.results: list[object] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=10) as c:
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    self.results.append(c.get(self.url).status_code)
                except httpx.HTTPError as exc:
                    self.results.append(type(exc).__name__)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(15)


# -- ACL and map lists ---------------------------------------------------------------------------

MAP_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{port}
    acl blocked path -f {acl}
    http-request deny if blocked
    http-request return status 200 content-type text/plain lf-string "%[path,map({map},none)]"
"""

#: commands run on hapx and haproxy alike; outputs compared with pointers masked
MAP_SCRIPT = [
    "show map", "show acl", "show map {map}", "show map #0", "show acl #0",
    "get map {map} /foo", "get map {map} /nope", "get acl {acl} /admin", "get acl {acl} /x",
    "get map", "add map {map}", "add map {map} /k v", "add acl {acl}",
    "add acl {map} /x", "add acl {acl} /y", "show acl {acl}", "del map {map} /k",
    "del map {map} /zz", "del map {map}", "del acl {acl}", "set map {map} /foo FOO",
    "set map {map} /zz BAR", "set map {map} /foo", "show map {map}", "clear map",
    "clear acl", "clear map nosuch", "prepare map", "prepare acl nosuch",
    "prepare map {map}", "add map @1 {map} /a A", "add map @7 {map} /b B",
    "show map @1 {map}", "show map {map}", "commit map", "commit map @1",
    "commit map @9 {map}", "commit map @1 {map}", "show map {map}", "show map",
    "get map {map} /a", "show acl nosuch", "get acl nosuch x",
]


def _mask(text: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "PTR", text)


def _map_files(tmp_path, name: str) -> tuple[str, str]:
    d = tmp_path / name
    d.mkdir()
    (d / "m.map").write_text("/foo bar\n/baz qux\n")
    (d / "a.acl").write_text("10.0.0.0/8\n/admin\n")
    return str(d / "m.map"), str(d / "a.acl")


def _run_script(proc_cls, tmp_path, name: str) -> list[str]:
    mp, acl = _map_files(tmp_path, name)
    sock = str(tmp_path / name / "s.sock")
    port = free_port()
    cfg = MAP_CFG.format(sock=sock, port=port, acl=acl, map=mp)
    outs = []
    with proc_cls(cfg, ready_ports=[port, sock]):
        for cmd in MAP_SCRIPT:
            outs.append(_mask(socat_cli(sock, cmd.format(map=mp, acl=acl))).replace(
                f"{tmp_path}/{name}", "DIR").replace(f"'{name}.cfg'", "CFG"))
    return outs


def _normalize_cfg(text: str) -> str:
    return re.sub(r"file '[^']*\.cfg' line", "file CFG line", text)


def test_map_acl_commands_match_haproxy(tmp_path):
    ours = _run_script(run_hapx, tmp_path, "hapx")
    theirs = _run_script(run_haproxy, tmp_path, "haproxy")
    for cmd, a, b in zip(MAP_SCRIPT, ours, theirs, strict=True):
        if cmd == "show acl":
            # haproxy 2.6 also lists its internal httpclient lists
            b = "".join(line for line in b.splitlines(keepends=True)
                        if "httpclient" not in line)
        assert _normalize_cfg(a) == _normalize_cfg(b), cmd


def test_map_acl_changes_seen_by_live_traffic(tmp_path):
    mp, acl = _map_files(tmp_path, "live")
    sock = str(tmp_path / "live" / "s.sock")
    port = free_port()
    cfg = MAP_CFG.format(sock=sock, port=port, acl=acl, map=mp)

    def get(path: str) -> tuple[int, str]:
        r = httpx.get(f"http://127.0.0.1:{port}{path}")
        return r.status_code, r.text

    with run_hapx(cfg, ready_ports=[port, sock]), Traffic(port, "/foo") as traffic:
        assert get("/foo") == (200, "bar")
        assert get("/new") == (200, "none")
        assert socat_cli(sock, "add map " + mp + " /new NEW") == "\n"
        assert get("/new") == (200, "NEW")
        assert socat_cli(sock, f"set map {mp} /new NEWER") == "\n"
        assert get("/new") == (200, "NEWER")
        ptr = re.search(r"(0x[0-9a-f]+) /new", socat_cli(sock, f"show map {mp}")).group(1)
        assert socat_cli(sock, f"set map {mp} #{ptr} BYPTR") == "\n"
        assert get("/new") == (200, "BYPTR")
        assert socat_cli(sock, f"del map {mp} #{ptr}") == "\n"
        assert get("/new") == (200, "none")
        # payload form
        assert socat_cli(sock, f"add map {mp}", "/p1 one\n/p2 two words") == "\n"
        assert get("/p2") == (200, "two words")
        # ACL: block a path, unblock it
        assert get("/secret")[0] == 200
        assert socat_cli(sock, f"add acl {acl} /secret") == "\n"
        assert get("/secret")[0] == 403
        assert socat_cli(sock, f"del acl {acl} /secret") == "\n"
        assert get("/secret")[0] == 200
        assert get("/admin")[0] == 403
        # versions: the prepared content is invisible until committed, then atomic
        assert socat_cli(sock, f"prepare map {mp}") == "New version created: 1\n\n"
        assert socat_cli(sock, f"add map @1 {mp} /foo v1") == "\n"
        assert get("/foo") == (200, "bar")
        assert socat_cli(sock, f"commit map @1 {mp}") == "\n"
        assert get("/foo") == (200, "v1")
        assert get("/baz") == (200, "none")
        assert socat_cli(sock, f"clear acl {acl}") == "\n"
        assert get("/admin")[0] == 200
    assert traffic.results and all(r == 200 for r in traffic.results)


# -- servers -------------------------------------------------------------------------------------

SRV_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{dead} check inter 2s
    server s2 127.0.0.1:{origin} weight 5
"""

SRV_SCRIPT = [
    "show backend", "get weight be/s2", "get weight be/zz", "get weight",
    "set server be/s2 weight 50%", "get weight be/s2", "set server be/s2 weight 300",
    "set server be/s2 weight 256", "set weight be/s2 10", "get weight be/s2",
    "set server be/s2 weight abc", "set weight be/s1", "set server be/nosuch weight 1",
    "set server nosuch/s1 weight 1", "set server be weight 1",
    "set server be/s2 foo", "set server be/s2",
    "set server be/s1 state drain", "show servers state be", "set server be/s1 state maint",
    "show servers state", "set server be/s1 state ready", "WAITDOWN", "set server be/s1 state bogus",
    "set server be/s1 agent up", "set server be/s2 check-port 99",
    "set server be/s2 addr 127.0.0.2 port 18083", "set server be/s2 addr 127.0.0.2",
    "set server be/s2 addr bad", "set maxconn server be/s2 30", "disable server be/s1",
    "show servers state be", "enable server be/s1", "show servers state be", "WAITDOWN",
    "del server be/s1",
    "add server be/s3", "add server be/s3 127.0.0.1:1", "add server be/s3 127.0.0.1:1",
    "add server be/s5 127.0.0.1:1 cookie x", "add server be/s6 127.0.0.1:1 bogus",
    "add server be/s4 127.0.0.1:1 weight 10 maxconn 5", "show servers state be",
    "del server be/s3", "set server be/s3 state maint", "del server be/s3",
    "set server be/s4 state maint", "del server be/s4",
]


def _mask_state(text: str) -> str:
    """show servers state: the time since the last change varies; proxy ids are the
    kernel's numbering (haproxy 2.6 gives the defaults section one too)."""
    out = []
    for line in text.splitlines(keepends=True):
        f = line.split(" ")
        if len(f) == 25 and not line.startswith("#"):
            f[0], f[9] = "ID", "T"
        out.append(" ".join(f))
    return "".join(out)


def _run_srv_script(proc_cls, tmp_path, name: str, origin_port: int) -> list[str]:
    sock = str(tmp_path / f"{name}.sock")
    port, dead = free_port(), free_port()
    cfg = SRV_CFG.format(sock=sock, port=port, dead=dead, origin=origin_port)
    outs = []
    with proc_cls(cfg, ready_ports=[port, sock]):
        def s1_down() -> bool:
            # s1's check fails (L4CON): DOWN, health 0 (checks every 2s, so that a state shown
            # is not caught in the middle of a check whatever the load; leaving
            # maintenance puts it UP until the next check)
            f = socat_cli(sock, "show servers state be").split("\n")[2].split()
            return f[5] == "0" and f[10] == "8" and f[12] == "0"

        wait_until(s1_down, timeout=10, interval=0.05)
        for cmd in SRV_SCRIPT:
            if cmd == "WAITDOWN":
                wait_until(s1_down, timeout=10, interval=0.05)
                outs.append("")
                continue
            outs.append(_mask_state(socat_cli(sock, cmd)).replace(str(dead), "DEAD").replace(
                str(origin_port), "ORIGIN"))
    return outs


def test_server_commands_match_haproxy(tmp_path):
    with OriginServer() as origin:
        ours = _run_srv_script(run_hapx, tmp_path, "hapx", origin.port)
        theirs = _run_srv_script(run_haproxy, tmp_path, "haproxy", origin.port)
    for cmd, a, b in zip(SRV_SCRIPT, ours, theirs, strict=True):
        assert a.splitlines() == b.splitlines(), cmd


def test_add_drain_wait_delete_server_under_traffic(tmp_path):
    sock = str(tmp_path / "a.sock")
    port = free_port()
    with OriginServer(name="one") as one, OriginServer(name="two") as two:
        cfg = f"""
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    server s1 127.0.0.1:{one.port}
"""
        with run_hapx(cfg, ready_ports=[port, sock]), Traffic(port) as traffic:
            assert socat_cli(sock, f"add server be/dyn 127.0.0.1:{two.port} weight 3") == \
                "New server registered.\n\n"
            state = socat_cli(sock, "show servers state be").splitlines()[3].split()
            assert state[3] == "dyn" and state[5:7] == ["0", "1"]  # stopped, FMAINT
            before = len(two.requests)
            assert socat_cli(sock, "set server be/dyn state ready") == "\n"
            wait_until(lambda: len(two.requests) > before + 20, timeout=10)
            # the new server takes its share next to s1 (weight 3 vs 1)
            assert socat_cli(sock, "get weight be/dyn") == "3 (initial 3)\n\n"
            assert socat_cli(sock, "del server be/dyn") == \
                "Only servers in maintenance mode can be deleted.\n"
            assert socat_cli(sock, "set server be/dyn state drain") == "\n"
            assert socat_cli(sock, "set server be/dyn state maint") == "\n"
            assert socat_cli(sock, "wait 5s srv-removable be/dyn") == "Done.\n\n"
            assert socat_cli(sock, "del server be/dyn") == "Server deleted.\n"
            after = len(two.requests)
            n = len(traffic.results)
            wait_until(lambda: len(traffic.results) > n + 20, timeout=10)
            assert len(two.requests) == after
            assert "dyn" not in socat_cli(sock, "show servers state be")
            assert socat_cli(sock, "wait 50 srv-removable be/dyn") == "No such server.\n\n"
            assert socat_cli(sock, "wait 30") == "Done.\n\n"
        assert traffic.results and all(r == 200 for r in traffic.results)


def test_wait_srv_removable_expires_while_connections_remain(tmp_path):
    """A request still in flight keeps the server from being removable."""
    sock = str(tmp_path / "w.sock")
    port = free_port()
    release = threading.Event()

    def slow(req):
        release.wait(10)
        return None

    with OriginServer(handler=slow) as origin:
        cfg = SRV_CFG.format(sock=sock, port=port, dead=free_port(), origin=origin.port)
        cfg = cfg.replace("check inter 200ms", "disabled")
        with run_hapx(cfg, ready_ports=[port, sock]):
            statuses: list[int] = []
            t = threading.Thread(target=lambda: statuses.append(httpx.get(
                f"http://127.0.0.1:{port}/", timeout=15).status_code), daemon=True)
            t.start()
            wait_until(lambda: len(origin.requests) == 1 or origin.connections, timeout=5)
            assert socat_cli(sock, "set server be/s2 state maint") == "\n"
            assert socat_cli(sock, "wait 300 srv-removable be/s2") == "Wait delay expired.\n\n"
            assert socat_cli(sock, "del server be/s2") == \
                "Server still has connections attached to it, cannot remove it.\n"
            release.set()
            t.join(10)
            assert statuses == [200]
            assert socat_cli(sock, "wait 5s srv-removable be/s2") == "Done.\n\n"
