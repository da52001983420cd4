"""The redirect action."""

from __future__ import annotations

from typing import Any

from hapx.core.records import Action, ActionRule, ActResult
from hapx.core.stream import HttpMessage

from .basic import set_reply
from .common import REQ_RES, compile_fmt, on_response
from .pages import reason

_WORDS = ("'code', 'prefix', 'location', 'scheme', 'set-cookie', 'set-cookie-fmt', "
          "'clear-cookie', 'drop-query', 'ignore-empty', 'keep-query' or 'append-slash'")


class Redirect(ActionRule):
    final = True

    def __init__(self, kind: str, dest: Any, code: int, *, drop_query: bool,
                 append_slash: bool, keep_query: bool, ignore_empty: bool,
                 cookie: str | None, cookie_fmt: Any, response: bool) -> None:
        self.kind = kind  # location | prefix | scheme
        self.dest = dest  # a LogFormat, or None for "prefix /"
        self.code = code
        self.drop_query = drop_query
        self.append_slash = append_slash
        self.keep_query = keep_query
        self.ignore_empty = ignore_empty
        self.cookie = cookie
        self.cookie_fmt = cookie_fmt
        self.response = response

    def location(self, strm: Any) -> str | None:
        """The Location value, or None when the rule must be skipped (ignore-empty)."""
        dest = self.dest.render(strm) if self.dest is not None else ""
        if self.ignore_empty and self.dest is not None and dest == "":
            return None
        req: HttpMessage | None = strm.req
        if self.kind == "location":
            if self.keep_query and req is not None and req.query is not None:
                dest += ("&" if "?" in dest else "?") + req.query
            return dest
        path = req.path if req is not None else ""
        query = req.query if req is not None else None
        if self.kind == "scheme":
            host = req.get_all("host")[0] if req is not None and req.get_all("host") else ""
            if path in ("", "*"):
                path = "/"
            prefix = f"{dest}://{host}"
        else:
            prefix = "" if dest == "/" else dest
            if path == "":
                path = "/"
        if self.drop_query:
            if self.append_slash and not path.endswith("/"):
                path += "/"
            return prefix + path
        return prefix + path + (f"?{query}" if query is not None else "")

    def run(self, strm: Any) -> ActResult:
        loc = self.location(strm)
        if loc is None:
            return ActResult.CONT
        msg = HttpMessage(version="1.1", status=self.code, reason=reason(self.code))
        msg.add("content-length", "0")
        msg.add("location", loc)
        if self.cookie is not None:
            msg.add("set-cookie", self.cookie)
        elif self.cookie_fmt is not None:
            msg.add("set-cookie", self.cookie_fmt.render(strm))
        msg.body = b""
        msg.body_complete = True
        set_reply(strm, msg, "LH" if self.response else "LR")
        strm.counters["intercepted_req"] = strm.counters.get("intercepted_req", 0) + 1
        return ActResult.DONE


def _parse_redirect(ctx: Any, args: list[str]) -> ActionRule:
    kind = ""
    dest = ""
    code = 302
    flags: set[str] = set()
    cookie: str | None = None
    cookie_fmt_text: str | None = None
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("location", "prefix", "scheme", "set-cookie", "set-cookie-fmt",
                    "clear-cookie", "code"):
            if i + 1 >= len(args) or args[i + 1] == "":
                raise ctx.error(f"missing argument for '{word}'")
            value = args[i + 1]
            if word in ("location", "prefix", "scheme"):
                kind, dest = word, value
            elif word == "set-cookie":
                cookie, cookie_fmt_text = f"{value}; path=/;", None
            elif word == "clear-cookie":
                cookie, cookie_fmt_text = f"{value}; path=/; Max-Age=0;", None
            elif word == "set-cookie-fmt":
                cookie, cookie_fmt_text = None, value
            else:
                digits = "".join(c for c in value[:3] if c.isdigit())
                code = int(digits) if digits and value.isdigit() else 0
                if code not in (301, 302, 303, 307, 308):
                    raise ctx.error(f"'code': unsupported HTTP code '{value}' (must be one of "
                                    "301, 302, 303, 307 or 308)")
            i += 2
        elif word in ("drop-query", "append-slash", "keep-query", "ignore-empty"):
            flags.add(word)
            i += 1
        else:
            raise ctx.error(f"expects {_WORDS} (was '{word}')")
    if not kind:
        raise ctx.error("redirection type expected ('prefix', 'location', or 'scheme')")
    response = on_response(ctx)
    if response and kind != "location":
        raise ctx.error("response only supports redirect type 'location'")
    fmt = None if kind == "prefix" and dest == "/" else compile_fmt(ctx, dest)
    cookie_fmt = compile_fmt(ctx, cookie_fmt_text) if cookie_fmt_text is not None else None
    return Redirect(kind, fmt, code, drop_query="drop-query" in flags,
                    append_slash="append-slash" in flags, keep_query="keep-query" in flags,
                    ignore_empty="ignore-empty" in flags, cookie=cookie,
                    cookie_fmt=cookie_fmt, response=response)


ACTIONS = [
    Action("redirect", rulesets=REQ_RES, parse=_parse_redirect,
           doc="redirect {location | prefix | scheme} <fmt> [code <code>] [<option>]...\n\n"
               "Answer with a redirection (default code 302; 301, 302, 303, 307, 308).\n"
               "location: Location is the value (keep-query appends the request's query).\n"
               "prefix: the value followed by the request's path and query ('/' alone keeps "
               "the URI as is).\nscheme: <scheme>://<host><path>?<query>.\nOptions: "
               "drop-query, append-slash, keep-query, ignore-empty (skip the rule when the "
               "value is empty), set-cookie NAME[=value], set-cookie-fmt <fmt>, clear-cookie "
               "NAME[=].  http-response only supports 'location'.  Final."),
]
