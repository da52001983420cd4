"""The CPU-placement settings of a configuration, compiled from what the directives store
in the global settings (``nbthread``, ``thread-groups``, ``thread-hard-limit``,
``cpu-policy``, ``cpu-set``, ``cpu-map``, ``numa-cpu-mapping``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .cpuset import LONGBITS, SetError, parse_cpu_set, parse_number_set
from .policy import DEFAULT_POLICY, MAX_TGROUPS, MAX_THREADS_PER_GROUP
from .topology import CpuSetConfig

CPU_SET_DIRECTIVES = ("reset", "only-cpu", "drop-cpu", "only-node", "drop-node",
                      "only-cluster", "drop-cluster", "only-core", "drop-core", "only-thread",
                      "drop-thread")


@dataclass(frozen=True)
class CpuMapEntry:
    """One ``cpu-map [auto:]<groups>[/<threads>] <cpus>...`` line (1-based numbers)."""

    groups: frozenset[int]
    threads: frozenset[int]
    cpus: frozenset[int]
    auto: bool = False
    explicit_threads: bool = False

    def apply(self, cpu_map: dict[tuple[int, int], frozenset[int]]) -> None:
        """Set the CPUs of the named (group, thread) pairs (0-based keys).  ``auto:`` hands
        the CPUs out one by one, to the threads of each group when the thread set has as
        many members as there are CPUs, else to the groups."""
        cpus = sorted(self.cpus)
        groups = sorted(g for g in self.groups if g <= MAX_TGROUPS)
        threads = sorted(t for t in self.threads if t <= MAX_THREADS_PER_GROUP)
        per_thread = self.explicit_threads and len(self.threads) == len(self.cpus)
        for gi, g in enumerate(groups):
            for ti, t in enumerate(threads):
                if not self.auto:
                    chosen = self.cpus
                elif per_thread:
                    chosen = frozenset((cpus[ti],))
                else:
                    chosen = frozenset((cpus[gi],)) if gi < len(cpus) else frozenset()
                cpu_map[(g - 1, t - 1)] = chosen


def parse_cpu_map(args: list[str]) -> CpuMapEntry:
    """Read a ``cpu-map`` line's arguments; raises SetError with HAProxy's message."""
    if len(args) < 2 or not args[0] or not args[1]:
        raise SetError(f"cpu-map expects a thread group number  ('all', 'odd', 'even', a "
                       f"number from 1 to {LONGBITS} or a range),  followed by a list of CPU "
                       f"ranges with numbers from 0 to {LONGBITS - 1}.")
    target = args[0]
    auto = target.startswith("auto:")
    target = target.removeprefix("auto:")
    group_text, slash, thread_text = target.partition("/")
    try:
        groups = parse_number_set(group_text)
        threads = parse_number_set(thread_text) if slash else frozenset(
            range(1, LONGBITS + 1))
        cpus = parse_cpu_set(args[1:])
    except SetError as exc:
        raise SetError(f"cpu-map : {exc}") from None
    if auto and len(groups) != len(cpus) and len(threads) != len(cpus):
        raise SetError("cpu-map : TGROUP/THREAD range and CPU sets must have the same size "
                       "to be automatically bound")
    return CpuMapEntry(groups, threads, cpus, auto, bool(slash))


def parse_cpu_set_line(args: list[str]) -> list[tuple[str, str | None]]:
    """Read a ``cpu-set`` line into (directive, set) pairs; raises SetError with HAProxy's
    message."""
    supported = ("(only 'reset', 'only-cpu', 'drop-cpu', 'only-node', 'drop-node', "
                 "'only-cluster', 'drop-cluster', 'only-core', 'drop-core', 'only-thread', "
                 "'drop-thread' supported).")
    if not args:
        raise SetError(f"'cpu-set' requires a directive and an optional value {supported}")
    out: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "reset":
            out.append((word, None))
            i += 1
            continue
        if word not in CPU_SET_DIRECTIVES:
            raise SetError(f"'cpu-set' passed an unknown directive '{word}' {supported}")
        what = word.split("-", 1)[1]
        if i + 1 >= len(args) or not args[i + 1]:
            raise SetError(f"'cpu-set {word}': missing {'CPU' if what == 'cpu' else what} "
                           "set\n.")
        try:
            parse_cpu_set([args[i + 1]])
        except SetError as exc:
            raise SetError(f"'cpu-set {word}': {exc}\n.") from None
        out.append((word, args[i + 1]))
        i += 2
    return out


@dataclass
class CpuConfig:
    """Everything that decides threads and CPU bindings."""

    nbthread: int = 0
    thread_groups: int = 0
    thread_hard_limit: int = 0
    policy: str = DEFAULT_POLICY
    cpu_set: CpuSetConfig = field(default_factory=CpuSetConfig)
    cpu_map: list[CpuMapEntry] = field(default_factory=list)
    numa_cpu_mapping: bool = True


def cpu_config(settings: Mapping[str, Any]) -> CpuConfig:
    """Compile the stored global settings (already validated by the directives)."""
    cfg = CpuConfig(nbthread=settings.get("nbthread", 0) or 0,
                    thread_groups=settings.get("thread-groups", 0) or 0,
                    thread_hard_limit=settings.get("thread-hard-limit", 0) or 0,
                    policy=settings.get("cpu-policy") or DEFAULT_POLICY,
                    numa_cpu_mapping=settings.get("numa-cpu-mapping", True) is not False)
    for directive, text in settings.get("cpu-set", []):
        cfg.cpu_set.add(directive, parse_cpu_set([text]) if text is not None else None)
    cfg.cpu_map = [parse_cpu_map([target, *cpus]) for target, cpus in
                   settings.get("cpu-map", [])]
    return cfg
