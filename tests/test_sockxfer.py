"""Listening sockets handed between independent processes: ``_getsocks`` on a stats socket
with ``expose-fd listeners`` and ``-x <socket>`` (hapx.core.net.sockxfer), against real
hapx and haproxy 2.6 processes: hapx -> hapx with a client connecting all along, hapx
taking haproxy's sockets and haproxy taking hapx's (its parser checks our encoder)."""

from __future__ import annotations

import functools
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hapx.core.net import sockxfer
from netutil import (
    HAPROXY,
    Incomplete,
    _listen_inodes,
    _socket_inodes,
    free_ports,
    have_haproxy,
    read_response,
    run_haproxy,
    run_hapx,
    wait_until,
)

CFG = """\
global
    stats socket {dir}/{name}.sock level {level} expose-fd listeners
    stats socket {dir}/{name}-plain.sock level admin
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
frontend web
    bind 127.0.0.1:{port}
    bind :::{port6} v6only
    bind {dir}/{name}-web.sock
{extra}    http-request return status 200 content-type text/plain string "{version}"
"""


def cfg(d: Path, name: str, port: int, port6: int, version: str, *, level: str = "admin",
        extra: str = "") -> str:
    return CFG.format(dir=d, name=name, port=port, port6=port6, version=version,
                      level=level, extra=extra)


def get(port: int, timeout: float = 10.0) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        resp = read_response(s, timeout=timeout)
    assert resp.status == 200
    return resp.body.decode()


def get_unix(path: Path | str, timeout: float = 10.0) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        resp = read_response(s, timeout=timeout)
    assert resp.status == 200
    return resp.body.decode()


def unix_inode(pid: int, path: Path | str) -> int | None:
    """The inode of the listening unix socket bound at ``path`` (haproxy's ``.<pid>.tmp``
    name included, from /proc/net/unix) if process ``pid`` holds it."""
    held = _socket_inodes([pid])
    name = re.compile(re.escape(str(path)) + r"(\.\d+\.tmp)?")
    with open("/proc/net/unix") as fh:
        next(fh)
        for line in fh:
            cols = line.split()
            if len(cols) >= 8 and name.fullmatch(cols[7]) and int(cols[6]) in held:
                return int(cols[6])
    return None


class Client(threading.Thread):
    """Connects in a loop (one request each) until stopped; counts answers by body and
    every failure."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.answers: dict[str, int] = {}
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                body = get(self.port)
            except (OSError, AssertionError, Incomplete) as exc:
                self.failures.append(repr(exc))
                continue
            self.answers[body] = self.answers.get(body, 0) + 1

    def seen(self, body: str, n: int = 1) -> bool:
        return self.answers.get(body, 0) >= n


def fds_keys(socks: list[sockxfer.XferSocket]) -> dict[str, sockxfer.XferSocket]:
    return {s.key: s for s in socks if s.key}


def close_all(socks: list[sockxfer.XferSocket]) -> None:
    for s in socks:
        s.close()


# -- the bytes -----------------------------------------------------------------------------

def test_record_layout():
    assert sockxfer.encode_count(8) == (8).to_bytes(4, sys.byteorder)
    assert sockxfer.encode_record() == b"\0\0\0\0\0\0"
    assert sockxfer.encode_record("ns1", "lo") == b"\x03ns1\x02lo\0\0\0\0"
    # what haproxy 2.6 sent for 8 listeners, the 4th bound with "interface lo"
    sent = b"\0" * 19 + b"\x02lo" + b"\0" * 28
    assert len(sent) == 50
    records = sockxfer.decode_records(sent, 8)
    assert records[3] == ("", "lo") and records.count(("", "")) == 7
    with pytest.raises(sockxfer.XferError, match="Inconsistency while transferring sockets"):
        sockxfer.decode_records(sent[:-1], 8)
    entries = [(i, "", "") for i in range(600)]
    parts = sockxfer.batches(entries)
    assert [len(fds) for fds, _ in parts] == [253, 253, 94]
    assert all(len(data) == 6 * len(fds) for fds, data in parts)


# -- _getsocks ---------------------------------------------------------------------------------

def _expected_keys(d: Path, name: str, port: int, port6: int) -> set[str]:
    return {f"tcp4@127.0.0.1:{port}", f"tcp6@[::]:{port6}", f"unix@{d}/{name}-web.sock",
            f"unix@{d}/{name}.sock", f"unix@{d}/{name}-plain.sock"}


def test_getsocks_from_haproxy_decodes(tmp_path):
    """The decoder reads haproxy 2.6's reply: every listener, stats sockets included, with
    its options read from the socket itself and the interface name from the record."""
    port, port6, port_if = free_ports(3)
    text = cfg(tmp_path, "old", port, port6, "v1",
               extra=f"    bind 127.0.0.1:{port_if} interface lo\n")
    with run_haproxy(text, workdir=tmp_path, ready_ports=[port, port_if], timeout=60):
        socks = sockxfer.fetch(str(tmp_path / "old.sock"))
        try:
            keys = fds_keys(socks)
            assert _expected_keys(tmp_path, "old", port, port6) <= set(keys)
            assert keys[f"tcp4@127.0.0.1:{port_if}"].interface == "lo"
            assert keys[f"tcp4@127.0.0.1:{port}"].interface == ""
            assert keys[f"tcp6@[::]:{port6}"].options == sockxfer.OPT_V6ONLY
            assert keys[f"tcp4@127.0.0.1:{port}"].options == 0
        finally:
            close_all(socks)
        with pytest.raises(sockxfer.XferError,
                           match="Failed to get the number of sockets to be transferred !"):
            sockxfer.fetch(str(tmp_path / "old-plain.sock"))


def test_getsocks_from_hapx(tmp_path):
    """hapx answers the same way, on a socket of any level with expose-fd listeners, and
    closes without a reply on a socket without it; _getsocks is not in help."""
    port, port6 = free_ports(2)
    with run_hapx(cfg(tmp_path, "old", port, port6, "v1", level="user"), workdir=tmp_path,
                  ready_ports=[port, str(tmp_path / "old.sock")], timeout=60):
        socks = sockxfer.fetch(str(tmp_path / "old.sock"))
        try:
            keys = fds_keys(socks)
            assert set(keys) == _expected_keys(tmp_path, "old", port, port6)
            assert keys[f"tcp6@[::]:{port6}"].options == sockxfer.OPT_V6ONLY
            assert all(s.namespace == "" and s.interface == "" for s in socks)
            # the very sockets: same inode as the one listening on the port
            st = os.fstat(keys[f"tcp4@127.0.0.1:{port}"].fd)
            assert st.st_ino in _listen_inodes(port)
        finally:
            close_all(socks)
        with pytest.raises(sockxfer.XferError,
                           match="Failed to get the number of sockets to be transferred !"):
            sockxfer.fetch(str(tmp_path / "old-plain.sock"))
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(tmp_path / "old.sock"))
            s.sendall(b"help\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        assert b"_getsocks" not in out and b"show info" in out


# -- -x ------------------------------------------------------------------------------------------

def test_x_missing_socket_fails_like_haproxy(tmp_path):
    port, port6 = free_ports(2)
    text = cfg(tmp_path, "new", port, port6, "v2")
    (tmp_path / "x.cfg").write_text(text)
    missing = tmp_path / "nope.sock"
    res = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-db", "-f",
                          str(tmp_path / "x.cfg"), "-x", str(missing)], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 1
    assert f"[WARNING]  ({res.stderr.split('(')[1].split(')')[0]}) : Failed to connect to " \
           f"the old process socket '{missing}'" in res.stderr
    assert "[ALERT]    (" in res.stderr
    assert "Failed to get the sockets from the old process!" in res.stderr
    if have_haproxy():
        ref = subprocess.run([HAPROXY, "-db", "-f", str(tmp_path / "x.cfg"), "-x",
                              str(missing)], capture_output=True, text=True, timeout=60)
        assert ref.returncode == 1
        assert f"Failed to connect to the old process socket '{missing}'" in ref.stderr
        assert "Failed to get the sockets from the old process!" in ref.stderr


def test_x_missing_socket_under_master_binds_afresh(tmp_path):
    """In master-worker mode the failure is reported and the process binds its own."""
    port, port6 = free_ports(2)
    with run_hapx(cfg(tmp_path, "new", port, port6, "v2"), workdir=tmp_path,
                  args=["-W", "-x", str(tmp_path / "nope.sock")], ready_ports=[port], timeout=60) as new:
        assert get(port) == "v2"
        assert "Failed to get the sockets from the old process!" in new.stderr


def _switch(tmp_path: Path, old_run, new_run, *, new_args: tuple[str, ...] = ()) -> None:
    """Old serves "v1" while a client connects in a loop; new starts with -x on old's
    stats socket and takes its listeners (same inodes); old stops; the client never saw a
    failure and new answers "v2" on the same sockets."""
    port, port6, fresh = free_ports(3)
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    web = old_dir / "old-web.sock"
    # the new configuration binds the same paths (the old directory) plus a fresh port
    new_cfg = CFG.format(dir=old_dir, name="old", port=port, port6=port6, version="v2",
                         level="admin", extra=f"    bind 127.0.0.1:{fresh}\n")
    with old_run(cfg(old_dir, "old", port, port6, "v1"), workdir=old_dir,
                 ready_ports=[port, str(web)], timeout=60) as old:
        inode = _listen_inodes(port) & _socket_inodes([old.pid])
        inode6 = _listen_inodes(port6) & _socket_inodes([old.pid])
        unix_ino = unix_inode(old.pid, web)
        assert inode and inode6 and unix_ino
        client = Client(port)
        client.start()
        try:
            wait_until(lambda: client.seen("v1", 3), 30, message="old never answered")
            with new_run(new_cfg, workdir=new_dir, args=["-x", str(old_dir / "old.sock"),
                                                         *new_args],
                         ready_ports=[fresh], timeout=60) as new:
                # new holds the very listening sockets old holds
                assert inode <= _socket_inodes([new.pid])
                assert inode6 <= _socket_inodes([new.pid])
                assert unix_inode(new.pid, web) == unix_ino
                old.stop(soft=True, timeout=30)
                wait_until(lambda: client.seen("v2", 3), 30, message="new never answered")
                assert _listen_inodes(port) == inode
                assert get_unix(web) == "v2"
                n = sum(client.answers.values())
                wait_until(lambda: sum(client.answers.values()) >= n + 3, 30)
                client.stop.set()
                client.join(30)
                assert not client.failures, client.failures[:5]
                assert "Failed" not in new.stderr, new.stderr
        finally:
            client.stop.set()
            client.join(30)


def test_hapx_to_hapx_no_connection_refused(tmp_path):
    _switch(tmp_path, run_hapx, run_hapx)


def test_hapx_to_hapx_master_worker(tmp_path):
    """With -W the master takes the sockets at start-up and hands them to its workers."""
    _switch(tmp_path, run_hapx, run_hapx, new_args=("-W",))


def test_hapx_takes_haproxy_listeners(tmp_path):
    if not have_haproxy():
        pytest.skip("haproxy is not installed")
    _switch(tmp_path, run_haproxy, run_hapx)


def test_haproxy_takes_hapx_listeners(tmp_path):
    """haproxy 2.6 -x parses hapx's _getsocks reply: our encoder is haproxy's format."""
    if not have_haproxy():
        pytest.skip("haproxy is not installed")
    _switch(tmp_path, run_hapx, run_haproxy)


# -- more than one batch (253 sockets per sendmsg, acknowledged) ---------------------------------

def free_range(n: int) -> int:
    """The first of ``n`` consecutive ports free on 127.0.0.1 right now."""
    for base in range(21000, 60000 - n, 997):
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


RANGE_CFG = """\
global
    maxconn 100
    stats socket {dir}/range.sock level admin expose-fd listeners
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
frontend web
    bind 127.0.0.1:{first}-{last}
    http-request return status 200 content-type text/plain string "{version}"
"""

RANGE = 300  # more than MAX_SEND_FD: two batches and an acknowledgement


def _range_cfg(d: Path, first: int, version: str) -> str:
    return RANGE_CFG.format(dir=d, first=first, last=first + RANGE - 1, version=version)


def test_many_sockets_from_haproxy(tmp_path):
    if not have_haproxy():
        pytest.skip("haproxy is not installed")
    first = free_range(RANGE)
    with run_haproxy(_range_cfg(tmp_path, first, "v1"), workdir=tmp_path,
                     ready_ports=[first, first + RANGE - 1], timeout=60):
        socks = sockxfer.fetch(str(tmp_path / "range.sock"))
        try:
            keys = set(fds_keys(socks))
            assert {f"tcp4@127.0.0.1:{p}" for p in range(first, first + RANGE)} <= keys
            assert len(socks) == RANGE + 1
        finally:
            close_all(socks)


def test_many_sockets_hapx_to_haproxy(tmp_path):
    """hapx sends 301 sockets in two batches (waiting for the acknowledgement); haproxy's
    -x adopts every one of them."""
    if not have_haproxy():
        pytest.skip("haproxy is not installed")
    first = free_range(RANGE)
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    with run_hapx(_range_cfg(old_dir, first, "v1"), workdir=old_dir,
                  ready_ports=[first, first + RANGE - 1], timeout=60) as old:
        socks = sockxfer.fetch(str(old_dir / "range.sock"))
        try:
            assert len(socks) == RANGE + 1
        finally:
            close_all(socks)
        held = _socket_inodes([old.pid])
        inodes = {p: _listen_inodes(p) & held for p in (first, first + 150, first + RANGE - 1)}
        with run_haproxy(_range_cfg(old_dir, first, "v2"), workdir=new_dir,
                         args=["-x", str(old_dir / "range.sock")],
                         ready_ports=[first], timeout=60) as new:
            wait_until(lambda: all(ino and ino <= _socket_inodes([new.pid])
                                   for ino in inodes.values()), 30,
                       message="haproxy did not take hapx's sockets")
            old.stop(soft=True, timeout=30)
            assert get(first + RANGE - 1) == "v2"


def test_hapx_master_worker_old_process(tmp_path):
    """The old process runs under a master: its worker answers _getsocks with the
    generation's sockets (those the master keeps), and a standalone hapx takes them."""
    _switch(tmp_path, functools.partial(run_hapx, args=["-W"]), run_hapx)
