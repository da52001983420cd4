"""CPU topology and thread binding as HAProxy 3.2 does them.

The topology is read from sysfs (``sysfs.py``: ``$HAPX_SYSFS_ROOT`` or ``/sys``), fixed up and
split into clusters (``topology.py``); ``cpu-set`` removes CPUs, ``cpu-policy`` chooses
thread groups (``policy.py``) unless ``cpu-map`` is set, and ``threads.py`` counts threads,
fills the groups and gives each thread its CPUs.  ``-dc`` prints HAProxy's dump
(``dump.py``).  ``hapx_workers`` tells the kernel how many worker processes run (``nbthread``
when set, else one) and each one's CPUs (:func:`thread_bindings`), which it binds with
``os.sched_setaffinity``.

Directives (global): nbthread, thread-groups, thread-hard-limit, cpu-policy, cpu-set,
cpu-map, numa-cpu-mapping.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from hapx.core.config.model import GLOBAL, Config
from hapx.core.config.parser import ParseContext
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive

from .config import cpu_config
from .directives import KEYWORDS
from .dump import render
from .sysfs import DEFAULT_ROOT, ROOT_ENV, RawTopology, default_root, read_topology
from .threads import LayoutError, Plan, plan, thread_bindings

__all__ = ["RawTopology", "Plan", "plan", "read_topology", "thread_bindings", "ROOT_ENV"]

_EXT = "cpu_binding"
_SETTINGS = ("nbthread", "thread-groups", "thread-hard-limit", "cpu-policy", "cpu-set",
             "cpu-map", "numa-cpu-mapping")


def _store(name: str, parser: Any) -> Any:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        ctx.section.settings[name] = parser(ctx, args)
    return parse


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    for name, (parser, negatable, usage, text) in KEYWORDS.items():
        head = f"{'[no] ' if negatable else ''}{name}{' ' + usage if usage else ''}"
        directives.add(Directive(name, sections=GLOBAL, parse=_store(name, parser),
                                 negatable=negatable,
                                 doc=f"{head}\n\n{text}  Stored in global "
                                     f"settings['{name}']."))


@hookimpl
def hapx_add_options(parser: Any) -> None:
    parser.add_argument("-dc", action="store_true", dest="dump_cpu_topology",
                        help="dump the CPU topology and the threads' CPU bindings "
                             f"(sysfs root: ${ROOT_ENV}, default {DEFAULT_ROOT})")


def config_plan(config: Config) -> Plan:
    """The plan of this configuration on this machine (computed once)."""
    ext = config.ext.setdefault(_EXT, {})
    if "plan" not in ext:
        ext["plan"] = plan(cpu_config(config.global_.settings), read_topology())
    return ext["plan"]


@hookimpl
def hapx_post_check(config: Config) -> None:
    dump = bool(getattr(config.options, "dump_cpu_topology", False))
    if not dump and not any(k in config.global_.settings for k in _SETTINGS):
        return
    try:
        result = config_plan(config)
    except LayoutError as exc:
        config.diag.alert(str(exc))
        return
    for text in result.diag:
        config.diag.diag(text)
    if dump:
        sys.stdout.write(render(result))
        sys.stdout.flush()


@hookimpl
def hapx_workers(config: Config) -> list[frozenset[int]] | None:
    """One worker per thread when ``nbthread`` is set (until the state HAProxy's threads
    share is shared by hapx's workers, several workers are asked for explicitly), else one;
    each bound to its thread's CPUs, on the live machine's topology only."""
    try:
        result = config_plan(config)
    except LayoutError:
        return None
    count = result.nbthread if config.global_.settings.get("nbthread") else 1
    live = os.path.realpath(default_root()) == DEFAULT_ROOT
    bindings = list(result.bindings[:count]) if live else []
    return bindings + [frozenset()] * (count - len(bindings))
