"""Conditions: ``if|unless <term> [<term>...] [|||or <term>...]``.

Juxtaposed terms are AND-ed, ``||``/``or`` separates OR-ed groups (AND binds tighter), ``!``
negates one term, ``{ ... }`` is an anonymous ACL.  ACL names are looked up in the proxy,
then among the predefined ACLs.  Evaluation is lazy, left to right; a MISS (data not
complete) makes the whole condition answer None so the rule can wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from ..records import Point, Use
from .acl import Acl, AclResult, acl_not, parse_acl_expr
from .usage import point_name

_MATCH = AclResult.MATCH
_NOMATCH = AclResult.NOMATCH
_MISS = AclResult.MISS


class Term:
    """One ACL of a condition, possibly negated."""

    __slots__ = ("acl", "neg")

    def __init__(self, acl: Acl, neg: bool = False) -> None:
        self.acl = acl
        self.neg = neg

    def exec(self, strm: Any) -> AclResult:
        res = self.acl.exec(strm)
        return acl_not(res) if self.neg else res

    def __repr__(self) -> str:
        return ("!" if self.neg else "") + (self.acl.name or "{anonymous}")


class Condition:
    """A compiled condition.  ``eval(strm)`` gives True/False, or None when an ACL could not
    decide yet (MISS)."""

    def __init__(self, text: str, suites: list[list[Term]], unless: bool = False) -> None:
        self.text = text
        self.suites = suites
        self.unless = unless
        # compiled on the first evaluation, once every ``acl`` line of the configuration
        # has been read (a later line with the same name adds to the ACL)
        self.eval = self._first_eval  # type: ignore[method-assign]

    @property
    def uses(self) -> Use:
        out = Use(0)
        for suite in self.suites:
            for term in suite:
                out |= term.acl.uses
        return out

    @property
    def acls(self) -> list[Acl]:
        return [t.acl for suite in self.suites for t in suite]

    def exec(self, strm: Any) -> AclResult:
        """The raw result, before ``unless`` is applied."""
        cond_res = _NOMATCH
        for suite in self.suites:
            suite_res = _MATCH
            for term in suite:
                suite_res = term.exec(strm)
                if suite_res != _MATCH:
                    break
            if suite_res == _MATCH:
                return _MATCH
            if suite_res == _MISS:
                cond_res = _MISS
        return cond_res

    def eval(self, strm: Any) -> bool | None:  # replaced per instance by compile()
        res = self.exec(strm)
        if res == _MISS:
            return None
        return (res == _MATCH) != self.unless

    def _first_eval(self, strm: Any) -> bool | None:
        self.eval = self.compile()  # type: ignore[method-assign]
        return self.eval(strm)

    def tester(self) -> Callable[[Any], bool | None]:
        """The compiled ``eval`` (compiled now when it was not yet): for callers that keep
        the function, once every ``acl`` line of the configuration has been read."""
        if self.eval == self._first_eval:
            self.eval = self.compile()  # type: ignore[method-assign]
        return self.eval

    def compile(self) -> Callable[[Any], bool | None]:
        """One function ``strm -> True/False/None`` with the result of :meth:`eval`: a
        condition of one ACL is that ACL's own test."""
        suites = [[_term_tester(t) for t in suite] for suite in self.suites]
        unless = self.unless
        if len(suites) == 1 and len(suites[0]) == 1:
            one = suites[0][0]
            if not unless:
                return one

            def eval_unless(strm: Any) -> bool | None:
                res = one(strm)
                return None if res is None else not res
            return eval_unless

        def eval_any(strm: Any) -> bool | None:
            miss = False
            for suite in suites:
                res: bool | None = True
                for test in suite:
                    res = test(strm)
                    if res is not True:
                        break
                if res is True:
                    return not unless
                if res is None:
                    miss = True
            return None if miss else unless
        return eval_any

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def _acl_tester(acl: Acl) -> Callable[[Any], bool | None]:
    """``strm -> True (MATCH) / False (NOMATCH) / None (MISS)`` for an ACL: its
    alternatives in order, the first match wins, a MISS is kept."""
    testers = [e.tester() for e in acl.exprs]
    if len(testers) == 1:
        return testers[0]

    def test_acl(strm: Any) -> bool | None:
        res: bool | None = False
        for test in testers:
            r = test(strm)
            if r:
                return True
            if r is None:
                res = None
        return res
    return test_acl


def _term_tester(term: Term) -> Callable[[Any], bool | None]:
    test = _acl_tester(term.acl)
    if not term.neg:
        return test

    def test_not(strm: Any) -> bool | None:
        res = test(strm)
        return None if res is None else not res
    return test_not


def split_condition(words: list[str]) -> tuple[list[str], list[str] | None]:
    """The words before the first ``if``/``unless`` and the condition words from it on."""
    for i, word in enumerate(words):
        if word in ("if", "unless"):
            return words[:i], words[i:]
    return list(words), None


def _predefined(name: str, ctx: Any) -> Acl | None:
    rec = ctx.registry.predefined_acl(name)
    if rec is None:
        return None
    acl = Acl(name, [parse_acl_expr(list(rec.criterion), ctx, None)])
    proxy = getattr(ctx, "proxy", None)
    if proxy is not None and hasattr(proxy, "acls"):
        proxy.acls[name] = acl  # later uses (and declarations) share it, as in HAProxy
    return acl


def _find_acl(name: str, ctx: Any) -> Acl:
    proxy = getattr(ctx, "proxy", None)
    acls = getattr(proxy, "acls", None) or {}
    acl = acls.get(name)
    if acl is None:
        acl = _predefined(name, ctx)
    if acl is None:
        raise ConfigError(f"no such ACL : '{name}'")
    return acl


def parse_terms(words: list[str], ctx: Any) -> list[list[Term]]:
    """The OR-ed groups of AND-ed terms of a condition (without its if/unless)."""
    suites: list[list[Term]] = []
    suite: list[Term] | None = None
    neg = False
    i = 0
    while i < len(words):
        word = words[i]
        while word.startswith("!"):
            neg = not neg
            word = word[1:]
        if not word:
            i += 1
            continue
        if word.lower() == "or" or word == "||":
            suite = None
            neg = False
            i += 1
            continue
        if word == "{":
            end = i + 1
            while end < len(words) and words[end] != "}":
                end += 1
            if end >= len(words):
                raise ConfigError("missing closing '}' in condition")
            acl = Acl("", [parse_acl_expr(words[i + 1:end], ctx, None)],
                      file=getattr(ctx, "file", ""), line=getattr(ctx, "line", 0))
            i = end
        else:
            acl = _find_acl(word, ctx)
        if suite is None:
            suite = []
            suites.append(suite)
        suite.append(Term(acl, neg))
        neg = False
        i += 1
    return suites


def conflict_warning(cond: Condition, point: Point, where: str | None = None) -> str | None:
    """HAProxy's warning for an ACL that can never (or not always) match at ``point``."""
    inside = f" in '{where}'" if where else ""
    pname = point_name(point)
    for acl in cond.acls:
        if not acl.points & point:
            if acl.name:
                return (f"acl '{acl.name}' will never match{inside} because it only involves "
                        f"keywords that are incompatible with '{pname}'")
            return (f"anonymous acl will never match{inside} because it uses keyword "
                    f"'{acl.exprs[0].kw}' which is incompatible with '{pname}'")
    for acl in cond.acls:
        for expr in acl.exprs:
            if not expr.points & point:
                if acl.name:
                    return (f"acl '{acl.name}' involves keyword '{expr.kw}' which is "
                            f"incompatible with '{pname}'")
                return (f"anonymous acl involves keyword '{expr.kw}' which is incompatible "
                        f"with '{pname}'")
    return None


def compile_condition(words: list[str], ctx: Any, point: Point | None, *,
                      where: str | None = None) -> Condition:
    """Compile ``if ...`` / ``unless ...``.  When ``point`` is given, a warning is emitted
    for ACLs that cannot match there (``where`` names the rule set in it)."""
    if not words or words[0] not in ("if", "unless"):
        raise ConfigError("a condition starts with 'if' or 'unless'")
    suites = parse_terms(words[1:], ctx)
    cond = Condition(" ".join(words), suites, unless=words[0] == "unless")
    if point is not None and hasattr(ctx, "warning"):
        msg = conflict_warning(cond, point, where)
        if msg:
            ctx.warning(msg)
    return cond
