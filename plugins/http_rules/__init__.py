"""The http-request, http-response and http-after-response rule sets and their actions.

Actions that produce a response (deny, tarpit, return, redirect, auth) store it on the
stream as ``strm.ext["http_reply"]`` (a :class:`~hapx.core.stream.HttpMessage`); the data
path sends it.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import ALL_PROXIES
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, RuleSet
from hapx.core.rules import parse_rule

from . import acl_map, basic, headers, misc, redirect, uri
from .common import rule_point

_RULESETS = {
    "http-request": RuleSet.HTTP_REQ,
    "http-response": RuleSet.HTTP_RES,
    "http-after-response": RuleSet.HTTP_AFTER_RES,
}


def parse_http_rule(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    if proxy.is_defaults and not proxy.name:
        raise ctx.error(f"'{ctx.keyword}' not allowed in anonymous 'defaults' section.")
    ruleset = _RULESETS[ctx.keyword]
    proxy.add_rule(parse_rule(ctx, ruleset, args, rule_point(proxy, ruleset)))


_DOCS = {
    "http-request": "Rules run on the request once its headers are parsed (frontend rules, "
                    "then backend rules).",
    "http-response": "Rules run on the server's response (backend rules, then frontend "
                     "rules).",
    "http-after-response": "Rules run on every response, including the ones hapx produces "
                           "itself (redirects, errors, return).",
}


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    for name, text in _DOCS.items():
        directives.add(Directive(
            name, sections=ALL_PROXIES, parse=parse_http_rule,
            usage=f"{name} <action> [options...] [ {{ if | unless }} <condition> ]",
            doc=f"{name} <action> [options...] [ {{ if | unless }} <condition> ]\n\n{text}  "
                "Allowed in named defaults sections, whose rules run first."))


@hookimpl
def hapx_register_actions(actions: Any) -> None:
    for module in (basic, redirect, headers, uri, misc, acl_map):
        actions.add(*module.ACTIONS)
