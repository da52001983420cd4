"""Reading a machine's CPU topology from a sysfs tree, as HAProxy 3.2's
``cpu_detect_topology()`` does on Linux.

The tree is ``<root>/devices/system/{cpu,node}``; ``root`` is ``/sys`` on a live system and a
copy of another machine's tree in tests (``$HAPX_SYSFS_ROOT`` points hapx at one).  For each
online CPU, in CPU order: the cache levels from ``cache/index*/`` (instruction caches
skipped; each distinct ``shared_cpu_list`` gets the next id of its level), the SMT siblings
(``topology/thread_siblings_list``: core id, thread id and count), the cluster
(``cluster_cpus_list`` or ``core_siblings_list``, ignored when it has a single CPU or is the
siblings list), the package (``package_cpus_list``, ``core_siblings_list`` or
``physical_package_id``), the capacity (``cpu_capacity``, else ``cpufreq/scaling_max_freq``
in MHz, 1.5x for SMT cores, else ``acpi_cppc/nominal_perf``); then the NUMA nodes from
``node/node<N>/cpulist``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .cpuset import SetError, parse_cpu_set

DEFAULT_ROOT = "/sys"
ROOT_ENV = "HAPX_SYSFS_ROOT"


@dataclass
class Cpu:
    """One CPU as HAProxy describes it (``struct ha_cpu_topo``); -1 means unknown."""

    idx: int
    st: int = 0
    pk_id: int = -1  # package
    no_id: int = -1  # NUMA node
    cl_gid: int = -1  # cluster, global id
    cl_lid: int = -1  # cluster, id local to the package and node
    ts_id: int = -1  # thread set: the core
    th_id: int = -1  # thread number within the core
    th_cnt: int = -1  # threads of the core
    capa: int = -1  # capacity
    ca_id: list[int] = field(default_factory=lambda: [-1] * 5)  # cache ids, levels 0-4


@dataclass
class RawTopology:
    """What the sysfs tree says, before any configuration applies."""

    root: str
    maxcpus: int
    cpus: list[Cpu]
    online: frozenset[int] | None  # None when the tree does not say
    #: the CPUs the process is bound to at start (None: unknown)
    bound: frozenset[int] | None


def default_root() -> str:
    return os.environ.get(ROOT_ENV) or DEFAULT_ROOT


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.readline().strip()
    except OSError:
        return None


def _cpulist(path: str) -> frozenset[int] | None:
    text = _read(path)
    if text is None:
        return None
    if not text:
        return frozenset()
    try:
        return parse_cpu_set([text])
    except SetError:
        return None


def _uint(text: str | None) -> int | None:
    match = re.match(r"\d+", text or "")
    return int(match.group()) if match else None


def _maxcpus(base: str) -> int:
    possible = _cpulist(f"{base}/cpu/possible")
    if possible:
        return max(possible) + 1
    try:
        numbers = [int(m.group(1)) for e in os.listdir(f"{base}/cpu")
                   if (m := re.fullmatch(r"cpu(\d+)", e))]
    except OSError:
        numbers = []
    if numbers:
        return max(numbers) + 1
    return os.cpu_count() or 1


def read_topology(root: str | None = None,
                  bound: frozenset[int] | None = None) -> RawTopology:
    """Read the tree under ``root`` (default: ``$HAPX_SYSFS_ROOT`` or ``/sys``).

    ``bound`` is the set of CPUs the process may run on at start; by default the live
    process's affinity when reading ``/sys``, and the tree's online CPUs otherwise (another
    machine's tree says nothing of this process)."""
    root = root or default_root()
    base = os.path.join(root, "devices", "system")
    maxcpus = _maxcpus(base)
    online = _cpulist(f"{base}/cpu/online")
    if bound is None:
        if os.path.realpath(root) == DEFAULT_ROOT and hasattr(os, "sched_getaffinity"):
            bound = frozenset(os.sched_getaffinity(0))
        else:
            bound = online
    cpus = [Cpu(i) for i in range(maxcpus)]
    lastcpu = max((c for c in online if c < maxcpus), default=maxcpus - 1) if online else \
        maxcpus - 1
    if os.path.isdir(f"{base}/cpu"):
        _Detector(base, cpus, lastcpu, online).run()
    _read_nodes(base, cpus)
    return RawTopology(root=root, maxcpus=maxcpus, cpus=cpus, online=online, bound=bound)


def _read_nodes(base: str, cpus: list[Cpu]) -> None:
    try:
        entries = os.listdir(f"{base}/node")
    except OSError:
        return
    for entry in sorted(entries):
        match = re.fullmatch(r"node(\d+)", entry)
        if not match:
            continue
        members = _cpulist(f"{base}/node/{entry}/cpulist")
        for cpu in members or ():
            if cpu < len(cpus):
                cpus[cpu].no_id = int(match.group(1))


class _Detector:
    """The per-CPU pass of ``cpu_detect_topology()``: ids are handed out in CPU order."""

    def __init__(self, base: str, cpus: list[Cpu], lastcpu: int,
                 online: frozenset[int] | None) -> None:
        self.base = base
        self.cpus = cpus
        self.lastcpu = lastcpu
        self.online = online
        self.next_ca = [0] * 5
        self.next_ts = 0
        self.next_cl = 0
        self.next_pk = 0
        self.present: dict[str, bool] = {}

    def _has(self, key: str, path: str, isdir: bool) -> bool:
        """Whether a kind of entry exists, decided on the first CPU that is looked at."""
        if key not in self.present:
            self.present[key] = os.path.isdir(path) if isdir else os.path.isfile(path)
        return self.present[key]

    def _assign(self, members: frozenset[int], attr: str, value: int) -> None:
        for cpu in members:
            if cpu <= self.lastcpu:
                setattr(self.cpus[cpu], attr, value)

    def run(self) -> None:
        for idx in range(self.lastcpu + 1):
            if self.online is not None and idx not in self.online:
                continue
            d = f"{self.base}/cpu/cpu{idx}"
            if not os.path.isdir(d):
                continue
            if self._has("cache", f"{d}/cache", True):
                self._caches(idx, d)
            if self._has("topology", f"{d}/topology", True):
                self._topology(idx, d)
            self._capacity(idx, d)

    def _caches(self, idx: int, d: str) -> None:
        next_level = 1
        for index in range(10):
            sub = f"{d}/cache/index{index}"
            if not os.path.isdir(sub):
                break
            if _read(f"{sub}/type") == "Instruction":
                continue
            level = next_level
            text = _read(f"{sub}/level")
            if text is not None:
                level = _uint(text) or 0
                next_level = level + 1
            if not 0 <= level <= 4 or self.cpus[idx].ca_id[level] >= 0:
                continue
            members = _cpulist(f"{sub}/shared_cpu_list")
            if members is None:
                continue
            for cpu in members:
                if cpu <= self.lastcpu:
                    self.cpus[cpu].ca_id[level] = self.next_ca[level]
            self.next_ca[level] += 1

    def _topology(self, idx: int, d: str) -> None:
        me = self.cpus[idx]
        siblings: frozenset[int] = frozenset()
        if me.ts_id < 0 or me.cl_gid < 0:
            found = _cpulist(f"{d}/topology/thread_siblings_list")
            if found is not None:
                siblings = found
                for th_id, cpu in enumerate(sorted(c for c in found if c <= self.lastcpu)):
                    self.cpus[cpu].ts_id = self.next_ts
                    self.cpus[cpu].th_cnt = len(found)
                    self.cpus[cpu].th_id = th_id
                self.next_ts += 1
        topo = f"{d}/topology"
        no_clust = not self._has("cluster", f"{topo}/cluster_cpus_list", False) and \
            not self._has("core_siblings", f"{topo}/core_siblings_list", False)
        if not no_clust and me.cl_gid < 0:
            members = _cpulist(f"{topo}/cluster_cpus_list")
            if members is None:
                members = _cpulist(f"{topo}/core_siblings_list")
            if members is not None and len(members) > 1 and members != siblings:
                self._assign(members, "cl_lid", self.next_cl)
                self._assign(members, "cl_gid", self.next_cl)
                self.next_cl += 1
        no_pkg = not self._has("package", f"{topo}/package_cpus_list", False) and \
            not self._has("core_siblings", f"{topo}/core_siblings_list", False)
        if not no_pkg and me.pk_id < 0:
            members = _cpulist(f"{topo}/package_cpus_list")
            if members is None:
                members = _cpulist(f"{topo}/core_siblings_list")
            if members is not None:
                self._assign(members, "pk_id", self.next_pk)
                self.next_pk += 1
        if me.pk_id < 0:
            value = _uint(_read(f"{topo}/physical_package_id"))
            if value is not None:
                me.pk_id = value

    def _capacity(self, idx: int, d: str) -> None:
        me = self.cpus[idx]
        if self._has("capa", f"{d}/cpu_capacity", False) and me.capa < 0:
            value = _uint(_read(f"{d}/cpu_capacity"))
            if value is not None:
                me.capa = value
        if self._has("freq", f"{d}/cpufreq", True) and me.capa < 0:
            khz = _uint(_read(f"{d}/cpufreq/scaling_max_freq"))
            if khz is not None:
                me.capa = (khz + 999) // 1000
                if me.th_cnt > 1:
                    me.capa = me.capa * 3 // 2
        if self._has("cppc", f"{d}/acpi_cppc", True) and me.capa < 0:
            value = _uint(_read(f"{d}/acpi_cppc/nominal_perf"))
            if value is not None:
                me.capa = value
