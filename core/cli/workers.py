"""Several worker processes: what HAProxy's ``nbthread`` threads are to hapx.

The configuration is loaded and checked once; the supervising process (HAProxy's process:
its pid is the one in the pid file, in ``pid`` and in syslog headers) then runs
``hapx_prefork`` (the engine opens every listener once, so a bind error is reported once),
freezes the heap (``gc.freeze()``, so the workers share its pages copy-on-write) and forks
one worker per thread.  Each worker binds itself to its CPU set, records its thread number
and runs the whole configuration on its own event loop.  IP listeners are bound again by
each worker with SO_REUSEPORT (the kernel spreads the connections); the others (unix
sockets, ``fd@``, ``sockpair@``, and IP ones under ``noreuseport``) are the supervisor's
socket, inherited and accepted on by every worker.

The supervisor forwards SIGTERM, SIGINT, SIGUSR1 (and SIGHUP, SIGQUIT) to every worker and
exits once they all ended.  A worker that dies on its own is HAProxy's thread crashing: the
process dies.  The supervisor reports it as HAProxy's master reports a dead worker
("Current worker (<pid>) exited with code <n> (<reason>)"), stops the other workers with
SIGTERM and exits with that worker's status.
"""

from __future__ import annotations

import contextlib
import gc
import os
import selectors
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from ..errors import StartupRefused
from ..runtime.process import PROCESS, set_process
from .check import Loaded, say

#: signals the supervisor forwards to every worker
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP, signal.SIGQUIT)
READY = b"R"


def bind_cpus(cpus: frozenset[int]) -> None:
    """Bind this process to ``cpus`` (nothing when empty)."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return
    try:
        os.sched_setaffinity(0, cpus)
    except (OSError, ValueError) as exc:
        say("warning", f"cannot bind to CPUs {sorted(cpus)}: {exc}")


def exit_status(status: int) -> tuple[int, str]:
    """HAProxy's status of a dead child: its exit code, or 128 + the signal, and the
    reason shown next to it."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, signal.strsignal(sig) or f"signal {sig}"
    return os.waitstatus_to_exitcode(status), "Exit"


def _worker_main(serve_worker: Callable[[int], int], ready_w: int, mask: set[int]) -> None:
    """In a forked worker: run, then leave the process without returning into the
    supervisor's stack."""
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        code = serve_worker(ready_w)
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a worker reports and dies, the supervisor reacts
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


class Supervisor:
    """The supervising process: forks the workers and waits for them."""

    def __init__(self, loaded: Loaded, runtime: Any, layout: list[frozenset[int]],
                 run: Callable[[Callable[[], None]], int], on_ready: Callable[[], None],
                 close_in_workers: list[int]) -> None:
        self.loaded = loaded
        self.runtime = runtime
        self.layout = layout
        self.run = run
        self.on_ready = on_ready
        self.close_in_workers = close_in_workers
        self.workers: dict[int, int] = {}  # pid -> thread number (0-based)
        self.stopping = False
        self.failed = False
        self.exit_code = 0
        self.ready = 0

    # -- starting ------------------------------------------------------------------------
    def start(self) -> bool:
        plugins, config = self.loaded.plugins, self.loaded.config
        try:
            plugins.hook.hapx_prefork(config=config, runtime=self.runtime)
        except StartupRefused:  # already reported by the hook
            return False
        except Exception as exc:  # noqa: BLE001 - reported as the single process does
            say("alert", f"[hapx.main()] startup failed: {type(exc).__name__}: {exc}")
            return False
        gc.collect()
        gc.freeze()
        parent = os.getpid()
        for thread, cpus in enumerate(self.layout):
            pid = os.fork()
            if pid == 0:
                self._child(parent, thread, cpus)
            self.workers[pid] = thread
        plugins.hook.hapx_forked(config=config, runtime=self.runtime)
        return True

    def _child(self, parent: int, thread: int, cpus: frozenset[int]) -> None:
        os.close(self.ready_r)
        for fd in self.close_in_workers:
            with contextlib.suppress(OSError):
                os.close(fd)
        set_process(parent, thread, len(self.layout))
        bind_cpus(cpus)
        # the forwarded signals stay blocked until the worker handles them (it is ready):
        # one arriving meanwhile waits rather than killing a half-started worker
        _worker_main(self._serve_worker, self.ready_w, {*self.mask, *FORWARDED})

    def _serve_worker(self, ready_w: int) -> int:
        def ready() -> None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)
            with contextlib.suppress(OSError):
                os.write(ready_w, READY)
                os.close(ready_w)
        return self.run(ready)

    # -- supervising ---------------------------------------------------------------------
    def _signal(self, sig: int, _frame: Any = None) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            self.stopping = True
        self.kill_all(sig)

    def kill_all(self, sig: int) -> None:
        for pid in list(self.workers):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            if self.workers.pop(pid, None) is None:
                continue
            code, reason = exit_status(status)
            if self.stopping or self.failed:
                self.exit_code = self.exit_code or code
                continue
            # a worker is one of HAProxy's threads: one dying takes the process down
            say("alert", f"Current worker ({pid}) exited with code {code} ({reason})")
            say("alert", "exit-on-failure: killing every processes with SIGTERM")
            self.failed = True
            self.exit_code = code or 1
            self.kill_all(signal.SIGTERM)

    def serve(self) -> int:
        """Fork the workers, tell when they are all ready, wait until they all ended."""
        self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, {*FORWARDED, signal.SIGCHLD})
        self.ready_r, self.ready_w = os.pipe()
        try:
            started = self.start()
        finally:
            os.close(self.ready_w)
        if not started:
            os.close(self.ready_r)
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)
            return 1
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        for sig in FORWARDED:
            signal.signal(sig, self._signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)
        sel = selectors.DefaultSelector()
        sel.register(self.ready_r, selectors.EVENT_READ)
        sel.register(wake_r, selectors.EVENT_READ)
        announced = False
        try:
            while True:
                self._reap()
                if not self.workers:
                    break
                if not announced and not self.failed and self.ready >= len(self.layout):
                    announced = True
                    self.on_ready()
                for key, _events in sel.select():
                    if key.fd == self.ready_r:
                        data = os.read(self.ready_r, 64)
                        self.ready += data.count(READY)
                        if not data:
                            sel.unregister(self.ready_r)
                    else:
                        with contextlib.suppress(BlockingIOError):
                            while os.read(wake_r, 512):
                                pass
        finally:
            signal.set_wakeup_fd(-1)
            sel.close()
            for fd in (self.ready_r, wake_r, wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        return self.exit_code


def supervise(loaded: Loaded, runtime: Any, layout: list[frozenset[int]],
              run: Callable[[Callable[[], None]], int], on_ready: Callable[[], None],
              close_in_workers: list[int]) -> int:
    """Run ``len(layout)`` workers; ``run(ready)`` serves the configuration in a worker
    (calling ``ready()`` once it accepts), ``on_ready()`` runs in the supervisor once every
    worker is ready; ``close_in_workers`` are descriptors only the supervisor keeps."""
    set_process(os.getpid(), 0, len(layout))
    return Supervisor(loaded, runtime, layout, run, on_ready, close_in_workers).serve()


__all__ = ["PROCESS", "bind_cpus", "exit_status", "supervise"]
