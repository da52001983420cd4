"""set-status, set-log-level, capture, strict-mode, disable-l7-retry, set-timeout,
wait-for-body, do-log and use-service."""

from __future__ import annotations

from typing import Any

from hapx.core.config.units import UnitError, parse_size, parse_time
from hapx.core.proto.errors import error_message
from hapx.core.records import Action, ActionRule, ActResult, RuleSet, SmpType
from hapx.core.rules import UnexpectedWord
from hapx.core.runtime.waits import wake_on_body
from hapx.core.sample.cast import cast

from .common import ALL_SETS, REQ_RES, REQ_SETS, RES_SETS, no_args, on_response
from .common import ruleset_of as _ruleset
from .pages import reason

#: what a full buffer holds for wait-for-body (tune.bufsize less tune.maxrewrite, defaults)
BODY_BUFFER = 16384 - 1024

LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "silent")


class SetStatus(ActionRule):
    def __init__(self, code: int, text: str | None) -> None:
        self.code, self.text = code, text

    def run(self, strm: Any) -> ActResult:
        if strm.res is not None:
            strm.res.status = self.code
            strm.res.reason = self.text if self.text is not None else reason(self.code)
        strm.status = self.code
        return ActResult.CONT


class SetField(ActionRule):
    """Set ``strm.<attr>`` or ``strm.ext[key]`` to a constant."""

    def __init__(self, key: str, value: Any, on_ext: bool = True) -> None:
        self.key, self.value, self.on_ext = key, value, on_ext

    def run(self, strm: Any) -> ActResult:
        if self.on_ext:
            strm.ext[self.key] = self.value
        else:
            setattr(strm, self.key, self.value)
        return ActResult.CONT


class Capture(ActionRule):
    """Store the expression's value, as a string cut to the slot length, in a capture slot."""

    def __init__(self, expr: Any, slot: int, length: int | None, response: bool,
                 lengths: list[int]) -> None:
        self.expr, self.slot, self.length, self.response = expr, slot, length, response
        self.lengths = lengths  # the proxy's declared slot lengths (read at run time)
        # the instance's run is the closure itself (no method frame)
        self.run = self._run = _capture(expr.eval, slot, length, response,  # type: ignore[method-assign]
                                        lengths)

    def run(self, strm: Any) -> ActResult:
        return self._run(strm)


def _capture(ev: Any, slot: int, length: int | None, response: bool, lengths: list[int]
             ) -> Any:
    t_str, cont = SmpType.STR, ActResult.CONT

    def run(strm: Any) -> ActResult:
        smp = ev(strm)
        if smp is None:
            return cont
        if smp.type is not t_str:
            smp = cast(smp, t_str)
            if smp is None:
                return cont
        size = length if length is not None else (
            lengths[slot] if slot < len(lengths) else 64)
        slots = strm.captures_res if response else strm.captures_req
        while len(slots) <= slot:
            slots.append(None)
        slots[slot] = str(smp.value)[:size]
        return cont
    return run


class SetTimeout(ActionRule):
    def __init__(self, name: str, ms: int | None, expr: Any) -> None:
        self.name, self.ms, self.expr = name, ms, expr

    def run(self, strm: Any) -> ActResult:
        ms = self.ms
        if ms is None:
            smp = self.expr.eval(strm)
            if smp is None or smp.type != SmpType.SINT or smp.value < 0:
                return ActResult.CONT
            ms = smp.value
        strm.ext.setdefault("timeouts", {})[self.name] = ms
        return ActResult.CONT


class WaitForBody(ActionRule):
    """Wait until the whole body, ``at_least`` bytes of it, a full buffer, or the time
    limit (core/runtime/waits.py: the data path runs the rule again as the body comes)."""

    def __init__(self, ms: int, at_least: int, response: bool) -> None:
        self.ms, self.at_least, self.response = ms, at_least, response

    def run(self, strm: Any) -> ActResult:
        msg = strm.res if self.response else strm.req
        if msg is None or msg.body_complete:
            return ActResult.CONT
        have = len(msg.body) if msg.body is not None else 0
        if (self.at_least and have >= self.at_least) or have >= BODY_BUFFER:
            return ActResult.CONT
        if strm.ext.pop("wait_for_body_expired", False):
            if not self.response:
                strm.status = 408
                if strm.term_state == "--":
                    strm.term_state = "cR"
                strm.ext["http_reply"] = error_message(strm, 408, strm.backend,
                                                       strm.frontend)
                return ActResult.DENY
            return ActResult.CONT
        return wake_on_body(strm, self.ms)


class DoLog(ActionRule):
    def run(self, strm: Any) -> ActResult:
        strm.ext.setdefault("do_log", []).append(strm.ext.get("log_stage", "http"))
        return ActResult.CONT


class UseService(ActionRule):
    """``use-service``: an HTTP applet has ``run(strm) -> ActResult``, answering through
    ``strm.ext["http_reply"]`` (DONE) or waiting like any action (YIELD)."""

    final = True

    def __init__(self, name: str, applet: Any) -> None:
        self.name, self.applet = name, applet
        self.run_applet = getattr(applet, "run", None)

    def run(self, strm: Any) -> ActResult:
        if "service_name" not in strm.ext:
            # a request a service answers is intercepted (stats column "intercepted")
            strm.counters["intercepted_req"] = strm.counters.get("intercepted_req", 0) + 1
        strm.ext["service_name"] = self.name
        if self.run_applet is not None:
            return self.run_applet(strm)
        strm.ext["service"] = self.applet
        return ActResult.DONE


# -- parsers ---------------------------------------------------------------------------------

def _parse_set_status(ctx: Any, args: list[str]) -> ActionRule:
    code = int(args[0]) if args and args[0].isdigit() else 0
    if code < 100 or code > 999:
        raise ctx.error("expects an integer status code between 100 and 999")
    text = None
    rest = args[1:]
    if rest and rest[0] == "reason" and len(rest) >= 2:
        text = rest[1]
        rest = rest[2:]
    no_args(rest)
    return SetStatus(code, text)


def _parse_log_level(ctx: Any, args: list[str]) -> ActionRule:
    if not args or args[0] not in LOG_LEVELS:
        raise ctx.error("expects exactly 1 argument (log level name or 'silent')")
    no_args(args[1:])
    return SetField("log_level", args[0], on_ext=False)


def _captures(proxy: Any, side: str) -> list[int]:
    """The capture slot lengths of a proxy: ``settings["captures"][side]`` (shared with
    ``declare capture``)."""
    return proxy.settings.setdefault("captures", {}).setdefault(side, [])


def _parse_capture(ctx: Any, args: list[str]) -> ActionRule:
    from hapx.core.sample.expr import compile_expr

    response = on_response(ctx)
    if len(args) < 3 or args[1] not in ("len", "id"):
        if response and len(args) >= 2 and args[1] != "id":
            raise ctx.error(f"expects 'id', found '{args[1]}'")
        raise ctx.error("expects <expression> [ 'len' <length> | id <idx> ]")
    if response and args[1] != "id":
        raise ctx.error(f"expects 'id', found '{args[1]}'")
    expr = compile_expr(args[0], ctx, ctx.point)
    value = int(args[2]) if args[2].isdigit() else 0
    no_args(args[3:])
    proxy = ctx.section
    side = "response" if response else "request"
    lengths = _captures(proxy, side)
    if args[1] == "len":
        if value <= 0:
            raise ctx.error("length must be > 0")
        if not proxy.is_frontend and not proxy.is_defaults:
            raise ctx.error(f"proxy '{proxy.name}' has no frontend capability")
        lengths.append(value)
        return Capture(expr, len(lengths) - 1, value, response, lengths)
    if not args[2].isdigit():
        raise ctx.error(f"'id' expects a capture index, got '{args[2]}'")
    rule = Capture(expr, value, None, response, lengths)
    keyword = ctx.keyword.split(" ", 1)[0]

    def check(config: Any) -> None:
        if value >= len(_captures(proxy, side)):
            raise ctx.error(f"Proxy '{proxy.name}': unable to find capture id '{value}' "
                            f"referenced by {keyword} capture rule.")
    ctx.defer(check)
    return rule


def _parse_strict_mode(ctx: Any, args: list[str]) -> ActionRule:
    if not args:
        raise ctx.error("expects exactly 1 arguments")
    if args[0] not in ("on", "off"):
        raise ctx.error(f"Unexpected value '{args[0]}'. Only 'on' and 'off' are supported")
    no_args(args[1:])
    return SetField("http_strict_mode", args[0] == "on")


def _parse_disable_l7_retry(ctx: Any, args: list[str]) -> ActionRule:
    no_args(args)
    return SetField("l7_retry_disabled", True)


def _parse_set_timeout(ctx: Any, args: list[str]) -> ActionRule:
    if len(args) < 2:
        raise ctx.error("expects exactly 2 arguments")
    name = args[0]
    if name not in ("client", "server", "tunnel"):
        raise ctx.error(f"'set-timeout' rule supports 'client'/'server'/'tunnel' (got '{name}')")
    proxy = ctx.section
    if name in ("server", "tunnel") and not (proxy.is_backend or proxy.is_defaults):
        raise ctx.error(f"proxy '{proxy.name}' has no backend capability")
    no_args(args[2:])
    text = args[1]
    if text[:1].isdigit():
        try:
            return SetTimeout(name, parse_time(text), None)
        except UnitError:
            bad = next((c for c in text if not c.isdigit()), text[:1])
            raise ctx.error(f"unexpected character '{bad}' in rule 'set-timeout {name}'") from None
    from hapx.core.sample.expr import compile_expr

    return SetTimeout(name, None, compile_expr(text, ctx, ctx.point, want=SmpType.SINT))


def _parse_wait_for_body(ctx: Any, args: list[str]) -> ActionRule:
    if not args or args[0] != "time":
        raise ctx.error("expects time <time> [ at-least <bytes> ]")
    if len(args) < 2:
        raise ctx.error("missing argument for 'time'")
    try:
        ms = parse_time(args[1])
    except UnitError:
        bad = next((c for c in args[1] if not c.isdigit()), args[1][:1])
        raise ctx.error(f"unexpected character '{bad}'") from None
    at_least = 0
    rest = args[2:]
    if rest and rest[0] == "at-least":
        if len(rest) < 2:
            raise ctx.error("missing argument for 'at-least'")
        try:
            at_least = parse_size(rest[1])
        except UnitError as exc:
            raise ctx.error(str(exc)) from None
        rest = rest[2:]
    no_args(rest)
    return WaitForBody(ms, at_least, on_response(ctx))


def _parse_do_log(ctx: Any, args: list[str]) -> ActionRule:
    no_args(args)
    return DoLog()


def _parse_use_service(ctx: Any, args: list[str]) -> ActionRule:
    if not args:
        raise ctx.error("'use-service' expects a service name.")
    name = args[0]
    rec = ctx.registry.service(name)
    mode = "http" if _ruleset(ctx) in ALL_SETS else "tcp"
    if rec is None or mode not in rec.modes:
        raise ctx.error(f"'{name}' unknown service name.")
    applet = rec.factory(ctx, args[1:]) if rec.factory is not None else None
    if rec.factory is None and len(args) > 1:
        raise UnexpectedWord(args[1])
    if not rec.active:
        ctx.mark_inactive(f"use-service {name}", "service", rec.owner)
    return UseService(name, applet)


_SET_VAR_SETS = ALL_SETS
ACTIONS = [
    Action("set-status", rulesets=RES_SETS, parse=_parse_set_status,
           doc="set-status <status> [ reason <str> ]\n\nReplace the response status code "
               "(100..999) and its reason phrase (default: the code's usual phrase)."),
    Action("set-log-level", rulesets=_SET_VAR_SETS, parse=_parse_log_level,
           doc="set-log-level <level>\n\nLog this stream at <level> (emerg, alert, crit, "
               "err, warning, notice, info, debug) or not at all (silent)."),
    Action("capture", rulesets=REQ_RES | {RuleSet.HTTP_AFTER_RES}, parse=_parse_capture,
           doc="capture <sample> [ len <length> | id <id> ]\n\nCapture the sample's value "
               "as a string, cut to the slot length: 'len' declares a new request slot, "
               "'id' uses a slot declared with 'declare capture'.  Shown by %hr/%hs."),
    Action("strict-mode", rulesets=ALL_SETS, parse=_parse_strict_mode,
           doc="strict-mode { on | off }\n\nWith 'on' (the default) a failed rewrite "
               "answers 500; with 'off' it is ignored."),
    Action("disable-l7-retry", rulesets=REQ_SETS, parse=_parse_disable_l7_retry,
           doc="disable-l7-retry\n\nDo not retry this request on another server "
               "(retry-on)."),
    Action("set-timeout", rulesets=REQ_RES, parse=_parse_set_timeout,
           doc="set-timeout { client | server | tunnel } { <timeout> | <expr> }\n\nOverride "
               "a timeout of this stream (ms by default, or an integer expression)."),
    Action("wait-for-body", rulesets=REQ_RES, parse=_parse_wait_for_body,
           doc="wait-for-body time <time> [ at-least <bytes> ]\n\nWait for the whole body, "
               "for <bytes> of it or until the buffer is full, at most <time>; a request "
               "that times out gets 408."),
    Action("do-log", rulesets=ALL_SETS, parse=_parse_do_log, active=False,
           doc="do-log\n\nEmit a log line now, with the log-format of the proxy."),
    Action("use-service", rulesets=REQ_SETS, parse=_parse_use_service,
           doc="use-service <service-name>\n\nHand the request to a registered service "
               "(applet), which produces the response.  Final."),
]
