"""The default HTTP/1 codec: httptools (llhttp), and the global directive ``h1-codec``.

``h1-codec httptools|h11`` (global) chooses the registered codec of protocol "h1" that the
HTTP data path uses; the default is httptools.  Once the configuration is compiled every
proxy gets ``settings["h1_codec"]``, the chosen codec's factory.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Codec, Directive

from .parser import make_parser

DEFAULT = "httptools"


def _parse_h1_codec(ctx: Any, args: list[str]) -> None:
    if len(args) != 1:
        raise ctx.error("'h1-codec' expects exactly one codec name.")
    names = [c.name for c in ctx.registry.all(Codec) if c.protocol == "h1"]
    if ctx.registry.codec("h1", args[0]) is None:
        raise ctx.error(f"'h1-codec': unknown HTTP/1 codec '{args[0]}' (known: "
                        f"{', '.join(names)}).")
    ctx.section.settings["h1-codec"] = args[0]


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "h1-codec", sections=frozenset({"global"}), parse=_parse_h1_codec,
        doc="h1-codec <name>\n\nThe HTTP/1 parser of the data path: 'httptools' (llhttp, the "
            "default and the fastest) or 'h11' (pure Python).  Stored in global "
            "settings['h1-codec']."))


@hookimpl
def hapx_register_codecs(codecs: Any) -> None:
    codecs.add(Codec(
        DEFAULT, protocol="h1", factory=make_parser,
        doc="httptools\n\nHTTP/1 parsing with httptools (llhttp, the parser of Node.js): the "
            "default codec of the HTTP/1 data path."))


@hookimpl
def hapx_configure(config: Any) -> None:
    name = config.global_.settings.get("h1-codec", DEFAULT)
    rec = config.registry.codec("h1", name) or config.registry.codec("h1", DEFAULT)
    if rec is None:
        return
    config.ext["h1_codec"] = rec
    for px in config.proxies:
        px.settings["h1_codec"] = rec.factory
