"""``-dc``: HAProxy 3.2's dump of the CPU topology (``cpu_topo_debug()``) and of its
summary (``cpu_topo_dump_summary()``): one line per online CPU, the clusters, then the
thread groups with each run of threads sharing a CPU set."""

from __future__ import annotations

from .cpuset import print_cpu_set
from .threads import Plan
from .topology import EXCL_MASK, OFFLINE, Topology


def cpu_lines(topo: Topology) -> list[str]:
    head = topo.cpus[:topo.lastcpu + 1]
    has_smt = any(c.th_cnt > 1 for c in head)
    out = []
    for cpu in head:
        if cpu.st & OFFLINE:
            continue
        line = (f"[{'----' if cpu.st & EXCL_MASK else 'keep'}] cpu={cpu.idx:3d} "
                f"pk={cpu.pk_id:02d} no={cpu.no_id:02d} cl={cpu.cl_gid:03d}({cpu.cl_lid:03d})")
        for lvl in range(4, -1, -1):
            if cpu.ca_id[lvl] >= 0:
                line += f" l{lvl}={cpu.ca_id[lvl]:02d}" if lvl < 3 else \
                    f" l{lvl}={cpu.ca_id[lvl]:03d}"
        line += f" ts={cpu.ts_id:03d} capa={cpu.capa}"
        if has_smt:
            line += f" smt={cpu.th_id}/{cpu.th_cnt}" if cpu.th_cnt > 1 else \
                f" smt={cpu.th_cnt}"
        out.append(line)
    return out


def summary_lines(plan: Plan) -> list[str]:
    out = ["CPU clusters:"]
    for cl in plan.topology.clusters:
        if cl.nb_cpu:
            out.append(f"  {cl.idx:3d}  cpus={cl.nb_cpu:3d} cores={cl.nb_cores:3d} "
                       f"capa={cl.capa}")
    out.append("Thread CPU Bindings:")
    out.append("  Tgrp/Thr  Tid        CPU set")
    for g, (base, count) in enumerate(plan.groups):
        t = 0
        while t < count:
            end = t
            cpus = plan.bindings[base + t]
            while end + 1 < count and plan.bindings[base + end + 1] == cpus:
                end += 1
            text = f"{g + 1}/{t + 1}" + (f"-{end + 1}" if end != t else "")
            text = text.ljust(10) + f"{base + t + 1}" + \
                (f"-{base + end + 1}" if end != t else "")
            text = text.ljust(21)
            text += f"{len(cpus)}: {print_cpu_set(cpus)}" if cpus else "<all>"
            out.append(f"  {text}")
            t = end + 1
    return out


def render(plan: Plan) -> str:
    """The whole ``-dc`` output, newline-terminated."""
    return "\n".join(cpu_lines(plan.topology) + summary_lines(plan)) + "\n"
