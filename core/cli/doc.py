"""``hapx doc [<kind> [<name>]]``: tables and pages built from the plugins' records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from rich.table import Table

from ..errors import did_you_mean
from ..records import (
    ALL_POINTS,
    AclKeyword,
    Action,
    Balancer,
    CliCommand,
    Codec,
    Converter,
    Directive,
    Feature,
    Fetch,
    Filter,
    LogAlias,
    Point,
    PredefinedAcl,
    Record,
    Section,
    Service,
    SmpType,
    Subcommand,
)
from .console import make_console
from .keywords import POINT_LABELS, args_signature, usable_points

#: kind word on the command line -> record classes
KINDS: dict[str, tuple[type[Record], ...]] = {
    "fetches": (Fetch,),
    "converters": (Converter,),
    "actions": (Action,),
    "directives": (Directive,),
    "sections": (Section,),
    "balance": (Balancer,),
    "filters": (Filter,),
    "services": (Service,),
    "commands": (CliCommand,),
    "aliases": (LogAlias,),
    "acls": (AclKeyword, PredefinedAcl),
    "features": (Feature,),
    "codecs": (Codec,),
    "subcommands": (Subcommand,),
}

ALIASES = {
    "fetch": "fetches", "converter": "converters", "action": "actions",
    "directive": "directives", "keywords": "directives", "section": "sections",
    "balancers": "balance", "balancer": "balance", "algorithms": "balance",
    "filter": "filters", "service": "services", "command": "commands", "cli": "commands",
    "alias": "aliases", "acl": "acls", "feature": "features", "codec": "codecs",
    "subcommand": "subcommands",
}

#: where a fetch may be used, grouped the way rules are written
USE_GROUPS: tuple[tuple[str, Point], ...] = (
    ("tcp-request connection", Point.FE_CON_ACC),
    ("tcp-request session", Point.FE_SES_ACC),
    ("tcp-request content", Point.FE_REQ_CNT | Point.BE_REQ_CNT),
    ("http-request", Point.FE_HRQ_HDR | Point.BE_HRQ_HDR),
    ("backend/server choice", Point.FE_SET_BCK | Point.BE_SET_SRV),
    ("tcp-response", Point.FE_RES_CNT | Point.BE_RES_CNT),
    ("http-response", Point.FE_HRS_HDR | Point.BE_HRS_HDR),
    ("logs", Point.FE_LOG_END),
    ("configuration", Point.CFG_PARSER),
)


def resolve_kind(word: str) -> str | None:
    word = word.lower()
    return word if word in KINDS else ALIASES.get(word)


def where_usable(fetch: Fetch) -> str:
    matrix = usable_points(fetch)
    ok = Point(0)
    for point, usable in zip(POINT_LABELS, matrix, strict=True):
        if usable:
            ok |= point
    if ok == ALL_POINTS:
        return "anywhere"
    return ", ".join(name for name, pts in USE_GROUPS if ok & pts) or "nowhere"


def _status(rec: Record) -> str:
    return "active" if rec.active else "not yet active"


def _type_name(t: SmpType) -> str:
    return t.label


def _details(rec: Record) -> list[tuple[str, str]]:
    """Type information shown in tables and pages, by record class."""
    if isinstance(rec, Fetch):
        return [("output", _type_name(rec.out_type)), ("usable in", where_usable(rec))]
    if isinstance(rec, Converter):
        out_t = rec.in_type if rec.out_type == SmpType.SAME else rec.out_type
        return [("types", f"{_type_name(rec.in_type)} -> {_type_name(out_t)}")]
    if isinstance(rec, Action):
        return [("rule sets", ", ".join(sorted(r.value for r in rec.rulesets)))]
    if isinstance(rec, Directive):
        return [("sections", ", ".join(sorted(rec.sections)))]
    if isinstance(rec, Service):
        return [("modes", ", ".join(sorted(rec.modes)))]
    if isinstance(rec, CliCommand):
        return [("level", rec.level)]
    if isinstance(rec, AclKeyword):
        return [("means", f"{rec.fetch} -m {rec.match}")]
    if isinstance(rec, PredefinedAcl):
        return [("means", " ".join(rec.criterion))]
    if isinstance(rec, LogAlias):
        return [("means", rec.fetch or "rendered by the plugin")]
    if isinstance(rec, Feature):
        return [("enabled", "yes" if rec.enabled else "no")]
    return []


def _synopsis(rec: Record) -> str:
    if rec.summary:
        return rec.summary
    if isinstance(rec, Fetch | Converter):
        return rec.name + args_signature(rec.args)
    return rec.name


def records_of(registry: Any, kind: str) -> list[Record]:
    recs: list[Record] = []
    for cls in KINDS[kind]:
        recs.extend(registry.all(cls))
    return sorted(recs, key=lambda r: (r.name, r.owner))


def show_summary(registry: Any, out: TextIO) -> None:
    table = Table(title="hapx doc: what the plugins registered", title_justify="left")
    table.add_column("Kind")
    table.add_column("Count", justify="right")
    table.add_column("Not yet active", justify="right")
    table.add_column("Command")
    for kind in KINDS:
        recs = records_of(registry, kind)
        table.add_row(kind, str(len(recs)), str(sum(1 for r in recs if not r.active)),
                      f"hapx doc {kind} [NAME]")
    make_console(out).print(table)


def show_table(registry: Any, kind: str, out: TextIO) -> None:
    recs = records_of(registry, kind)
    table = Table(title=f"hapx doc {kind} ({len(recs)})", title_justify="left")
    table.add_column("Name", no_wrap=True)
    table.add_column("Synopsis", overflow="fold")
    extra = [label for label, _ in _details(recs[0])] if recs else []
    for label in extra:
        table.add_column(label.capitalize(), overflow="fold")
    table.add_column("Plugin", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    for rec in recs:
        details = [v for _, v in _details(rec)]
        table.add_row(rec.name, _synopsis(rec), *details, rec.owner, _status(rec))
    make_console(out).print(table)


def show_record(registry: Any, kind: str, name: str, out: TextIO, plugins: Any = None
                ) -> bool:
    recs = [r for r in records_of(registry, kind) if r.name == name]
    if not recs:
        return False
    for idx, rec in enumerate(recs):
        if idx:
            print("", file=out)
        owner = rec.owner
        info = plugins.infos.get(owner) if plugins is not None else None
        if info is not None and info.distribution:
            owner += f", {info.distribution} {info.version}".rstrip()
        print(f"{rec.kind} {rec.name}  (plugin {owner})", file=out)
        print(f"  status : {_status(rec)}", file=out)
        if isinstance(rec, Fetch | Converter) and rec.args:
            args = ", ".join(f"{a.name}: {a.type.value}" + (" (optional)" if a.optional else "")
                             for a in rec.args)
            print(f"  arguments : {args}", file=out)
        for label, value in _details(rec):
            print(f"  {label} : {value}", file=out)
        print("", file=out)
        doc = rec.doc.strip() or "(no documentation)"
        for line in doc.splitlines():
            print(f"  {line}".rstrip(), file=out)
    return True


def run_doc(registry: Any, kind: str | None, name: str | None, out: TextIO, err: TextIO,
            plugins: Any = None, warn: Callable[[str], None] | None = None) -> int:
    if kind is None:
        show_summary(registry, out)
        return 0
    resolved = resolve_kind(kind)
    if resolved is None:
        hint = did_you_mean(kind, list(KINDS) + list(ALIASES))
        print(f"hapx doc: unknown kind '{kind}'{hint}; one of: {', '.join(KINDS)}", file=err)
        return 1
    if name is None:
        show_table(registry, resolved, out)
        return 0
    if show_record(registry, resolved, name, out, plugins):
        return 0
    names = [r.name for r in records_of(registry, resolved)]
    what = " or ".join(cls.kind for cls in KINDS[resolved])
    print(f"hapx doc: no {what} named '{name}'{did_you_mean(name, names)}", file=err)
    return 1
