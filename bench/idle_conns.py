"""Memory per idle keep-alive client connection, hapx against haproxy (issue 4's target:
at most 10 KiB of RSS each with 10,000 connections).

    python bench/idle_conns.py [--connections 10000] [--proxies hapx,haproxy]

Each proxy answers ``GET /`` itself (``http-request return``), so only client-side state
counts: no server connection is opened.  The script opens the connections, sends one
request on each, reads the answer and leaves the connection idle (keep-alive).  The
proxy's RSS (the sum over its process tree, from /proc/<pid>/status) is read after a
first warm-up connection and again with every connection idle; the difference divided by
the number of connections is the figure.  A figure to record in docs/performance.md,
never an assertion.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import selectors
import shlex
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import free_ports, process_tree, start  # noqa: E402

CONFIG = """\
global
    maxconn {maxconn}
    # 2 x maxconn descriptors may exceed the hard limit: only client-side ones are used
    no strict-limits
defaults
    mode http
    timeout connect 5s
    timeout client 10m
    timeout http-keep-alive 10m
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string ok
"""

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and its descendants, in KiB."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
    return total


def open_idle(port: int, count: int, timeout: float = 120.0) -> list[socket.socket]:
    """``count`` connections that each sent one request and read its whole answer."""
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    pending = 0
    deadline = time.monotonic() + timeout
    batch = 500
    while len(socks) < count or pending:
        while len(socks) < count and pending < batch:
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE, [b"", False])
            pending += 1
        for key, events in sel.select(1.0):
            s, state = key.fileobj, key.data
            if events & selectors.EVENT_WRITE and not state[1]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise SystemExit(f"connect failed: {os.strerror(err)}")
                s.send(REQUEST)
                state[1] = True
                sel.modify(s, selectors.EVENT_READ, state)
                continue
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("the proxy closed a connection before answering")
            state[0] += chunk
            head, sep, body = state[0].partition(b"\r\n\r\n")
            if sep and len(body) >= _content_length(head):
                sel.unregister(s)
                pending -= 1
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(socks) - pending} of {count} connections answered")
    sel.close()
    return socks


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def measure(name: str, argv: list[str], count: int, workdir: Path) -> dict[str, float]:
    port = free_ports(1)[0]
    cfg = workdir / f"{name}.cfg"
    cfg.write_text(CONFIG.format(port=port, maxconn=count + 100))
    argv = [w.replace("{cfg}", str(cfg)) for w in argv]
    proc = start(name, argv, cpus=set(os.sched_getaffinity(0)), workdir=workdir)
    try:
        why = proc.wait_listening([port], 30)
        if why:
            raise SystemExit(f"{name} did not start: {why}")
        warm = open_idle(port, 10)
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        socks = open_idle(port, count)
        time.sleep(1.0)
        after = rss_kib(proc.pid)
        for s in socks + warm:
            s.close()
    finally:
        proc.stop()
    return {"before_kib": before, "after_kib": after,
            "kib_per_conn": (after - before) / count}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--proxies", default="hapx,haproxy")
    ap.add_argument("--hapx", default=f"{shlex.quote(sys.executable)} -m hapx.core.cli.main "
                                      "-db -f {cfg}")
    ap.add_argument("--haproxy", default="haproxy -db -f {cfg}")
    args = ap.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 200
    if soft < need:
        if hard < need:
            raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {need} needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    print(f"{args.connections} idle keep-alive connections, RSS of the proxy's processes")
    print(f"{'proxy':10} {'before KiB':>11} {'after KiB':>11} {'KiB/conn':>9}")
    with tempfile.TemporaryDirectory(prefix="hapx-idle-") as tmp:
        for name in args.proxies.split(","):
            cmd = shlex.split(getattr(args, name))
            r = measure(name, cmd, args.connections, Path(tmp))
            print(f"{name:10} {r['before_kib']:>11.0f} {r['after_kib']:>11.0f} "
                  f"{r['kib_per_conn']:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
