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
_CPU_LIST = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*\Z")
CPU_POLICIES = ("none", "first-usable-node", "group-by-ccx", "group-by-2-ccx",
                "group-by-3-ccx", "group-by-4-ccx", "group-by-cluster", "group-by-2-clusters",
                "group-by-3-clusters", "group-by-4-clusters", "performance", "efficiency",
                "resource")
CPU_SET_DIRECTIVES = ("reset", "drop-cpu", "only-cpu", "drop-node", "only-node",
                      "drop-cluster", "only-cluster", "drop-core", "only-core", "drop-thread",
                      "only-thread")
#: the highest thread count and thread-group count hapx accepts (HAProxy's defaults)
MAX_THREADS = 4096
MAX_TGROUPS = 32


def master_worker(ctx: ParseContext, args: list[str]) -> dict[str, bool]:
    no_extra(ctx, args, 1)
    if args and args[0] != "no-exit-on-failure":
        raise ctx.error("'master-worker' only supports 'no-exit-on-failure' option.")
    return {"no-exit-on-failure": bool(args)}


def nbthread(ctx: ParseContext, args: list[str]) -> int:
    no_extra(ctx, args, 1)
    text = args[0] if args else ""
    if not text.isdigit():
        raise ctx.error(f"'nbthread' passed a missing or unparsable integer value in '{text}'")
    value = int(text)
    if not 1 <= value <= MAX_THREADS:
        raise ctx.error(f"'nbthread' value must be between 1 and {MAX_THREADS} (was {value})")
    return value


def thread_groups(ctx: ParseContext, args: list[str]) -> int:
    no_extra(ctx, args, 1)
    text = args[0] if args else ""
    value = int(text) if text.isdigit() else 0
    if not text.isdigit():
        raise ctx.error(f"'thread-groups' passed a missing or unparsable integer value in "
                        f"'{text}'")
    if not 1 <= value <= MAX_TGROUPS:
        raise ctx.error(f"'thread-groups' value must be between 1 and {MAX_TGROUPS} "
                        f"(was {value})")
    return value


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


# -- CPU placement (validated; applied by a later version) ------------------------------------

def cpu_policy(ctx: ParseContext, args: list[str]) -> str:
    no_extra(ctx, args, 1)
    if not args or args[0] not in CPU_POLICIES:
        raise ctx.error(f"unknown cpu-policy '{args[0] if args else ''}'. Supported values "
                        "are: " + ", ".join(f"'{p}'" for p in CPU_POLICIES) + ".")
    return args[0]


def cpu_set(ctx: ParseContext, args: list[str]) -> list[tuple[str, str | None]]:
    if not args:
        raise ctx.error("'cpu-set' expects at least one directive among: "
                        + ", ".join(CPU_SET_DIRECTIVES) + ".")
    out: list[tuple[str, str | None]] = list(ctx.section.settings.get("cpu-set", []))
    i = 0
    while i < len(args):
        word = args[i]
        if word not in CPU_SET_DIRECTIVES:
            raise ctx.error(f"'cpu-set' : unsupported directive '{word}'.")
        if word == "reset":
            out.append((word, None))
            i += 1
            continue
        what = word.split("-", 1)[1]
        what = "CPU" if what == "cpu" else what
        if i + 1 >= len(args) or not _CPU_LIST.match(args[i + 1]):
            raise ctx.error(f"'cpu-set {word}' : missing {what} set.")
        out.append((word, args[i + 1]))
        i += 2
    return out


def cpu_map(ctx: ParseContext, args: list[str]) -> list[tuple[str, list[str]]]:
    msg = ("cpu-map expects a thread group number, optionally followed by a thread set "
           "('all', 'odd', 'even', a number or a range), followed by a list of CPU ranges "
           "with numbers from 0 to 4095.")
    if len(args) < 2:
        raise ctx.error(msg)
    target = args[0].removeprefix("auto:")
    if not re.fullmatch(r"(all|odd|even|\d+(-\d+)?)(/(all|odd|even|\d+(-\d+)?))?", target):
        raise ctx.error(msg)
    for cpus in args[1:]:
        if not _CPU_LIST.match(cpus) or any(int(n) > 4095 for n in re.findall(r"\d+", cpus)):
            raise ctx.error(msg)
    return list(ctx.section.settings.get("cpu-map", [])) + [(args[0], args[1:])]


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
