"""Conditions of ``.if`` / ``.elif`` blocks and of ``hapx -cc``.

    expr := and ( "||" and )*          and  := term ( "&&" term )*
    term := "!" term | "(" expr ")" | predicate "(" args ")" | integer | "" (false)

Both operators short-circuit; an integer is true when non-zero, an empty string is false.
Predicates: defined, feature, streq, strneq, strstr, version_atleast, version_before,
enabled, openssl_version_atleast, openssl_version_before, ssllib_name_startswith.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..version import HAPROXY_VERSION


class ConditionError(ValueError):
    """A condition that cannot be parsed; ``column`` points into the joined text."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.column = column


def parse_version(text: str) -> tuple[int, ...]:
    """``"3.2"`` -> (3, 2); ``"3.2-dev4"`` -> (3, 2) with the suffix ignored."""
    m = re.match(r"(\d+(?:\.\d+)*)", text.strip())
    if not m:
        raise ConditionError(f"invalid version '{text}'")
    return tuple(int(p) for p in m.group(1).split("."))


def _cmp_versions(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


#: runtime options known to ``enabled()`` and whether hapx has them
RUNTIME_OPTIONS = {
    "POLL": True, "EPOLL": True, "KQUEUE": False, "EVPORTS": False, "SPLICE": False,
    "GETADDRINFO": True, "REUSEPORT": True, "FAST-FORWARD": True,
    "SERVER-SSL-VERIFY-NONE": False,
}


@dataclass
class CondContext:
    """What predicates consult."""

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    features: Callable[[str], bool] = lambda name: False
    version: str = HAPROXY_VERSION
    options: Mapping[str, bool] = field(default_factory=lambda: dict(RUNTIME_OPTIONS))


def _openssl_version() -> tuple[int, ...]:
    return tuple(ssl.OPENSSL_VERSION_INFO[:3])


def _pred_defined(ctx: CondContext, args: list[str]) -> bool:
    return args[0] in ctx.env


def _pred_feature(ctx: CondContext, args: list[str]) -> bool:
    return ctx.features(args[0])


def _pred_streq(ctx: CondContext, args: list[str]) -> bool:
    return args[0] == args[1]


def _pred_strneq(ctx: CondContext, args: list[str]) -> bool:
    return args[0] != args[1]


def _pred_strstr(ctx: CondContext, args: list[str]) -> bool:
    return args[1] in args[0]


def _pred_version_atleast(ctx: CondContext, args: list[str]) -> bool:
    return _cmp_versions(parse_version(ctx.version), parse_version(args[0])) >= 0


def _pred_version_before(ctx: CondContext, args: list[str]) -> bool:
    return _cmp_versions(parse_version(ctx.version), parse_version(args[0])) < 0


def _pred_enabled(ctx: CondContext, args: list[str]) -> bool:
    return bool(ctx.options.get(args[0].upper(), False))


def _pred_openssl_atleast(ctx: CondContext, args: list[str]) -> bool:
    return _cmp_versions(_openssl_version(), parse_version(args[0])) >= 0


def _pred_openssl_before(ctx: CondContext, args: list[str]) -> bool:
    return _cmp_versions(_openssl_version(), parse_version(args[0])) < 0


def _pred_ssllib_startswith(ctx: CondContext, args: list[str]) -> bool:
    return ssl.OPENSSL_VERSION.split()[0].startswith(args[0])


#: predicate name -> (number of arguments, function)
PREDICATES: dict[str, tuple[int, Callable[[CondContext, list[str]], bool]]] = {
    "defined": (1, _pred_defined),
    "feature": (1, _pred_feature),
    "streq": (2, _pred_streq),
    "strneq": (2, _pred_strneq),
    "strstr": (2, _pred_strstr),
    "version_atleast": (1, _pred_version_atleast),
    "version_before": (1, _pred_version_before),
    "enabled": (1, _pred_enabled),
    "openssl_version_atleast": (1, _pred_openssl_atleast),
    "openssl_version_before": (1, _pred_openssl_before),
    "ssllib_name_startswith": (1, _pred_ssllib_startswith),
}


class _Parser:
    def __init__(self, text: str, ctx: CondContext) -> None:
        self.s = text
        self.i = 0
        self.ctx = ctx

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def expr(self, live: bool) -> bool:
        result = self.and_(live)
        while True:
            self.ws()
            if self.s.startswith("||", self.i):
                self.i += 2
                rhs = self.and_(live and not result)
                result = result or rhs
            else:
                return result

    def and_(self, live: bool) -> bool:
        result = self.term(live)
        while True:
            self.ws()
            if self.s.startswith("&&", self.i):
                self.i += 2
                rhs = self.term(live and result)
                result = result and rhs
            else:
                return result

    def term(self, live: bool) -> bool:
        self.ws()
        if self.i >= len(self.s):
            return False  # an empty term is false
        c = self.s[self.i]
        if c == "!":
            self.i += 1
            return not self.term(live)
        if c == "(":
            self.i += 1
            val = self.expr(live)
            self.ws()
            if self.i >= len(self.s) or self.s[self.i] != ")":
                raise ConditionError("expected ')'", self.i)
            self.i += 1
            return val
        m = re.compile(r"-?\d+").match(self.s, self.i)
        if m:
            self.i = m.end()
            return int(m.group(0)) != 0
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.s, self.i)
        if not m:
            raise ConditionError(f"unparsable conditional expression '{self.s[self.i:]}'", self.i)
        name, start = m.group(0), self.i
        self.i = m.end()
        if name not in PREDICATES:
            raise ConditionError(f"unknown term '{name}' in conditional expression", start)
        nargs, fn = PREDICATES[name]
        args = self.args(name)
        if len(args) != nargs:
            raise ConditionError(
                f"'{name}' expects {nargs} argument{'s' if nargs > 1 else ''}, got {len(args)}",
                start)
        return fn(self.ctx, args) if live else False

    def args(self, name: str) -> list[str]:
        self.ws()
        if self.i >= len(self.s) or self.s[self.i] != "(":
            raise ConditionError(f"missing opening parenthesis after '{name}'", self.i)
        self.i += 1
        out: list[str] = []
        cur: list[str] = []
        quote = ""
        while self.i < len(self.s):
            c = self.s[self.i]
            self.i += 1
            if quote:
                if c == quote:
                    quote = ""
                elif c == "\\" and self.i < len(self.s):
                    cur.append(self.s[self.i])
                    self.i += 1
                else:
                    cur.append(c)
            elif c in "'\"":
                quote = c
            elif c == "\\" and self.i < len(self.s):
                cur.append(self.s[self.i])
                self.i += 1
            elif c == ",":
                out.append("".join(cur))
                cur = []
            elif c == ")":
                out.append("".join(cur))
                if out == [""]:
                    out = []
                return out
            else:
                cur.append(c)
        raise ConditionError(f"missing closing parenthesis after '{name}' arguments", self.i)


def evaluate(text: str, ctx: CondContext | None = None) -> bool:
    """Evaluate a condition; raise ConditionError when it does not parse."""
    parser = _Parser(text, ctx or CondContext())
    result = parser.expr(True)
    parser.ws()
    if parser.i != len(parser.s):
        raise ConditionError(f"unexpected character '{parser.s[parser.i]}' in conditional "
                             "expression", parser.i)
    return result
