"""Rings kept in a file mapped in memory (a ``ring`` section's ``backing-file``, HAProxy 3.x).

The file is the ring: ``size`` bytes (the ring's ``size``), created with mode 0600, mapped
shared, so that what was written is in the file when the process stops or crashes.  Before
it is created an existing non-empty file is renamed ``<path>.bak`` (an older ``.bak`` is
removed first), so that a restart or a reload keeps the previous contents there; a rotation
that fails is silently ignored, as HAProxy does.

Layout (little endian): a 64-byte header ``HAPXRNG1``, the data area's size, the offsets
of the oldest record and of the next one, the bytes used, the last sequence number and the
number of records; then the data area, circular, of records ``<seq:u64><len:u32><data>``.
A record that does not fit before the end of the area starts again at its beginning, the
gap marked by a record of length 0xFFFFFFFF (or left unmarked when shorter than a header).
The header is updated after the record is written, so a crash loses at most that record.

:func:`read_events` reads such a file (the live one or its ``.bak``) from another process:
``python -m hapx.core.ringfile <path>`` prints its events one per line, as ``show events``.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from collections.abc import Iterator

MAGIC = b"HAPXRNG1"
_HEAD = struct.Struct("<8sIIQQQQQ")
HEADER_SIZE = 64
_REC = struct.Struct("<QI")
PAD = 0xFFFFFFFF


def rotate(path: str) -> None:
    """``<path>`` becomes ``<path>.bak`` when it exists and is not empty (errors are
    ignored)."""
    try:
        if os.path.getsize(path) > 0:
            bak = path + ".bak"
            try:
                os.unlink(bak)
            except FileNotFoundError:
                pass
            os.rename(path, bak)
    except OSError:
        pass


class RingFile:
    """The ring's storage in the mapped file ``mm`` (see the module's docstring)."""

    def __init__(self, mm: mmap.mmap | bytes, writable: bool) -> None:
        self.mm = mm
        self.writable = writable
        magic, _version, area, head, tail, used, seq, count = _HEAD.unpack_from(mm, 0)
        if magic != MAGIC or area + HEADER_SIZE > len(mm):
            raise ValueError("not a ring file")
        self.area, self.head, self.tail, self.used = area, head, tail, used
        self.seq, self.count = seq, count

    @classmethod
    def create(cls, path: str, size: int) -> RingFile:
        """A new, empty ring of ``size`` bytes in ``path`` (the previous file rotated)."""
        if size < HEADER_SIZE + _REC.size + 1:
            raise ValueError(f"ring size {size} is too small for a backing file")
        rotate(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)
            mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        _HEAD.pack_into(mm, 0, MAGIC, 1, size - HEADER_SIZE, 0, 0, 0, 0, 0)
        return cls(mm, True)

    @classmethod
    def open(cls, path: str) -> RingFile:
        """A ring file read as it is now (a copy: the writer may go on)."""
        with open(path, "rb") as f:
            return cls(f.read(), False)

    # -- writing ---------------------------------------------------------------------------
    def _sync_header(self) -> None:
        _HEAD.pack_into(self.mm, 0, MAGIC, 1, self.area, self.head, self.tail, self.used,
                        self.seq, self.count)

    def _evict(self) -> None:
        """Forget the oldest record (and the gap after it, if the area wraps there)."""
        pos = self._skip_gap(self.head)
        if pos != self.head:
            self.used -= self.area - self.head
            self.head = pos
        _seq, length = _REC.unpack_from(self.mm, HEADER_SIZE + pos)
        self.head = pos + _REC.size + length
        self.used -= _REC.size + length
        self.count -= 1
        if self.head >= self.area:
            self.head = 0
        elif self.count:
            nxt = self._skip_gap(self.head)
            if nxt != self.head:
                self.used -= self.area - self.head
                self.head = nxt

    def _skip_gap(self, pos: int) -> int:
        """``pos``, or 0 when a gap (to the end of the area) starts there."""
        if self.area - pos < _REC.size:
            return 0
        if _REC.unpack_from(self.mm, HEADER_SIZE + pos)[1] == PAD:
            return 0
        return pos

    def append(self, data: bytes) -> bool:
        """Store one event (the oldest ones are dropped to make room); False when it is
        larger than the whole area."""
        rec = _REC.size + len(data)
        if rec > self.area:
            return False
        gap = self.area - self.tail if self.area - self.tail < rec else 0
        while self.count and self.area - self.used < gap + rec:
            self._evict()
        if not self.count:
            self.head = self.tail = self.used = gap = 0
        mm = self.mm
        if gap:
            if gap >= _REC.size:
                _REC.pack_into(mm, HEADER_SIZE + self.tail, 0, PAD)
            self.used += gap
            self.tail = 0
        self.seq += 1
        off = HEADER_SIZE + self.tail
        _REC.pack_into(mm, off, self.seq, len(data))
        mm[off + _REC.size:off + rec] = data
        self.tail += rec
        if self.tail >= self.area:
            self.tail = 0
        self.used += rec
        self.count += 1
        self._sync_header()
        return True

    # -- reading ---------------------------------------------------------------------------
    def events(self) -> Iterator[tuple[int, bytes]]:
        """The stored events, oldest first, as (sequence number, data)."""
        pos, mm = self.head, self.mm
        for _ in range(self.count):
            pos = self._skip_gap(pos)
            seq, length = _REC.unpack_from(mm, HEADER_SIZE + pos)
            start = HEADER_SIZE + pos + _REC.size
            yield seq, bytes(mm[start:start + length])
            pos += _REC.size + length
            if pos >= self.area:
                pos = 0

    def close(self) -> None:
        if isinstance(self.mm, mmap.mmap):
            self.mm.flush()
            self.mm.close()


def read_events(path: str) -> list[bytes]:
    """The events stored in the ring file ``path``, oldest first."""
    return [data for _, data in RingFile.open(path).events()]


def main(argv: list[str] | None = None) -> int:
    """``python -m hapx.core.ringfile <path>``: print the events of a ring file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("Usage: python -m hapx.core.ringfile <ring-file>\n")
        return 2
    try:
        events = read_events(args[0])
    except (OSError, ValueError, struct.error) as exc:
        sys.stderr.write(f"{args[0]}: {exc}\n")
        return 1
    out = sys.stdout.buffer
    for data in events:
        out.write(data + b"\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
