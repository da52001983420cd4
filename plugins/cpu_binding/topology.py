"""From the raw sysfs description to the CPUs hapx may use: HAProxy 3.2's
``cpu_detect_usable()``, ``cpu_fixup_topology()``, ``cpu_compose_clusters()`` and
``cpu_refine_cpusets()``.

The CPUs are kept in an array indexed by CPU number; the steps that need another order sort
a working copy with HAProxy's comparators (unknown ids compare equal to anything) and put it
back in CPU order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cmp_to_key

from .sysfs import Cpu, RawTopology

# Cpu.st flags (HA_CPU_F_*)
EXCLUDED = 0x01  # not in the CPUs the process was bound to at start
OFFLINE = 0x02  # known offline
DONT_USE = 0x04  # removed by cpu-set
IGNORED = 0x08  # left out by the cpu-policy
EXCL_MASK = 0x0F


@dataclass
class CpuSetConfig:
    """``cpu-set``: each ``only`` set starts full (None), each ``drop`` set empty."""

    reset: bool = False
    only: dict[str, frozenset[int] | None] = field(default_factory=lambda: dict.fromkeys(
        ("cpu", "node", "cluster", "core", "thread")))
    drop: dict[str, frozenset[int]] = field(default_factory=lambda: dict.fromkeys(
        ("cpu", "node", "cluster", "core", "thread"), frozenset()))

    def add(self, directive: str, members: frozenset[int] | None) -> None:
        if directive == "reset":
            self.reset = True
            return
        kind, what = directive.split("-", 1)
        assert members is not None
        if kind == "drop":
            self.drop[what] = self.drop[what] | members
        else:
            current = self.only[what]
            self.only[what] = members if current is None else current & members

    def rejects(self, what: str, value: int) -> bool:
        only = self.only[what]
        return value in self.drop[what] or (only is not None and value not in only)


@dataclass
class Cluster:
    """A cluster of CPUs (``struct ha_cpu_cluster``)."""

    idx: int
    nb_cpu: int = 0
    nb_cores: int = 0
    capa: int = 0


@dataclass
class Topology:
    """The CPUs with their usability flags and clusters, for one configuration."""

    maxcpus: int
    lastcpu: int
    cpus: list[Cpu]
    clusters: list[Cluster]
    #: taskset (or the like) restricted the CPUs at start
    mask_forced: bool = False

    def usable(self) -> list[Cpu]:
        return [c for c in self.cpus[:self.lastcpu + 1] if not c.st & EXCL_MASK]


def _field(left: int, right: int) -> int:
    """HAProxy's comparison of two ids where -1 (unknown) matches anything."""
    if 0 <= left < right:
        return -1
    if left > right >= 0:
        return 1
    return 0


def _excl(left: Cpu, right: Cpu) -> int:
    a, b = bool(left.st & EXCL_MASK), bool(right.st & EXCL_MASK)
    return -1 if (not a and b) else 1 if (a and not b) else 0


def _chain(*steps: Callable[[Cpu, Cpu], int]) -> Callable[[Cpu, Cpu], int]:
    def cmp(left: Cpu, right: Cpu) -> int:
        for step in steps:
            result = step(left, right)
            if result:
                return result
        return 0
    return cmp


def _by(get: Callable[[Cpu], int]) -> Callable[[Cpu, Cpu], int]:
    return lambda left, right: _field(get(left), get(right))


def _capa(left: Cpu, right: Cpu) -> int:
    """Same cluster: capacities within +/-5% compare equal."""
    if left.capa > 0 and left.capa * 19 > right.capa * 20:
        return -1
    if right.capa > 0 and left.capa * 20 < right.capa * 19:
        return 1
    return 0


_PK, _NO, _CL = _by(lambda c: c.pk_id), _by(lambda c: c.no_id), _by(lambda c: c.cl_gid)
_TS, _IDX = _by(lambda c: c.ts_id), _by(lambda c: c.idx)
_L = [_by(lambda c, lvl=lvl: c.ca_id[lvl]) for lvl in range(5)]

CMP_LOCALITY = _chain(_excl, _PK, _NO, _L[4], _L[3], _CL, _L[2], _TS, _L[1], _L[0], _IDX)
CMP_CLUSTER_CAPA = _chain(_excl, _PK, _NO, _L[4], _L[3], _CL, _capa, _L[2], _TS, _L[1],
                          _L[0], _IDX)
CMP_CLUSTER = _chain(_excl, _CL, _PK, _NO, _L[3], _L[2], _IDX)


def _sorted(cpus: list[Cpu], cmp: Callable[[Cpu, Cpu], int]) -> list[Cpu]:
    return sorted(cpus, key=cmp_to_key(cmp))


def build(raw: RawTopology, cpu_set: CpuSetConfig) -> Topology:
    """Apply the boot binding, ``cpu-set`` and the online list, fix the topology up and
    compose the clusters (every step of HAProxy's start-up before the policy)."""
    cpus = copy.deepcopy(raw.cpus)
    topo = Topology(maxcpus=raw.maxcpus, lastcpu=raw.maxcpus - 1, cpus=cpus,
                    clusters=[Cluster(i) for i in range(raw.maxcpus)])
    _detect_usable(topo, raw, cpu_set)
    _fixup(topo)
    _compose_clusters(topo)
    _refine(topo, cpu_set)
    return topo


def _detect_usable(topo: Topology, raw: RawTopology, cpu_set: CpuSetConfig) -> None:
    if not cpu_set.reset and raw.bound:
        for cpu in topo.cpus:
            if cpu.idx not in raw.bound:
                cpu.st |= EXCLUDED
    for cpu in topo.cpus:
        if cpu_set.rejects("cpu", cpu.idx):
            cpu.st |= DONT_USE
    if raw.online:
        for cpu in topo.cpus:
            if cpu.idx not in raw.online:
                cpu.st |= OFFLINE
            else:
                topo.lastcpu = cpu.idx
                if cpu.st & EXCLUDED:
                    topo.mask_forced = True


def _first_unused(values: list[int], limit: int) -> int:
    used = set(values)
    return next((i for i in range(limit + 1) if i not in used), -1)


def _fixup(topo: Topology) -> None:
    """``cpu_fixup_topology()``: fill unknown ids, drop pointless 2-CPU clusters, default
    capacities, add an L3 where many L2 have none, renumber cores per package and node."""
    last = topo.lastcpu
    head = topo.cpus[:last + 1]
    for attr in ("pk_id", "no_id", "th_id"):
        missing = [c for c in head if getattr(c, attr) < 0]
        if not missing:
            continue
        first = _first_unused([getattr(c, attr) for c in head if getattr(c, attr) >= 0], last)
        for cpu in missing:
            setattr(cpu, attr, first)
            if attr == "th_id":
                cpu.th_cnt = first + 1
    _cancel_small_clusters(topo)
    for cpu in head:
        if cpu.capa < 0:
            cpu.capa = 100 if cpu.th_cnt > 1 else 50
    _add_missing_l3(topo)
    _renumber_cores(topo)


def _cancel_small_clusters(topo: Topology) -> None:
    """At least four clusters of at most 2 CPUs (Cortex A76, Neoverse N1 report one per
    pair of cores): every such cluster is cancelled."""
    ordered = _sorted(topo.cpus, CMP_CLUSTER)[:topo.lastcpu + 1]
    runs: list[list[Cpu]] = []
    for cpu in ordered:
        if cpu.cl_gid < 0 or cpu.st & EXCL_MASK:
            continue
        if not runs or runs[-1][0].cl_gid != cpu.cl_gid:
            runs.append([])
        runs[-1].append(cpu)
    small = [run for run in runs if len(run) <= 2]
    if len(small) >= 4:
        for run in small:
            gid = run[0].cl_gid
            for cpu in ordered:
                if cpu.cl_gid == gid:
                    cpu.cl_gid = -1


def _add_missing_l3(topo: Topology) -> None:
    ordered = _sorted(topo.cpus, CMP_LOCALITY)
    last = topo.lastcpu
    curr = 0
    prev_l2 = -2
    start = 0
    for pos in range(last + 1):
        cpu = ordered[pos]
        if cpu.ca_id[3] >= 0:
            continue
        before = ordered[pos - 1] if pos else None
        if before is None or (cpu.pk_id, cpu.no_id, cpu.ca_id[4]) != \
                (before.pk_id, before.no_id, before.ca_id[4]):
            curr, prev_l2, start = 0, -2, pos
        elif cpu.ca_id[2] != prev_l2:
            curr += 1
            if curr >= 2:
                for other in ordered[start:last + 1]:
                    if other.ca_id[3] < 0 and (other.pk_id, other.no_id, other.ca_id[4]) == \
                            (cpu.pk_id, cpu.no_id, cpu.ca_id[4]):
                        other.ca_id[3] = 0
        # HAProxy never updates its "previous L2" in this loop: every CPU counts


def _renumber_cores(topo: Topology) -> None:
    ordered = _sorted(topo.cpus, CMP_LOCALITY)
    prev_ts = -2
    curr = -1
    for pos in range(topo.lastcpu + 1):
        cpu = ordered[pos]
        before = ordered[pos - 1] if pos else None
        if before is None or cpu.pk_id != before.pk_id or cpu.no_id != before.no_id:
            curr = 0
        elif _new_cache_group(cpu, before) or cpu.ts_id != prev_ts:
            curr += 1
        prev_ts = cpu.ts_id
        cpu.ts_id = curr


def _new_cache_group(cpu: Cpu, before: Cpu) -> bool:
    """L4 differs, or without L4 the L3 differs, or without L3 the L2 differs."""
    if cpu.ca_id[4] != before.ca_id[4]:
        return True
    if cpu.ca_id[4] < 0:
        if cpu.ca_id[3] != before.ca_id[3]:
            return True
        if cpu.ca_id[3] < 0 and cpu.ca_id[2] != before.ca_id[2]:
            return True
    return False


def _compose_clusters(topo: Topology) -> None:
    """``cpu_compose_clusters()``: one cluster per package/node/cache group/capacity
    class; the cluster's capacity is its cores' plus a third for each extra thread."""
    ordered = _sorted(topo.cpus, CMP_CLUSTER_CAPA)
    prev_gid = -2
    gid = lid = core = -1
    for pos in range(topo.lastcpu + 1):
        cpu = ordered[pos]
        before = ordered[pos - 1] if pos else None
        if before is None or cpu.pk_id != before.pk_id or cpu.no_id != before.no_id:
            gid += 1
            lid = 0
            core = -1
        elif (cpu.cl_gid != prev_gid or _new_cache_group(cpu, before)
              or (cpu.capa > 0 and before.capa > 0
                  and (cpu.capa * 100 < before.capa * 95
                       or cpu.capa * 95 > before.capa * 100))):
            gid += 1
            lid += 1
        prev_gid = cpu.cl_gid
        cpu.cl_gid, cpu.cl_lid = gid, lid
        if not cpu.st & EXCL_MASK:
            cluster = topo.clusters[gid]
            cluster.nb_cpu += 1
            if cpu.ts_id != core:
                cluster.nb_cores += 1
                cluster.capa += cpu.capa
                core = cpu.ts_id
            else:
                cluster.capa += cpu.capa // 3


def _refine(topo: Topology, cpu_set: CpuSetConfig) -> None:
    """``cpu_refine_cpusets()``: the node, cluster, core and thread sets of ``cpu-set``."""
    for cpu in topo.cpus[:topo.lastcpu + 1]:
        if (cpu_set.rejects("node", cpu.no_id) or cpu_set.rejects("cluster", cpu.cl_lid)
                or cpu_set.rejects("core", cpu.ts_id)
                or cpu_set.rejects("thread", cpu.th_id)):
            cpu.st |= DONT_USE
