"""An HPACK decoder (RFC 7541) for the lean HTTP/2 codec: header fields come out as
latin-1 ``str`` pairs with a flag telling whether their characters are acceptable in an
HTTP/2 request (lower-case token name, no NUL/CR/LF in the value), checked once when a
literal is decoded: an indexed field reuses its table entry as it is.  Huffman strings
are decoded by the ``hpack`` package's table.  ``gen`` counts the changes of the dynamic
table, so a caller may cache what it derived from a block while ``gen`` is the same."""

from __future__ import annotations

import re
from collections import deque

from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

_BAD_NAME = re.compile(r"[^!#$%&'*+\-.^_`|~0-9a-z]").search
_BAD_VALUE = re.compile(r"[\0\r\n]").search

Entry = tuple[str, str, bool]


class HPACKError(ValueError):
    """A block that cannot be decoded (a COMPRESSION_ERROR)."""


class OversizedBlock(HPACKError):
    """The decoded header list is larger than allowed."""


def _entry(name: str, value: str) -> Entry:
    ok = bool(name) and (name[0] == ":" and not _BAD_NAME(name, 1) or not _BAD_NAME(name)) \
        and not _BAD_VALUE(value)
    return (name, value, ok)


STATIC: tuple[Entry, ...] = tuple(
    _entry(n.decode("latin-1"), v.decode("latin-1")) for n, v in HeaderTable.STATIC_TABLE)
_NSTATIC = len(STATIC)


class Decoder:
    """One connection's decoding context."""

    __slots__ = ("dyn", "size", "max_size", "max_allowed", "max_list", "gen")

    def __init__(self, max_allowed: int = 4096, max_list: int = 65536) -> None:
        self.dyn: deque[Entry] = deque()
        self.size = 0
        self.max_size = 4096
        #: our SETTINGS_HEADER_TABLE_SIZE: a size update may not go past it
        self.max_allowed = max_allowed
        #: the largest header list (RFC 7541 sizes: name + value + 32 per field)
        self.max_list = max_list
        self.gen = 0

    def _get(self, idx: int) -> Entry:
        if idx <= _NSTATIC:
            if idx == 0:
                raise HPACKError("index 0")
            return STATIC[idx - 1]
        try:
            return self.dyn[idx - _NSTATIC - 1]
        except IndexError:
            raise HPACKError(f"index {idx} out of the table") from None

    def _add(self, e: Entry) -> None:
        self.gen += 1
        need = len(e[0]) + len(e[1]) + 32
        dyn = self.dyn
        if need > self.max_size:
            dyn.clear()
            self.size = 0
            return
        size = self.size + need
        while size > self.max_size:
            old = dyn.pop()
            size -= len(old[0]) + len(old[1]) + 32
        dyn.appendleft(e)
        self.size = size

    def _resize(self, n: int) -> None:
        if n > self.max_allowed:
            raise HPACKError("table size update past SETTINGS_HEADER_TABLE_SIZE")
        self.gen += 1
        self.max_size = n
        dyn = self.dyn
        while self.size > n:
            old = dyn.pop()
            self.size -= len(old[0]) + len(old[1]) + 32

    def decode(self, data: bytes) -> list[Entry]:
        out: list[Entry] = []
        i = 0
        n = len(data)
        total = 0
        limit = self.max_list
        try:
            while i < n:
                b = data[i]
                if b & 0x80:
                    idx = b & 0x7F
                    i += 1
                    if idx == 0x7F:
                        idx, i = _int_tail(data, i, idx)
                    e = self._get(idx)
                elif b & 0x40 or not b & 0x20:
                    # a literal: 01 with incremental indexing, 0000 without, 0001 never
                    indexing = b & 0x40
                    mask = 0x3F if indexing else 0x0F
                    idx = b & mask
                    i += 1
                    if idx == mask:
                        idx, i = _int_tail(data, i, idx)
                    if idx:
                        name = self._get(idx)[0]
                    else:
                        name, i = _string(data, i)
                    value, i = _string(data, i)
                    e = _entry(name, value)
                    if indexing:
                        self._add(e)
                else:
                    # a dynamic table size update, only before the first field
                    if out:
                        raise HPACKError("table size update after a field")
                    sz = b & 0x1F
                    i += 1
                    if sz == 0x1F:
                        sz, i = _int_tail(data, i, sz)
                    self._resize(sz)
                    continue
                total += len(e[0]) + len(e[1]) + 32
                if total > limit:
                    raise OversizedBlock(f"a header list larger than {limit}")
                out.append(e)
        except IndexError:
            raise HPACKError("truncated header block") from None
        return out


def _int_tail(data: bytes, i: int, value: int) -> tuple[int, int]:
    shift = 0
    while True:
        b = data[i]
        i += 1
        value += (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 28:
            raise HPACKError("integer too large")


def _string(data: bytes, i: int) -> tuple[str, int]:
    b = data[i]
    ln = b & 0x7F
    i += 1
    if ln == 0x7F:
        ln, i = _int_tail(data, i, ln)
    end = i + ln
    if end > len(data):
        raise HPACKError("truncated string")
    raw = data[i:end]
    if b & 0x80:
        try:
            raw = decode_huffman(raw)
        except Exception as e:  # hpack raises its own decoding errors
            raise HPACKError("bad Huffman string") from e
    return raw.decode("latin-1"), end
