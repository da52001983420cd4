"""Plugin sections (``cache <name>``, ``userlist <name>``...) and declarative directives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hapx.core.config.model import PROXY_NAME
from hapx.core.records import Directive, Section

from .options import parse_positional
from .values import Validator


@dataclass
class NamedSection:
    """What a plugin section's directives receive as ``ctx.section``."""

    kind: str
    name: str
    file: str = ""
    line: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    entries: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.kind} '{self.name}'" if self.name else f"{self.kind} section"


def section_header(kind: str, *, name: str = "required", default_name: str = "",
                   unique: bool = True, extra: Callable[[Any, NamedSection, list[str]], None]
                   | None = None) -> Callable[[Any, list[str]], NamedSection]:
    """A ``parse_header`` for ``<kind> <name>`` sections.  ``name`` is ``required``,
    ``optional`` or ``none``; sections of one kind are kept in ``config.sections[kind]``;
    with ``unique`` two of them with one name are an error.  ``extra`` parses the words after
    the name."""
    def header(ctx: Any, args: list[str]) -> NamedSection:
        words = list(args)
        sname = default_name
        if name != "none" and words:
            sname = words.pop(0)
            if not PROXY_NAME.match(sname):
                bad = next(c for c in sname if not PROXY_NAME.match(c))
                raise ctx.error(f"character '{bad}' is not permitted in '{kind}' name "
                                f"'{sname}'.")
        elif name == "required":
            raise ctx.error(f"missing name for {kind} section.")
        if words and extra is None:
            raise ctx.error(f"'{kind}' takes {'no argument' if name == 'none' else 'only a name'}"
                            f" (got '{words[0]}').")
        table = ctx.config.sections.setdefault(kind, {})
        prev = table.get(sname)
        if prev is not None and unique:
            raise ctx.error(f"{kind} section '{sname}' has the same name as another {kind} "
                            f"section declared at {prev.file}:{prev.line}.")
        sec = prev if prev is not None else NamedSection(kind, sname, ctx.file, ctx.line)
        if extra is not None:
            extra(ctx, sec, words)
        table[sname] = sec
        return sec
    return header


def declare_section(kind: str, doc: str, *, name: str = "required", active: bool = False,
                    unique: bool = True, default_name: str = "",
                    post: Callable[[Any, Any], None] | None = None,
                    extra: Callable[[Any, NamedSection, list[str]], None] | None = None
                    ) -> Section:
    """The Section record of a simple named plugin section."""
    return Section(kind, parse_header=section_header(kind, name=name, unique=unique,
                                                     default_name=default_name, extra=extra),
                   post_section=post, doc=doc, active=active)


def _store(ctx: Any, key: str, value: Any, multi: bool) -> None:
    target = ctx.section.settings
    if multi:
        target.setdefault(key, []).append(value)
    else:
        target[key] = value


def simple_directive(name: str, sections: frozenset[str] | set[str], doc: str,
                     validators: Sequence[Validator] = (), *, minimum: int | None = None,
                     rest: Validator | None = None, multi: bool = False, active: bool = False,
                     negatable: bool = False, key: str | None = None,
                     check: Callable[[Any, list[Any]], Any] | None = None) -> Directive:
    """A directive whose positional arguments are checked by ``validators`` (``minimum`` of
    them mandatory, default all), any further words each by ``rest`` (when given).  The
    values are stored in ``ctx.section.settings[key or name]`` (a list of value lists when
    ``multi``); ``check(ctx, values)`` may verify more and return what to store."""
    usage = doc.strip().splitlines()[0] if doc.strip() else name

    def parse(ctx: Any, args: list[str]) -> None:
        head = args[:len(validators)] if rest is not None else args
        values = parse_positional(ctx, head, validators, minimum, usage)
        if rest is not None:
            for word in args[len(validators):]:
                try:
                    values.append(rest(word))
                except ValueError as exc:
                    raise ctx.error(f"'{ctx.keyword}' : {exc}") from None
        if ctx.prefix == "no":
            values = [False]
        stored: Any = values
        if check is not None:
            stored = check(ctx, values)
        elif len(values) == 1:
            stored = values[0]
        elif not values:
            stored = True
        _store(ctx, key or name, stored, multi)

    return Directive(name, sections=frozenset(sections), parse=parse, doc=doc, active=active,
                     negatable=negatable, usage=usage)
