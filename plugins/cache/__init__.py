"""The HTTP cache: ``cache <name>`` sections, the ``cache-use`` (http-request) and
``cache-store`` (http-response) actions and the ``cache`` filter.  Caching comes in a later
issue: all of it parses and validates (sizes, names that must exist) and is inactive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Action, ActionRule, Filter, RuleSet
from hapx.plugins.confkit import declare_section, simple_directive, v_int, v_on_off, v_size

KIND = "cache"


@dataclass
class CacheRef(ActionRule):
    """A ``cache-use``/``cache-store`` action or a ``filter cache``: the cache it names."""

    cache: str
    store: bool = False


def _post(ctx: Any, sec: Any) -> None:
    total = sec.settings.get("total-max-size", 64)
    obj = sec.settings.get("max-object-size")
    if obj is not None and obj > total * 1024 * 1024 // 2:
        raise ctx.error(f"cache '{sec.name}' : 'max-object-size' ({obj}) cannot be larger "
                        f"than half of 'total-max-size' ({total} MB).")
    sec.settings.setdefault("total-max-size", 64)
    sec.settings.setdefault("max-age", 60)
    sec.settings.setdefault("max-secondary-entries", 10)


def _need_cache(ctx: Any, name: str, what: str) -> None:
    def check(config: Any) -> None:
        if name not in config.sections.get(KIND, {}):
            raise ctx.error(f"{what} : unable to find cache '{name}'.")
    ctx.defer(check)


def _cache_action(store: bool) -> Any:
    def parse(ctx: Any, args: list[str]) -> CacheRef:
        if len(args) != 1:
            raise ctx.error(f"'{ctx.keyword}' expects a cache name.")
        _need_cache(ctx, args[0], f"'{ctx.keyword}'")
        return CacheRef(args[0], store)
    return parse


def _filter(ctx: Any, args: list[str]) -> CacheRef:
    if len(args) != 1:
        raise ctx.error("'filter cache' expects exactly one cache name.")
    _need_cache(ctx, args[0], "'filter cache'")
    return CacheRef(args[0])


def _object_size(text: str) -> int:
    value = v_size(text)
    if value <= 0:
        raise ValueError(f"expects a positive size, got '{text}'")
    return value


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(
        KIND, post=_post,
        doc="cache <name>\n\nA shared HTTP response cache used by 'http-request cache-use' "
            "and 'http-response cache-store'."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        simple_directive("total-max-size", sec, "total-max-size <megabytes>\n\nSize of the "
                         "cache memory (1 to 4095 MB, default 64).", [v_int(1, 4095)]),
        simple_directive("max-object-size", sec, "max-object-size <bytes>\n\nLargest object "
                         "cached (at most half of total-max-size).", [_object_size]),
        simple_directive("max-age", sec, "max-age <seconds>\n\nMaximum time an object is "
                         "kept (default 60s); Cache-Control max-age may shorten it.",
                         [v_int(0)]),
        simple_directive("process-vary", sec, "process-vary <on|off>\n\nCache responses "
                         "with a Vary header (one entry per variant).", [v_on_off]),
        simple_directive("max-secondary-entries", sec, "max-secondary-entries <number>\n\n"
                         "Variants kept for one primary key (default 10).", [v_int(1)]),
    )


@hookimpl
def hapx_register_actions(actions: Any) -> None:
    actions.add(
        Action("cache-use", rulesets=frozenset({RuleSet.HTTP_REQ}), parse=_cache_action(False),
               active=False,
               doc="cache-use <name>\n\nServe the response from cache <name> when it holds "
                   "one."),
        Action("cache-store", rulesets=frozenset({RuleSet.HTTP_RES}),
               parse=_cache_action(True), active=False,
               doc="cache-store <name>\n\nStore the response in cache <name>."),
    )


@hookimpl
def hapx_register_filters(filters: Any) -> None:
    filters.add(Filter("cache", parse=_filter, active=False,
                       doc="cache <name>\n\nThe cache filter: needed (and placed) explicitly "
                           "when other filters are declared, to order them."))
