"""Helpers shared by the HTTP actions: evaluation points, format strings, argument checks
and the message a rule works on."""

from __future__ import annotations

import re
from typing import Any

from hapx.core.config.model import Proxy
from hapx.core.records import ActionRule, ActResult, Point, RuleSet
from hapx.core.rules import UnexpectedWord
from hapx.core.stream import HttpMessage

REQ_SETS = frozenset({RuleSet.HTTP_REQ})
RES_SETS = frozenset({RuleSet.HTTP_RES, RuleSet.HTTP_AFTER_RES})
ALL_SETS = REQ_SETS | RES_SETS
REQ_RES = frozenset({RuleSet.HTTP_REQ, RuleSet.HTTP_RES})


def rule_point(proxy: Proxy, ruleset: RuleSet) -> Point:
    """Where the samples of a rule of ``ruleset`` written in ``proxy`` are evaluated."""
    if ruleset == RuleSet.HTTP_REQ:
        return proxy.point(Point.FE_HRQ_HDR, Point.BE_HRQ_HDR)
    return proxy.point(Point.FE_HRS_HDR, Point.BE_HRS_HDR)


def ruleset_of(ctx: Any) -> RuleSet:
    return getattr(ctx, "ruleset", RuleSet.HTTP_REQ)


def on_response(ctx: Any) -> bool:
    return ruleset_of(ctx) != RuleSet.HTTP_REQ


def compile_fmt(ctx: Any, text: str) -> Any:
    """A log-format string for a header value, a URI part or a body."""
    from hapx.core.sample.logformat import compile_logformat

    return compile_logformat(text, ctx, ctx.point, context="http")


def compile_regex(ctx: Any, text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ctx.error(f"failed to parse the regex : regex '{text}' is invalid "
                        f"(error={exc.msg}, erroffset={exc.pos})") from None


def exactly(ctx: Any, args: list[str], count: int, what: str = "") -> None:
    """HAProxy's "expects exactly N argument(s) <what>" check on the whole argument list."""
    if len(args) != count:
        plural = "s" if count != 1 else ""
        raise ctx.error(f"expects exactly {count} argument{plural}{' ' + what if what else ''}")


def at_least(ctx: Any, args: list[str], count: int, what: str = "") -> None:
    """Require ``count`` arguments, then refuse any extra word as a misplaced condition."""
    if len(args) < count:
        plural = "s" if count != 1 else ""
        raise ctx.error(f"expects exactly {count} argument{plural}{' ' + what if what else ''}")
    if len(args) > count:
        raise UnexpectedWord(args[count])


def no_args(args: list[str]) -> None:
    if args:
        raise UnexpectedWord(args[0])


def message(strm: Any, response: bool) -> HttpMessage | None:
    """The message a rule works on: the response for http-response rules."""
    return strm.res if response else strm.req


class Simple(ActionRule):
    """An action made of a callable ``fn(strm) -> ActResult``."""

    def __init__(self, fn: Any, final: bool = False) -> None:
        self.fn = fn
        self.final = final

    def run(self, strm: Any) -> ActResult:
        return self.fn(strm)


def strict_failure(strm: Any) -> ActResult:
    """A rewrite failed: count it and, in strict mode (the default), answer an error."""
    strm.counters["failed_rewrites"] = strm.counters.get("failed_rewrites", 0) + 1
    if strm.ext.get("http_strict_mode", True):
        return ActResult.ERROR
    return ActResult.CONT
