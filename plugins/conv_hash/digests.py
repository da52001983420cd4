"""Message digests and HMACs through hashlib (OpenSSL's digest names)."""

from __future__ import annotations

import hashlib


def digest_ok(name: str) -> bool:
    """True if ``name`` is a fixed-size message digest OpenSSL knows (``sha256``, ``SHA512``,
    ``md5``, ``sha3-256``, ``blake2b512`` ...)."""
    try:
        return hashlib.new(name).digest_size > 0
    except (ValueError, TypeError):
        return False


def digest(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()
