"""Streamed compressors, one per algorithm.  Each flushes after every piece of body so a
slow stream still flows, and keeps constant memory whatever the body size.

HAProxy's algorithms are identity, gzip, deflate and raw-deflate (zlib).  ``br`` and
``zstd`` are hapx extensions, offered only when the matching library is installed
(``pip install brotli`` / ``pip install zstandard``, or ``hapx[compression]``)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Protocol


class Stream(Protocol):
    def data(self, data: bytes) -> bytes: ...

    def end(self) -> bytes: ...


class ZlibStream:
    """gzip (wbits 31), deflate (15) or raw deflate (-15)."""

    __slots__ = ("z",)

    def __init__(self, wbits: int) -> None:
        self.z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, wbits)

    def data(self, data: bytes) -> bytes:
        return self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)

    def end(self) -> bytes:
        return self.z.flush(zlib.Z_FINISH)


class BrotliStream:
    """``br`` with the brotli library (quality 5: a streaming proxy's usual trade-off)."""

    __slots__ = ("c",)

    def __init__(self, module: Any) -> None:
        self.c = module.Compressor(quality=5)

    def data(self, data: bytes) -> bytes:
        return self.c.process(data) + self.c.flush()

    def end(self) -> bytes:
        return self.c.finish()


class ZstdStream:
    """``zstd`` with the zstandard library (level 3, its default)."""

    __slots__ = ("c", "block")

    def __init__(self, module: Any) -> None:
        self.c = module.ZstdCompressor(level=3).compressobj()
        self.block = module.COMPRESSOBJ_FLUSH_BLOCK

    def data(self, data: bytes) -> bytes:
        return self.c.compress(data) + self.c.flush(self.block)

    def end(self) -> bytes:
        return self.c.flush()


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


_BROTLI = _optional("brotli")
_ZSTD = _optional("zstandard")

#: algorithm -> (Content-Encoding token, factory of its stream); identity is None
ALGORITHMS: dict[str, tuple[str, Callable[[], Stream]] | None] = {
    "identity": None,
    "gzip": ("gzip", lambda: ZlibStream(31)),
    "deflate": ("deflate", lambda: ZlibStream(15)),
    "raw-deflate": ("deflate", lambda: ZlibStream(-15)),
}
#: the extensions, and the package that provides each
EXTENSIONS = {"br": "brotli", "zstd": "zstandard"}
if _BROTLI is not None:
    ALGORITHMS["br"] = ("br", lambda: BrotliStream(_BROTLI))
if _ZSTD is not None:
    ALGORITHMS["zstd"] = ("zstd", lambda: ZstdStream(_ZSTD))
