"""The HTTP cache: ``cache <name>`` sections, the ``cache-use`` (http-request) and
``cache-store`` (http-response) actions, the ``cache`` filter, the ``res.cache_hit`` and
``res.cache_name`` fetches and the ``show cache`` runtime command.

A proxy using cache-use/cache-store gets the cache filter implicitly (placed before the
compression filter, as HAProxy does) unless a ``filter cache <name>`` line places it.
store.py keeps the objects, runtime.py is the per-stream part."""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import Config
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Action, CliCommand, Fetch, Filter, RuleSet, Use
from hapx.core.sample.types import SmpType
from hapx.plugins.confkit import declare_section, simple_directive, v_int, v_on_off, v_size
from hapx.plugins.filters import KEY as FILTERS
from hapx.plugins.filters import FilterUse

from .runtime import KIND, CacheFilter, CacheRef, caches_of, fetch_hit, fetch_name, show_cache


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
        ref = CacheRef(args[0], store)
        ctx.defer(ref.check)
        # the proxy whose rules hold it gets the implicit filter (hapx_configure)
        ctx.section.settings.setdefault("cache-rules", []).append(ref)
        return ref
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
        KIND, post=_post, active=True,
        doc="cache <name>\n\nA shared HTTP response cache used by 'http-request cache-use' "
            "and 'http-response cache-store'."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        simple_directive("total-max-size", sec, "total-max-size <megabytes>\n\nSize of the "
                         "cache memory (1 to 4095 MB, default 64); the least recently used "
                         "objects are evicted beyond it.", [v_int(1, 4095)], active=True),
        simple_directive("max-object-size", sec, "max-object-size <bytes>\n\nLargest object "
                         "cached, headers included (at most half of total-max-size; default "
                         "a 256th of it).", [_object_size], active=True),
        simple_directive("max-age", sec, "max-age <seconds>\n\nMaximum time an object is "
                         "kept (default 60s); the response's s-maxage, max-age or Expires "
                         "may shorten it.", [v_int(0)], active=True),
        simple_directive("process-vary", sec, "process-vary <on|off>\n\nCache responses "
                         "with a Vary header on Accept-Encoding, Referer or Origin (one "
                         "entry per variant); off (default): responses with Vary are not "
                         "cached.", [v_on_off], active=True),
        simple_directive("max-secondary-entries", sec, "max-secondary-entries <number>\n\n"
                         "Variants kept for one primary key (default 10).", [v_int(1)], active=True),
    )


@hookimpl
def hapx_register_actions(actions: Any) -> None:
    actions.add(
        Action("cache-use", rulesets=frozenset({RuleSet.HTTP_REQ}), parse=_cache_action(False),
               doc="cache-use <name> [ { if | unless } <condition> ]\n\nServe GET and HEAD "
                   "requests from cache <name> when it holds a fresh object for them (with "
                   "an Age header; 304 to a matching conditional request); otherwise the "
                   "request goes on and its response may be stored by cache-store."),
        Action("cache-store", rulesets=frozenset({RuleSet.HTTP_RES}),
               parse=_cache_action(True),
               doc="cache-store <name> [ { if | unless } <condition> ]\n\nStore the "
                   "response in cache <name> when it is cacheable: a 200 to an HTTP/1.1 GET "
                   "looked up by cache-use, without Authorization, no-store, private, "
                   "no-cache, max-age=0 or an unprocessed Vary, with an expiration time or "
                   "a validator, and not larger than max-object-size."),
    )


@hookimpl
def hapx_register_filters(filters: Any) -> None:
    filters.add(Filter("cache", parse=_filter, ops=CacheFilter,
                       doc="cache <name>\n\nThe cache filter: it stores the response body "
                           "the filters before it produced. Implicit with cache-use and "
                           "cache-store (before the compression filter); declare it to "
                           "order it among other filters."))


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(
        Fetch("res.cache_hit", process=fetch_hit, out_type=SmpType.BOOL, uses=Use.HTTP_RES,
              doc="res.cache_hit : boolean\n\nTrue when the response was served from a "
                  "cache."),
        Fetch("res.cache_name", process=fetch_name, out_type=SmpType.STR, uses=Use.HTTP_RES,
              doc="res.cache_name : string\n\nThe name of the cache that served the "
                  "response; no sample when it did not come from a cache."),
    )


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(CliCommand(
        "show cache", words=("show", "cache"), level="admin", handler=show_cache,
        usage="show cache",
        doc="show cache\n\nShow cache status: each cache with its available blocks, then "
            "one line per object (hash, vary key, size, expiration in seconds)."))


@hookimpl
def hapx_configure(config: Config) -> None:
    """Create the caches; proxies using cache rules get the cache filter implicitly."""
    caches_of(config)
    rec = config.registry.filter("cache")
    if rec is None:
        return
    for px in config.proxies:
        refs = px.settings.get("cache-rules") or ()
        uses = px.settings.setdefault(FILTERS, []) if refs else []
        for ref in refs:
            if any(u.name == "cache" and u.conf.cache == ref.cache for u in uses):
                continue
            use = FilterUse("cache", rec, CacheRef(ref.cache, implicit=True), px.file,
                            px.line)
            comp = next((i for i, u in enumerate(uses) if u.name == "compression"), None)
            if comp is None:
                uses.append(use)
            else:
                uses.insert(comp, use)
