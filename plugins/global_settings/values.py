"""Argument checkers for global keywords: each returns the value to store in
``GlobalSettings.settings[keyword]`` or raises ``ctx.error`` with HAProxy's wording."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hapx.core.config.parser import ParseContext
from hapx.core.config.units import UnitError, parse_size, parse_time

Parser = Callable[[ParseContext, list[str]], Any]
_TIME_SUFFIX = re.compile(r"\d+(us|ms|s|m|h|d)?\Z")


def no_extra(ctx: ParseContext, args: list[str], allowed: int) -> None:
    if len(args) > allowed:
        raise ctx.error(f"'{ctx.keyword}' cannot handle unexpected argument '{args[allowed]}'.")


def flag(ctx: ParseContext, args: list[str]) -> bool:
    no_extra(ctx, args, 0)
    return ctx.prefix != "no"


def integer(lo: int | None = None, hi: int | None = None, msg: str = "") -> Parser:
    """An integer; ``msg`` (formatted with kw, lo, hi, arg) replaces the default message."""
    def parse(ctx: ParseContext, args: list[str]) -> int:
        no_extra(ctx, args, 1)
        text = args[0] if args else ""
        ok = bool(re.fullmatch(r"-?\d+", text))
        value = int(text) if ok else 0
        if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
            default = (f"'{ctx.keyword}' expects an integer argument." if lo is None and hi
                       is None else f"'{ctx.keyword}' expects a numeric value between {lo} "
                       f"and {hi}." if hi is not None else
                       f"'{ctx.keyword}' expects a positive integer argument.")
            raise ctx.error((msg or default).format(kw=ctx.keyword, lo=lo, hi=hi, arg=text))
        return value
    return parse


def size(lo: int = 0, hi: int | None = None) -> Parser:
    def parse(ctx: ParseContext, args: list[str]) -> int:
        no_extra(ctx, args, 1)
        try:
            value = parse_size(args[0] if args else "", ctx.keyword)
        except UnitError:
            value = -1
        if value < lo or (hi is not None and value > hi):
            limit = f" between {lo} and {hi}" if hi is not None else ""
            raise ctx.error(f"'{ctx.keyword}' expects a positive size value{limit} "
                            "(with an optional k, m or g suffix).")
        return value
    return parse


def time(unit: str = "ms", lo: int | None = None, hi: int | None = None) -> Parser:
    def parse(ctx: ParseContext, args: list[str]) -> int:
        no_extra(ctx, args, 1)
        if not args:
            raise ctx.error(f"'{ctx.keyword}' expects <time> as argument.")
        text = args[0]
        if not _TIME_SUFFIX.match(text):
            m = re.match(r"\d*", text)
            rest = text[m.end():] if m else text
            bad = rest[0] if rest else text[:1]
            raise ctx.error(f"unexpected character '{bad}' in argument to <{ctx.keyword}>.")
        try:
            value = parse_time(text, unit, keyword=ctx.keyword)
        except UnitError as exc:
            raise ctx.error(str(exc)) from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ctx.error(f"'{ctx.keyword}' expects a timer value between {lo} and {hi} ms.")
        return value
    return parse


def choice(words: tuple[str, ...], msg: str = "") -> Parser:
    def parse(ctx: ParseContext, args: list[str]) -> str:
        no_extra(ctx, args, 1)
        if not args or args[0] not in words:
            quoted = ", ".join(f"'{w}'" for w in words[:-1]) + f" or '{words[-1]}'"
            raise ctx.error((msg or "'{kw}' expects {quoted} as argument.").format(
                kw=ctx.keyword, quoted=quoted, arg=args[0] if args else ""))
        return args[0]
    return parse


def string(msg: str, *, join: bool = False) -> Parser:
    def parse(ctx: ParseContext, args: list[str]) -> str:
        if not args:
            raise ctx.error(msg.format(kw=ctx.keyword))
        if join:
            return " ".join(args)
        no_extra(ctx, args, 1)
        return args[0]
    return parse


def on_off(ctx: ParseContext, args: list[str]) -> bool:
    return choice(("on", "off"))(ctx, args) == "on"
