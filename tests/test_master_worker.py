"""Master-worker mode (-W): hitless reloads (the listening sockets handed from generation
to generation through the master), refused broken reloads, SIGUSR2, and the master CLI
(-S: show proc, reload, @<n>, @!<pid>, @@<n>, prompt modes), compared with haproxy 2.6."""

from __future__ import annotations

import re
import signal
import socket
import threading
from functools import partial
from pathlib import Path

import cliutil
import pytest
from netutil import free_port, read_response, recv_until, run_haproxy, run_hapx, wait_until

CFG = """\
global
    stats socket {dir}/stats.sock level admin
    hard-stop-after 40s
defaults
    mode http
    timeout client 40s
    timeout server 10s
    timeout connect 5s
frontend web
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string "{version}"
"""


#: one line on the master CLI, the whole reply: the client half-closes after the command
#: (the server closes after its answer); reloads can take long
cli = partial(cliutil.cli, timeout=60.0, half_close=True)


def get_version(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        resp = read_response(sock)
    assert resp.status == 200
    return resp.body.decode()


def current_workers(proc_text: str) -> list[tuple[int, int]]:
    """(pid, reloads) of the "# workers" section of show proc."""
    section = proc_text.split("# workers\n", 1)[1]
    section = re.split(r"^# ", section, maxsplit=1, flags=re.M)[0]
    return [(int(m[1]), int(m[2])) for m in
            re.finditer(r"^(\d+)\s+worker\s+(\d+)\s", section, re.M)]


class Traffic:
    """Requests without pause: one thread over new connections, one over a kept-alive
    connection.  Only a kept-alive connection closed before any byte of a response may
    be retried (RFC 9112 9.3.1, what HTTP clients do when a server closes an idle
    connection); every other error, short or non-200 response counts as a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.counts = {"new": 0, "kept": 0, "kept_reopened": 0}
        self.bodies: set[str] = set()
        self.threads = [threading.Thread(target=self.new_connections, daemon=True),
                        threading.Thread(target=self.kept_alive, daemon=True)]

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def new_connections(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    resp = read_response(s)
                if resp.status != 200:
                    self.failures.append(f"new: status {resp.status}")
                self.bodies.add(resp.body.decode())
                self.counts["new"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                self.failures.append(f"new: {type(exc).__name__}: {exc}")

    def kept_alive(self) -> None:
        sock = None
        while not self.stop.is_set():
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            try:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                data = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:  # closed while idle, before any byte of the response: retry
                sock.close()
                sock = None
                self.counts["kept_reopened"] += 1
                continue
            try:
                while b"\r\n\r\n" not in data or not data.endswith(b"\n") and \
                        len(data.split(b"\r\n\r\n", 1)[1]) < self._length(data):
                    more = sock.recv(65536)
                    if not more:
                        raise ConnectionError("closed in the middle of a response")
                    data += more
                head, body = data.split(b"\r\n\r\n", 1)
                if not head.startswith(b"HTTP/1.1 200"):
                    self.failures.append(f"kept: {head[:40]!r}")
                self.bodies.add(body.decode())
                self.counts["kept"] += 1
                if b"connection: close" in head.lower():
                    sock.close()
                    sock = None
            except Exception as exc:  # noqa: BLE001
                self.failures.append(f"kept: {type(exc).__name__}: {exc}")
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    @staticmethod
    def _length(data: bytes) -> int:
        m = re.search(rb"content-length:\s*(\d+)", data, re.I)
        return int(m[1]) if m else 0


@pytest.fixture
def master(tmp_path):
    port = free_port()
    mcli = tmp_path / "master.sock"
    cfg_text = CFG.format(dir=tmp_path, port=port, version="v0")
    with run_hapx(cfg_text, args=["-W", "-S", f"{mcli},mode,600"], workdir=tmp_path,
                  ready_ports=[port, str(mcli)], timeout=60) as proc:
        wait_until(lambda: current_workers(cli(mcli, "show proc")), timeout=60)
        yield proc, port, mcli, tmp_path


def write_cfg(proc, tmp_path: Path, port: int, version: str) -> None:
    proc.cfg_path.write_text(CFG.format(dir=tmp_path, port=port, version=version))


def test_five_reloads_under_traffic_lose_no_request(master):
    proc, port, mcli, tmp_path = master
    first = current_workers(cli(mcli, "show proc"))
    assert len(first) == 1
    with Traffic(port) as traffic:
        wait_until(lambda: traffic.counts["new"] > 5 and traffic.counts["kept"] > 5,
                   timeout=30)
        for n in range(1, 6):
            write_cfg(proc, tmp_path, port, f"v{n}")
            reply = cli(mcli, "reload", timeout=120)
            assert reply.startswith("Success=1\n--\n"), reply
            assert "Loading success." in reply
            before = dict(traffic.counts)
            wait_until(lambda b=before: traffic.counts["new"] > b["new"] + 3 and
                       traffic.counts["kept"] > b["kept"] + 3, timeout=30)
        wait_until(lambda: get_version(port) == "v5", timeout=30)
    assert traffic.failures == [], traffic.failures[:10]
    assert traffic.counts["new"] > 20 and traffic.counts["kept"] > 20
    assert {"v0", "v5"} <= traffic.bodies
    text = cli(mcli, "show proc")
    assert re.search(r"^\d+\s+master\s+5 \[failed: 0\]\s+\d+d\d\dh\d\dm\d\ds\s+3\.2", text,
                     re.M), text
    workers = current_workers(text)
    assert len(workers) == 1 and workers[0][1] == 0 and workers[0][0] != first[0][0]
    # the old generations finish and leave; the master reports each
    wait_until(lambda: "# old workers" not in cli(mcli, "show proc"), timeout=90)
    assert len(re.findall(r"Former worker \(\d+\) exited with code 0", proc.stderr)) == 5
    # the stats socket of the last generation answers on the same path
    assert f"Pid: {workers[0][0]}" in cli(tmp_path / "stats.sock", "show info")


def test_old_workers_are_listed_with_their_reloads(master):
    proc, port, mcli, tmp_path = master
    # a kept-alive request in flight holds the first generation while two reloads pass
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    slow.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # headers not finished: in flight
    first = current_workers(cli(mcli, "show proc"))[0][0]
    for n in (1, 2):
        write_cfg(proc, tmp_path, port, f"v{n}")
        assert cli(mcli, "reload", timeout=120).startswith("Success=1")
    text = cli(mcli, "show proc")
    old = text.split("# old workers\n", 1)[1].split("# programs", 1)[0]
    assert re.search(rf"^{first}\s+worker\s+2\s", old, re.M), text
    slow.sendall(b"\r\n")
    resp = read_response(slow)
    assert resp.status == 200 and resp.body == b"v0"
    slow.settimeout(60)
    assert slow.recv(100) == b""  # the old worker closes it after the response
    slow.close()
    wait_until(lambda: "# old workers" not in cli(mcli, "show proc"), timeout=90)


def test_broken_reload_is_refused_and_sigusr2_reloads(master):
    proc, port, mcli, tmp_path = master
    worker = current_workers(cli(mcli, "show proc"))[0][0]
    proc.cfg_path.write_text(CFG.format(dir=tmp_path, port=port, version="v1") +
                             "    no-such-keyword here\n")
    reply = cli(mcli, "reload", timeout=120)
    assert reply.startswith("Success=0\n--\n"), reply
    assert re.search(r"^\[ALERT\]    \(\d+\) : config : parsing \[.*:12\] : unknown keyword "
                     r"'no-such-keyword' in 'frontend' section$", reply, re.M), reply
    assert re.search(r"^\[WARNING\]  \(\d+\) : Loading failure!$", reply, re.M), reply
    text = cli(mcli, "show proc")
    assert "1 [failed: 1]" in text
    assert [pid for pid, _ in current_workers(text)] == [worker]
    assert get_version(port) == "v0"  # the old worker keeps serving
    assert cli(mcli, "prompt i; show startup-logs") == reply.split("--\n", 1)[1]
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(mcli))
        s.sendall(b"prompt\n")
        assert recv_until(s, b"> ") == b"master[ReloadFailed]> "
    # fixed, then reloaded with SIGUSR2
    write_cfg(proc, tmp_path, port, "v2")
    proc.signal(signal.SIGUSR2)
    wait_until(lambda: get_version(port) == "v2", timeout=60)
    text = cli(mcli, "show proc")
    assert "2 [failed: 1]" in text
    assert worker not in [pid for pid, _ in current_workers(text)]
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(mcli))
        s.sendall(b"prompt\n")
        assert recv_until(s, b"> ") == b"master> "


def test_master_cli_reaches_the_workers(master):
    proc, port, mcli, tmp_path = master
    worker = current_workers(cli(mcli, "show proc"))[0][0]
    info = cli(mcli, "@1 show info")
    assert info.startswith("Name: HAProxy\n") and f"\nPid: {worker}\n" in info
    assert info.endswith("\n\n")
    assert cli(mcli, f"@!{worker} show cli level") == "admin\n\n"
    assert cli(mcli, "@1 show version; show version") == "3.2.0 (hapx 0.1.0)\n\n" * 2
    assert cli(mcli, "@9 show info; show version") == \
        "Can't find the target PID matching the prefix '@9'\n"
    # context switches and the prompt
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(mcli))
        s.sendall(b"prompt\n")
        assert recv_until(s, b"> ") == b"master> "
        s.sendall(b"@1\n")
        assert recv_until(s, b"> ") == f"{worker}> ".encode()
        s.sendall(b"show cli level\n")
        assert recv_until(s, b"> ") == f"admin\n\n{worker}> ".encode()
        s.sendall(b"@\n")
        assert recv_until(s, b"> ") == b"master> "
        s.sendall(b"prompt n\n")
        assert recv_until(s, b"> ").startswith(b"Unknown prompt mode 'n'.")
        s.sendall(b"quit\n")
    # the silent interactive mode (agents): outputs only, no prompt
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(mcli))
        s.sendall(b"prompt i\nshow cli level\n@1 show cli level\n")
        assert recv_until(s, b"admin\n\nadmin\n\n") == b"admin\n\nadmin\n\n"
    # @@: the rest of the line, ';' included, runs in the worker
    assert cli(mcli, "@@1 show cli level; show version") == \
        "admin\n\n3.2.0 (hapx 0.1.0)\n\n"
    # @@ alone: an interactive session in the worker with the master's prompt mode
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(mcli))
        s.sendall(b"prompt\n")
        recv_until(s, b"master> ")
        s.sendall(b"@@1\n")
        recv_until(s, b"> ")
        s.sendall(b"show cli level\n")
        assert recv_until(s, b"> ") == b"admin\n\n> "
        s.sendall(b"quit\n")
        assert recv_until(s, b"master> ") == b"master> "
    # levels: a user-level master CLI reaches the worker at user level
    help_text = cli(mcli, "help")
    for entry in ("@<relative pid>", "@!<pid>", "@@<relative pid>", "@master", "show proc",
                  "reload"):
        assert re.search(rf"^  {re.escape(entry)}\s+: ", help_text, re.M), help_text


def test_show_proc_layout_matches_haproxy(master, tmp_path_factory):
    proc, port, mcli, tmp_path = master
    ours = cli(mcli, "show proc")
    hdir = tmp_path_factory.mktemp("haproxy")
    hport = free_port()
    hcli = hdir / "master.sock"
    cfg = CFG.replace("    hard-stop-after 40s\n", "").format(dir=hdir, port=hport,
                                                                 version="x")
    with run_haproxy(cfg, args=["-W", "-S", str(hcli)], workdir=hdir,
                     ready_ports=[hport, str(hcli)]):
        wait_until(lambda: current_workers(cli(hcli, "show proc")), timeout=30)
        theirs = cli(hcli, "show proc")

    def shape(text: str) -> list[str]:
        out = []
        for line in text.split("\n"):
            line = re.sub(r"\d+d\d\dh\d\dm\d\ds", "<uptime>", line)
            line = re.sub(r"^\d+ ", "<pid>", line)
            line = re.sub(r"(<uptime>\s+)\S.*$", r"\1<version>", line)
            out.append(line.rstrip())
        return out

    assert ours.split("\n")[0] == theirs.split("\n")[0]  # the header, padding included
    assert shape(ours) == shape(theirs), (ours, theirs)


def test_master_worker_global_keyword(tmp_path):
    port = free_port()
    mcli = tmp_path / "m.sock"
    cfg = CFG.format(dir=tmp_path, port=port, version="kw").replace(
        "global\n", "global\n    master-worker\n", 1)
    with run_hapx(cfg, args=["-S", str(mcli)], workdir=tmp_path,
                  ready_ports=[port, str(mcli)], timeout=60):
        wait_until(lambda: current_workers(cli(mcli, "show proc")), timeout=60)
        assert get_version(port) == "kw"
        text = cli(mcli, "show proc")
        assert re.search(r"^\d+\s+master\s+0 \[failed: 0\]", text, re.M)
