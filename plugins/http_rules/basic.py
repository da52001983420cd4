"""allow, deny, tarpit, return, reject, silent-drop and auth."""

from __future__ import annotations

from typing import Any

from hapx.core.records import Action, ActionRule, ActResult

from .common import ALL_SETS, REQ_RES, REQ_SETS, no_args, on_response
from .reply import REPLY_KEY, HttpReply, error_page, parse_reply


def _count(strm: Any, name: str) -> None:
    strm.counters[name] = strm.counters.get(name, 0) + 1


def set_reply(strm: Any, msg: Any, term: str) -> None:
    """Store a response produced by a rule; the data path sends it."""
    strm.ext[REPLY_KEY] = msg
    strm.status = msg.status
    strm.term_state = term


class Allow(ActionRule):
    final = True

    def run(self, strm: Any) -> ActResult:
        return ActResult.STOP


class Deny(ActionRule):
    """deny and tarpit: answer ``reply`` and count a denied request or response."""

    final = True

    def __init__(self, reply: HttpReply, response: bool, tarpit: bool, proxy: Any) -> None:
        self.reply = reply
        self.response = response
        self.tarpit = tarpit
        self.proxy = None if proxy.is_defaults else proxy

    def run(self, strm: Any) -> ActResult:
        msg = self.reply.build(strm, self.proxy)
        if self.tarpit:
            strm.ext["tarpit"] = True
            set_reply(strm, msg, "PT")
        else:
            set_reply(strm, msg, "PH" if self.response else "PR")
        _count(strm, "denied_resp" if self.response else "denied_req")
        return ActResult.DENY


class Return(ActionRule):
    final = True

    def __init__(self, reply: HttpReply, response: bool, proxy: Any) -> None:
        self.reply = reply
        self.response = response
        self.proxy = None if proxy.is_defaults else proxy

    def run(self, strm: Any) -> ActResult:
        set_reply(strm, self.reply.build(strm, self.proxy), "LH" if self.response else "LR")
        _count(strm, "intercepted_req")
        return ActResult.DONE


class Reject(ActionRule):
    """Close the connection without a response."""

    final = True

    def __init__(self, response: bool) -> None:
        self.response = response

    def run(self, strm: Any) -> ActResult:
        strm.term_state = "PH" if self.response else "PR"
        strm.ext["close_silently"] = False
        _count(strm, "denied_resp" if self.response else "denied_req")
        return ActResult.ABORT


class SilentDrop(ActionRule):
    """Close the client connection without FIN/RST (the data path does the trick)."""

    final = True

    def run(self, strm: Any) -> ActResult:
        strm.ext["close_silently"] = True
        strm.term_state = "PR"
        _count(strm, "denied_req")
        return ActResult.ABORT


class Auth(ActionRule):
    """401 (or 407 for proxy requests when ``option http-use-proxy-header``) with a Basic
    challenge."""

    final = True

    def __init__(self, realm: str | None, proxy: Any) -> None:
        self.realm = realm
        self.proxy = None if proxy.is_defaults else proxy

    def run(self, strm: Any) -> ActResult:
        proxy = self.proxy or strm.backend or strm.frontend
        realm = self.realm if self.realm is not None else getattr(proxy, "name", "")
        fe = strm.frontend
        uri = strm.req.uri if strm.req is not None else "/"
        use_proxy = bool(fe is not None and fe.options.get("http-use-proxy-header")
                         and not uri.startswith(("/", "*")))
        status = 407 if use_proxy else 401
        msg = error_page(strm, status, self.proxy)
        msg.add("Proxy-Authenticate" if use_proxy else "WWW-Authenticate",
                f'Basic realm="{realm}"')
        set_reply(strm, msg, "PR")
        _count(strm, "intercepted_req")
        return ActResult.DONE


# -- parsers ---------------------------------------------------------------------------------

def _parse_allow(ctx: Any, args: list[str]) -> ActionRule:
    no_args(args)
    return Allow()


def _parse_deny(ctx: Any, args: list[str]) -> ActionRule:
    response = on_response(ctx)
    reply = parse_reply(ctx, args, 502 if response else 403,
                        status_words=("status", "deny_status"))
    return Deny(reply, response, False, ctx.section)


def _parse_tarpit(ctx: Any, args: list[str]) -> ActionRule:
    reply = parse_reply(ctx, args, 500, status_words=("status", "deny_status"))
    return Deny(reply, False, True, ctx.section)


def _parse_return(ctx: Any, args: list[str]) -> ActionRule:
    reply = parse_reply(ctx, args, 200, errmsg_by_default=False)
    return Return(reply, on_response(ctx), ctx.section)


def _parse_reject(ctx: Any, args: list[str]) -> ActionRule:
    no_args(args)
    return Reject(on_response(ctx))


def _parse_silent_drop(ctx: Any, args: list[str]) -> ActionRule:
    no_args(args)
    return SilentDrop()


def _parse_auth(ctx: Any, args: list[str]) -> ActionRule:
    realm = None
    if args:
        if args[0] != "realm":
            from hapx.core.rules import UnexpectedWord

            raise UnexpectedWord(args[0])
        if len(args) < 2 or not args[1]:
            raise ctx.error("missing realm value.\n")
        realm = args[1]
        no_args(args[2:])
    return Auth(realm, ctx.section)


_REPLY_ARGS = ("[ { status | deny_status } <code> ] [ content-type <type> ]\n"
               "  [ { default-errorfiles | errorfile <file> | errorfiles <name> |\n"
               "      file <file> | lf-file <file> | string <str> | lf-string <fmt> } ]\n"
               "  [ hdr <name> <fmt> ]*")

ACTIONS = [
    Action("allow", rulesets=ALL_SETS, parse=_parse_allow,
           doc="allow\n\nStop evaluating the rules of this rule set for the current "
               "section and let the request (or response) go on."),
    Action("deny", rulesets=REQ_RES, parse=_parse_deny,
           doc="deny " + _REPLY_ARGS + "\n\nDeny the request (default 403) or the response "
               "(default 502) with the given reply; without payload arguments the proxy's "
               "error page for the status is sent.  Final."),
    Action("tarpit", rulesets=REQ_SETS, parse=_parse_tarpit, active=False,
           doc="tarpit " + _REPLY_ARGS + "\n\nHold the request for 'timeout tarpit' then "
               "answer (default 500).  Final."),
    Action("return", rulesets=REQ_RES, parse=_parse_return,
           doc="return [ status <code> ] [ content-type <type> ]\n"
               "  [ { default-errorfiles | errorfile <file> | errorfiles <name> |\n"
               "      file <file> | lf-file <file> | string <str> | lf-string <fmt> } ]\n"
               "  [ hdr <name> <fmt> ]*\n\nAnswer immediately with the given response "
               "(default status 200, empty body).  string/lf-string and non-empty files "
               "require content-type; errorfiles only accept error statuses.  Final."),
    Action("reject", rulesets=REQ_RES, parse=_parse_reject,
           doc="reject\n\nClose the connection without sending a response.  Final."),
    Action("silent-drop", rulesets=REQ_RES, parse=_parse_silent_drop, active=False,
           doc="silent-drop\n\nClose the client connection without telling the client "
               "(no FIN nor RST).  Final."),
    Action("auth", rulesets=REQ_SETS, parse=_parse_auth,
           doc="auth [ realm <realm> ]\n\nAnswer 401 with a Basic authentication challenge "
               "(407 for proxy requests with 'option http-use-proxy-header'); the realm "
               "defaults to the proxy name.  Final."),
]
