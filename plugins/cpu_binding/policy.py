"""``cpu-policy``: HAProxy 3.2's policies, choosing thread groups and their CPUs when no
``cpu-map`` is configured.

Each policy receives the thread and group bounds (``tmin``..``tmax``, ``gmin``..``gmax``)
and may create thread groups (``Layout.add_group``), bind threads and mark CPUs
``IGNORED``; it returns the diagnostic messages HAProxy prints with ``-dD``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .topology import EXCL_MASK, IGNORED, Topology

MAX_THREADS = 1024
MAX_TGROUPS = 32
MAX_THREADS_PER_GROUP = 64


@dataclass
class Layout:
    """Threads, thread groups and CPU maps (``global.nbthread``, ``ha_tgroup_info``,
    ``cpu_map``); groups and threads are numbered from 0 here."""

    nbthread: int = 0
    nbtgroups: int = 0
    #: (first thread, thread count) of each group created so far
    groups: list[tuple[int, int]] = field(default_factory=list)
    #: CPU set of (group, thread of the group)
    cpu_map: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)
    #: CPU set of every thread without its own entry
    cpu_map_all: frozenset[int] | None = None
    numa_cpu_mapping: bool = True

    def add_group(self, count: int, cpus: frozenset[int]) -> None:
        g = self.nbtgroups
        self.groups.append((self.nbthread, count))
        for t in range(count):
            self.cpu_map[(g, t)] = cpus
        self.nbthread += count
        self.nbtgroups += 1


Policy = Callable[[Topology, Layout, int, int, int, int, int], list[str]]


def _ignore_cluster(topo: Topology, gid: int) -> None:
    for cpu in topo.cpus[:topo.lastcpu + 1]:
        if cpu.cl_gid == gid:
            cpu.st |= IGNORED


def first_usable_node(topo: Topology, lay: Layout, arg: int, tmin: int, tmax: int,
                      gmin: int, gmax: int) -> list[str]:
    """Unless nbthread is set, taskset restricted the CPUs or ``no numa-cpu-mapping``: when
    the usable CPUs span several NUMA nodes, keep the first node's only."""
    if not lay.numa_cpu_mapping or lay.nbthread or topo.mask_forced:
        return []
    nodes: list[int] = []
    for cpu in topo.usable():
        if cpu.no_id >= 0 and cpu.no_id not in nodes:
            nodes.append(cpu.no_id)
            if len(nodes) == 2:
                break
    if len(nodes) < 2:
        return []
    first = nodes[0]
    keep: set[int] = set()
    for cpu in topo.cpus[:topo.lastcpu + 1]:
        if cpu.no_id != first:
            cpu.st |= IGNORED
        elif not cpu.st & EXCL_MASK:
            keep.add(cpu.idx)
    lay.cpu_map_all = frozenset(keep)
    if tmin <= len(keep) < tmax:
        tmax = len(keep)
    lay.nbthread = tmax
    return [f"Multi-socket cpu detected, automatically binding on active CPUs of "
            f"'{first}' ({len(keep)} active cpu(s))"]


def _group_by(topo: Topology, lay: Layout, key: Callable[[object], int]) -> list[str]:
    """One thread group (or several when over 64 CPUs) per distinct ``key`` of the usable
    CPUs, in CPU order, each thread bound to all the CPUs of its group."""
    if lay.nbthread or lay.nbtgroups:
        return []
    visited: set[int] = set()
    start = 0
    usable_head = topo.cpus[:topo.lastcpu + 1]
    while lay.nbtgroups < MAX_TGROUPS and lay.nbthread < MAX_THREADS:
        cid = -1
        members: list[int] = []
        for cpu in usable_head[start:]:
            if cpu.st & EXCL_MASK or key(cpu) in visited:
                continue
            if cid < 0:
                cid = key(cpu)
                start = cpu.idx + 1
            elif key(cpu) != cid:
                continue
            members.append(cpu.idx)
        if cid < 0 or not members:
            break
        visited.add(cid)
        count = len(members)
        nb_grp = min((count + MAX_THREADS_PER_GROUP - 1) // MAX_THREADS_PER_GROUP,
                     MAX_TGROUPS - lay.nbtgroups)
        per_grp = min((count + nb_grp - 1) // nb_grp, MAX_THREADS_PER_GROUP)
        cpus = frozenset(members)
        while nb_grp and count > 0:
            per_grp = min(per_grp, count, MAX_THREADS - lay.nbthread)
            lay.add_group(per_grp, cpus)
            count -= per_grp
            if lay.nbtgroups >= MAX_TGROUPS or lay.nbthread >= MAX_THREADS:
                break
    if lay.nbthread:
        return [f"Created {lay.nbthread} threads split into {lay.nbtgroups} groups"]
    return ["Could not determine any CPU cluster"]


def group_by_ccx(topo: Topology, lay: Layout, arg: int, tmin: int, tmax: int, gmin: int,
                 gmax: int) -> list[str]:
    """A group per CCX (CPUs sharing an L3 cache), or per ``arg`` CCX."""
    div = arg or 1
    return _group_by(topo, lay, lambda cpu: cpu.ca_id[3] // div)  # type: ignore[attr-defined]


def group_by_cluster(topo: Topology, lay: Layout, arg: int, tmin: int, tmax: int, gmin: int,
                     gmax: int) -> list[str]:
    """A group per CPU cluster, or per ``arg`` clusters."""
    div = arg or 1
    return _group_by(topo, lay, lambda cpu: cpu.cl_gid // div)  # type: ignore[attr-defined]


def _clusters_by_capa(topo: Topology) -> list:
    # a stable sort by decreasing total capacity, as glibc's merge sort does it
    return sorted(topo.clusters, key=lambda cl: -cl.capa)


def performance(topo: Topology, lay: Layout, arg: int, tmin: int, tmax: int, gmin: int,
                gmax: int) -> list[str]:
    """Leave out clusters whose per-CPU capacity is under 80% of the next faster one's,
    then group by CCX."""
    if lay.nbthread or lay.nbtgroups:
        return []
    capa = 0
    for cl in _clusters_by_capa(topo):
        if capa and cl.capa * 10 < cl.nb_cpu * capa * 8:
            _ignore_cluster(topo, cl.idx)
        else:
            capa = cl.capa // cl.nb_cpu if cl.nb_cpu else 0
    return group_by_ccx(topo, lay, 0, tmin, tmax, gmin, gmax)


def efficiency(topo: Topology, lay: Layout, arg: int, tmin: int, tmax: int, gmin: int,
               gmax: int) -> list[str]:
    """Leave out clusters whose per-CPU capacity is 25% or more above the next slower
    one's, then group by CCX."""
    if lay.nbthread or lay.nbtgroups:
        return []
    capa = 0
    for cl in reversed(_clusters_by_capa(topo)):
        if capa and cl.capa * 8 >= cl.nb_cpu * capa * 10:
            _ignore_cluster(topo, cl.idx)
        else:
            capa = cl.capa // cl.nb_cpu if cl.nb_cpu else 0
    return group_by_ccx(topo, lay, 0, tmin, tmax, gmin, gmax)


def resource(topo: Topology, lay: Layout, arg: int, tmin: int, tmax: int, gmin: int,
             gmax: int) -> list[str]:
    """Keep only the smallest cluster (by total capacity), as one group."""
    if lay.nbthread or lay.nbtgroups:
        return []
    capa = 0
    for cl in reversed(_clusters_by_capa(topo)):
        if capa:
            _ignore_cluster(topo, cl.idx)
        else:
            capa = cl.capa
    return group_by_cluster(topo, lay, 0, tmin, tmax, gmin, gmax)


@dataclass(frozen=True)
class PolicyDef:
    name: str
    desc: str
    fct: Policy | None
    arg: int = 0


#: every 3.2 policy, in HAProxy's order; the default is first-usable-node
POLICIES: tuple[PolicyDef, ...] = (
    PolicyDef("none", "use all available CPUs", None),
    PolicyDef("first-usable-node", "use only first usable node if nbthreads not set",
              first_usable_node),
    PolicyDef("group-by-ccx", "make one thread group per CCX", group_by_ccx, 1),
    PolicyDef("group-by-2-ccx", "make one thread group per 2 CCX", group_by_ccx, 2),
    PolicyDef("group-by-3-ccx", "make one thread group per 3 CCX", group_by_ccx, 3),
    PolicyDef("group-by-4-ccx", "make one thread group per 4 CCX", group_by_ccx, 4),
    PolicyDef("group-by-cluster", "make one thread group per core cluster",
              group_by_cluster, 1),
    PolicyDef("group-by-2-clusters", "make one thread group per 2 core clusters",
              group_by_cluster, 2),
    PolicyDef("group-by-3-clusters", "make one thread group per 3 core clusters",
              group_by_cluster, 3),
    PolicyDef("group-by-4-clusters", "make one thread group per 4 core clusters",
              group_by_cluster, 4),
    PolicyDef("performance", "make one thread group per perf. core cluster", performance),
    PolicyDef("efficiency", "make one thread group per eff. core cluster", efficiency),
    PolicyDef("resource", "make one thread group from the smallest cluster", resource),
)
BY_NAME = {p.name: p for p in POLICIES}
DEFAULT_POLICY = "first-usable-node"
