"""Running a checked configuration: the lifecycle hooks, signals, pid file, readiness.

One process runs the configuration (the worker), or, when ``hapx_workers`` asks for
several (``nbthread``), one supervising process forks that many workers
(:mod:`hapx.core.cli.workers`).  ``hapx_startup`` opens what the plugins serve; plugins
start background work with :meth:`Runtime.start_soon`.  SIGUSR1 is a soft stop
(``hapx_stopping``, then wait for that work to end), SIGTERM and SIGINT a hard stop (the
work is cancelled); ``hapx_shutdown`` always runs last.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

from ..config.model import Config
from ..errors import StartupRefused
from ..runtime import handover
from ..runtime.process import set_process, settle_heap
from .check import Loaded, say
from .options import Options


class Runtime:
    """What lifecycle hooks receive as ``runtime``."""

    def __init__(self, opts: Options, plugin_options: argparse.Namespace, mode: str) -> None:
        self.options = opts
        self.plugin_options = plugin_options
        self.mode = mode  # foreground | daemon | worker
        self.pid = os.getpid()
        self.started = time.time()
        self.localpeer = os.environ.get("HAPROXY_LOCALPEER", "")
        self.maxconn = opts.maxconn
        self.maxpconn = opts.maxpconn
        self.stopping = False
        self.soft = True
        self.exit_code = 0
        self._stop: anyio.Event | None = None
        self._work: anyio.abc.TaskGroup | None = None

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``await fn(*args)`` until it ends or hapx stops (a soft stop waits for it)."""
        if self._work is None:
            raise RuntimeError("background work can only start from hapx_startup on")
        self._work.start_soon(fn, *args)

    def stop(self, *, soft: bool = True, exit_code: int = 0) -> None:
        """Ask hapx to stop (what SIGUSR1 and SIGTERM do)."""
        if self.stopping and not soft and self._work is not None:
            self._work.cancel_scope.cancel()
        self.soft = self.soft and soft
        self.exit_code = self.exit_code or exit_code
        self.stopping = True
        if self._stop is not None:
            self._stop.set()


def sd_notify(message: str) -> bool:
    """Send a systemd notification to ``$NOTIFY_SOCKET`` (a unix datagram socket)."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(message.encode(), path)
        except OSError as exc:
            say("warning", f"cannot notify systemd through {path!r}: {exc}")
            return False
    return True


def write_pidfile(path: str, pids: list[int]) -> bool:
    try:
        if os.path.exists(path):
            os.unlink(path)
        with open(path, "w") as fh:
            fh.write("".join(f"{p}\n" for p in pids))
    except OSError as exc:
        say("alert", f"[hapx.main()] Cannot create pidfile {path} : {exc.strerror}")
        return False
    return True


def signal_old_pids(opts: Options) -> None:
    """``-sf``/``-st``: tell the previous processes to finish or terminate."""
    if not opts.oldpids:
        return
    sig = getattr(signal, opts.oldpids_signal or "SIGUSR1")
    for pid in opts.oldpids:
        try:
            os.kill(pid, sig)
        except OSError as exc:
            say("warning", f"cannot send {sig.name} to old process {pid}: {exc.strerror}")


def apply_limits(opts: Options) -> None:
    if opts.memmax_mb:
        import resource

        limit = opts.memmax_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


MEM_DEBUG_HELP = """-dM enables memory debugging: Python allocation tracing (tracemalloc, 25 frames).
SIGQUIT then dumps the top allocation sites to stderr.  Options, comma-separated:
  help          show this list and exit
  <byte>|0x<h>  haproxy's poisoning byte: accepted, has no effect (Python never hands out
                uninitialised memory)
"""


def check_memory_debug(spec: str) -> int | None:
    """Validate ``-dM`` options: an exit code when hapx must stop there (help), else None."""
    for word in [w for w in spec.split(",") if w]:
        if word == "help":
            print(MEM_DEBUG_HELP, end="")
            return 0
        try:
            int(word, 0)
        except ValueError:
            say("warning", f"-dM: unknown option '{word}' ignored (use -dMhelp for the list)")
    return None


def start_memory_debug(opts: Options) -> None:
    if opts.mem_debug is not None and not tracemalloc.is_tracing():
        tracemalloc.start(25)


def dump_memory() -> None:
    """SIGQUIT: what haproxy's pool dump is for, in Python terms."""
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        say("warning", "SIGQUIT received, top memory allocation sites:")
        for stat in snap.statistics("lineno")[:15]:
            print(f"   | {stat}", file=sys.stderr)
    else:
        counts = gc.get_count()
        say("warning", f"SIGQUIT received: {len(gc.get_objects())} objects tracked, gc counts "
                       f"{counts} (start with -dM for allocation sites)")
    gc.collect()


def dump_servers(config: Config) -> None:
    say("warning", "SIGHUP received, dumping servers states.")
    for px in config.backends:
        names = [getattr(s, "name", "?") for s in px.servers]
        if names:
            say("warning", f"SIGHUP: Proxy {px.name} has {len(names)} servers: "
                           f"{', '.join(names)}.")
        else:
            say("warning", f"SIGHUP: Proxy {px.name} has no servers.")


async def _signals(runtime: Runtime, config: Config, *,
                   task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP, signal.SIGQUIT)
    with anyio.open_signal_receiver(*sigs) as received:
        task_status.started()
        async for sig in received:
            if sig == signal.SIGUSR1:
                runtime.stop(soft=True)
            elif sig in (signal.SIGINT, signal.SIGTERM):
                runtime.stop(soft=False)
            elif sig == signal.SIGHUP:
                dump_servers(config)
            elif sig == signal.SIGQUIT:
                dump_memory()


async def serve(loaded: Loaded, runtime: Runtime, on_ready: Callable[[], None]) -> int:
    """Start, wait for a stop, stop: the whole life of a worker."""
    plugins, config = loaded.plugins, loaded.config
    runtime._stop = anyio.Event()
    async with anyio.create_task_group() as system:
        await system.start(_signals, runtime, config)  # signals are handled from now on
        failed = False
        try:
            async with anyio.create_task_group() as work:
                runtime._work = work
                try:
                    plugins.hook.hapx_startup(config=config, runtime=runtime)
                except StartupRefused:  # already reported by the hook
                    failed = True
                    work.cancel_scope.cancel()
                except Exception as exc:  # noqa: BLE001 - report, then shut down cleanly
                    say("alert", f"[hapx.main()] startup failed: {type(exc).__name__}: {exc}")
                    failed = True
                    work.cancel_scope.cancel()
                else:
                    settle_heap()
                    on_ready()
                    await runtime._stop.wait()
                    plugins.hook.hapx_stopping(config=config, runtime=runtime)
                    if not runtime.soft:
                        work.cancel_scope.cancel()
        finally:
            runtime._work = None
            plugins.hook.hapx_shutdown(config=config, runtime=runtime)
            system.cancel_scope.cancel()
    return 1 if failed else runtime.exit_code


def run_anyio(fn: Callable[..., Awaitable[int]], *args: Any) -> int:
    """Run on asyncio, with uvloop's event loop when it is installed."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return anyio.run(fn, *args)
    return anyio.run(fn, *args, backend="asyncio", backend_options={"use_uvloop": True})


def daemonize() -> int:
    """Fork into the background (``-D``).  The parent waits until the child is ready (it
    then exits 0) or has died (it exits with the child's status); the child returns the fd
    it writes its readiness to."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        data = os.read(rfd, 1)
        if data:
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        say("alert", f"Process {pid} exited with code {code} (Exit)")
        os._exit(code if code > 0 else 1)
    os.close(rfd)
    os.setsid()
    return wfd


def quiet_stdio() -> None:
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def run_worker(loaded: Loaded, opts: Options, plugin_options: argparse.Namespace) -> int:
    """Run in this process: foreground (``-d``/``-db``/``-Ws`` worker) or daemon (``-D``)."""
    ready_fds: list[int] = []
    if handover.under_master():
        mode = "worker"
    elif opts.daemon and not opts.foreground and not opts.debug:
        ready_fds.append(daemonize())
        mode = "daemon"
    else:
        mode = "foreground"
    apply_limits(opts)
    start_memory_debug(opts)
    if opts.pidfile and mode != "worker" and not write_pidfile(opts.pidfile, [os.getpid()]):
        return 1
    layout = worker_layout(loaded)
    set_process(os.getpid(), 0, len(layout))
    runtime = Runtime(opts, plugin_options, mode)

    def on_ready() -> None:
        if mode != "worker":
            signal_old_pids(opts)
        handover.release_untaken()
        handover.ready()
        for fd in ready_fds:
            try:
                os.write(fd, b"R")
                os.close(fd)
            except OSError:
                pass
        if mode == "daemon":
            quiet_stdio()
        if opts.systemd and mode == "foreground":
            sd_notify(f"READY=1\nMAINPID={os.getpid()}")

    if len(layout) == 1:
        from .workers import bind_cpus

        bind_cpus(layout[0])
        return run_anyio(serve, loaded, runtime, on_ready)

    def run_one(ready: Callable[[], None]) -> int:
        def worker_ready() -> None:
            handover.release_untaken()
            handover.ready(tell=False)  # the supervisor tells the master for them all
            ready()
            if mode == "daemon":
                quiet_stdio()
        return run_anyio(serve, loaded, runtime, worker_ready)

    from .workers import supervise

    return supervise(loaded, runtime, layout, run_one, on_ready, ready_fds)


def worker_layout(loaded: Loaded) -> list[frozenset[int]]:
    """One CPU set per worker process (``hapx_workers``); one unbound worker by default."""
    layout = loaded.plugins.hook.hapx_workers(config=loaded.config)
    return [frozenset(cpus) for cpus in layout] if layout else [frozenset()]
