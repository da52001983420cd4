"""ACLs: a sample expression, a match method and patterns.

``acl <name> <criterion> [flags] [operator] [<pattern>...]``: the criterion is a sample
expression or an ACL keyword (a fetch with an implied match method, ``path_beg``).  Each
ACL expression answers MATCH, NOMATCH or MISS (the sample may still change: the rule should
wait).  Declaring the same name again adds alternatives, OR-ed in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from ..errors import ConfigError
from ..records import Point, SmpType, Use
from .expr import SampleExpr, compile_expr
from .match import (
    INT_METHODS,
    METHODS,
    NO_PATTERN,
    Matcher,
    RefMatcher,
    default_method,
    method_accepts,
    parse_int_value,
)
from .patterns import PatternRef
from .types import F_MAY_CHANGE
from .usage import available_points

ACL_NAME = re.compile(r"[A-Za-z0-9_.:-]+\Z")
_OPERATORS = ("eq", "ge", "gt", "le", "lt")


class AclResult(IntEnum):
    NOMATCH = 0
    MATCH = 1
    MISS = 2


def acl_not(res: AclResult) -> AclResult:
    """Negation keeps MISS."""
    if res == AclResult.MISS:
        return res
    return AclResult.NOMATCH if res == AclResult.MATCH else AclResult.MATCH


class AclExpr:
    """One compiled ``<criterion> [flags] [patterns]``."""

    def __init__(self, kw: str, expr: SampleExpr, method: str, matchers: list[Matcher],
                 inline: PatternRef | None, text: str) -> None:
        self.kw = kw
        self.expr = expr
        self.method = method
        self.matchers = matchers
        self.inline = inline
        self.text = text
        self.uses: Use = expr.uses
        self._eval_all = expr.eval_all
        if method == "found":
            self._test = _always
        elif len(matchers) == 1:
            self._test = matchers[0].match
        else:
            ms = tuple(m.match for m in matchers)
            self._test = lambda smp: any(m(smp) for m in ms)

    @property
    def points(self) -> Point:
        return available_points(self.uses)

    def tester(self) -> Callable[[Any], bool | None]:
        """A function ``strm -> True (MATCH) / False (NOMATCH) / None (MISS)`` with the
        same result as :meth:`exec`, without the result enum; a single-valued fetch is
        tested without building the list of its values."""
        test = self._test
        if self.expr.fetch.values is not None:
            eval_all = self._eval_all

            def test_all(strm: Any) -> bool | None:
                may_change = False
                for smp in eval_all(strm):
                    if test(smp):
                        return True
                    may_change = bool(smp.flags & F_MAY_CHANGE)
                return None if may_change else False
            return test_all
        ev = self.expr.eval
        if (self.method != "found" and len(self.matchers) == 1
                and isinstance(self.matchers[0], RefMatcher)):
            # the pattern list's compiled matcher, read at each call (runtime changes swap
            # it): its own match method, without RefMatcher.match's frame
            ref = self.matchers[0]

            def test_matcher(strm: Any) -> bool | None:
                smp = ev(strm)
                if smp is None:
                    return False
                if ref._match(smp):
                    return True
                return None if smp.flags & F_MAY_CHANGE else False
            return test_matcher

        def test_one(strm: Any) -> bool | None:
            smp = ev(strm)
            if smp is None:
                return False
            if test(smp):
                return True
            return None if smp.flags & F_MAY_CHANGE else False
        return test_one

    def exec(self, strm: Any) -> AclResult:
        """Try each value of the sample until one matches."""
        may_change = False
        test = self._test
        for smp in self._eval_all(strm):
            if test(smp):
                return AclResult.MATCH
            may_change = bool(smp.flags & F_MAY_CHANGE)
        return AclResult.MISS if may_change else AclResult.NOMATCH

    def __repr__(self) -> str:
        return f"AclExpr({self.text!r}, -m {self.method})"


def _always(_smp: Any) -> bool:
    return True


class Acl:
    """A named ACL: its alternatives, tried in order."""

    def __init__(self, name: str, exprs: list[AclExpr] | None = None, *,
                 file: str = "", line: int = 0) -> None:
        self.name = name
        self.exprs: list[AclExpr] = exprs or []
        self.file = file
        self.line = line

    @property
    def uses(self) -> Use:
        out = Use(0)
        for e in self.exprs:
            out |= e.uses
        return out

    @property
    def points(self) -> Point:
        out = Point(0)
        for e in self.exprs:
            out |= e.points
        return out

    def exec(self, strm: Any) -> AclResult:
        res = AclResult.NOMATCH
        for e in self.exprs:
            r = e.exec(strm)
            if r == AclResult.MATCH:
                return r
            if r == AclResult.MISS:
                res = r
        return res

    def __repr__(self) -> str:
        return f"Acl({self.name!r}, {len(self.exprs)} expression(s))"


# -- parsing -------------------------------------------------------------------------------------

def _kw_name(criterion: str) -> str:
    m = re.match(r"[^(,]*", criterion)
    return m.group(0) if m else criterion


def _int_operator_pattern(op: str, word: str) -> str:
    """``gt 5`` -> ``6:``; a range or a negative number is kept as written."""
    if op == "eq" or ":" in word or "-" in word:
        return word
    try:
        n = parse_int_value(word)
    except ValueError:
        raise ConfigError(f"'{word}' is neither a number nor a supported operator") from None
    return {"ge": f"{n}:", "gt": f"{n + 1}:", "le": f":{n}", "lt": f":{n - 1}"}[op]


def _matcher(ref: PatternRef, method: str, icase: bool, resolve: bool, where: str
             ) -> RefMatcher:
    try:
        return RefMatcher(ref, method, icase=icase, resolve=resolve, use_values=False)
    except ValueError as exc:
        raise ConfigError(f"{exc}{where}") from None


def parse_acl_expr(words: list[str], ctx: Any, point: Point | None = None) -> AclExpr:
    """Compile the words of an ACL after its name.  The sample expression is compiled
    without a point: whether it can match where it is used is checked (with a warning) by
    the condition using it."""
    if not words or not words[0]:
        raise ConfigError(f"missing fetch method in ACL expression '{words[0] if words else ''}'")
    criterion = words[0]
    kw = _kw_name(criterion)
    akw = ctx.registry.acl_keyword(kw)
    method: str | None = None
    if akw is not None:
        expr = compile_expr(akw.fetch + criterion[len(kw):], ctx, None)
        method = akw.match
    else:
        expr = compile_expr(criterion, ctx, None)
        method = default_method(expr.out_type)

    store = ctx.config.patterns
    icase = False
    resolve = True
    unique_id = -1
    files: list[tuple[PatternRef, bool, bool]] = []
    no_warning = False
    as_map = False
    i = 1
    while i < len(words) and words[i].startswith("-"):
        flag = words[i]
        if flag == "--":
            i += 1
            no_warning = True
            break
        if flag == "-i":
            icase = True
        elif flag == "-n":
            resolve = False
        elif flag == "-u":
            if i + 1 >= len(words) or not words[i + 1].isdigit():
                raise ConfigError("the argument of '-u' must be a positive integer")
            unique_id = int(words[i + 1])
            i += 1
        elif flag == "-M":
            as_map = True
        elif flag == "-f":
            if i + 1 >= len(words):
                raise ConfigError("missing pattern file name after '-f'")
            if method is None:
                raise ConfigError("matching method must be specified first (using '-m') when "
                                  f"using a sample fetch of this type ('{kw}')")
            ref = store.load(words[i + 1], ctx, kind="map" if as_map else "acl")
            files.append((ref, icase, resolve))
            i += 1
        elif flag == "-m":
            if files:
                raise ConfigError("'-m' must only be specified before patterns and files in "
                                  "parsing ACL expression")
            name = words[i + 1] if i + 1 < len(words) else ""
            if name not in METHODS:
                raise ConfigError(f"unknown matching method '{name}' when parsing ACL "
                                  "expression")
            if name != "found" and not method_accepts(name, expr.out_type):
                raise ConfigError(f"matching method '{name}' cannot be used with fetch "
                                  f"keyword '{kw}'")
            method = name
            i += 1
        else:
            raise ConfigError(f"'{flag}' is not a valid ACL option. Please use '--' before "
                              "any pattern beginning with a '-'")
        i += 1

    patterns = words[i:]
    if patterns and method is None:
        raise ConfigError("matching method must be specified first (using '-m') when using a "
                          f"sample fetch of this type ('{kw}')")
    if method is None:
        method = "bin"
    if method in NO_PATTERN:
        patterns = []
    elif method in INT_METHODS:
        op = "eq"
        converted = []
        for word in patterns:
            if word in _OPERATORS:
                op = word
                continue
            converted.append(_int_operator_pattern(op, word))
        patterns = converted

    display = f"acl '{kw}' file '{ctx.file}' line {ctx.line}"
    inline = store.new_inline(display, "acl", unique_id)
    inline.add_many([(p, None) for p in patterns])
    matchers: list[Matcher] = [_matcher(inline, method, icase, resolve, "")]
    for ref, f_icase, f_resolve in files:
        matchers.append(_matcher(ref, method, f_icase, f_resolve,
                                 f" in pattern file '{ref.path or ref.name}'"))

    if (not patterns and not files and not no_warning and method not in NO_PATTERN
            and expr.out_type != SmpType.BOOL and hasattr(ctx, "warning")):
        ctx.warning(
            f"parsing acl keyword '{kw}' :\n"
            "  no pattern to match against were provided, so this ACL will never match.\n"
            "  If this is what you intended, please add '--' to get rid of this warning.\n"
            "  If you intended to match only for existence, please use '-m found'.\n"
            "  If you wanted to force an int to match as a bool, please use '-m bool'.\n")
    return AclExpr(kw, expr, method, matchers, inline, " ".join(words))


def check_acl_name(name: str) -> None:
    if not name:
        raise ConfigError("'acl' expects an ACL name and a criterion.")
    if not ACL_NAME.match(name):
        bad = next(c for c in name if not ACL_NAME.match(c))
        raise ConfigError(f"character '{bad}' is not permitted in acl name '{name}'.")
    if name.lower() == "or":
        raise ConfigError(f"acl name '{name}' will never match. 'or' is used to express a "
                          "logical disjunction within a condition.")


def declare_acl(proxy: Any, name: str, words: list[str], ctx: Any) -> None:
    """The body of the ``acl`` directive: add an alternative to ACL ``name`` of ``proxy``."""
    if proxy.kind == "defaults" and not proxy.name:
        raise ConfigError("'acl' not allowed in anonymous 'defaults' section.")
    check_acl_name(name)
    try:
        expr = parse_acl_expr(words, ctx, None)
    except ConfigError as exc:
        raise ConfigError(f"error detected while parsing ACL '{name}' : {exc.message}.",
                          file=exc.file, line=exc.line) from None
    acl = proxy.acls.get(name)
    if acl is None:
        acl = proxy.acls[name] = Acl(name, file=ctx.file, line=ctx.line)
    acl.exprs.append(expr)
