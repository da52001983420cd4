"""The HTML statistics page, as HAProxy serves it: the proxy keywords ``stats enable``,
``stats uri``, ``stats realm``, ``stats auth``, ``stats refresh``, ``stats admin``,
``stats http-request``, ``stats scope``, ``stats show-legends``, ``stats show-node``,
``stats show-desc``, ``stats show-modules`` and ``stats hide-version``.

A proxy (``listen``, ``backend``, or a ``frontend``, as HAProxy accepts) with any of them
serves the page on requests whose URI starts with ``stats uri`` (default
``/haproxy?stats``): :mod:`.page` answers GET/HEAD with the page (:mod:`.html`), the CSV,
JSON or typed exports (``;csv``, ``;json``, ``;typed``), and POSTs of the admin form
(server actions, then a 303 to ``<uri>;st=<status>``).  Everything comes from the statistics
registry ``show stat`` reads (:mod:`hapx.core.stats`), so a statistic a plugin adds is in
the exports and, with ``stats show-modules``, in the page's "Extra modules" columns.

The page is compiled once per configuration (``hapx_post_check``) into an action appended
to the proxy's ``http-request`` rules: it runs after the rules written in the configuration,
as HAProxy checks the stats URI after them.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import ALL_PROXIES, Rule
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, Point
from hapx.plugins.confkit import simple_directive, v_str, v_time

from .page import StatsPage, StatsSettings

#: the settings keys of this plugin's keywords (a proxy with one of them serves the page)
KEYS = ("stats enable", "stats uri", "stats realm", "stats auth", "stats refresh",
        "stats admin", "stats http-request", "stats scope", "stats show-legends",
        "stats show-node", "stats show-desc", "stats show-modules", "stats hide-version")
DEFAULT_URI = "/haproxy?stats"
DEFAULT_REALM = "HAProxy Statistics"
EXT = "stats_page"
#: where the keywords with a condition are allowed (not in defaults, as HAProxy)
_NO_DEFAULTS = frozenset({"frontend", "backend", "listen"})


def _auth(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise ValueError(f"expects <user>:<password>, got '{text}'")
    return user, password


def _condition(ctx: Any, words: list[str]) -> Any:
    if not words or words[0] not in ("if", "unless"):
        raise ctx.error(f"'{ctx.keyword}' requires either 'if' or 'unless' followed by a "
                        "condition.")
    from hapx.core.sample.cond import compile_condition

    point = ctx.proxy.point(Point.FE_HRQ_HDR, Point.BE_HRQ_HDR)
    return compile_condition(words, ctx, point)


def _admin(ctx: Any, args: list[str]) -> None:
    ctx.section.settings["stats admin"] = _condition(ctx, args)


def _http_request(ctx: Any, args: list[str]) -> None:
    if not args or args[0] not in ("allow", "deny", "auth"):
        raise ctx.error("'stats http-request' requires a rule among 'allow', 'deny' and "
                        "'auth'.")
    action = args[0]
    rest = args[1:]
    realm = None
    if action == "auth" and len(rest) >= 2 and rest[0] == "realm":
        realm, rest = rest[1], rest[2:]
    cond = _condition(ctx, rest) if rest else None
    ctx.section.settings.setdefault("stats http-request", []).append((action, realm, cond))


def _text(key: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> None:
        ctx.section.settings[key] = " ".join(args) if args else True
    return parse


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    px = ALL_PROXIES
    directives.add(
        simple_directive("stats enable", px, "stats enable\n\nEnable the statistics page "
                         "with the default settings (uri /haproxy?stats, realm \"HAProxy "
                         "Statistics\", no authentication).", active=True),
        simple_directive("stats uri", px, "stats uri <prefix>\n\nServe the statistics page "
                         "on requests whose URI starts with <prefix> (enables the page).",
                         [v_str], active=True),
        simple_directive("stats realm", px, "stats realm <realm>\n\nThe realm of the Basic "
                         "authentication the page asks for (with stats auth).", [v_str],
                         active=True),
        simple_directive("stats auth", px, "stats auth <user>:<passwd>\n\nA user allowed to "
                         "see the statistics page (repeatable); without one the page needs "
                         "no authentication.", [_auth], multi=True, active=True),
        simple_directive("stats refresh", px, "stats refresh <delay>\n\nAsk browsers to "
                         "reload the page every <delay> (seconds by default): the Refresh "
                         "header, unless the URI has ;norefresh.", [v_time("s")],
                         active=True),
        Directive("stats admin", sections=_NO_DEFAULTS, parse=_admin,
                  doc="stats admin { if | unless } <cond>\n\nEnable the admin form of the "
                      "statistics page (server actions: ready, drain, maint, health and "
                      "agent checks, kill sessions) when the condition matches."),
        Directive("stats http-request", sections=_NO_DEFAULTS, parse=_http_request,
                  doc="stats http-request { allow | deny | auth [realm <realm>] } "
                      "[ { if | unless } <condition> ]\n\nAccess control of the statistics "
                      "page: the first matching rule decides (deny answers 403, auth asks "
                      "for credentials, allow skips the stats auth check)."),
        Directive("stats hide-version", sections=px, parse=_text("stats hide-version"),
                  doc="stats hide-version\n\nDo not show the version on the statistics "
                      "page."),
        Directive("stats show-legends", sections=px, parse=_text("stats show-legends"),
                  doc="stats show-legends\n\nShow details on the statistics page: each "
                      "proxy's capabilities, mode and id, each server's and listener's "
                      "address and id, the backend's balancing algorithm."),
        Directive("stats show-node", sections=px, parse=_text("stats show-node"),
                  doc="stats show-node [ <name> ]\n\nShow the node name (global node, or "
                      "<name>) on the statistics page."),
        Directive("stats show-desc", sections=px, parse=_text("stats show-desc"),
                  doc="stats show-desc [ <desc> ]\n\nShow a description (global "
                      "description, or <desc>) on the statistics page."),
        simple_directive("stats show-modules", px, "stats show-modules\n\nShow the "
                         "statistics plugins add (the registry's extra fields) in an "
                         "\"Extra modules\" column group.", active=True),
        simple_directive("stats scope", px, "stats scope { <name> | \".\" }\n\nShow only "
                         "these proxies on the page (repeatable; '.' is the proxy serving "
                         "it).", [v_str], multi=True, active=True),
    )


def settings_of(px: Any, config: Any) -> StatsSettings | None:
    """The page settings of a proxy, None when it does not serve the page."""
    s = px.settings
    if not any(k in s and s[k] is not False for k in KEYS):
        return None
    node_word = s.get("stats show-node")
    desc_word = s.get("stats show-desc")
    gset = config.global_.settings
    scope = [v[0] if isinstance(v, list) else v for v in s.get("stats scope") or ()]
    refresh = s.get("stats refresh")
    return StatsSettings(
        uri=str(s.get("stats uri") or DEFAULT_URI),
        realm=str(s.get("stats realm") or DEFAULT_REALM).replace("\\ ", " "),
        users={u: p for u, p in (v[0] if isinstance(v, list) else v
                                 for v in s.get("stats auth") or ())},
        refresh=int(refresh) // 1000 if refresh else 0,
        admin=s.get("stats admin"),
        rules=list(s.get("stats http-request") or ()),
        scope=[px.name if name == "." else name for name in scope],
        legends=bool(s.get("stats show-legends")),
        show_node=node_word is not None,
        node=(node_word if isinstance(node_word, str) else
              str(gset.get("node") or "") or None),
        show_desc=desc_word is not None,
        desc=(desc_word if isinstance(desc_word, str) else
              str(gset.get("description") or "")),
        hide_version=bool(s.get("stats hide-version")),
        modules=bool(s.get("stats show-modules")),
    )


@hookimpl
def hapx_post_check(config: Any) -> None:
    """Compile the page of every proxy that serves one into an http-request rule."""
    pages = []
    for px in config.proxies:
        if px.is_defaults or px.mode != "http":
            continue
        st = settings_of(px, config)
        if st is None:
            continue
        page = StatsPage(config, px, st)
        px.rules.setdefault("http-request", []).append(
            Rule(ruleset="http-request", keyword="stats", action=page))
        pages.append(page)
    config.ext[EXT] = pages


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    for page in config.ext.get(EXT) or ():
        page.start(runtime)
