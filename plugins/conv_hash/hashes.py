"""HAProxy's non-cryptographic hash functions (``src/hash.c``), bit for bit.

All work on bytes and return unsigned 32-bit integers.  ``full_hash`` is the "avalanche"
step (one of Bob Jenkins' integer hashes followed by a multiplication) that the hash
converters apply when their optional argument is non-zero.
"""

from __future__ import annotations

import binascii

_M32 = 0xFFFFFFFF


def wt6(data: bytes) -> int:
    h0, h1 = 0xA53C965A, 0x5CA6953A
    step0, step1 = 6, 18
    for t in data:
        h0 = ~(h0 ^ t) & _M32
        h1 = ~(h1 + t) & _M32
        t = ((h1 << step0) | (h1 >> (32 - step0))) & _M32
        h1 = ((h0 << step1) | (h0 >> (32 - step1))) & _M32
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        step0 = t & 0x1F
        step1 = t >> 11
    return h0 ^ h1


def djb2(data: bytes) -> int:
    h = 5381
    for c in data:
        h = (h * 33 + c) & _M32
    return h


def sdbm(data: bytes) -> int:
    h = 0
    for c in data:
        h = (c + (h << 6) + (h << 16) - h) & _M32
    return h


def crc32(data: bytes) -> int:
    """The CRC32 of Ethernet, gzip and PNG (reflected polynomial 0xEDB88320)."""
    return binascii.crc32(data) & _M32


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli, RFC 4960 appendix B)."""
    crc = 0xFFFFFFFF
    table = _CRC32C
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def full_hash(a: int) -> int:
    """Bob Jenkins' full avalanche integer hash, times 3221225473, on 32 bits."""
    a = ((a + 0x7ED55D16) + (a << 12)) & _M32
    a = ((a ^ 0xC761C23C) ^ (a >> 19)) & _M32
    a = ((a + 0x165667B1) + (a << 5)) & _M32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & _M32
    a = ((a + 0xFD7046C5) + (a << 3)) & _M32
    a = ((a ^ 0xB55A4F09) ^ (a >> 16)) & _M32
    return (a * 3221225473) & _M32
