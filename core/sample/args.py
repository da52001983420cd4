"""Typed argument lists: ``name(arg1,arg2)`` of fetches, converters and actions.

Inside the parentheses a second quoting level applies: ``'...'`` and ``"..."`` protect
``,`` and ``)``, and a backslash protects the next character (outside single quotes).
Messages follow HAProxy's ``make_arg_list()``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from ..records import Arg, ArgType
from .cast import str_to_int
from .vars import parse_var_name

#: names of the argument types in messages (HAProxy's arg_type_names)
TYPE_NAMES: dict[ArgType, str] = {
    ArgType.STR: "string", ArgType.SINT: "integer", ArgType.TIME: "delay",
    ArgType.SIZE: "size", ArgType.IPV4: "IPv4 address", ArgType.IPV6: "IPv6 address",
    ArgType.MSK4: "IPv4 mask", ArgType.MSK6: "IPv6 mask", ArgType.REGEX: "regex",
    ArgType.VAR: "variable", ArgType.BACKEND: "backend", ArgType.FRONTEND: "frontend",
    ArgType.SERVER: "server", ArgType.TABLE: "table", ArgType.USERLIST: "user list",
    ArgType.PATREF: "map",
}

_SINT = re.compile(r"[+-]?[0-9]+\Z")


class ArgError(ValueError):
    """A bad argument; ``position`` is 1-based."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


# -- splitting -------------------------------------------------------------------------------

#: what a backslash turns into inside an argument list (anything else keeps the backslash)
_ESCAPES = {"\\": "\\", " ": " ", '"': '"', "'": "'", "r": "\r", "n": "\n", "t": "\t"}


def find_closing(text: str, start: int) -> int:
    """The index of the ``)`` closing an argument list whose contents start at ``start``,
    honouring quotes and the escapes of :data:`_ESCAPES`; -1 when there is none.  As in
    HAProxy's ``make_arg_list()``, a backslash does not protect ``)`` or ``,``."""
    squote = dquote = False
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and not squote and i + 1 < n and text[i + 1] in _ESCAPES:
            i += 2
            continue
        if c == "'" and not dquote:
            squote = not squote
        elif c == '"' and not squote:
            dquote = not dquote
        elif c == ")" and not squote and not dquote:
            return i
        i += 1
    return -1


def split_args(text: str) -> list[str]:
    """The arguments inside ``( )``, with HAProxy's second-level quoting: quotes are removed,
    a backslash makes ``\\\\``, ``\\ ``, ``\\"``, ``\\'``, ``\\r``, ``\\n`` and ``\\t``, and any
    other backslash stays (``regsub(\\.,-)`` keeps the regex escape).  An empty text gives no
    argument; otherwise empty arguments around commas are kept (``"a,"`` is ``a`` and ``""``)."""
    if text == "":
        return []
    out: list[str] = []
    cur: list[str] = []
    squote = dquote = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and not squote and i + 1 < n and text[i + 1] in _ESCAPES:
            cur.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        if c == "'" and not dquote:
            squote = not squote
        elif c == '"' and not squote:
            dquote = not dquote
        elif c == "," and not squote and not dquote:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


# -- converting ------------------------------------------------------------------------------

def _parse_mask4(word: str) -> ipaddress.IPv4Network:
    if word.isdigit():
        bits = int(word)
        if bits > 32:
            raise ValueError(word)
        return ipaddress.IPv4Network(f"0.0.0.0/{bits}")
    return ipaddress.IPv4Network(f"0.0.0.0/{ipaddress.IPv4Address(word)}")


def _parse_mask6(word: str) -> ipaddress.IPv6Network:
    if not word.isdigit() or int(word) > 128:
        raise ValueError(word)
    return ipaddress.IPv6Network(f"::/{int(word)}")


_SIMPLE: dict[ArgType, Callable[[str], Any]] = {
    ArgType.IPV4: ipaddress.IPv4Address,
    ArgType.IPV6: ipaddress.IPv6Address,
    ArgType.MSK4: _parse_mask4,
    ArgType.MSK6: _parse_mask6,
}

#: argument types naming configuration objects, checked once everything is parsed
_NAMED = (ArgType.BACKEND, ArgType.FRONTEND, ArgType.SERVER, ArgType.TABLE, ArgType.USERLIST)


def _named_exists(kind: ArgType, name: str, config: Any, proxy: Any) -> bool:
    if kind == ArgType.BACKEND:
        return config.backend(name) is not None
    if kind == ArgType.FRONTEND:
        return config.frontend(name) is not None
    if kind == ArgType.SERVER:
        be_name, slash, srv = name.rpartition("/")
        px = config.backend(be_name) if slash else proxy
        return px is not None and px.server(srv) is not None
    if kind == ArgType.TABLE:
        return (config.proxy(name) is not None
                or name in config.ext.get("tables", {}))
    return name in config.sections.get("userlist", {})


def _defer_check(kind: ArgType, name: str, pos: int, ctx: Any, owner_desc: str) -> None:
    proxy = getattr(ctx, "section", None)

    def check(config: Any) -> None:
        if not _named_exists(kind, name, config, proxy):
            where = ""
            if proxy is not None and hasattr(proxy, "describe"):
                where = f" in {proxy.describe()}"
            raise ConfigError(f"unable to find {TYPE_NAMES[kind]} '{name}' referenced in arg "
                              f"{pos} of {owner_desc}{where}")

    ctx.defer(check)


def _convert_one(arg: Arg, word: str, pos: int, ctx: Any, owner_desc: str) -> Any:
    kind = arg.type
    tname = TYPE_NAMES[kind]
    if word == "" and kind not in (ArgType.STR, ArgType.PATREF):
        raise ArgError(f"expected type '{tname}' at position {pos}, but got nothing", pos)
    failed = ArgError(f"failed to parse '{word}' as type '{tname}' at position {pos}", pos)
    if kind in (ArgType.STR, ArgType.PATREF):
        if arg.choices is not None and word not in arg.choices:
            allowed = [f"'{c}'" for c in arg.choices]
            listing = (", ".join(allowed[:-1]) + " or " + allowed[-1]) if len(allowed) > 1 \
                else allowed[0]
            raise ArgError(f"expects {listing}, got '{word}'", pos)
        return word
    if kind == ArgType.SINT:
        if _SINT.match(word):
            return str_to_int(word)
        if arg.var_ok:
            try:
                return parse_var_name(word)
            except ValueError:
                raise ArgError("expects an integer or a variable name", pos) from None
        raise failed
    if kind in (ArgType.TIME, ArgType.SIZE):
        from ..config.units import UnitError, parse_size, parse_time
        try:
            return parse_time(word) if kind == ArgType.TIME else parse_size(word)
        except UnitError:
            raise failed from None
    if kind == ArgType.REGEX:
        try:
            return re.compile(word)
        except re.error as exc:
            raise ArgError(f"regex '{word}' is invalid (error={exc.msg}, erroffset={exc.pos})",
                           pos) from None
    if kind == ArgType.VAR:
        try:
            return parse_var_name(word)
        except ValueError as exc:
            raise ArgError(str(exc), pos) from None
    if kind in _NAMED:
        _defer_check(kind, word, pos, ctx, owner_desc)
        return word
    try:
        return _SIMPLE[kind](word)
    except ValueError:
        raise failed from None


def _too_many(raw: list[str], nbarg: int) -> str:
    rest = ",".join(raw[nbarg:])
    return f"expected ')' before '{',' if nbarg else ''}{rest})'"


def convert_args(spec: tuple[Arg, ...], raw: list[str], ctx: Any, owner_desc: str) -> list[Any]:
    """Typed values for ``raw`` (the split arguments) following ``spec``.

    Missing optional arguments take their ``Arg.default``.  Errors raise ConfigError:
    ``"<owner_desc> : <problem>"``, or for converters (``owner_desc`` starting with
    ``converter``) HAProxy's ``"invalid arg <n> in converter 'x' : <problem>"``.
    """
    try:
        return _convert(spec, raw, ctx, owner_desc)
    except ArgError as exc:
        if owner_desc.startswith("converter "):
            msg = f"invalid arg {exc.position} in {owner_desc} : {exc}"
        else:
            msg = f"{owner_desc} : {exc}"
        raise (ctx.error(msg) if ctx is not None and hasattr(ctx, "error")
               else ConfigError(msg)) from None


def _convert(spec: tuple[Arg, ...], raw: list[str], ctx: Any, owner_desc: str) -> list[Any]:
    nbarg = len(spec)
    mandatory = sum(1 for a in spec if not a.optional)
    if not raw and mandatory:
        raw = [""]  # an empty list holds one empty argument when one is mandatory
    if len(raw) > nbarg:
        raise ArgError(_too_many(raw, nbarg), max(nbarg, 1))
    out: list[Any] = []
    for idx, arg in enumerate(spec):
        if idx >= len(raw):
            if not arg.optional:
                raise ArgError(f"missing arguments (got {idx}/{mandatory}), type "
                               f"'{TYPE_NAMES[arg.type]}' expected", idx + 1)
            out.append(arg.default)
            continue
        out.append(_convert_one(arg, raw[idx], idx + 1, ctx, owner_desc))
    return out
