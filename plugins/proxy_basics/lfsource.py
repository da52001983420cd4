"""Log-format strings written in defaults sections, compiled in each proxy that uses them.

A ``defaults`` section cannot keep a compiled log-format: proxies copy its settings when they
are declared, and a format must be compiled where it is used (the fetches available depend
on the proxy).  So a defaults section compiles its formats once to report errors at their
line, then stores a :class:`LogFormatSource`; the ``hapx_configure`` hook of proxy_basics
(:func:`compile_sources`) replaces every source a proxy inherited by the compiled
:class:`~hapx.core.sample.logformat.LogFormat`, reporting errors at the defaults line.

Formats written in a frontend, backend or listen section are compiled on the spot.

Thousands of proxies commonly inherit the same format (``option httplog`` in defaults): the
compiled format is shared between them when compiling it for the first one looked at
nothing of that proxy (:class:`_Watch`), so it is compiled once per evaluation point.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hapx.core.config.model import Config, Proxy
from hapx.core.config.parser import ParseContext
from hapx.core.config.reader import SourceLine
from hapx.core.errors import ConfigError
from hapx.core.records import Point


@dataclass(frozen=True)
class LogFormatSource:
    """A log-format string and where it was written.  ``context`` is "log" (log lines,
    unique-id) or "http" (header values, response bodies); ``fe_point``/``be_point`` are the
    evaluation points on each side."""

    text: str
    file: str
    line: int
    keyword: str
    context: str = "log"
    fe_point: Point = Point.FE_LOG_END
    be_point: Point = Point.FE_LOG_END

    def __deepcopy__(self, memo: dict[int, Any]) -> LogFormatSource:
        return self  # immutable: proxies inheriting it share it


#: what tells the compile of a format apart from one proxy to another
_PROXY_SPECIFIC = frozenset({"section", "proxy", "section_kind", "defer", "warning", "notice",
                             "mark_inactive", "diag", "point", "ruleset", "param"})


class _Watch:
    """A ParseContext as seen by one compile, noting whether the compile used anything of
    the proxy (its section, diagnostics, deferred checks): if not, the result holds for any
    proxy at the same evaluation point."""

    def __init__(self, ctx: Any) -> None:
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "specific", False)

    def __getattr__(self, name: str) -> Any:
        if name in _PROXY_SPECIFIC:
            object.__setattr__(self, "specific", True)
        return getattr(self._ctx, name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, "specific", True)
        setattr(self._ctx, name, value)


_SHARED = "proxy_basics.lfsource.shared"


def compile_in(ctx: ParseContext, src: LogFormatSource) -> Any:
    """Compile ``src`` for the proxy of ``ctx`` (raises ConfigError)."""
    from hapx.core.sample.logformat import compile_logformat

    point = ctx.proxy.point(src.fe_point, src.be_point) if isinstance(ctx.proxy, Proxy) \
        else src.fe_point
    config = getattr(ctx, "config", None)
    shared = None if config is None else config.ext.setdefault(_SHARED, {})
    key = (src.text, src.context, point, src.file, src.line, src.keyword)
    if shared is not None:
        found = shared.get(key)
        if found is not None:
            return found
    watch = _Watch(ctx)
    lf = compile_logformat(src.text, watch, point, context=src.context)
    if shared is not None and not watch.specific:
        shared[key] = lf
    return lf


def logformat_setting(ctx: ParseContext, text: str, *, context: str = "log",
                      fe_point: Point = Point.FE_LOG_END,
                      be_point: Point = Point.FE_LOG_END) -> Any:
    """What to store for a log-format written at ``ctx``: the compiled format in a proxy,
    a checked :class:`LogFormatSource` in a defaults section (raises ConfigError)."""
    src = LogFormatSource(text, ctx.file, ctx.line, ctx.keyword, context, fe_point, be_point)
    compiled = compile_in(ctx, src)
    if isinstance(ctx.proxy, Proxy) and ctx.proxy.is_defaults:
        return src
    return compiled


def _resolve(value: Any, px: Proxy, config: Config) -> Any:
    if isinstance(value, LogFormatSource):
        ctx = ParseContext(config, SourceLine(value.file, value.line, ""), value.keyword, [],
                           px.kind, px)
        try:
            return compile_in(ctx, value)
        except ConfigError as exc:
            config.diag.alert(f"{px.describe()}: {exc.message}", exc.file or value.file,
                              exc.line or value.line)
            return None
    if isinstance(value, dict):
        for key, item in list(value.items()):
            value[key] = _resolve(item, px, config)
        return value
    if isinstance(value, list):
        value[:] = [_resolve(item, px, config) for item in value]
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type) \
            and getattr(value, "lf_fields", None):
        for name in value.lf_fields:
            setattr(value, name, _resolve(getattr(value, name), px, config))
    return value


def compile_sources(config: Config) -> None:
    """Compile, in each proxy, the log-formats it inherited from a defaults section."""
    for px in config.proxies:
        _resolve(px.settings, px, config)
