"""Listeners and the engine's lifecycle through a real hapx process: IPv4/IPv6, port
ranges, unix@ sockets, inherited fd@ and sockpair@ sockets, maxconn (global, frontend and
bind: excess connections wait in the kernel's queue), bind failures, graceful stop and
hard-stop-after."""

from __future__ import annotations

import grp
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from netutil import TcpEchoServer, free_port, free_ports, run_hapx, wait_until
from netutil import recv_until_eof as recv_all

DEFAULTS = """
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""



def test_maxconn_keeps_excess_connections_waiting():
    with TcpEchoServer() as echo:
        fe = free_port()
        cfg = """
global
    maxconn 1
""" + DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[fe]):
            first = socket.create_connection(("127.0.0.1", fe))
            first.sendall(b"1")
            first.settimeout(5)
            assert first.recv(1) == b"1"
            second = socket.create_connection(("127.0.0.1", fe))  # queued in the kernel
            second.sendall(b"2")
            second.settimeout(0.5)
            with pytest.raises(TimeoutError):
                second.recv(1)
            first.close()  # frees the slot: the waiting connection is served, not dropped
            second.settimeout(5)
            assert second.recv(1) == b"2"
            second.close()


def test_unix_and_port_range_binds(tmp_path):
    with TcpEchoServer() as echo:
        p1, p2 = free_ports(2)
        path = tmp_path / "hapx.sock"
        cfg = DEFAULTS + f"""
frontend fe
    bind unix@{path} mode 600
    bind 127.0.0.1:{p1},127.0.0.1:{p2}
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[p1, p2]):
            assert oct(os.stat(path).st_mode & 0o777) == "0o600"
            for family, target in ((socket.AF_UNIX, str(path)), (socket.AF_INET, ("127.0.0.1", p2))):
                with socket.socket(family, socket.SOCK_STREAM) as sock:
                    sock.connect(target)
                    sock.sendall(b"ping")
                    sock.shutdown(socket.SHUT_WR)
                    assert recv_all(sock) == b"ping"
        assert not path.exists()  # removed at exit


def test_inherited_listening_socket_is_adopted(tmp_path):
    with TcpEchoServer() as echo:
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]
        fd = lsock.fileno()
        cfg = tmp_path / "fd.cfg"
        cfg.write_text(DEFAULTS + f"""
frontend fe
    bind fd@{fd}
    default_backend be
backend be
    server s1 {echo.address}
""")
        proc = subprocess.Popen([sys.executable, "-m", "hapx.core.cli.main", "-db", "-f",
                                 str(cfg)], pass_fds=[fd], stderr=subprocess.PIPE)
        lsock.close()  # only hapx holds it now: it must not bind again
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"inherited")
                sock.shutdown(socket.SHUT_WR)
                assert recv_all(sock) == b"inherited"
        finally:
            proc.terminate()
            _out, err = proc.communicate(timeout=10)
        assert b"Traceback" not in err


def test_graceful_stop_finishes_open_streams():
    with TcpEchoServer() as echo:
        fe = free_port()
        cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[fe]) as px:
            sock = socket.create_connection(("127.0.0.1", fe))
            sock.sendall(b"a")
            sock.settimeout(5)
            assert sock.recv(1) == b"a"
            codes: list[int] = []
            stopper = threading.Thread(target=lambda: codes.append(px.stop(soft=True)))
            stopper.start()  # SIGUSR1, then waits for the exit
            # listeners close at once; the open stream goes on
            wait_until(lambda: _refused(fe), timeout=5)
            sock.sendall(b"b")
            assert sock.recv(1) == b"b"
            assert px.alive
            sock.close()
            stopper.join(15)
            assert codes == [0]


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_hard_stop_after_bounds_a_graceful_stop():
    with TcpEchoServer() as echo:
        fe = free_port()
        cfg = """
global
    hard-stop-after 300ms
""" + DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[fe]) as px:
            sock = socket.create_connection(("127.0.0.1", fe))
            sock.sendall(b"a")
            sock.settimeout(5)
            assert sock.recv(1) == b"a"
            assert px.stop(soft=True, timeout=5) == 0  # fails if not gone by then
            assert recv_all(sock) == b""  # cut by the hard stop
            sock.close()


def test_bind_failure_is_reported_and_exits_non_zero(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cfg = tmp_path / "busy.cfg"
    cfg.write_text(DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:9
""")
    try:
        res = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-db", "-f",
                              str(cfg)], capture_output=True, text=True, timeout=30)
    finally:
        busy.close()
    assert res.returncode != 0
    # HAProxy's wording: the bind line, the proxy, the reason and the address
    assert (f"[ALERT]    ({res.stderr.split('(')[1].split(')')[0]}) : Binding [{cfg}:9] for "
            f"frontend fe: cannot bind socket (Address already in use) for "
            f"[127.0.0.1:{port}]") in res.stderr
    assert "Some protocols failed to start their listeners! Exiting." in res.stderr
    assert "Traceback" not in res.stderr


def test_every_failing_bind_is_reported(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cfg = tmp_path / "two.cfg"
    cfg.write_text(DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    bind unix@{tmp_path}/missing/dir/sock
    default_backend be
backend be
    server s1 127.0.0.1:9
""")
    try:
        res = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-db", "-f",
                              str(cfg)], capture_output=True, text=True, timeout=30)
    finally:
        busy.close()
    assert res.returncode != 0
    assert f"Binding [{cfg}:9] for frontend fe: cannot bind socket" in res.stderr
    assert (f"Binding [{cfg}:10] for frontend fe: cannot bind UNIX socket (No such file or "
            f"directory) [{tmp_path}/missing/dir/sock]") in res.stderr


def _echo_through(family: int, target: object, payload: bytes = b"ping") -> bytes:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(target)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recv_all(sock)


def test_ipv6_binds_v6only_and_v4v6():
    with TcpEchoServer() as echo:
        p1, p2 = free_ports(2)
        cfg = DEFAULTS + f"""
frontend v6only
    bind [::1]:{p1} v6only
    default_backend be
frontend dual
    bind :::{p2} v4v6
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[("::1", p1), ("::1", p2)]):
            assert _echo_through(socket.AF_INET6, ("::1", p1)) == b"ping"
            assert _echo_through(socket.AF_INET6, ("::1", p2)) == b"ping"
            # the v4v6 wildcard also accepts IPv4 clients
            assert _echo_through(socket.AF_INET, ("127.0.0.1", p2)) == b"ping"


def test_unix_socket_owner_and_group(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("changing a socket's owner needs root")
    group = grp.getgrgid(os.getgid() if os.getgid() else 65534).gr_name
    gid = grp.getgrnam(group).gr_gid
    path = tmp_path / "owned.sock"
    with TcpEchoServer() as echo:
        port = free_port()
        cfg = DEFAULTS + f"""
frontend fe
    bind unix@{path} mode 640 uid 65534 group {group}
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[port]):
            st = os.stat(path)
            assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == ("0o640", 65534, gid)
            assert _echo_through(socket.AF_UNIX, str(path)) == b"ping"


def test_frontend_and_bind_maxconn_queue_without_dropping():
    with TcpEchoServer() as echo:
        p1, p2 = free_ports(2)
        cfg = DEFAULTS + f"""
frontend fe
    maxconn 2
    bind 127.0.0.1:{p1}
    default_backend be
frontend small
    bind 127.0.0.1:{p2} maxconn 1
    default_backend be
backend be
    server s1 {echo.address}
"""
        with run_hapx(cfg, ready_ports=[p1, p2]):
            for port, limit in ((p1, 2), (p2, 1)):
                socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(limit + 2)]
                for i, sock in enumerate(socks):
                    sock.sendall(bytes([65 + i]))
                served = socks[:limit]
                for i, sock in enumerate(served):
                    sock.settimeout(5)
                    assert sock.recv(1) == bytes([65 + i])
                for sock in socks[limit:]:
                    sock.settimeout(0.3)
                    with pytest.raises(TimeoutError):
                        sock.recv(1)
                for sock in served:
                    sock.close()
                # every waiting connection is served once slots free up
                for i, sock in enumerate(socks[limit:], start=limit):
                    sock.settimeout(5)
                    assert sock.recv(1) == bytes([65 + i])
                    sock.close()


def test_inherited_socket_named_by_environment(tmp_path):
    """``bind fd@${NAME}``: the descriptor number comes from the environment."""
    with TcpEchoServer() as echo:
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]
        cfg = tmp_path / "env.cfg"
        cfg.write_text(DEFAULTS + f"""
frontend fe
    bind "fd@${{LISTEN_FD}}"
    default_backend be
backend be
    server s1 {echo.address}
""")
        env = dict(os.environ, LISTEN_FD=str(lsock.fileno()))
        proc = subprocess.Popen([sys.executable, "-m", "hapx.core.cli.main", "-db", "-f",
                                 str(cfg)], pass_fds=[lsock.fileno()], env=env,
                                stderr=subprocess.PIPE)
        lsock.close()
        try:
            assert _echo_through(socket.AF_INET, ("127.0.0.1", port), b"env") == b"env"
        finally:
            proc.terminate()
            _out, err = proc.communicate(timeout=10)
        assert b"Traceback" not in err


def test_sockpair_bind_receives_connections_from_another_process(tmp_path):
    """``bind sockpair@<fd>``: another process sends accepted connections over a unix
    socketpair (SCM_RIGHTS) and hapx serves them."""
    with TcpEchoServer() as echo:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cfg = tmp_path / "sp.cfg"
        cfg.write_text(DEFAULTS + f"""
frontend fe
    bind sockpair@{theirs.fileno()}
    default_backend be
backend be
    server s1 {echo.address}
""")
        proc = subprocess.Popen([sys.executable, "-m", "hapx.core.cli.main", "-db", "-f",
                                 str(cfg)], pass_fds=[theirs.fileno()], stderr=subprocess.PIPE)
        theirs.close()
        front = socket.socket()
        front.bind(("127.0.0.1", 0))
        front.listen(1)
        try:
            client = socket.create_connection(front.getsockname())
            accepted, _ = front.accept()
            time.sleep(0.5)  # let hapx start reading the socketpair
            socket.send_fds(ours, [b"c"], [accepted.fileno()])
            accepted.close()  # hapx holds its own copy now
            client.sendall(b"passed along")
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b"passed along"
            client.close()
        finally:
            front.close()
            ours.close()
            proc.terminate()
            _out, err = proc.communicate(timeout=10)
        assert b"Traceback" not in err
