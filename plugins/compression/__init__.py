"""HTTP compression: the ``compression algo|algo-res|algo-req|type|type-res|type-req|
direction|offload|minsize-res|minsize-req`` settings and the ``compression`` filter
(codec.py), streamed (streams.py: gzip, deflate, raw-deflate, identity; br and zstd when
their packages are installed).  A proxy with
compression settings gets the filter implicitly, as HAProxy does, unless a ``filter
compression`` line places it explicitly."""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import ALL_PROXIES, Config
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, Feature, Filter
from hapx.plugins.confkit import v_size
from hapx.plugins.filters import KEY as FILTERS
from hapx.plugins.filters import FilterUse

from .codec import CompressionFilter
from .streams import ALGORITHMS, EXTENSIONS

KEY = "compression"


def _settings(ctx: Any) -> dict[str, Any]:
    return ctx.section.settings.setdefault(KEY, {})


def _algos(ctx: Any, args: list[str], *, single: bool = False) -> list[str]:
    if not args:
        raise ctx.error(f"'{ctx.keyword}' expects <algorithm>.")
    if single and len(args) > 1:
        raise ctx.error(f"'{ctx.keyword}' : only one algorithm is supported.")
    for algo in args:
        if algo in EXTENSIONS and algo not in ALGORITHMS:
            raise ctx.error(f"'{ctx.keyword}' : '{algo}' needs the Python package "
                            f"'{EXTENSIONS[algo]}', which is not installed.")
        if algo not in ALGORITHMS:
            raise ctx.error(f"'{ctx.keyword}' : '{algo}' is not a supported algorithm "
                            f"(supported: {', '.join(ALGORITHMS)}).")
    if "deflate" in args and "raw-deflate" in args:
        raise ctx.error(f"'{ctx.keyword}' : 'deflate' and 'raw-deflate' both answer the "
                        "'deflate' token and cannot be combined.")
    return list(args)


def _algo(ctx: Any, args: list[str]) -> None:
    key = "algo-req" if ctx.keyword.endswith("algo-req") else "algo-res"
    _settings(ctx)[key] = _algos(ctx, args, single=key == "algo-req")


def _types(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error(f"'{ctx.keyword}' expects <type>.")
    key = "type-req" if ctx.keyword.endswith("type-req") else "type-res"
    _settings(ctx).setdefault(key, []).extend(a.lower() for a in args)


def _minsize(ctx: Any, args: list[str]) -> None:
    if len(args) != 1:
        raise ctx.error(f"'{ctx.keyword}' expects exactly one size argument.")
    try:
        _settings(ctx)[ctx.keyword.split()[1]] = v_size(args[0])
    except ValueError as exc:
        raise ctx.error(f"'{ctx.keyword}' : {exc}") from None


def _direction(ctx: Any, args: list[str]) -> None:
    if len(args) != 1 or args[0] not in ("request", "response", "both"):
        raise ctx.error(f"'{ctx.keyword}' expects 'request', 'response', or 'both'.")
    _settings(ctx)["direction"] = args[0]


def _offload(ctx: Any, args: list[str]) -> None:
    if args:
        raise ctx.error(f"'{ctx.keyword}' takes no argument.")
    if ctx.section.kind == "defaults":
        ctx.warning("'compression offload' ignored in 'defaults' section.")
        return
    _settings(ctx)["offload"] = True


def _filter(ctx: Any, args: list[str]) -> dict[str, Any]:
    if args:
        raise ctx.error(f"'filter compression' takes no argument (got '{args[0]}').")
    return {}


_DOCS = {
    "algo": ("compression algo <algorithm> ...", "Response algorithms (legacy name of "
             "algo-res): identity, gzip, deflate, raw-deflate; br and zstd (hapx "
             "extensions) when the brotli / zstandard package is installed.", _algo),
    "algo-res": ("compression algo-res <algorithm> ...", "Algorithms for responses, chosen "
                 "by the client's Accept-Encoding.", _algo),
    "algo-req": ("compression algo-req <algorithm>", "The one algorithm for requests.",
                 _algo),
    "type": ("compression type <mime type> ...", "Response types to compress (legacy name "
             "of type-res).", _types),
    "type-res": ("compression type-res <mime type> ...", "Response Content-Types to "
                 "compress (prefix match).", _types),
    "type-req": ("compression type-req <mime type> ...", "Request Content-Types to "
                 "compress.", _types),
    "minsize-res": ("compression minsize-res <size>", "Smallest response payload compressed "
                    "(default 0) (3.2).", _minsize),
    "minsize-req": ("compression minsize-req <size>", "Smallest request payload compressed "
                    "(default 0) (3.2).", _minsize),
    "direction": ("compression direction <request|response|both>", "What is compressed "
                  "(default response).", _direction),
    "offload": ("compression offload", "Remove Accept-Encoding so the server never "
                "compresses (ignored in defaults).", _offload),
}


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    for word, (usage, text, parse) in _DOCS.items():
        directives.add(Directive(f"compression {word}", sections=ALL_PROXIES, parse=parse,
                                 usage=usage, doc=f"{usage}\n\n{text}"))


@hookimpl
def hapx_register_filters(filters: Any) -> None:
    filters.add(Filter("compression", parse=_filter, ops=CompressionFilter,
                       doc="compression\n\nThe HTTP compression filter (settings from the "
                           "'compression' keywords); explicit only when other filters are "
                           "declared."))


@hookimpl
def hapx_register_features(features: Any) -> None:
    features.add(
        Feature("ZLIB", doc="ZLIB\n\ngzip and deflate through Python's zlib."),
        Feature("BROTLI", enabled="br" in ALGORITHMS,
                doc="BROTLI\n\nThe br compression algorithm (hapx extension), with the "
                    "brotli package."),
        Feature("ZSTD", enabled="zstd" in ALGORITHMS,
                doc="ZSTD\n\nThe zstd compression algorithm (hapx extension), with the "
                    "zstandard package."))


@hookimpl
def hapx_configure(config: Config) -> None:
    """Proxies with compression algorithms get the compression filter implicitly."""
    rec = config.registry.filter("compression")
    if rec is None:
        return
    for px in config.proxies:
        conf = px.settings.get(KEY) or {}
        if not (conf.get("algo-res") or conf.get("algo-req")):
            continue
        uses = px.settings.setdefault(FILTERS, [])
        if not any(u.name == "compression" for u in uses):
            uses.append(FilterUse("compression", rec, {}, px.file, px.line))
