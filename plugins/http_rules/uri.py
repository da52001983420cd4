"""Request line rewrites: set-method, set-path, set-pathq, set-query, set-uri, replace-path,
replace-pathq, replace-uri and normalize-uri."""

from __future__ import annotations

import re
from typing import Any

from hapx.core.records import Action, ActionRule, ActResult
from hapx.core.rules import UnexpectedWord
from hapx.core.stream import HttpMessage

from .common import REQ_SETS, compile_fmt, compile_regex, exactly, strict_failure
from .headers import expand_backrefs


def split_uri(uri: str) -> tuple[str, str, str | None]:
    """(scheme+authority, path, query or None) of a request target."""
    head = ""
    rest = uri
    if not uri.startswith("/") and "://" in uri:
        start = uri.find("://") + 3
        slash = uri.find("/", start)
        qmark = uri.find("?", start)
        cut = min(x for x in (slash, qmark, len(uri)) if x >= 0)
        head, rest = uri[:cut], uri[cut:]
    path, sep, query = rest.partition("?")
    return head, path, (query if sep else None)


def join_uri(head: str, path: str, query: str | None) -> str:
    return head + path + (f"?{query}" if query is not None else "")


class UriRewrite(ActionRule):
    """Set one part of the request target from a format."""

    def __init__(self, part: str, fmt: Any) -> None:
        self.part, self.fmt = part, fmt

    def run(self, strm: Any) -> ActResult:
        req: HttpMessage | None = strm.req
        if req is None:
            return ActResult.CONT
        value = self.fmt.render(strm)
        head, path, query = split_uri(req.uri)
        if self.part == "method":
            if not value:
                return strict_failure(strm)
            req.method = value
        elif self.part == "uri":
            if not value:
                return strict_failure(strm)
            req.uri = value
        elif self.part == "path":
            req.uri = join_uri(head, value, query)
        elif self.part == "pathq":
            req.uri = head + value
        elif self.part == "query":
            if query is None and value == "":
                return ActResult.CONT
            req.uri = join_uri(head, path, value)
        return ActResult.CONT


class UriReplace(ActionRule):
    """Replace the path, path+query or URI when the regex matches it."""

    def __init__(self, part: str, rx: re.Pattern[str], fmt: Any) -> None:
        self.part, self.rx, self.fmt = part, rx, fmt

    def run(self, strm: Any) -> ActResult:
        req: HttpMessage | None = strm.req
        if req is None:
            return ActResult.CONT
        head, path, query = split_uri(req.uri)
        subject = {"path": path, "pathq": join_uri("", path, query), "uri": req.uri}[self.part]
        m = self.rx.search(subject)
        if m is None:
            return ActResult.CONT
        new = expand_backrefs(self.fmt.render(strm), m)
        if self.part == "path":
            req.uri = join_uri(head, new, query)
        elif self.part == "pathq":
            req.uri = head + new
        else:
            req.uri = new
        return ActResult.CONT


# -- normalize-uri -----------------------------------------------------------------------------

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")


class BadEncoding(ValueError):
    pass


def merge_slashes(path: str) -> str:
    return re.sub(r"/{2,}", "/", path)


def strip_dot(path: str) -> str:
    segs = path.split("/")
    out = [s for i, s in enumerate(segs) if not (s == "." and i > 0)]
    if segs and segs[-1] == "." and len(segs) > 1:
        out.append("")
    return "/".join(out)


def strip_dotdot(path: str, full: bool) -> str:
    if not path.startswith("/"):
        return path
    segs = path[1:].split("/")
    out: list[str] = []
    trailing = False
    for seg in segs:
        trailing = False
        if seg == "..":
            if out and out[-1] != "..":
                out.pop()
                trailing = True
            elif not full:
                out.append(seg)
            else:
                trailing = True
        else:
            out.append(seg)
    result = "/" + "/".join(out)
    if trailing and not result.endswith("/"):
        result += "/"
    return result


def _percent(text: str, strict: bool, fix: Any) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            code = text[i + 1:i + 3]
            if len(code) == 2 and all(c in _HEX for c in code):
                out.append(fix(code))
                i += 3
                continue
            if strict:
                raise BadEncoding(text)
        out.append(ch)
        i += 1
    return "".join(out)


def decode_unreserved(text: str, strict: bool) -> str:
    def fix(code: str) -> str:
        ch = chr(int(code, 16))
        return ch if ch in _UNRESERVED else "%" + code
    return _percent(text, strict, fix)


def percent_upper(text: str, strict: bool) -> str:
    return _percent(text, strict, lambda code: "%" + code.upper())


def sort_query(query: str) -> str:
    params = query.split("&")
    return "&".join(sorted(params, key=lambda p: p.split("=", 1)[0]))


_NORMALIZERS = {
    "path-merge-slashes": (), "path-strip-dot": (), "path-strip-dotdot": ("full",),
    "percent-decode-unreserved": ("strict",), "percent-to-uppercase": ("strict",),
    "query-sort-by-name": (), "fragment-strip": (), "fragment-encode": (),
}


class NormalizeUri(ActionRule):
    def __init__(self, name: str, option: bool) -> None:
        self.name, self.option = name, option

    def apply(self, uri: str) -> str:
        name = self.name
        if name == "fragment-strip":
            return uri.split("#", 1)[0]
        if name == "fragment-encode":
            return uri.replace("#", "%23")
        if name in ("percent-decode-unreserved", "percent-to-uppercase"):
            fn = decode_unreserved if name == "percent-decode-unreserved" else percent_upper
            head, path, query = split_uri(uri)
            return join_uri(head, fn(path, self.option),
                            fn(query, self.option) if query is not None else None)
        head, path, query = split_uri(uri)
        if name == "query-sort-by-name":
            return join_uri(head, path, sort_query(query) if query else query)
        if name == "path-merge-slashes":
            path = merge_slashes(path)
        elif name == "path-strip-dot":
            path = strip_dot(path)
        else:
            path = strip_dotdot(path, self.option)
        return join_uri(head, path, query)

    def run(self, strm: Any) -> ActResult:
        if strm.req is None:
            return ActResult.CONT
        try:
            strm.req.uri = self.apply(strm.req.uri)
        except BadEncoding:
            strm.status = 400
            return ActResult.INVALID
        return ActResult.CONT


# -- parsers ---------------------------------------------------------------------------------

def _parse_set(part: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        exactly(ctx, args, 1, "<format>")
        return UriRewrite(part, compile_fmt(ctx, args[0]))
    return parse


def _parse_replace(part: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        exactly(ctx, args, 2, "<match-regex> and <replace-format>")
        return UriReplace(part, compile_regex(ctx, args[0]), compile_fmt(ctx, args[1]))
    return parse


def _parse_normalize(ctx: Any, args: list[str]) -> ActionRule:
    if not args:
        raise ctx.error("missing argument <normalizer>")
    name = args[0]
    if name not in _NORMALIZERS:
        raise ctx.error(f"unknown normalizer '{name}'")
    option = False
    rest = args[1:]
    if rest:
        if rest[0] in _NORMALIZERS[name]:
            option = True
            rest = rest[1:]
        elif _NORMALIZERS[name]:
            raise ctx.error(f"unknown argument '{rest[0]}' for '{name}' normalizer")
    if rest:
        raise UnexpectedWord(rest[0])
    return NormalizeUri(name, option)


ACTIONS = [
    Action("set-method", rulesets=REQ_SETS, parse=_parse_set("method"),
           doc="set-method <fmt>\n\nReplace the request method."),
    Action("set-path", rulesets=REQ_SETS, parse=_parse_set("path"),
           doc="set-path <fmt>\n\nReplace the request path, keeping the query string."),
    Action("set-pathq", rulesets=REQ_SETS, parse=_parse_set("pathq"),
           doc="set-pathq <fmt>\n\nReplace the path and the query string."),
    Action("set-query", rulesets=REQ_SETS, parse=_parse_set("query"),
           doc="set-query <fmt>\n\nReplace the query string (without '?'); an existing '?' "
               "is kept even for an empty value."),
    Action("set-uri", rulesets=REQ_SETS, parse=_parse_set("uri"),
           doc="set-uri <fmt>\n\nReplace the whole request target."),
    Action("replace-path", rulesets=REQ_SETS, parse=_parse_replace("path"),
           doc="replace-path <match-regex> <replace-fmt>\n\nWhen the path matches, replace "
               "it by the format (\\1..\\9 are the regex's groups); the query is kept."),
    Action("replace-pathq", rulesets=REQ_SETS, parse=_parse_replace("pathq"),
           doc="replace-pathq <match-regex> <replace-fmt>\n\nLike replace-path on the path "
               "and the query string together."),
    Action("replace-uri", rulesets=REQ_SETS, parse=_parse_replace("uri"),
           doc="replace-uri <match-regex> <replace-fmt>\n\nLike replace-path on the whole "
               "request target."),
    Action("normalize-uri", rulesets=REQ_SETS, parse=_parse_normalize,
           doc="normalize-uri <normalizer> [<option>]\n\nNormalize the request target: "
               "path-merge-slashes, path-strip-dot, path-strip-dotdot [full], "
               "percent-decode-unreserved [strict], percent-to-uppercase [strict], "
               "query-sort-by-name, fragment-strip, fragment-encode.  A strict normalizer "
               "meeting a bad %-encoding answers 400."),
]
