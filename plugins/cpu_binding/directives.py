"""The global directives of threads and CPU placement, with HAProxy 3.2's messages.

Each stores its checked value in ``config.global_.settings[<keyword>]``: ``nbthread``,
``thread-groups`` and ``thread-hard-limit`` an int, ``cpu-policy`` the policy name,
``numa-cpu-mapping`` a bool, ``cpu-set`` a list of (directive, set text or None) pairs and
``cpu-map`` a list of (target, [cpu sets]) pairs, both accumulated over the lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hapx.core.config.parser import ParseContext

from .config import parse_cpu_map, parse_cpu_set_line
from .cpuset import SetError
from .policy import MAX_TGROUPS, MAX_THREADS, POLICIES

Parser = Callable[[ParseContext, list[str]], Any]


def _no_extra(ctx: ParseContext, args: list[str], allowed: int) -> None:
    if len(args) > allowed:
        raise ctx.error(f"'{ctx.keyword}' cannot handle unexpected argument '{args[allowed]}'.")


def bounded(maximum: int) -> Parser:
    """A number from 1 to ``maximum`` (nbthread, thread-groups, thread-hard-limit)."""
    def parse(ctx: ParseContext, args: list[str]) -> int:
        _no_extra(ctx, args, 1)
        text = args[0] if args else ""
        if not text.isdigit():
            raise ctx.error(f"'{ctx.keyword}' passed a missing or unparsable integer value "
                            f"in '{text}'")
        value = int(text)
        if not 1 <= value <= maximum:
            raise ctx.error(f"'{ctx.keyword}' value must be between 1 and {maximum} "
                            f"(was {value})")
        return value
    return parse


nbthread = bounded(MAX_THREADS)
thread_groups = bounded(MAX_TGROUPS)
thread_hard_limit = bounded(MAX_THREADS)


def flag(ctx: ParseContext, args: list[str]) -> bool:
    _no_extra(ctx, args, 0)
    return ctx.prefix != "no"


def cpu_policy(ctx: ParseContext, args: list[str]) -> str:
    _no_extra(ctx, args, 1)
    name = args[0] if args else ""
    if any(p.name == name for p in POLICIES):
        return name
    text = f"'{ctx.keyword}' passed an unknown CPU policy '{name}'. Supported values are:"
    for i, p in enumerate(POLICIES):
        last = i + 1 == len(POLICIES)
        text += (f"{'' if i > 0 and not last else ' and'} '{p.name}' ({p.desc})"
                 f"{'.' if last else ','}")
    raise ctx.error(text)


def cpu_set(ctx: ParseContext, args: list[str]) -> list[tuple[str, str | None]]:
    try:
        pairs = parse_cpu_set_line(args)
    except SetError as exc:
        raise ctx.error(str(exc)) from None
    return list(ctx.section.settings.get("cpu-set", [])) + pairs


def cpu_map(ctx: ParseContext, args: list[str]) -> list[tuple[str, list[str]]]:
    try:
        parse_cpu_map(args)
    except SetError as exc:
        raise ctx.error(str(exc)) from None
    return list(ctx.section.settings.get("cpu-map", [])) + [(args[0], args[1:])]


# name: (parser, negatable, synopsis, explanation)
KEYWORDS: dict[str, tuple[Parser, bool, str, str]] = {
    "nbthread": (nbthread, False, "<number>",
                 f"The number of threads (1 to {MAX_THREADS}).  When it is not set, it comes "
                 "from the cpu-policy, else from the CPUs the process may use (at most 64 "
                 "without thread-groups).  hapx runs each thread as a worker process with its "
                 "own event loop, bound to that thread's CPUs.  Without nbthread hapx runs "
                 "one worker (bound to thread 1's CPUs): several are asked for explicitly "
                 "while stick tables, server maxconn/queues and counters are per worker "
                 "(docs/architecture.md, 'Worker processes')."),
    "thread-groups": (thread_groups, False, "<number>",
                      f"The number of thread groups (1 to {MAX_TGROUPS}), each of at most 64 "
                      "threads; threads are spread evenly over them."),
    "thread-hard-limit": (thread_hard_limit, False, "<number>",
                          "An upper limit to the number of threads, whether set or "
                          "automatic."),
    "cpu-policy": (cpu_policy, False, "<policy>",
                   "How threads and groups are placed on CPUs when no cpu-map is set: "
                   + "; ".join(f"'{p.name}': {p.desc}" for p in POLICIES)
                   + ".  The default is first-usable-node."),
    "cpu-set": (cpu_set, False, "<directive> [<set>] ...",
                "Restrict the CPUs used: 'reset' (undo taskset), 'only-'/'drop-' followed by "
                "'cpu', 'node', 'cluster', 'core' or 'thread' and a set (numbers, ranges, "
                "comma lists)."),
    "cpu-map": (cpu_map, False, "[auto:]<thread-group>[/<thread-set>] <cpu-set>...",
                "Bind threads to CPUs: a thread group range ('all', 'odd', 'even', N, N-M), "
                "optionally a thread range, then CPU sets.  'auto:' hands the CPUs out one "
                "per thread (or per group)."),
    "numa-cpu-mapping": (flag, True, "",
                         "With first-usable-node, keep to the first NUMA node (default on)."),
}
