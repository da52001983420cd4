"""Master-worker mode (``-W``, ``-Ws``, ``master-worker`` in global).

The master runs no proxy.  It starts one **generation** of workers: a child process running
the configuration (the supervisor model of :mod:`hapx.core.cli.workers` when ``nbthread`` asks
for several workers).  On SIGUSR2 (or SIGHUP), or the master CLI's ``reload``, it starts a
new generation with the configuration as the files say now:

* the new generation is handed the listening sockets the master keeps from the previous one
  (:mod:`hapx.core.runtime.handover`): it accepts on the very sockets the old generation
  still holds, so no connection is refused and none waiting in an accept queue is lost;
* the first generation is handed the sockets taken from an old process with ``-x`` (the
  master asks for them at start-up, :mod:`hapx.core.net.sockxfer`); it adopts those whose
  address and options match a bind of its own;
* a configuration that does not load makes the new generation exit before it is ready:
  the reload is refused ("Loading failure!"), the old generation keeps serving and the
  master's prompt becomes ``master[ReloadFailed]>``;
* once the new generation is ready, the old one gets SIGUSR1 (``hard-reload``: SIGTERM): it
  stops accepting, finishes its streams within ``hard-stop-after`` and exits.

What the generations print while they start (and the master's own lines about them) are the
startup logs the ``reload`` command answers with.  The master CLI itself (``-S``) is
:mod:`hapx.core.cli.master_cli`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import anyio
import anyio.abc

from ..runtime import handover
from ..runtime.statdump import VERSION
from .check import Loaded
from .options import Options
from .runner import quiet_stdio, run_anyio, sd_notify, signal_old_pids, write_pidfile
from .workers import exit_status

_DROP_WITH_VALUE = {"-p", "-S", "-x"}
_DROP = {"-W", "-Ws", "-D", "-db"}
LABELS = {"alert": "[ALERT]   ", "warning": "[WARNING] ", "notice": "[NOTICE]  "}


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


@dataclass(eq=False)
class Worker:
    """One generation: the process the master started (its pid is the worker's)."""

    proc: subprocess.Popen
    cli: socket.socket  # the master's end of the channel forwarded CLI sessions go over
    started: float = field(default_factory=time.time)
    #: reloads this worker has lived through
    reloads: int = 0
    version: str = VERSION
    old: bool = False
    #: not ready yet (a generation that dies then is a failed start, not a crash)
    starting: bool = True

    @property
    def pid(self) -> int:
        return self.proc.pid


def uptime(since: float) -> str:
    """``show proc``'s uptime: ``0d00h02m07s``."""
    s = max(0, int(time.time() - since))
    return f"{s // 86400}d{s % 86400 // 3600:02d}h{s % 3600 // 60:02d}m{s % 60:02d}s"


class Master:
    def __init__(self, opts: Options, loaded: Loaded | None = None) -> None:
        self.opts = opts
        settings = loaded.config.global_.settings if loaded is not None else {}
        mw = settings.get("master-worker")
        self.exit_on_failure = not (isinstance(mw, dict) and mw.get("no-exit-on-failure"))
        self.workers: list[Worker] = []
        self.reloads = 0
        self.failed_reloads = 0
        self.reload_failed = False
        self.started = time.time()
        self.stopping = False
        self.exit_code = 0
        #: key -> descriptor: the listening sockets of the last ready generation
        self.pool: dict[str, int] = {}
        #: the last start's or reload's messages (``show startup-logs``, ``reload``)
        self.startup_logs: list[str] = []
        self._capturing: set[int] = set()
        self._reloading: anyio.Lock | None = None
        self.tg: anyio.abc.TaskGroup | None = None

    # -- messages ------------------------------------------------------------------------------
    def say(self, level: str, text: str) -> None:
        line = f"{LABELS[level]} ({os.getpid()}) : {text}\n"
        self.startup_logs.append(line)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(line)
            sys.stderr.flush()

    def _tee(self, proc: subprocess.Popen) -> None:
        """Copy a generation's stderr to the master's, keeping its start-up lines."""
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            if proc.pid in self._capturing:
                self.startup_logs.append(line)
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(line)
                sys.stderr.flush()
        proc.stderr.close()

    # -- workers -------------------------------------------------------------------------------
    def current(self) -> list[Worker]:
        return [w for w in self.workers if not w.old and not w.starting]

    def find(self, target: str) -> Worker | None:
        """``<n>`` (n-th current worker, from 1) or ``!<pid>`` (any worker)."""
        if target.startswith("!"):
            pid = target[1:]
            return next((w for w in self.workers if str(w.pid) == pid), None)
        if target.isdigit() and int(target) >= 1:
            cur = self.current()
            return cur[int(target) - 1] if int(target) <= len(cur) else None
        return None

    async def spawn(self) -> Worker | None:
        """Start a generation with the kept listening sockets; wait until it is ready (its
        sockets become the pool) or gone (None)."""
        chan_m, chan_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cli_m, cli_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, HAPROXY_MWORKER="1")
        env[handover.CHAN_ENV] = str(chan_w.fileno())
        env[handover.CLI_ENV] = str(cli_w.fileno())
        env[handover.FDS_ENV] = ";".join(f"{k}={fd}" for k, fd in self.pool.items())
        # the old process's sockets (-x) go to the first generation, once
        xfer, handover.HANDOVER.xfer = handover.HANDOVER.xfer, []
        if xfer:
            env[handover.XFER_ENV] = handover.encode_xfer_env(xfer)
        try:
            proc = subprocess.Popen(worker_argv(self.opts.argv), env=env,
                                    stderr=subprocess.PIPE,
                                    pass_fds=(chan_w.fileno(), cli_w.fileno(),
                                              *self.pool.values(), *(x.fd for x in xfer)))
        except OSError as exc:
            self.say("alert", f"Cannot fork: {exc.strerror}")
            for s in (chan_m, chan_w, cli_m, cli_w):
                s.close()
            return None
        finally:
            chan_w.close()
            cli_w.close()
            for xs in xfer:
                xs.close()  # the generation has its copies; those it takes come back
        self._capturing.add(proc.pid)
        threading.Thread(target=self._tee, args=(proc,), daemon=True).start()
        worker = Worker(proc, cli_m)
        self.workers.append(worker)
        assert self.tg is not None
        self.tg.start_soon(self.watch, worker)
        ready, sockets = await anyio.to_thread.run_sync(self._collect, chan_m)
        chan_m.close()
        self._capturing.discard(proc.pid)
        if not ready:
            for fd in sockets.values():
                os.close(fd)
            return None
        worker.starting = False
        self.say("notice", f"New worker ({proc.pid}) forked")
        self._adopt(sockets)
        return worker

    @staticmethod
    def _collect(chan: socket.socket) -> tuple[bool, dict[str, int]]:
        """Receive a generation's listening sockets until it says it is ready (True) or
        its end of the channel closes (False: it died first)."""
        sockets: dict[str, int] = {}
        while True:
            try:
                msg, fds, _flags, _addr = socket.recv_fds(chan, 4096, 16)
            except InterruptedError:
                continue
            except OSError:
                return False, sockets
            if msg == handover.READY:
                return True, sockets
            if not msg and not fds:
                return False, sockets
            key = msg.decode("utf-8", "replace")
            for fd in fds:
                old = sockets.get(key)
                if old is None:
                    sockets[key] = fd
                else:
                    os.close(fd)  # another worker of the generation sent it too

    def _adopt(self, sockets: dict[str, int]) -> None:
        """The ready generation's sockets become the pool; those it dropped close."""
        old, self.pool = self.pool, sockets
        for key, fd in old.items():
            with contextlib.suppress(OSError):
                os.close(fd)
            if key not in sockets and key.startswith("unix@"):
                with contextlib.suppress(OSError):
                    os.unlink(key.removeprefix("unix@"))

    async def watch(self, worker: Worker) -> None:
        code = await anyio.to_thread.run_sync(worker.proc.wait)
        if worker in self.workers:
            self.workers.remove(worker)
        with contextlib.suppress(OSError):
            worker.cli.close()
        status, reason = exit_status(_wait_status(code))
        if worker.starting:
            pass  # died while starting: the start or reload reports it
        elif worker.old or self.stopping:
            self.say("warning", f"Former worker ({worker.pid}) exited with code {status} "
                                f"({reason})")
        else:
            self.say("alert", f"Current worker ({worker.pid}) exited with code {status} "
                              f"({reason})")
            if self.exit_on_failure:
                self.say("alert", "exit-on-failure: killing every processes with SIGTERM")
                self.exit_code = status or 1
                self.stop(signal.SIGTERM)
        if self.stopping and not self.workers and self.tg is not None:
            self.tg.cancel_scope.cancel()

    def signal_workers(self, sig: int) -> None:
        for w in self.workers:
            with contextlib.suppress(OSError):
                w.proc.send_signal(sig)

    def stop(self, sig: int) -> None:
        if not self.stopping:
            self.stopping = True
            if self.opts.systemd:
                sd_notify("STOPPING=1")
        self.signal_workers(sig)
        if not self.workers and self.tg is not None:
            self.tg.cancel_scope.cancel()

    async def reload(self, *, hard: bool = False) -> bool:
        """Start a new generation with the configuration as it is now; once it is ready
        the previous ones finish (SIGUSR1; SIGTERM for ``hard``).  A generation that fails
        to start leaves the previous one serving."""
        if self._reloading is None:
            self._reloading = anyio.Lock()
        async with self._reloading:
            if self.stopping:
                return False
            self.startup_logs = []
            self.say("notice", "Reloading HAProxy")
            if self.opts.systemd:
                sd_notify("RELOADING=1")
            previous = self.current()
            self.reloads += 1
            for w in self.workers:
                w.reloads += 1
            worker = await self.spawn()
            if worker is not None:
                for w in previous:
                    w.old = True
                    with contextlib.suppress(OSError):
                        w.proc.send_signal(signal.SIGTERM if hard else signal.SIGUSR1)
                self.reload_failed = False
                self.say("notice", "Loading success.")
            else:
                self.failed_reloads += 1
                self.reload_failed = True
                self.say("warning", "Loading failure!")
            if self.opts.systemd:
                sd_notify("READY=1")
            return worker is not None

    # -- main loop -----------------------------------------------------------------------------
    async def main(self, on_ready_fd: int | None) -> int:
        from .master_cli import serve_master_cli

        async with anyio.create_task_group() as tg:
            self.tg = tg
            await tg.start(self.signals)
            for spec in self.opts.master_cli:
                await tg.start(serve_master_cli, self, spec)
            self._reloading = anyio.Lock()
            async with self._reloading:  # a reload asked meanwhile waits for this start
                first = await self.spawn()
            if first is None:
                self.say("alert", "Failed to load the configuration in the first worker, "
                                  "exiting.")
                self.exit_code = 1
                self.stopping = True
                tg.cancel_scope.cancel()
                return 1
            self.say("notice", "Loading success.")
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
                    self.tg.start_soon(self._reload_soon)
                elif sig == signal.SIGUSR1:
                    self.stop(signal.SIGUSR1)
                else:
                    self.stop(signal.SIGTERM)

    async def _reload_soon(self) -> None:
        await self.reload()


def _wait_status(returncode: int) -> int:
    """A wait status from ``Popen.returncode`` (negative: killed by that signal)."""
    if returncode < 0:
        return -returncode
    return (returncode & 0xFF) << 8


def run_master(opts: Options, loaded: Loaded | None = None) -> int:
    ready_fd = None
    if opts.daemon:
        from .runner import daemonize

        ready_fd = daemonize()
    os.environ["HAPROXY_MWORKER"] = "1"
    if opts.master_cli:
        os.environ["HAPROXY_MASTER_CLI"] = ";".join(opts.master_cli)
    if opts.pidfile and not write_pidfile(opts.pidfile, [os.getpid()]):
        return 1
    master = Master(opts, loaded)
    return run_anyio(master.main, ready_fd)


__all__ = ["Master", "Worker", "run_master", "uptime", "worker_argv"]
