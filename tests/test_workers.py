"""``nbthread N``: N worker processes, each with its own event loop, serving the same
listeners under one supervising process (HAProxy's process: its pid is the pid file's, the
``pid`` fetch's and the syslog header's; ``thread`` is the worker's number)."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
from pathlib import Path

import pytest
from hapx.plugins.cpu_binding import thread_bindings
from netutil import (
    OriginServer,
    Response,
    UdpSyslog,
    _listen_inodes,
    _process_tree,
    _socket_inodes,
    free_port,
    read_response,
    run_hapx,
    wait_until,
)

HEAD = """
global
    nbthread {nbthread}
{extra}
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 2s
"""

FRONT = """
frontend fe
    bind 127.0.0.1:{port}
    http-request set-header X-Worker %[thread]
    http-response set-header X-Worker %[thread]
    http-response set-header X-Pid %[pid]
    default_backend be

backend be
    server s1 {server}
"""


def config(port: int, server: str, nbthread: int = 2, extra: str = "") -> str:
    return HEAD.format(nbthread=nbthread, extra=extra) + FRONT.format(port=port, server=server)


def workers_of(proc: object) -> list[int]:
    """The worker processes (children of the supervisor), in the order they were forked."""
    pid = proc.pid  # type: ignore[attr-defined]
    return sorted(p for p in _process_tree(pid) if p != pid)


def wait_workers_listening(proc: object, port: int, count: int = 2) -> list[int]:
    """Wait until ``count`` workers each hold their own listening socket on ``port``
    (SO_REUSEPORT); returns the workers' pids."""
    def ready() -> list[int] | None:
        workers = workers_of(proc)
        mine = [w for w in workers if _listen_inodes(port) & _socket_inodes([w])]
        return workers if len(workers) == count and len(mine) == count else None
    return wait_until(ready, 10, message=lambda: f"workers {workers_of(proc)} not all "
                      f"listening on {port}")


def get(port: int, path: str = "/", *, close: bool = True) -> tuple[int, dict[str, str]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        conn = "Connection: close\r\n" if close else ""
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{conn}\r\n".encode())
        resp = read_response(sock, timeout=10)
    return resp.status, {k.lower(): v for k, v in resp.headers}


def test_two_workers_serve_from_distinct_threads():
    port = free_port()
    with OriginServer() as origin, \
            run_hapx(config(port, f"127.0.0.1:{origin.port}"), ready_ports=[port]) as px:
        workers = wait_workers_listening(px, port)
        assert px.pid not in workers
        seen: dict[str, int] = {}
        for _ in range(200):  # each connection is hashed to one worker's socket
            status, headers = get(port)
            assert status == 200
            assert headers["x-pid"] == str(px.pid)  # HAProxy's process: the supervisor
            seen[headers["x-worker"]] = seen.get(headers["x-worker"], 0) + 1
            if len(seen) == 2 and min(seen.values()) >= 5:
                break
        assert set(seen) == {"0", "1"}, seen
        # the origin saw the same thread numbers, set on the request side
        assert {r.header("X-Worker") for r in origin.requests} == {"0", "1"}


def test_default_is_one_worker_and_nbthread_1_too():
    port = free_port()
    for extra_global in ("", "    nbthread 1\n"):
        cfg = f"global\n{extra_global}" + HEAD.split("\n", 3)[3].format(extra="") + \
            FRONT.format(port=port, server="127.0.0.1:9")
        with run_hapx(cfg, ready_ports=[port]) as px:
            assert workers_of(px) == []
            assert len(_listen_inodes(port) & _socket_inodes([px.pid])) == 1


def test_logs_carry_the_process_pid_from_every_worker():
    port = free_port()
    with UdpSyslog() as syslog, OriginServer() as origin:
        extra = f"    log {syslog.address} local0"
        cfg = config(port, f"127.0.0.1:{origin.port}", extra=extra).replace(
            "    mode http\n", "    mode http\n    log global\n    log-format "
            "\"thread=%[thread] pid=%pid\"\n", 1)
        with run_hapx(cfg, ready_ports=[port]) as px:
            wait_workers_listening(px, port)
            threads: set[str] = set()
            sent = 0
            while threads != {"0", "1"} and sent < 200:
                _status, headers = get(port)
                sent += 1
                threads.add(headers["x-worker"])
            msgs = syslog.wait_for(sent)
        assert threads == {"0", "1"}
        lines = [m for m in msgs if "thread=" in m]
        # the pid field of every syslog header and %pid are the supervisor's
        assert all(f"[{px.pid}]: thread=" in m for m in lines), lines
        assert all(m.endswith(f"pid={px.pid}") for m in lines), lines
        assert {re.search(r"thread=(\d+)", m).group(1) for m in lines} == {"0", "1"}


def test_graceful_stop_lets_both_workers_finish_in_flight_requests():
    port = free_port()
    gate = threading.Event()
    waiting: list[str] = []  # X-Worker of each request held at the origin

    def slow(req: object) -> Response:
        waiting.append(req.header("X-Worker"))  # type: ignore[attr-defined]
        gate.wait(20)
        return Response(200, b"done\n")

    with OriginServer({"/slow": slow}) as origin, \
            run_hapx(config(port, f"127.0.0.1:{origin.port}"), ready_ports=[port]) as px:
        wait_workers_listening(px, port)
        socks: list[socket.socket] = []
        try:
            # open requests until both workers have one in flight at the origin
            for _ in range(64):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
                socks.append(sock)
                wait_until(lambda: len(waiting) >= len(socks), 10,
                           message="a request did not reach the origin")
                if set(waiting) == {"0", "1"}:
                    break
            assert set(waiting) == {"0", "1"}
            px._stopping = True  # its exit is what this test expects
            px.signal(signal.SIGUSR1)

            def refused() -> bool:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except ConnectionRefusedError:
                    return True
                return False
            wait_until(refused, 10, message="the listeners still accept after SIGUSR1")
            assert px.alive and len(workers_of(px)) == 2  # both still finishing their work
            gate.set()
            served = set()
            for sock in socks:
                resp = read_response(sock, timeout=10)
                assert resp.status == 200 and resp.body == b"done\n"
                served.add(dict((k.lower(), v) for k, v in resp.headers)["x-worker"])
            assert served == {"0", "1"}
            assert px.proc.wait(10) == 0
        finally:
            gate.set()
            for sock in socks:
                sock.close()


def test_hard_stop_reaches_every_worker():
    port = free_port()
    with run_hapx(config(port, "127.0.0.1:9"), ready_ports=[port]) as px:
        workers = wait_workers_listening(px, port)
        assert px.terminate() == 0
        for w in workers:
            assert not Path(f"/proc/{w}").exists() or \
                Path(f"/proc/{w}/stat").read_text().split(") ")[1][0] == "Z"


def test_a_killed_worker_is_reported_and_the_process_exits():
    port = free_port()
    with run_hapx(config(port, "127.0.0.1:9"), ready_ports=[port]) as px:
        first, second = wait_workers_listening(px, port)
        os.kill(second, signal.SIGKILL)
        px._stopping = True  # its exit is what this test expects
        assert px.proc.wait(10) == 128 + signal.SIGKILL
        err = px.stderr
        assert f"[ALERT]    ({px.pid}) : Current worker ({second}) exited with code 137 " \
               "(Killed)" in err, err
        assert "exit-on-failure: killing every processes with SIGTERM" in err
        wait_until(lambda: not Path(f"/proc/{first}").exists(), 10,
                   message="the other worker outlived the process")


def test_pid_file_holds_the_supervisor_pid(tmp_path: Path):
    port = free_port()
    pidfile = tmp_path / "hapx.pid"
    with run_hapx(config(port, "127.0.0.1:9"), ready_ports=[port],
                  args=["-p", str(pidfile)]) as px:
        wait_workers_listening(px, port)
        assert pidfile.read_text() == f"{px.pid}\n"


def test_unix_listener_is_one_socket_shared_by_the_workers(tmp_path: Path):
    port = free_port()
    path = str(tmp_path / "fe.sock")
    cfg = config(port, "127.0.0.1:9").replace(
        f"    bind 127.0.0.1:{port}\n",
        f"    bind 127.0.0.1:{port}\n    bind unix@{path}\n"
        "    http-request return status 200 content-type text/plain "
        "lf-string \"thread %[thread]\"\n")
    with run_hapx(cfg, ready_ports=[port, path]) as px:
        first, second = wait_workers_listening(px, port)
        # the supervisor keeps no listener; both workers hold the same unix socket
        unix_inodes = [{int(line.split()[6]) for line in
                        Path("/proc/net/unix").read_text().splitlines()[1:]
                        if line.endswith(" " + path)}]
        assert _socket_inodes([px.pid]) & unix_inodes[0] == set()
        assert _socket_inodes([first]) & unix_inodes[0]
        assert _socket_inodes([first]) & unix_inodes[0] == \
            _socket_inodes([second]) & unix_inodes[0]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            resp = read_response(sock, timeout=10)
        assert resp.status == 200 and resp.body in (b"thread 0", b"thread 1")


def test_bind_error_is_reported_once_before_any_worker_starts():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cfg = config(port, "127.0.0.1:9")
        with pytest.raises(AssertionError) as failed, run_hapx(cfg, ready_ports=[port]):
            pass
    text = str(failed.value)
    assert text.count("cannot bind socket (Address already in use)") == 1, text
    assert "Some protocols failed to start their listeners! Exiting." in text


def test_each_worker_is_bound_to_its_threads_cpus():
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("one allowed CPU: every binding is the same")
    port = free_port()
    first_cpu, last_cpu = allowed[0], allowed[-1]
    cases = [
        ("", thread_bindings({"nbthread": 2})),
        (f"    cpu-map 1/1 {last_cpu}\n    cpu-map 1/2 {first_cpu}",
         [frozenset({last_cpu}), frozenset({first_cpu})]),
    ]
    for extra, expected in cases:
        settings_cfg = config(port, "127.0.0.1:9", extra=extra)
        with run_hapx(settings_cfg, ready_ports=[port], env={"HAPX_SYSFS_ROOT": ""}) as px:
            workers = wait_workers_listening(px, port)
            assert [frozenset(os.sched_getaffinity(w)) for w in workers] == expected
        if not extra:
            # what thread_bindings() gives for this configuration on this machine
            assert all(expected) and len(expected) == 2
