"""The pure-Python HTTP/1 codec: h11, selected with ``h1-codec h11`` in the global
section."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Codec

from .parser import make_parser


@hookimpl
def hapx_register_codecs(codecs: Any) -> None:
    codecs.add(Codec(
        "h11", protocol="h1", factory=make_parser,
        doc="h11\n\nHTTP/1 parsing with h11, in pure Python: slower than httptools, useful "
            "where no compiled parser is available.  Selected with 'h1-codec h11'."))
