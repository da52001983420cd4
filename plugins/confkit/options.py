"""Option tables: ``<keyword> [<value>...]`` words after a ``bind``/``server``/``load``
line, each keyword declared once with its value count, validator and documentation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hapx.core.errors import ConfigError, did_you_mean

from .values import Validator, v_str


@dataclass(frozen=True)
class Opt:
    """One option.  ``nargs`` values follow the keyword (0 for a flag, whose value is True);
    ``validator`` checks each value (one per value when a tuple).  ``multi`` options may be
    repeated and collect a list.  ``greedy`` takes a custom parser
    ``greedy(words, index) -> (value, next_index)`` for options with a variable number of
    values (``source <addr> [usesrc ...]``)."""

    name: str
    nargs: int = 0
    validator: Validator | tuple[Validator, ...] | None = None
    doc: str = ""
    multi: bool = False
    greedy: Callable[[list[str], int], tuple[Any, int]] | None = None

    def validators(self) -> tuple[Validator, ...]:
        if isinstance(self.validator, tuple):
            return self.validator
        return (self.validator or v_str,) * self.nargs

    @property
    def usage(self) -> str:
        first = self.doc.strip().splitlines()[0] if self.doc.strip() else self.name
        return first


class OptionTable:
    """A small registry of options (name -> :class:`Opt`) that other plugins may extend."""

    def __init__(self, what: str, *, owner: str = "", track_active: bool = False) -> None:
        self.what = what
        self.opts: dict[str, Opt] = {}
        #: with ``track_active``, using an option whose runtime is missing (not in
        #: ``active``) is recorded as a not-yet-active keyword (``server check``...)
        self.track_active = track_active
        self.owner = owner
        self.active: set[str] = set()

    def activate(self, *names: str) -> None:
        """Declare options whose runtime exists."""
        unknown = [n for n in names if n not in self.opts]
        if unknown:
            raise ValueError(f"unknown {self.what} option(s): {', '.join(unknown)}")
        self.active.update(names)

    def add(self, *opts: Opt) -> None:
        for opt in opts:
            if opt.name in self.opts:
                raise ValueError(f"{self.what} option '{opt.name}' is declared twice")
            self.opts[opt.name] = opt

    def get(self, name: str) -> Opt | None:
        return self.opts.get(name)

    def names(self) -> list[str]:
        return sorted(self.opts)

    def __contains__(self, name: str) -> bool:
        return name in self.opts

    def parse(self, ctx: Any, words: Sequence[str], label: str,
              allowed: Iterable[str] | None = None) -> dict[str, Any]:
        """Parse ``words`` into {option: value}.  ``label`` starts every message
        (``'bind :80' in section 'frontend'``); ``allowed`` restricts the usable names."""
        pool = set(allowed) if allowed is not None else None
        out: dict[str, Any] = {}
        i = 0
        words = list(words)
        while i < len(words):
            word = words[i]
            opt = self.opts.get(word)
            if opt is None or (pool is not None and word not in pool):
                names = pool if pool is not None else self.opts
                raise ctx.error(f"{label} : unknown keyword '{word}'"
                                f"{did_you_mean(word, names)}")
            if opt.greedy is not None:
                try:
                    value, i = opt.greedy(words, i + 1)
                except ValueError as exc:
                    raise ctx.error(f"{label} : '{word}' : {exc}") from None
            else:
                values = words[i + 1:i + 1 + opt.nargs]
                if len(values) < opt.nargs:
                    raise ctx.error(f"{label} : '{word}' : missing value")
                checked = []
                for val, check in zip(values, opt.validators(), strict=True):
                    try:
                        checked.append(check(val))
                    except ValueError as exc:
                        raise ctx.error(f"{label} : '{word}' : {exc}") from None
                value = True if opt.nargs == 0 else (checked[0] if opt.nargs == 1
                                                      else tuple(checked))
                i += 1 + opt.nargs
            if opt.multi:
                out.setdefault(word, []).append(value)
            else:
                out[word] = value
            if self.track_active and word not in self.active and hasattr(ctx, "mark_inactive"):
                ctx.mark_inactive(f"{self.what} {word}", "option", self.owner)
        return out

    def docs(self) -> str:
        """One line per option, for record documentation."""
        return "\n".join(f"  {o.usage}" for o in sorted(self.opts.values(),
                                                         key=lambda o: o.name))


def parse_positional(ctx: Any, args: Sequence[str], validators: Sequence[Validator],
                     minimum: int | None = None, usage: str = "") -> list[Any]:
    """Check a keyword's positional arguments: ``minimum`` (default: all) to
    ``len(validators)`` of them, each with its validator."""
    need = len(validators) if minimum is None else minimum
    if len(args) < need or len(args) > len(validators):
        hint = f" ({usage})" if usage else ""
        if need == len(validators):
            count = f"exactly {need} argument{'s' if need != 1 else ''}"
        elif len(args) < need:
            count = f"at least {need} argument{'s' if need != 1 else ''}"
        else:
            count = f"at most {len(validators)} argument{'s' if len(validators) != 1 else ''}"
        raise ctx.error(f"'{ctx.keyword}' expects {count}{hint}.")
    out = []
    for text, check in zip(args, validators, strict=False):
        try:
            out.append(check(text))
        except ValueError as exc:
            raise ctx.error(f"'{ctx.keyword}' : {exc}") from None
    return out


def error(message: str) -> ConfigError:
    """A ConfigError for helpers that have no context at hand."""
    return ConfigError(message)
