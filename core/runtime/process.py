"""Who is running: HAProxy's process and thread, as hapx's worker processes map them.

HAProxy runs one process with ``nbthread`` threads; hapx runs ``nbthread`` worker processes
(one event loop each) under one supervising process.  What HAProxy calls the process is the
supervisor: its pid is the ``pid`` fetch, the ``%pid`` log alias and the pid field of syslog
headers in every worker, as all of HAProxy's threads report their process's pid.  What
HAProxy calls a thread is a worker: ``thread`` is its number, from 0.

:data:`PROCESS` is set by the command (``core/cli``) before the proxies start; with one
worker (the default) the supervisor and the worker are the same process.  Reading it costs
one attribute lookup, so fetches and loggers read it when they run.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass


@dataclass
class ProcessInfo:
    #: HAProxy's process id: the process that runs (or supervises) the workers
    pid: int
    #: this worker's thread number, 0 .. nbthread-1
    thread: int = 0
    #: how many workers (HAProxy's threads) run the configuration
    nbthread: int = 1


#: the running process; ``pid`` is this process's until the command sets it
PROCESS = ProcessInfo(pid=os.getpid())


def set_process(pid: int, thread: int = 0, nbthread: int = 1) -> ProcessInfo:
    """Record who runs (called once in the process, once more in each forked worker)."""
    PROCESS.pid, PROCESS.thread, PROCESS.nbthread = pid, thread, nbthread
    return PROCESS


#: the youngest generation's allocation threshold while serving (Python's default is 700):
#: the data path allocates a few hundred short-lived objects per request and makes few
#: reference cycles, so collecting it every 700 allocations costs more than it frees
SERVING_GC_GEN0 = 5000


def settle_heap() -> None:
    """Called once the proxies serve: what start-up built lives as long as the process,
    so it is collected once, then frozen out of every later collection, and the youngest
    generation is collected less often (see :data:`SERVING_GC_GEN0`)."""
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(SERVING_GC_GEN0, gen1, gen2)
