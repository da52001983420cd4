"""Actions of the tcp-request and tcp-response rule sets."""

from __future__ import annotations

from typing import Any

from hapx.core.records import Action, ActionRule, ActResult, RuleSet, SmpType
from hapx.core.rules import UnexpectedWord

CONN = RuleSet.TCP_REQ_CONN
SESS = RuleSet.TCP_REQ_SESS
CONT = RuleSet.TCP_REQ_CONT
RES = RuleSet.TCP_RES_CONT
REQ_ALL = frozenset({CONN, SESS, CONT})


def _no_args(args: list[str]) -> None:
    if args:
        raise UnexpectedWord(args[0])


def _count(strm: Any, name: str) -> None:
    strm.counters[name] = strm.counters.get(name, 0) + 1


class Accept(ActionRule):
    final = True

    def run(self, strm: Any) -> ActResult:
        return ActResult.STOP


class Reject(ActionRule):
    """Close the connection: at connection level it is not logged; later it counts as a
    denied request (or response)."""

    final = True

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset

    def run(self, strm: Any) -> ActResult:
        if self.ruleset == CONN:
            strm.ext["denied_connection"] = True
            _count(strm, "denied_conn")
        elif self.ruleset == SESS:
            _count(strm, "denied_sess")
        elif self.ruleset == RES:
            _count(strm, "denied_resp")
        else:
            _count(strm, "denied_req")
        strm.term_state = "PD" if self.ruleset == RES else "PR"
        return ActResult.ABORT


class Close(ActionRule):
    """tcp-response content close: close the server side immediately."""

    final = True

    def run(self, strm: Any) -> ActResult:
        strm.ext["close_server"] = True
        return ActResult.ABORT


class SetAddr(ActionRule):
    """set-src, set-dst, set-src-port, set-dst-port from an expression."""

    def __init__(self, what: str, expr: Any) -> None:
        self.what, self.expr = what, expr

    def run(self, strm: Any) -> ActResult:
        smp = self.expr.eval(strm)
        if smp is None:
            return ActResult.CONT
        sess = strm.sess
        if self.what.endswith("-port"):
            if smp.type == SmpType.SINT and 0 <= smp.value <= 65535:
                setattr(sess, self.what[4:7] + "_port", smp.value)
        elif smp.type in (SmpType.IPV4, SmpType.IPV6):
            setattr(sess, self.what[4:7], smp.value)
        return ActResult.CONT


class SetExt(ActionRule):
    """Record a connection setting for the data path (``strm.ext[key] = value``)."""

    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value

    def run(self, strm: Any) -> ActResult:
        value = self.value
        if hasattr(value, "eval"):
            smp = value.eval(strm)
            if smp is None:
                return ActResult.CONT
            value = smp.value
        strm.ext[self.key] = value
        return ActResult.CONT


class Capture(ActionRule):
    def __init__(self, expr: Any, slot: int, length: int) -> None:
        self.expr, self.slot, self.length = expr, slot, length

    def run(self, strm: Any) -> ActResult:
        from hapx.core.sample.cast import cast

        smp = self.expr.eval(strm)
        smp = cast(smp, SmpType.STR) if smp is not None else None
        if smp is None:
            return ActResult.CONT
        while len(strm.captures_req) <= self.slot:
            strm.captures_req.append(None)
        strm.captures_req[self.slot] = str(smp.value)[:self.length]
        return ActResult.CONT


class UseService(ActionRule):
    final = True

    def __init__(self, name: str, applet: Any) -> None:
        self.name, self.applet = name, applet

    def run(self, strm: Any) -> ActResult:
        strm.ext["service"] = self.applet
        strm.ext["service_name"] = self.name
        return ActResult.DONE


# -- parsers ---------------------------------------------------------------------------------

def _ruleset(ctx: Any) -> RuleSet:
    return getattr(ctx, "ruleset", CONT)


def _parse_accept(ctx: Any, args: list[str]) -> ActionRule:
    _no_args(args)
    return Accept()


def _parse_reject(ctx: Any, args: list[str]) -> ActionRule:
    _no_args(args)
    return Reject(_ruleset(ctx))


def _parse_close(ctx: Any, args: list[str]) -> ActionRule:
    _no_args(args)
    return Close()


def _expr(ctx: Any, args: list[str], usage: str) -> Any:
    from hapx.core.sample.expr import compile_expr

    if not args:
        raise ctx.error(f"'{ctx.keyword}' expects {usage}")
    expr = compile_expr(args[0], ctx, ctx.point)
    _no_args(args[1:])
    return expr


def _parse_set_addr(what: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        return SetAddr(what, _expr(ctx, args, "<expr>"))
    return parse


def _parse_int_setting(key: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        if not args:
            raise ctx.error(f"'{ctx.keyword}' expects <expr>")
        text = args[0]
        try:
            value: Any = int(text, 0)
        except ValueError:
            value = None
        if value is None:
            value = _expr(ctx, args, "<expr>")
        else:
            _no_args(args[1:])
        return SetExt(key, value)
    return parse


def _parse_layer4(key: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        ruleset, _, name = ctx.keyword.rpartition(" ")
        proxy = ctx.section
        kind = "proxy" if proxy.kind == "listen" else proxy.kind
        if not args or args[0] != "layer4":
            got = args[0] if args else ""
            raise ctx.error(f"'{ruleset} {name}' only supports 'layer4' in {kind} "
                            f"'{proxy.name}' (got '{got}')")
        _no_args(args[1:])
        return SetExt(key, True)
    return parse


def _parse_switch_mode(ctx: Any, args: list[str]) -> ActionRule:
    proxy = ctx.section
    if not args or args[0] != "http":
        raise ctx.error(f"'{ctx.keyword}' expects 'http' as argument")
    if not (proxy.is_frontend or proxy.is_defaults):
        raise ctx.error(f"'{ctx.keyword}' is only allowed in frontend and listen sections")
    proto = None
    rest = args[1:]
    if rest and rest[0] == "proto":
        if len(rest) < 2:
            raise ctx.error("'proto' expects a protocol name")
        proto = rest[1]
        rest = rest[2:]
    _no_args(rest)
    return SetExt("switch_mode", ("http", proto))


def _parse_capture(ctx: Any, args: list[str]) -> ActionRule:
    from hapx.core.sample.expr import compile_expr

    proxy = ctx.section
    if len(args) < 3 or args[1] != "len":
        raise ctx.error(f"'{ctx.keyword}' expects <expression> 'len' <length>")
    if not (proxy.is_frontend or proxy.is_defaults):
        raise ctx.error(f"'{ctx.keyword}' : proxy '{proxy.name}' has no frontend capability")
    expr = compile_expr(args[0], ctx, ctx.point)
    length = int(args[2]) if args[2].isdigit() else 0
    if length <= 0:
        raise ctx.error(f"'{ctx.keyword}' : length must be > 0")
    _no_args(args[3:])
    lengths = proxy.settings.setdefault("captures", {}).setdefault("request", [])
    lengths.append(length)
    return Capture(expr, len(lengths) - 1, length)


def _parse_use_service(ctx: Any, args: list[str]) -> ActionRule:
    if not args:
        raise ctx.error("'use-service' expects a service name.")
    name = args[0]
    rec = ctx.registry.service(name)
    if rec is None or "tcp" not in rec.modes:
        raise ctx.error(f"'{name}' unknown service name.")
    applet = rec.factory(ctx, args[1:]) if rec.factory is not None else None
    if rec.factory is None:
        _no_args(args[1:])
    if not rec.active:
        ctx.mark_inactive(f"use-service {name}", "service", rec.owner)
    return UseService(name, applet)


ACTIONS = [
    Action("accept", rulesets=REQ_ALL | {RES}, parse=_parse_accept,
           doc="accept\n\nAccept the connection (or content) and stop evaluating this rule "
               "set for the current section."),
    Action("reject", rulesets=REQ_ALL | {RES}, parse=_parse_reject,
           doc="reject\n\nClose the connection.  At connection level nothing is logged and "
               "the connection counts as denied."),
    Action("close", rulesets=frozenset({RES}), parse=_parse_close,
           doc="close\n\nClose the server connection at once (tcp-response content)."),
    Action("expect-proxy", rulesets=frozenset({CONN}), parse=_parse_layer4("expect_proxy"),
           active=False,
           doc="expect-proxy layer4\n\nRead a PROXY protocol header on this connection."),
    Action("expect-netscaler-cip", rulesets=frozenset({CONN}),
           parse=_parse_layer4("expect_netscaler_cip"), active=False,
           doc="expect-netscaler-cip layer4\n\nRead a NetScaler Client IP insertion header."),
    Action("switch-mode", rulesets=frozenset({CONT}), parse=_parse_switch_mode, active=False,
           doc="switch-mode http [ proto <name> ]\n\nUpgrade a TCP frontend stream to HTTP."),
    Action("capture", rulesets=frozenset({CONT}), parse=_parse_capture,
           doc="capture <sample> len <length>\n\nCapture the sample's value as a string "
               "into a new request capture slot (shown by %hr)."),
    Action("use-service", rulesets=frozenset({CONT}), parse=_parse_use_service,
           doc="use-service <service-name>\n\nHand the connection to a registered TCP "
               "service.  Final."),
]
for _name in ("set-src", "set-dst", "set-src-port", "set-dst-port"):
    ACTIONS.append(Action(
        _name, rulesets=REQ_ALL, parse=_parse_set_addr(_name), active=False,
        doc=f"{_name} <expr>\n\nReplace the connection's "
            f"{'source' if 'src' in _name else 'destination'} "
            f"{'port' if _name.endswith('port') else 'address'} with the expression's value."))
for _name, _doc in (("set-mark", "the firewall mark (SO_MARK) of the client connection"),
                    ("set-tos", "the TOS/DSCP field of the client connection's packets"),
                    ("set-fc-mark", "the firewall mark of the front (client) connection"),
                    ("set-fc-tos", "the TOS/DSCP of the front (client) connection"),
                    ("set-bc-mark", "the firewall mark of the back (server) connection"),
                    ("set-bc-tos", "the TOS/DSCP of the back (server) connection")):
    ACTIONS.append(Action(
        _name, rulesets=REQ_ALL, parse=_parse_int_setting(_name.replace("-", "_")),
        active=False, doc=f"{_name} <value|expr>\n\nSet {_doc}."))
