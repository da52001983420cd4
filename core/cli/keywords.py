"""``-dK<class>[,<class>...]``: the registered keywords by class, in haproxy's layout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from ..records import (
    AclKeyword,
    Arg,
    Balancer,
    CliCommand,
    Converter,
    Fetch,
    Filter,
    LogAlias,
    Point,
    RuleSet,
    Section,
    Service,
    SmpType,
)
from ..sample.usage import POINT_NAMES, check_use

#: the short type names haproxy prints in keyword dumps
SHORT_TYPES = {
    SmpType.ANY: "any", SmpType.BOOL: "bool", SmpType.SINT: "sint", SmpType.ADDR: "addr",
    SmpType.IPV4: "ipv4", SmpType.IPV6: "ipv6", SmpType.STR: "str", SmpType.BIN: "bin",
    SmpType.METH: "meth", SmpType.SAME: "same",
}

#: columns of the fetch usability matrix, in Point order (HAProxy's -dKsmp wording, except
#: that health checks are not only tcp-check rules here)
POINT_LABELS = {**POINT_NAMES, Point.BE_CHK_RUL: "backend tcp-check rule"}

#: class -> (description for 'help', what the header says)
CLASSES: dict[str, tuple[str, str]] = {
    "acl": ("ACL keywords", "ACL keywords"),
    "cfg": ("configuration keywords", "configuration keywords"),
    "cli": ("CLI keywords", "CLI keywords"),
    "cnv": ("sample converter keywords", "sample converter functions"),
    "flt": ("filter names", "filter names"),
    "smp": ("sample fetch functions", "sample fetch functions"),
    "svc": ("service names", "service names"),
    "act": ("actions, by rule set", "actions"),
    "bal": ("load-balancing algorithms", "load-balancing algorithms"),
    "log": ("log-format aliases", "log-format aliases"),
}

PROXY_SECTIONS = ("global", "defaults", "frontend", "backend", "listen")


def args_signature(args: tuple[Arg, ...]) -> str:
    """``(string[,integer])`` as haproxy prints argument lists; empty when there are none."""
    if not args:
        return ""
    out = ""
    opened = 0
    for idx, arg in enumerate(args):
        sep = "," if idx else ""
        if arg.optional and not opened:
            out += "[" + sep + arg.type.value
            opened = 1
        else:
            out += sep + arg.type.value
    return "(" + out + ("]" if opened else "") + ")"


def usable_points(fetch: Fetch) -> list[bool]:
    """For each evaluation point, whether the fetch may be used there."""
    return [check_use(fetch.uses, p) is None for p in POINT_LABELS]


def _dump_acl(reg: Any, out: TextIO) -> None:
    for rec in sorted(reg.all(AclKeyword), key=lambda r: r.name):
        print(f"{rec.name} = {rec.fetch} -m {rec.match}", file=out)


def _dump_cfg(reg: Any, out: TextIO) -> None:
    kinds = [k for k in PROXY_SECTIONS if reg.section(k) is not None]
    kinds += sorted(n for n in reg.names(Section) if n not in PROXY_SECTIONS)
    for kind in kinds:
        print(kind, file=out)
        for name in sorted({d.name for d in reg.directives_in(kind)}):
            print(f"\t{name}", file=out)


def _dump_cli(reg: Any, out: TextIO) -> None:
    for rec in sorted(reg.all(CliCommand), key=lambda r: r.name):
        print(f"{rec.name} [{rec.level.upper()}]", file=out)


def _dump_cnv(reg: Any, out: TextIO) -> None:
    for rec in sorted(reg.all(Converter), key=lambda r: r.name):
        out_type = rec.in_type if rec.out_type == SmpType.SAME else rec.out_type
        print(f"{rec.name}{args_signature(rec.args)}: {SHORT_TYPES[rec.in_type]} => "
              f"{SHORT_TYPES[out_type]}", file=out)


def _dump_flt(reg: Any, out: TextIO) -> None:
    for name in reg.names(Filter):
        print(name, file=out)


def _dump_smp(reg: Any, out: TextIO) -> None:
    fetches = sorted(reg.all(Fetch), key=lambda r: r.name)
    labels = list(POINT_LABELS.values())
    width = len(labels)
    for idx, label in enumerate(labels):
        pad = " " * (width + 1 - idx)
        print(f"#{pad}{'/ ' * idx}_.{'-' * (width - idx)} {label}", file=out)
    print("# " + "/ " * width, file=out)
    print("# " + "| " * width, file=out)
    for rec in fetches:
        matrix = usable_points(rec)
        cols = " ".join("Y" if ok else "." for ok in matrix)
        print(f"[ {cols} ] {rec.name}{args_signature(rec.args)}: {SHORT_TYPES[rec.out_type]}",
              file=out)


def _dump_svc(reg: Any, out: TextIO) -> None:
    for name in reg.names(Service):
        print(name, file=out)


def _dump_act(reg: Any, out: TextIO) -> None:
    for ruleset in RuleSet:
        names = sorted({a.name + ("(<param>)" if a.takes_param else "")
                        for a in reg.actions_for(ruleset)})
        if not names:
            continue
        print(ruleset.value, file=out)
        for name in names:
            print(f"\t{name}", file=out)


def _dump_bal(reg: Any, out: TextIO) -> None:
    for name in reg.names(Balancer):
        print(name, file=out)


def _dump_log(reg: Any, out: TextIO) -> None:
    for name in reg.names(LogAlias):
        print(f"%{name}", file=out)


_DUMPERS: dict[str, Callable[[Any, TextIO], None]] = {
    "acl": _dump_acl, "cfg": _dump_cfg, "cli": _dump_cli, "cnv": _dump_cnv,
    "flt": _dump_flt, "smp": _dump_smp, "svc": _dump_svc, "act": _dump_act,
    "bal": _dump_bal, "log": _dump_log,
}


def dump_keywords(spec: str, registry: Any, out: TextIO, warn: Callable[[str], None]) -> None:
    """Dump the classes named in ``spec`` (comma-separated; ``all``; ``help``)."""
    for cls in [c for c in spec.split(",") if c]:
        if cls == "help":
            print("# List of supported keyword classes:", file=out)
            print("all: list all keywords", file=out)
            for name, (desc, _header) in CLASSES.items():
                print(f"{name}: {desc}", file=out)
            continue
        wanted = list(CLASSES) if cls == "all" else [cls]
        if cls != "all" and cls not in CLASSES:
            warn(f"-dK: unknown keyword class '{cls}' (use 'help' for the list)")
            continue
        for name in wanted:
            print(f"# List of registered {CLASSES[name][1]}:", file=out)
            _DUMPERS[name](registry, out)
    out.flush()
