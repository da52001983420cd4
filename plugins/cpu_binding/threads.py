"""Threads, thread groups and each thread's CPUs: HAProxy 3.2's ``thread_detect_count()``,
``cpu_apply_policy()``, ``thread_map_to_groups()`` and the default binding.

:func:`plan` runs every step for one configuration and one topology and returns a
:class:`Plan`; :func:`thread_bindings` is its per-thread CPU sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import policy as pol
from .config import CpuConfig, cpu_config
from .sysfs import RawTopology, read_topology
from .topology import Topology, build


class LayoutError(ValueError):
    """A thread / group layout HAProxy refuses at start; the message is HAProxy's."""


@dataclass
class Plan:
    """The outcome for one configuration on one machine."""

    topology: Topology
    nbthread: int
    #: (first thread, thread count) per group, 0-based thread numbers
    groups: list[tuple[int, int]]
    #: per thread (global order): its CPUs, empty when the thread is not bound
    bindings: list[frozenset[int]]
    #: diagnostics (printed with -dD)
    diag: list[str] = field(default_factory=list)

    @property
    def nbtgroups(self) -> int:
        return len(self.groups)


def _bounds(cfg: CpuConfig) -> tuple[int, int, int, int]:
    tpg = pol.MAX_THREADS_PER_GROUP
    tmin, tmax = 1, pol.MAX_THREADS
    gmin, gmax = 1, pol.MAX_TGROUPS
    if cfg.nbthread:
        tmin = tmax = cfg.nbthread
    if cfg.thread_groups:
        gmin = gmax = cfg.thread_groups
    tmin = max(tmin, gmin)
    tmax = min(tmax, gmax * tpg)
    gmin = max(gmin, (tmin + tpg - 1) // tpg)
    gmax = min(gmax, tmax)
    if cfg.thread_hard_limit:
        tmin = min(tmin, cfg.thread_hard_limit)
        tmax = min(tmax, cfg.thread_hard_limit)
    return tmin, tmax, gmin, gmax


def plan(cfg: CpuConfig, raw: RawTopology) -> Plan:
    """Compute threads, groups and bindings from the configuration and the topology."""
    topo = build(raw, cfg.cpu_set)
    lay = pol.Layout(numa_cpu_mapping=cfg.numa_cpu_mapping)
    diag: list[str] = []
    tmin, tmax, gmin, gmax = _bounds(cfg)
    if cfg.nbthread:  # an impossible layout is reported by _map_to_groups, as HAProxy does
        lay.nbthread = min(cfg.nbthread, cfg.thread_hard_limit or cfg.nbthread)
    if cfg.thread_groups:
        lay.nbtgroups = cfg.thread_groups
    # the policy, unless cpu-map is used; without thread-groups, automatic counts stay in
    # one group as HAProxy's do
    single = pol.MAX_THREADS_PER_GROUP if not cfg.thread_groups else tmax
    if not cfg.cpu_map and (definition := pol.BY_NAME[cfg.policy]).fct is not None:
        limit = min(tmax, single) if not cfg.nbthread else tmax
        diag += definition.fct(topo, lay, definition.arg, tmin, limit, gmin, gmax)
    if not lay.nbthread:
        avail = len(topo.usable()) or len(raw.bound or ()) or 1
        lay.nbthread = max(tmin, min(avail, tmax, single))
    if cfg.thread_hard_limit and lay.nbthread > cfg.thread_hard_limit:
        lay.nbthread = cfg.thread_hard_limit
    if not lay.nbtgroups:
        lay.nbtgroups = max(gmin, -(-lay.nbthread // pol.MAX_THREADS_PER_GROUP))
    groups = _map_to_groups(lay)
    for entry in cfg.cpu_map:
        entry.apply(lay.cpu_map)
    usable = frozenset(c.idx for c in topo.usable())
    bound_any = bool(lay.cpu_map) or lay.cpu_map_all is not None
    bindings: list[frozenset[int]] = []
    for g, (_base, count) in enumerate(groups):
        for t in range(count):
            cpus = lay.cpu_map.get((g, t))
            if cpus is None:
                cpus = lay.cpu_map_all if lay.cpu_map_all is not None else \
                    (frozenset() if bound_any else usable)
            bindings.append(cpus)
    return Plan(topology=topo, nbthread=lay.nbthread, groups=groups, bindings=bindings,
                diag=diag)


def _map_to_groups(lay: pol.Layout) -> list[tuple[int, int]]:
    """``thread_map_to_groups()``: the threads no policy placed are spread over the groups
    still empty, as evenly as possible, the first groups taking one more."""
    groups: list[tuple[int, int] | None] = list(lay.groups)
    groups += [None] * (lay.nbtgroups - len(groups))
    assigned = sum(count for _base, count in lay.groups)
    ut = lay.nbthread - assigned
    ug = sum(1 for g in groups if g is None)
    if ug > ut:
        raise LayoutError(f"More unassigned thread-groups ({ug}) than threads ({ut}). "
                          "Please reduce thread-groups")
    t = assigned
    for g, slot in enumerate(groups):
        if slot is not None or not ug:
            continue
        q, r = divmod(ut, ug)
        size = q + (1 if r else 0)
        if size > pol.MAX_THREADS_PER_GROUP:
            raise LayoutError(f"Too many remaining unassigned threads ({ut}) for thread groups "
                              f"({ug}). Please increase thread-groups or make sure to keep "
                              "thread numbers contiguous")
        groups[g] = (t, size)
        t += size
        ut -= size
        ug -= 1
    return [g for g in groups if g is not None]


def thread_bindings(config: Any, topology: RawTopology | None = None) -> list[frozenset[int]]:
    """Each thread's CPU set, in thread order (thread 1 first); an empty set means the
    thread is not bound.  ``config`` is a hapx Config (or its global settings mapping);
    ``topology`` defaults to the machine's (``$HAPX_SYSFS_ROOT`` or ``/sys``)."""
    settings: Mapping[str, Any] = config.global_.settings if hasattr(config, "global_") \
        else config
    return plan(cpu_config(settings), topology or read_topology()).bindings
