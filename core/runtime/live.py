"""The streams alive now, for ``show sess`` and ``shutdown session``.

The data path adds the object owning a stream when the stream starts (an HTTP transaction,
a TCP client connection) and discards it when the stream ends: two dict operations per
stream.  An owner has ``strm`` (its :class:`~hapx.core.stream.Stream`) and ``kill()``
(abort the stream, termination state ``K``).  Keys are the owners' ids, shown as HAProxy
shows stream pointers (``0x7f...``).
"""

from __future__ import annotations

from typing import Any

#: id(owner) -> owner, in start order
STREAMS: dict[int, Any] = {}


def add(owner: Any) -> None:
    STREAMS[id(owner)] = owner


def discard(owner: Any) -> None:
    STREAMS.pop(id(owner), None)


def find(ptr: int) -> Any:
    return STREAMS.get(ptr)
