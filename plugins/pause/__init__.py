"""HAProxy 3.2's ``http-request pause`` and ``http-response pause`` actions.

``pause { <time> | <expr> }`` suspends the analysis of the request or of the response for
a fixed delay (milliseconds by default, any time unit) or for the number of milliseconds an
integer sample expression returns (``req.hdr(x-delay),add(0)``, a bare expression, no
``%[...]``).  The stream waits on the event loop (core/runtime/waits.py): nothing else is
held up.  An expression that yields no value or a negative one makes the action do
nothing.  Not final: the next rules run after the pause.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.units import UnitError, parse_time
from hapx.core.errors import ConfigError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Action, ActionRule, ActResult, RuleSet, SmpType
from hapx.core.runtime.waits import wake_after

_SETS = frozenset({RuleSet.HTTP_REQ, RuleSet.HTTP_RES})
_CONT = ActResult.CONT


class Pause(ActionRule):
    """Wait ``ms`` milliseconds, or what ``expr`` returns, then let the rules go on."""

    def __init__(self, ms: int | None, expr: Any) -> None:
        self.ms = ms
        self.expr = expr
        #: the stream's mark that this rule already paused it (the rule runs again on wake)
        self.key = f"pause:{id(self)}"

    def run(self, strm: Any) -> ActResult:
        ext = strm.ext
        if ext.pop(self.key, None) is not None:
            return _CONT
        ms = self.ms
        if ms is None:
            smp = self.expr.eval(strm)
            if smp is None or not isinstance(smp.value, int) or smp.value < 0:
                return _CONT
            ms = smp.value
        ext[self.key] = True
        return wake_after(strm, ms)


def _parse(ctx: Any, args: list[str]) -> Pause:
    if not args:
        raise ctx.error("expects a timeout or an expression")
    if len(args) > 1:
        from hapx.core.rules import UnexpectedWord

        raise UnexpectedWord(args[1])
    text = args[0]
    try:
        ms = parse_time(text)
    except UnitError:
        ms = None
    if ms is not None:
        if ms == 0:
            raise ctx.error("pause time must be greater than zero")
        return Pause(ms, None)
    from hapx.core.sample.expr import compile_expr

    try:
        expr = compile_expr(text, ctx, ctx.point, want=SmpType.SINT)
    except ConfigError as exc:
        raise ctx.error(f"failed to parse '{text}' as a time or a sample expression : "
                        f"{exc.message}") from None
    return Pause(None, expr)


@hookimpl
def hapx_register_actions(actions: Any) -> None:
    actions.add(Action(
        "pause", rulesets=_SETS, parse=_parse,
        doc="pause { <time> | <expr> }\n\nSuspend the analysis of the request "
            "(http-request) or the response (http-response) for <time> (milliseconds by "
            "default, any time unit; 0 is an error) or for the milliseconds an integer "
            "sample expression returns (a bare expression such as "
            "'req.hdr(x-delay),add(0)', no %[...]; no value or a negative one: the action "
            "does nothing).  Other streams are served meanwhile.  Not final.  (HAProxy "
            "3.2)"))
