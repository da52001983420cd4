"""Global keywords with their own argument rules."""

from __future__ import annotations

import grp
import os
import pwd
import re
from typing import Any

from hapx.core.config.parser import ParseContext

from .values import no_extra

_NODE = re.compile(r"[A-Za-z0-9._-]+\Z")


def master_worker(ctx: ParseContext, args: list[str]) -> dict[str, bool]:
    no_extra(ctx, args, 1)
    if args and args[0] != "no-exit-on-failure":
        raise ctx.error("'master-worker' only supports 'no-exit-on-failure' option.")
    return {"no-exit-on-failure": bool(args)}


def user(ctx: ParseContext, args: list[str]) -> dict[str, Any]:
    no_extra(ctx, args, 1)
    name = args[0] if args else ""
    try:
        ent = pwd.getpwnam(name)
    except KeyError:
        raise ctx.error(f"cannot find user id for '{name}' (0:Success)") from None
    return {"name": name, "uid": ent.pw_uid}


def group(ctx: ParseContext, args: list[str]) -> dict[str, Any]:
    no_extra(ctx, args, 1)
    name = args[0] if args else ""
    try:
        ent = grp.getgrnam(name)
    except KeyError:
        raise ctx.error(f"cannot find group id for '{name}' (0:Success)") from None
    return {"name": name, "gid": ent.gr_gid}


def numeric_id(ctx: ParseContext, args: list[str]) -> int:
    no_extra(ctx, args, 1)
    if not args:
        raise ctx.error(f"'{ctx.keyword}' expects an integer argument.")
    if not args[0].isdigit():
        other = "user" if ctx.keyword == "uid" else "group"
        raise ctx.error(f"{ctx.keyword}: string '{args[0]}' is not a number.\n   | You might "
                        f"want to use the '{other}' parameter to use a system {other} name.")
    return int(args[0])


def node(ctx: ParseContext, args: list[str]) -> str:
    no_extra(ctx, args, 1)
    if not args or not _NODE.match(args[0]):
        raise ctx.error("'node' requires valid node name - non-empty string with digits(0-9), "
                        "letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_).")
    return args[0]


# -- environment: applied at once, so later lines expand with the new values -----------------

def setenv(ctx: ParseContext, args: list[str]) -> None:
    if len(args) < 2:
        raise ctx.error(f"'{ctx.keyword}' expects a name and a value.")
    no_extra(ctx, args, 2)
    if ctx.keyword == "setenv" or args[0] not in os.environ:
        os.environ[args[0]] = args[1]


def unsetenv(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error("'unsetenv' expects at least one variable name.")
    for name in args:
        os.environ.pop(name, None)


def resetenv(ctx: ParseContext, args: list[str]) -> None:
    keep = set(args)
    for name in list(os.environ):
        if name not in keep:
            del os.environ[name]


def default_path(ctx: ParseContext, args: list[str]) -> tuple[str, str | None]:
    modes = ("current", "config", "parent", "origin")
    if not args or args[0] not in modes:
        raise ctx.error(f"unsupported default-path mode '{args[0] if args else ''}' for "
                        "'default-path', supported modes include 'current', 'config', "
                        "'parent', and 'origin'.")
    if args[0] == "origin":
        if len(args) < 2 or not args[1]:
            raise ctx.error("'default-path origin' expects a path as an argument.")
        no_extra(ctx, args, 2)
        return "origin", args[1]
    no_extra(ctx, args, 1)
    return args[0], None


def dns_accept_family(ctx: ParseContext, args: list[str]) -> tuple[str, ...]:
    no_extra(ctx, args, 1)
    if not args:
        raise ctx.error("'dns-accept-family' expects a comma-separated list of families "
                        "among 'ipv4', 'ipv6' and 'auto'.")
    fams = tuple(args[0].split(","))
    for fam in fams:
        if fam not in ("ipv4", "ipv6", "auto"):
            raise ctx.error(f"'dns-accept-family' : unsupported family '{fam}'. Supported "
                            "values are 'ipv4', 'ipv6' and 'auto'.")
    return fams


# -- TLS and file bases -------------------------------------------------------------------

def base_dir(ctx: ParseContext, args: list[str]) -> str:
    if not args:
        raise ctx.error(f"global statement '{ctx.keyword}' expects a directory path as an "
                        "argument.")
    no_extra(ctx, args, 1)
    if ctx.keyword in ctx.section.settings:
        raise ctx.error(f"'{ctx.keyword}' already specified.")
    return args[0]


def ssl_text(what: str) -> Any:
    def parse(ctx: ParseContext, args: list[str]) -> str:
        if not args:
            raise ctx.error(f"global statement '{ctx.keyword}' expects {what} as an argument.")
        no_extra(ctx, args, 1)
        return args[0]
    return parse


SSL_OPTIONS = ("no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13", "force-sslv3",
               "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13", "no-tls-tickets",
               "ssl-min-ver", "ssl-max-ver", "prefer-client-ciphers", "strict-sni")
SSL_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def ssl_options(ctx: ParseContext, args: list[str]) -> list[str]:
    i = 0
    out: list[str] = []
    while i < len(args):
        word = args[i]
        if word not in SSL_OPTIONS:
            raise ctx.error(f"'{ctx.keyword}' unknown option '{word}'.")
        if word in ("ssl-min-ver", "ssl-max-ver"):
            if i + 1 >= len(args) or args[i + 1] not in SSL_VERSIONS:
                raise ctx.error(f"'{ctx.keyword}' : '{word}' expects one of "
                                + ", ".join(SSL_VERSIONS) + ".")
            out.append(f"{word} {args[i + 1]}")
            i += 2
            continue
        out.append(word)
        i += 1
    return out


def busy_polling(ctx: ParseContext, args: list[str]) -> bool:
    no_extra(ctx, args, 0)
    return ctx.prefix != "no"
