"""``userlist`` sections: users and groups for HTTP authentication (``http_auth``,
``http-request auth``).  Checking passwords comes in a later issue: the section parses and
validates (duplicates, unknown groups) and is inactive."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.confkit import declare_section, v_list, v_name

KIND = "userlist"


def _names(text: str) -> list[str]:
    return v_list(v_name)(text)


def _group(ctx: Any, args: list[str]) -> None:
    sec = ctx.section
    if not args:
        raise ctx.error(f"'group' expects <name> as argument in userlist '{sec.name}'.")
    name = args[0]
    groups = sec.settings.setdefault("groups", {})
    if name in groups:
        raise ctx.error(f"userlist '{sec.name}': group '{name}' is already declared.")
    users: list[str] = []
    rest = args[1:]
    if rest:
        if rest[0] != "users" or len(rest) != 2:
            raise ctx.error(f"'group {name}' expects 'users <user>[,<user>...]', got "
                            f"'{' '.join(rest)}'.")
        try:
            users = _names(rest[1])
        except ValueError as exc:
            raise ctx.error(f"'group {name}' : {exc}") from None
    groups[name] = users


def _user(ctx: Any, args: list[str]) -> None:
    sec = ctx.section
    if not args:
        raise ctx.error(f"'user' expects <name> as argument in userlist '{sec.name}'.")
    name = args[0]
    users = sec.settings.setdefault("users", {})
    if name in users:
        raise ctx.error(f"userlist '{sec.name}': user '{name}' is already declared.")
    entry: dict[str, Any] = {"password": None, "insecure": False, "groups": []}
    i = 1
    while i < len(args):
        word = args[i]
        if word not in ("password", "insecure-password", "groups") or i + 1 >= len(args):
            raise ctx.error(f"'user {name}' expects 'password <hash>', 'insecure-password "
                            f"<password>' or 'groups <group>[,<group>...]' (got '{word}').")
        value = args[i + 1]
        if word == "groups":
            try:
                entry["groups"] = _names(value)
            except ValueError as exc:
                raise ctx.error(f"'user {name}' : {exc}") from None
        else:
            if entry["password"] is not None:
                raise ctx.error(f"'user {name}' : only one password may be given.")
            if word == "password" and not value.startswith("$") and len(value) != 13:
                ctx.warning(f"userlist '{sec.name}', user '{name}': the password does not look "
                            "like a crypt(3) hash.")
            entry["password"] = value
            entry["insecure"] = word == "insecure-password"
        i += 2
    users[name] = entry


def _post(ctx: Any, sec: Any) -> None:
    groups = sec.settings.get("groups", {})
    users = sec.settings.get("users", {})
    for uname, entry in users.items():
        for g in entry["groups"]:
            if g not in groups:
                raise ctx.error(f"userlist '{sec.name}': no such group '{g}' for user "
                                f"'{uname}'.")
    for gname, members in groups.items():
        for u in members:
            if u not in users:
                raise ctx.error(f"userlist '{sec.name}': no such user '{u}' in group "
                                f"'{gname}'.")


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(
        KIND, post=_post,
        doc="userlist <name>\n\nUsers and groups for HTTP basic authentication."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        Directive("group", sections=sec, parse=_group, active=False,
                  doc="group <groupname> [users <user>,<user>,(...)]\n\nA group and its "
                      "members."),
        Directive("user", sections=sec, parse=_user, active=False,
                  doc="user <username> [password|insecure-password <password>] [groups "
                      "<group>,<group>,(...)]\n\nA user: a crypt(3) password hash or a clear "
                      "one, and its groups."),
    )
