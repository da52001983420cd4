"""The set-var(), set-var-fmt() and unset-var() actions."""

from __future__ import annotations

from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Action, ActionRule, ActResult, RuleSet, SmpType
from hapx.core.rules import UnexpectedWord
from hapx.core.sample.expr import SampleExpr, compile_expr
from hapx.core.sample.logformat import LogFormat, compile_logformat
from hapx.core.sample.types import Sample
from hapx.core.sample.vars import VarRef, parse_var_name

from .store import Cond, parse_conds, store

RULESETS = frozenset({
    RuleSet.HTTP_REQ, RuleSet.HTTP_RES, RuleSet.HTTP_AFTER_RES, RuleSet.TCP_REQ_CONN,
    RuleSet.TCP_REQ_SESS, RuleSet.TCP_REQ_CONT, RuleSet.TCP_RES_CONT,
})
#: rule sets that run before any stream exists: only process and session variables
EARLY_RULESETS = frozenset({RuleSet.TCP_REQ_CONN, RuleSet.TCP_REQ_SESS})
EARLY_SCOPES = ("proc", "sess")


class SetVar(ActionRule):
    """``set-var(<name>[,<cond>...]) <expr>``: nothing is set when the expression fails."""

    def __init__(self, var: VarRef, expr: SampleExpr, conds: Cond) -> None:
        self.var = var
        self.expr = expr
        self.conds = conds
        if not conds:
            # no condition: store a copy of the value straight into the scope's dict
            self.run = _set_plain(var, expr.eval)  # type: ignore[method-assign]

    def run(self, strm: Any) -> ActResult:
        smp = self.expr.eval(strm)
        if smp is not None:
            store(self.var, strm, smp, self.conds)
        return ActResult.CONT


def _set_plain(var: VarRef, ev: Any) -> Any:
    scope_dict, name, cont = var.store_of, var.name, ActResult.CONT

    def run(strm: Any) -> ActResult:
        smp = ev(strm)
        if smp is not None:
            # a copy without the flags (samples are never changed once built)
            scope_dict(strm)[name] = Sample(smp.type, smp.value) if smp.flags else smp
        return cont
    return run


class SetVarFmt(ActionRule):
    """``set-var-fmt(<name>[,<cond>...]) <fmt>``: stores the rendered string."""

    def __init__(self, var: VarRef, fmt: LogFormat, conds: Cond) -> None:
        self.var = var
        self.fmt = fmt
        self.conds = conds

    def run(self, strm: Any) -> ActResult:
        store(self.var, strm, Sample(SmpType.STR, self.fmt.render(strm)), self.conds)
        return ActResult.CONT


class UnsetVar(ActionRule):
    """``unset-var(<name>)``."""

    def __init__(self, var: VarRef) -> None:
        self.var = var

    def run(self, strm: Any) -> ActResult:
        self.var.unset(strm)
        return ActResult.CONT


def _incomplete(name: str) -> ConfigError:
    return ConfigError(f"invalid or incomplete action '{name}'. Expects 'set-var(<var-name>)', "
                       "'set-var-fmt(<var-name>)' or 'unset-var(<var-name>)'")


def parse_param(ctx: Any, action: str) -> tuple[VarRef, Cond]:
    """The variable and conditions written between the parentheses of ``action``."""
    param = ctx.param
    if param is None:
        raise _incomplete(action)
    name, *rest = param.split(",")
    words: list[str] = []
    for word in rest:
        if not word:
            break
        words.append(word)
    if words and action == "unset-var":
        raise ConfigError('unset-var does not expect parameters after the variable name. '
                          'Only "set-var" and "set-var-fmt" manage conditions')
    conds = parse_conds(words)
    try:
        var = parse_var_name(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    ruleset = getattr(ctx, "ruleset", None)
    if ruleset in EARLY_RULESETS and var.scope not in EARLY_SCOPES:
        raise ConfigError(f"variable '{var.full_name}' cannot be used in '{ruleset.value}' "
                          "rules: only the 'proc' and 'sess' scopes exist at this stage")
    return var, conds


def _only(args: list[str]) -> str:
    if len(args) > 1:
        raise UnexpectedWord(args[1])
    return args[0] if args else ""


def _parse_set_var(ctx: Any, args: list[str]) -> ActionRule:
    var, conds = parse_param(ctx, "set-var")
    expr = compile_expr(_only(args), ctx, ctx.point)
    return SetVar(var, expr, conds)


def _parse_set_var_fmt(ctx: Any, args: list[str]) -> ActionRule:
    var, conds = parse_param(ctx, "set-var-fmt")
    fmt = compile_logformat(_only(args), ctx, ctx.point)
    return SetVarFmt(var, fmt, conds)


def _parse_unset_var(ctx: Any, args: list[str]) -> ActionRule:
    var, _ = parse_param(ctx, "unset-var")
    if args:
        raise UnexpectedWord(args[0])
    return UnsetVar(var)


ACTIONS = (
    Action("set-var", rulesets=RULESETS, parse=_parse_set_var, takes_param=True,
           doc="set-var(<var-name>[,<cond>...]) <expr>\n\nEvaluates the sample expression and "
               "stores its value, with its type, in the variable when every condition holds "
               "(ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, ifgt, iflt). "
               "Nothing is stored when the expression fails. tcp-request connection and "
               "session rules may only use the proc and sess scopes."),
    Action("set-var-fmt", rulesets=RULESETS, parse=_parse_set_var_fmt, takes_param=True,
           doc="set-var-fmt(<var-name>[,<cond>...]) <fmt>\n\nRenders the log-format string "
               "and stores it as a string in the variable when every condition holds."),
    Action("unset-var", rulesets=RULESETS, parse=_parse_unset_var, takes_param=True,
           doc="unset-var(<var-name>)\n\nRemoves the variable."),
)

__all__ = ["ACTIONS", "SetVar", "SetVarFmt", "UnsetVar", "parse_param"]
