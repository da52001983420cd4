"""Master-worker mode (``-W``, ``-Ws``): a master process that runs the configuration in a
worker process, relays signals, reloads on SIGUSR2 (or SIGHUP, or ``reload`` on the master
CLI) by starting a new worker and soft-stopping the old one once the new one is ready, and
serves the master CLI (``-S``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import anyio
import anyio.abc

from ..version import HAPROXY_VERSION, HAPX_VERSION
from .check import say
from .options import Options
from .runner import quiet_stdio, run_anyio, sd_notify, signal_old_pids, write_pidfile

_DROP_WITH_VALUE = {"-p", "-S", "-x"}
_DROP = {"-W", "-Ws", "-D", "-db"}


def worker_argv(argv: list[str]) -> list[str]:
    """The worker's command line: the master's, without what only the master does."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg in _DROP_WITH_VALUE:
            i += 2
            continue
        if arg in ("-sf", "-st"):
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                i += 1
            continue
        if arg not in _DROP:
            out.append(arg)
        i += 1
    return [sys.executable, "-m", "hapx.core.cli.main", *out, "-db"]


@dataclass
class Worker:
    proc: subprocess.Popen
    started: float = field(default_factory=time.time)
    reloads: int = 0
    ready: bool = False
    old: bool = False


class Master:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.workers: list[Worker] = []
        self.reloads = 0
        self.failed_reloads = 0
        self.started = time.time()
        self.stopping = False
        self.exit_code = 0
        self.tg: anyio.abc.TaskGroup | None = None

    # -- workers ---------------------------------------------------------------------------
    def current(self) -> Worker | None:
        live = [w for w in self.workers if not w.old]
        return live[-1] if live else None

    async def spawn(self) -> bool:
        """Start a worker and wait until it is ready; False when it died first."""
        rfd, wfd = os.pipe()
        env = dict(os.environ, HAPX_READY_FD=str(wfd), HAPROXY_MWORKER="1")
        proc = subprocess.Popen(worker_argv(self.opts.argv), env=env, pass_fds=(wfd,))
        os.close(wfd)
        worker = Worker(proc, reloads=self.reloads)
        self.workers.append(worker)
        data = await anyio.to_thread.run_sync(os.read, rfd, 1)
        os.close(rfd)
        if not data:
            code = await anyio.to_thread.run_sync(proc.wait)
            self.workers.remove(worker)
            say("alert", f"Current worker ({proc.pid}) exited with code {code} before it was "
                         "ready")
            return False
        worker.ready = True
        assert self.tg is not None
        self.tg.start_soon(self.watch, worker)
        return True

    async def watch(self, worker: Worker) -> None:
        code = await anyio.to_thread.run_sync(worker.proc.wait)
        if worker in self.workers:
            self.workers.remove(worker)
        if worker.old or self.stopping:
            say("notice", f"Former worker ({worker.proc.pid}) exited with code {code}")
        else:
            say("alert", f"Current worker ({worker.proc.pid}) exited with code {code} (Exit)")
            self.exit_code = code if code > 0 else 1
            self.stop(signal.SIGTERM)
        if self.stopping and not self.workers and self.tg is not None:
            self.tg.cancel_scope.cancel()

    def signal_workers(self, sig: int) -> None:
        for w in self.workers:
            try:
                w.proc.send_signal(sig)
            except OSError:
                pass

    def stop(self, sig: int) -> None:
        if not self.stopping:
            self.stopping = True
            if self.opts.systemd:
                sd_notify("STOPPING=1")
        self.signal_workers(sig)
        if not self.workers and self.tg is not None:
            self.tg.cancel_scope.cancel()

    async def reload(self) -> bool:
        """Start a new worker with the configuration as it is now; once it is ready the old
        ones finish their work (SIGUSR1).  A failed reload keeps the old worker."""
        if self.stopping:
            return False
        if self.opts.systemd:
            sd_notify("RELOADING=1")
        old = [w for w in self.workers if not w.old]
        self.reloads += 1
        ok = await self.spawn()
        if ok:
            for w in old:
                w.old = True
                try:
                    w.proc.send_signal(signal.SIGUSR1)
                except OSError:
                    pass
            say("notice", f"Reloaded: new worker ({self.current().proc.pid}) is ready")  # type: ignore[union-attr]
        else:
            self.failed_reloads += 1
            say("alert", "Reload failed: the previous worker keeps running")
        if self.opts.systemd:
            sd_notify("READY=1")
        return ok

    # -- master CLI ------------------------------------------------------------------------
    def show_proc(self) -> str:
        def uptime(since: float) -> str:
            s = int(time.time() - since)
            return f"{s // 86400}d{s % 86400 // 3600:02d}h{s % 3600 // 60:02d}m{s % 60:02d}s"

        lines = ["#<PID>          <type>          <reloads>       <uptime>        <version>",
                 f"{os.getpid():<16}master          {self.reloads} [failed: "
                 f"{self.failed_reloads}]".ljust(48) + f"{uptime(self.started):<16}"
                 f"{HAPROXY_VERSION} (hapx {HAPX_VERSION})",
                 "# workers"]
        for w in self.workers:
            if not w.old:
                lines.append(f"{w.proc.pid:<16}worker          {self.reloads - w.reloads:<16}"
                             f"{uptime(w.started):<16}{HAPROXY_VERSION}")
        lines.append("# old workers")
        for w in self.workers:
            if w.old:
                lines.append(f"{w.proc.pid:<16}worker          {self.reloads - w.reloads:<16}"
                             f"{uptime(w.started):<16}{HAPROXY_VERSION}")
        return "\n".join(lines) + "\n"

    async def command(self, line: str) -> str:
        words = line.split()
        if not words:
            return ""
        cmd = " ".join(words)
        if cmd == "show proc":
            return self.show_proc()
        if cmd == "reload":
            ok = await self.reload()
            return f"Success={1 if ok else 0}\n"
        if cmd == "show version":
            return f"{HAPROXY_VERSION} (hapx {HAPX_VERSION})\n"
        if cmd in ("help", "quit"):
            return ("The following commands are valid at this level:\n"
                    "  help           : full commands list\n"
                    "  quit           : disconnect\n"
                    "  reload         : achieve a soft-reload (-sf) of haproxy\n"
                    "  show proc      : show the list of processes\n"
                    "  show version   : show version of the current process\n") if cmd == "help" else ""
        return f"Unknown command: '{cmd}'\n"

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        async with stream:
            data = b""
            try:
                while b"\n" not in data:
                    chunk = await stream.receive(4096)
                    data += chunk
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
            text = data.decode("latin-1").split("\n", 1)[0]
            for part in text.split(";"):
                reply = await self.command(part)
                if reply:
                    try:
                        await stream.send(reply.encode("latin-1") + b"\n")
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        return

    async def serve_cli(self, spec: str) -> None:
        listener = await open_master_cli(spec)
        async with listener:
            await listener.serve(self.handle)

    # -- main loop -------------------------------------------------------------------------
    async def main(self, on_ready_fd: int | None) -> int:
        async with anyio.create_task_group() as tg:
            self.tg = tg
            await tg.start(self.signals)
            for spec in self.opts.master_cli:
                tg.start_soon(self.serve_cli, spec)
            if not await self.spawn():
                tg.cancel_scope.cancel()
                return 1
            signal_old_pids(self.opts)
            if on_ready_fd is not None:
                os.write(on_ready_fd, b"R")
                os.close(on_ready_fd)
                quiet_stdio()
            if self.opts.systemd:
                sd_notify(f"READY=1\nMAINPID={os.getpid()}")
        return self.exit_code

    async def signals(self, *, task_status: anyio.abc.TaskStatus[None]
                      = anyio.TASK_STATUS_IGNORED) -> None:
        sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)
        with anyio.open_signal_receiver(*sigs) as received:
            task_status.started()
            async for sig in received:
                if sig in (signal.SIGUSR2, signal.SIGHUP):
                    assert self.tg is not None
                    self.tg.start_soon(self.reload)
                elif sig == signal.SIGUSR1:
                    self.stop(signal.SIGUSR1)
                else:
                    self.stop(signal.SIGTERM)


async def open_master_cli(spec: str) -> anyio.abc.Listener:
    """``-S <bind>[,<opt>,<val>...]``: a unix socket path (``unix@`` optional, ``mode``,
    ``user``/``group`` accepted) or ``ipv4@host:port`` / ``host:port``."""
    parts = spec.split(",")
    addr, opts = parts[0], parts[1:]
    settings = dict(zip(opts[::2], opts[1::2], strict=False))
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"):
        if addr.startswith(prefix):
            host, _, port = addr[len(prefix):].rpartition(":")
            return await anyio.create_tcp_listener(local_host=host.strip("[]") or None,
                                                   local_port=int(port))
    path = addr.removeprefix("unix@")
    if os.path.exists(path):
        os.unlink(path)
    listener = await anyio.create_unix_listener(path)
    if "mode" in settings:
        os.chmod(path, int(settings["mode"], 8))
    return listener


def run_master(opts: Options) -> int:
    ready_fd = None
    if opts.daemon:
        from .runner import daemonize

        ready_fd = daemonize()
    os.environ["HAPROXY_MWORKER"] = "1"
    if opts.master_cli:
        os.environ["HAPROXY_MASTER_CLI"] = ";".join(opts.master_cli)
    if opts.pidfile and not write_pidfile(opts.pidfile, [os.getpid()]):
        return 1
    master = Master(opts)
    return run_anyio(master.main, ready_fd)
