"""Processes for the benchmark: start one pinned to CPUs and optionally under a CPU quota
(a cgroup), wait until it listens, read its CPU time, stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cpu_layout() -> tuple[set[int], set[int]]:
    """(CPUs for the proxy under test, CPUs for the load generator and the backend).  With
    a single allowed CPU both share it."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) == 1:
        return set(allowed), set(allowed)
    return {allowed[0]}, set(allowed[1:])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# --------------------------------------------------------------------------- CPU quota

class CpuQuota:
    """A cgroup limiting its processes to ``percent`` % of one CPU: cgroup v2 ``cpu.max``
    when /sys/fs/cgroup is a v2 hierarchy with a writable cpu controller, else cgroup v1
    ``cpu.cfs_quota_us``.  ``path`` is None (and ``why`` says why) when neither works.

    ``percent`` 0: no limit.  ``weight`` > 0: the group's CPU weight is that of ``weight``
    ordinary processes (v1 ``cpu.shares`` 1024 × weight, v2 ``cpu.weight`` 100 × weight)
    instead of one's: on a machine shared with other jobs, the group then gets the CPU
    time its quota allows rather than one fair share among the other runnable jobs."""

    PERIOD_US = 100_000

    def __init__(self, percent: float, tag: str = "", weight: float = 0.0):
        self.percent = percent
        self.weight = weight
        self.path: Path | None = None
        self.kind = ""
        self.why = ""
        self._home: Path | None = None
        quota = int(self.PERIOD_US * percent / 100) if percent > 0 else -1
        name = f"hapx-bench-{os.getpid()}{'-' + tag if tag else ''}"
        errors = []
        v2 = Path("/sys/fs/cgroup")
        if (v2 / "cgroup.controllers").exists():
            try:
                self._setup_v2(v2, name, quota)
                return
            except OSError as exc:
                errors.append(f"cgroup v2: {exc}")
        else:
            errors.append("cgroup v2: /sys/fs/cgroup is not a v2 hierarchy")
        v1 = Path("/sys/fs/cgroup/cpu")
        if (v1 / "cpu.cfs_quota_us").exists():
            try:
                path = v1 / name
                path.mkdir(exist_ok=True)
                (path / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
                (path / "cpu.cfs_quota_us").write_text(str(quota))
                if weight > 0:
                    (path / "cpu.shares").write_text(str(int(1024 * weight)))
                self.path, self.kind = path, "cgroup v1 cpu.cfs_quota_us"
                return
            except OSError as exc:
                errors.append(f"cgroup v1: {exc}")
        else:
            errors.append("cgroup v1: no cpu controller mounted")
        self.why = "; ".join(errors)

    def _setup_v2(self, root: Path, name: str, quota: int) -> None:
        here = Path("/proc/self/cgroup").read_text().strip().split("::", 1)[-1]
        parent = root / here.lstrip("/")
        # a process may not live in an inner node with controllers enabled: use the root's
        # child when our own cgroup has processes
        candidates = [root, parent] if parent != root else [root]
        last: OSError | None = None
        for base in candidates:
            try:
                ctl = (base / "cgroup.subtree_control")
                if "cpu" not in ctl.read_text().split():
                    ctl.write_text("+cpu")
                path = base / name
                path.mkdir(exist_ok=True)
                limit = "max" if quota < 0 else str(quota)
                (path / "cpu.max").write_text(f"{limit} {self.PERIOD_US}")
                if self.weight > 0:
                    (path / "cpu.weight").write_text(str(min(10000, int(100 * self.weight))))
                self.path, self.kind = path, "cgroup v2 cpu.max"
                return
            except OSError as exc:
                last = exc
        raise last or OSError("no usable cgroup v2 parent")

    @property
    def active(self) -> bool:
        return self.path is not None

    def describe(self) -> str:
        if self.path is None:
            return f"uncapped (cannot set a CPU quota: {self.why})"
        weight = f", CPU weight of {self.weight:g} processes" if self.weight > 0 else ""
        if self.percent <= 0:
            return f"uncapped ({self.kind}{weight})"
        return f"capped at {self.percent:g}% of one CPU ({self.kind}{weight})"

    def _mount(self) -> Path:
        return Path("/sys/fs/cgroup/cpu" if self.kind.startswith("cgroup v1")
                    else "/sys/fs/cgroup")

    def join(self) -> None:
        """Move this whole process (its threads, and the children it starts later) into
        the group; ``leave`` moves it back where it was."""
        if self.path is None:
            return
        here = cgroup_of(Path("/proc/self/cgroup").read_text(),
                         "cpu" if self.kind.startswith("cgroup v1") else "")
        self._home = self._mount() / (here or "/").lstrip("/")
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def leave(self) -> None:
        if self._home is not None:
            with contextlib.suppress(OSError):
                (self._home / "cgroup.procs").write_text(str(os.getpid()))
            self._home = None

    def enter(self) -> None:
        """Move the calling process into the cgroup (for Popen's preexec_fn)."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()


# --------------------------------------------------------------------------- processes

def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a supervisor and its worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def _listening(port: int, pids: Iterable[int]) -> bool:
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(int(cols[9]))
        except OSError:
            continue
    if not inodes:
        return False
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                        return True
    return False


def cgroup_of(text: str, controller: str) -> str | None:
    """The cgroup path of ``controller`` ("cpu" for cgroup v1, "" for the v2 hierarchy) in
    the text of /proc/<pid>/cgroup, None when absent."""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        names = parts[1].split(",") if parts[1] else [""]
        if controller in names:
            return parts[2]
    return None


def parse_schedstat(text: str) -> tuple[int, int, int]:
    """/proc/<pid>/schedstat: nanoseconds on a CPU, nanoseconds waiting on a run queue,
    time slices run."""
    on_cpu, waited, slices = (int(x) for x in text.split()[:3])
    return on_cpu, waited, slices


def tree_outside(pid: int, quota: CpuQuota | None, cpus: set[int]) -> str:
    """Which processes of ``pid``'s tree run outside ``cpus`` or outside ``quota``'s
    cgroup ("" when none): a worker escaping the pinning or the quota would falsify the
    figures."""
    problems = []
    want = None
    controller = ""
    if quota is not None and quota.path is not None:
        v1 = quota.kind.startswith("cgroup v1")
        want = "/" + str(quota.path.relative_to(quota._mount()))
        controller = "cpu" if v1 else ""
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            allowed = os.sched_getaffinity(p)
            if not allowed <= cpus:
                problems.append(f"pid {p} may run on CPUs {sorted(allowed)}")
            if want is not None:
                with open(f"/proc/{p}/cgroup") as fh:
                    got = cgroup_of(fh.read(), controller)
                if got != want:
                    problems.append(f"pid {p} is in cgroup {got}, not {want}")
    return "; ".join(problems)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, limit: int = 4000) -> str:
        try:
            text = self.log.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""
        return text[-limit:]

    def cpu_seconds(self) -> float:
        """utime + stime of the process and its live descendants (all their threads: a
        supervisor and its workers), from /proc/<pid>/stat."""
        ticks = 0
        for pid in process_tree(self.pid):
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        return ticks / CLK_TCK

    def runqueue_wait_seconds(self) -> float:
        """Time the process tree's live threads spent runnable but waiting for a CPU
        (/proc/<pid>/task/<tid>/schedstat, second field): what other jobs on the machine
        took from the proxy."""
        ns = 0
        for pid in process_tree(self.pid):
            with contextlib.suppress(OSError):
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with contextlib.suppress(OSError, IndexError, ValueError):
                        with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                            ns += parse_schedstat(fh.read())[1]
        return ns / 1e9

    def wait_listening(self, ports: Iterable[int], timeout: float = 20.0) -> str | None:
        """None once every port listens, else why not."""
        deadline = time.monotonic() + timeout
        for port in ports:
            while not _listening(port, process_tree(self.pid)):
                if not self.alive():
                    return f"exited with status {self.popen.returncode}:\n{self.output()}"
                if time.monotonic() > deadline:
                    return f"port {port} did not listen within {timeout:g}s:\n{self.output()}"
                time.sleep(0.02)
        return None

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(5)


def start(name: str, argv: list[str], *, cpus: set[int], workdir: Path,
          quota: CpuQuota | None = None, env: dict[str, str] | None = None) -> Proc:
    """Start ``argv`` pinned to ``cpus`` (and inside ``quota``'s cgroup), output to a log
    file in ``workdir``."""
    log = workdir / f"{name}.log"

    def pre() -> None:
        os.sched_setaffinity(0, cpus)
        if quota is not None:
            quota.enter()

    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with open(log, "wb") as out:
        popen = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, preexec_fn=pre, env=full_env)
    return Proc(name, popen, log)
