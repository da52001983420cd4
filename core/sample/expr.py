"""Sample expressions: ``fetch[(args)][,conv[(args)]]*`` compiled into closures.

Compilation looks the fetch and converters up in the registry, converts and validates their
arguments, checks the evaluation point and the type chain (inserting casts), and returns a
:class:`SampleExpr` whose ``eval`` only calls the records' callables.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..errors import ConfigError, did_you_mean
from ..records import Converter, Fetch, Point, SmpType, Use
from .args import convert_args, find_closing, split_args
from .cast import accepted, can_cast, caster
from .types import Sample
from .usage import check_use

#: characters of fetch and converter names (HAProxy's is_idchar)
_IDCHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+$")

#: one converter step: types needing no cast, the cast, the converter and its arguments
Step = tuple[tuple[SmpType, ...], Callable[[Sample], Sample | None], Callable[..., Any], Any]


class SampleExpr:
    """A compiled expression.  ``eval(strm)`` returns a Sample or None (no sample);
    ``eval_all(strm)`` returns every value of a multi-valued fetch, converted."""

    __slots__ = ("text", "out_type", "uses", "fetch", "fetch_args", "converters", "eval",
                 "eval_all")

    def __init__(self, text: str, out_type: SmpType, uses: Use, fetch: Fetch,
                 fetch_args: list[Any], converters: list[tuple[Converter, list[Any]]],
                 steps: tuple[Step, ...]) -> None:
        self.text = text
        self.out_type = out_type
        self.uses = uses
        self.fetch = fetch
        self.fetch_args = fetch_args
        self.converters = converters
        self.eval, self.eval_all = _build(fetch, fetch_args, steps)

    def __repr__(self) -> str:
        return f"SampleExpr({self.text!r})"


def _build(fetch: Fetch, fargs: Any, steps: tuple[Step, ...]
           ) -> tuple[Callable[[Any], Sample | None], Callable[[Any], list[Sample]]]:
    fproc = fetch.process

    def run_chain(smp: Sample | None, strm: Any) -> Sample | None:
        for ok, do_cast, proc, cargs in steps:
            if smp is None:
                return None
            if smp.type not in ok:
                smp = do_cast(smp)
                if smp is None:
                    return None
            smp = proc(cargs, smp, strm)
        return smp

    if not steps:
        # the fetch itself, its arguments bound: no Python frame of ours in between
        eval_expr = partial(fproc, fargs)
    elif len(steps) == 1:
        ok1, cast1, proc1, cargs1 = steps[0]

        def eval_expr(strm: Any) -> Sample | None:
            smp = fproc(fargs, strm)
            if smp is None:
                return None
            if smp.type not in ok1:
                smp = cast1(smp)
                if smp is None:
                    return None
            return proc1(cargs1, smp, strm)
    else:
        def eval_expr(strm: Any) -> Sample | None:
            return run_chain(fproc(fargs, strm), strm)

    fvalues = fetch.values
    if fvalues is None:
        def eval_all(strm: Any) -> list[Sample]:
            smp = eval_expr(strm)
            return [] if smp is None else [smp]
    else:
        def eval_all(strm: Any) -> list[Sample]:
            out = []
            for smp in fvalues(fargs, strm):
                res = run_chain(smp, strm)
                if res is not None:
                    out.append(res)
            return out

    return eval_expr, eval_all


# -- parsing -----------------------------------------------------------------------------------

def _error(ctx: Any, msg: str) -> ConfigError:
    if ctx is not None and hasattr(ctx, "error"):
        return ctx.error(msg)
    return ConfigError(msg)


def _scan_term(text: str, pos: int, ctx: Any, what: str
               ) -> tuple[str, str | None, int]:
    """Read ``name[(args)]`` at ``pos``: the name, the raw argument text (None without
    parentheses) and the position after the term."""
    end = pos
    n = len(text)
    while end < n and text[end] in _IDCHARS:
        end += 1
    name = text[pos:end]
    if end < n and text[end] == "(":
        close = find_closing(text, end + 1)
        if close < 0:
            prefix = f"invalid arg 1 in {what}" if what == "converter" else what
            raise _error(ctx, f"{prefix} '{name}' : expected ')' before '{text[end + 1:]}'")
        return name, text[end + 1:close], close + 1
    return name, None, end


def _validate(rec: Fetch | Converter, args: list[Any], ctx: Any, desc: str) -> list[Any]:
    if rec.validate is None:
        return args
    try:
        res = rec.validate(args, ctx)
    except ConfigError as exc:
        raise _error(ctx, f"invalid args in {desc} : {exc.message}") from None
    except ValueError as exc:
        raise _error(ctx, f"invalid args in {desc} : {exc}") from None
    return args if res is None else res


def _mark_inactive(ctx: Any, rec: Fetch | Converter) -> None:
    if not rec.active and ctx is not None and hasattr(ctx, "mark_inactive"):
        ctx.mark_inactive(rec.name, rec.kind, rec.owner)


def parse_expr(text: str, pos: int, ctx: Any, point: Point | None = None, *,
               want: SmpType | None = None) -> tuple[SampleExpr, int]:
    """Compile the expression starting at ``text[pos]``; it ends at the first character
    that cannot continue it.  Returns the expression and that position."""
    registry = ctx.registry
    fname, fraw, end = _scan_term(text, pos, ctx, "fetch method")
    if not fname:
        raise _error(ctx, "missing fetch method")
    fetch = registry.fetch(fname)
    if fetch is None:
        names = registry.names(Fetch)
        raise _error(ctx, f"unknown fetch method '{fname}'{did_you_mean(fname, names)}")
    fdesc = f"fetch method '{fname}'"
    fargs = convert_args(fetch.args, split_args(fraw) if fraw else [], ctx, fdesc)
    fargs = _validate(fetch, fargs, ctx, fdesc)
    problem = check_use(fetch.uses, point)
    if problem:
        raise _error(ctx, f"{fdesc} {problem}")
    _mark_inactive(ctx, fetch)

    cur = fetch.out_type
    steps: list[Step] = []
    convs: list[tuple[Converter, list[Any]]] = []
    while end < len(text) and text[end] == ",":
        cname, craw, end = _scan_term(text, end + 1, ctx, "converter")
        conv = registry.converter(cname)
        if conv is None:
            hint = did_you_mean(cname, registry.names(Converter)) if cname else ""
            raise _error(ctx, f"unknown converter '{cname}'{hint}")
        cdesc = f"converter '{cname}'"
        cargs = convert_args(conv.args, split_args(craw) if craw else [], ctx, cdesc)
        cargs = _validate(conv, cargs, ctx, cdesc)
        if not can_cast(cur, conv.in_type):
            raise _error(ctx, f"{cdesc} cannot be applied")
        _mark_inactive(ctx, conv)
        after_cast = cur if conv.in_type == SmpType.ANY else conv.in_type
        steps.append((accepted(conv.in_type), caster(conv.in_type), conv.process, cargs))
        convs.append((conv, cargs))
        cur = after_cast if conv.out_type == SmpType.SAME else conv.out_type

    if want is not None and want not in (SmpType.ANY, SmpType.SAME):
        if not can_cast(cur, want):
            raise _error(ctx, f"sample expression '{text[pos:end]}' returns type "
                              f"'{cur.label}' which cannot be converted to '{want.label}'")
        steps.append((accepted(want), caster(want), _identity, None))
        cur = want
    expr = SampleExpr(text[pos:end], cur, fetch.uses, fetch, fargs, convs, tuple(steps))
    return expr, end


def _identity(_args: Any, smp: Sample, _strm: Any) -> Sample:
    return smp


def compile_expr(text: str, ctx: Any, point: Point | None = None, *,
                 want: SmpType | None = None) -> SampleExpr:
    """Compile a whole expression (raises ConfigError).  ``point`` restricts the fetches
    usable; ``want`` casts the result (checked now, applied at run time)."""
    expr, end = parse_expr(text, 0, ctx, point, want=want)
    if end != len(text):
        last = expr.converters[-1][0].name if expr.converters else None
        if last is not None:
            raise _error(ctx, f"missing comma after converter '{last}'")
        raise _error(ctx, f"missing comma after fetch keyword '{expr.fetch.name}'")
    return expr
