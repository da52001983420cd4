"""Header actions: add-header, set-header, del-header, replace-header, replace-value,
early-hint."""

from __future__ import annotations

import re
from typing import Any

from hapx.core.records import Action, ActionRule, ActResult
from hapx.core.rules import UnexpectedWord

from .common import ALL_SETS, REQ_SETS, at_least, compile_fmt, compile_regex, message, on_response


def expand_backrefs(template: str, m: re.Match[str]) -> str:
    """Replace ``\\0``..``\\9`` by the groups of ``m`` (``\\\\`` is a backslash)."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and i + 1 < len(template):
            nxt = template[i + 1]
            if nxt.isdigit():
                idx = int(nxt)
                if idx <= (m.re.groups or 0):
                    out.append(m.group(idx) or "")
                i += 2
                continue
            if nxt == "\\":
                out.append("\\")
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


_CONT = ActResult.CONT


class AddHeader(ActionRule):
    def __init__(self, name: str, fmt: Any, response: bool, replace: bool) -> None:
        self.name, self.fmt, self.response, self.replace = name, fmt, response, replace
        # the instance's run is the generated function itself (no method frame)
        self.run = self._run = _add_header(name, fmt, response, replace)  # type: ignore[method-assign]

    def run(self, strm: Any) -> ActResult:
        return self._run(strm)


def _add_header(name: str, fmt: Any, response: bool, replace: bool) -> Any:
    """The run function of add-header (``replace``: set-header): the value is evaluated
    first, then (set-header) every occurrence of the header is removed, then the field is
    appended.  A constant value is computed once."""
    render = fmt.render
    const: str | None = render(None) if fmt.is_const else None
    low, size = name.lower(), len(name)

    def run(strm: Any) -> ActResult:
        msg = strm.res if response else strm.req
        if msg is None:
            return _CONT
        value = const if const is not None else render(strm)
        headers = msg.headers
        if replace:
            # remove only when present: names are compared by length before lower()
            for hname, _ in headers:
                if len(hname) == size and hname.lower() == low:
                    msg.remove(name)
                    headers = msg.headers
                    break
        headers.append((name, value))
        return _CONT
    return run


class DelHeader(ActionRule):
    def __init__(self, name: str, method: str, response: bool) -> None:
        self.response = response
        low = name.lower()
        self._exact = (low, len(low)) if method == "str" else None
        tests = {
            "str": lambda n: n.lower() == low,
            "beg": lambda n: n.lower().startswith(low),
            "end": lambda n: n.lower().endswith(low),
            "sub": lambda n: low in n.lower(),
        }
        if method == "reg":
            rx = re.compile(name, re.I)
            self.test = lambda n: rx.search(n) is not None
        else:
            self.test = tests[method]

    def run(self, strm: Any) -> ActResult:
        msg = strm.res if self.response else strm.req
        if msg is None:
            return _CONT
        headers = msg.headers
        exact = self._exact
        if exact is not None:
            low, size = exact
            for hname, _ in headers:  # the usual case, no such header: no new list
                if len(hname) == size and hname.lower() == low:
                    break
            else:
                return _CONT
            kept = [h for h in headers if len(h[0]) != size or h[0].lower() != low]
        else:
            test = self.test
            kept = [h for h in headers if not test(h[0])]
        if len(kept) != len(headers):
            msg.headers = kept
        return _CONT


class ReplaceHeader(ActionRule):
    """Replace the whole value (or each comma-separated value) matching the regex."""

    def __init__(self, name: str, rx: re.Pattern[str], fmt: Any, response: bool,
                 per_value: bool) -> None:
        self.name, self.rx, self.fmt = name.lower(), rx, fmt
        self.response, self.per_value = response, per_value

    def _one(self, value: str, template: str) -> str:
        m = self.rx.search(value)
        return expand_backrefs(template, m) if m else value

    def run(self, strm: Any) -> ActResult:
        msg = message(strm, self.response)
        if msg is None:
            return ActResult.CONT
        template = self.fmt.render(strm)
        out = []
        for n, v in msg.headers:
            if n.lower() == self.name:
                if self.per_value:
                    v = ", ".join(self._one(part.strip(), template) for part in v.split(","))
                else:
                    v = self._one(v, template)
            out.append((n, v))
        msg.headers = out
        return ActResult.CONT


class EarlyHint(ActionRule):
    """Queue a header for the 103 Early Hints response the data path sends."""

    def __init__(self, name: str, fmt: Any) -> None:
        self.name, self.fmt = name, fmt

    def run(self, strm: Any) -> ActResult:
        strm.ext.setdefault("early_hints", []).append((self.name, self.fmt.render(strm)))
        return ActResult.CONT


def _parse_add(ctx: Any, args: list[str]) -> ActionRule:
    at_least(ctx, args, 2)
    return AddHeader(args[0], compile_fmt(ctx, args[1]), on_response(ctx), replace=False)


def _parse_set(ctx: Any, args: list[str]) -> ActionRule:
    at_least(ctx, args, 2)
    return AddHeader(args[0], compile_fmt(ctx, args[1]), on_response(ctx), replace=True)


def _parse_del(ctx: Any, args: list[str]) -> ActionRule:
    if not args:
        raise ctx.error("expects at least 1 argument")
    method = "str"
    rest = args[1:]
    if rest and rest[0] == "-m":
        if len(rest) < 2:
            raise ctx.error("-m flag expects exactly 1 argument")
        method = rest[1]
        if method not in ("str", "beg", "end", "sub", "reg"):
            raise ctx.error(f"-m with unsupported matching method '{method}'")
        if method == "reg":
            compile_regex(ctx, args[0])
        rest = rest[2:]
    if rest:
        raise UnexpectedWord(rest[0])
    return DelHeader(args[0], method, on_response(ctx))


def _parse_replace(per_value: bool) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        at_least(ctx, args, 3)
        return ReplaceHeader(args[0], compile_regex(ctx, args[1]), compile_fmt(ctx, args[2]),
                             on_response(ctx), per_value)
    return parse


def _parse_early_hint(ctx: Any, args: list[str]) -> ActionRule:
    at_least(ctx, args, 2)
    return EarlyHint(args[0], compile_fmt(ctx, args[1]))


ACTIONS = [
    Action("add-header", rulesets=ALL_SETS, parse=_parse_add,
           doc="add-header <name> <fmt>\n\nAppend a header field whose value is the "
               "evaluated log-format string."),
    Action("set-header", rulesets=ALL_SETS, parse=_parse_set,
           doc="set-header <name> <fmt>\n\nEvaluate the value, remove every occurrence of "
               "the header, then add it with that value."),
    Action("del-header", rulesets=ALL_SETS, parse=_parse_del,
           doc="del-header <name> [ -m <meth> ]\n\nRemove the header fields whose name "
               "matches (case-insensitive); <meth> is str (default), beg, end, sub or reg."),
    Action("replace-header", rulesets=ALL_SETS, parse=_parse_replace(False),
           doc="replace-header <name> <match-regex> <replace-fmt>\n\nIn each occurrence of "
               "the header whose value matches the regex, replace the whole value by the "
               "format, where \\1..\\9 are the regex's groups."),
    Action("replace-value", rulesets=ALL_SETS, parse=_parse_replace(True),
           doc="replace-value <name> <match-regex> <replace-fmt>\n\nLike replace-header, on "
               "each comma-separated value of the header."),
    Action("early-hint", rulesets=REQ_SETS, parse=_parse_early_hint, active=False,
           doc="early-hint <name> <fmt>\n\nSend the header in a 103 Early Hints interim "
               "response before the final one."),
]
