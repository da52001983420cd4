"""Anonymising a configuration dump (``-dC<key>``): keywords stay, values become hashes."""

from __future__ import annotations

import re
import zlib
from typing import Any

_KEEP = re.compile(r"(?:[0-9]+(?:us|ms|s|m|h|d|k|K|m|M|g|G)?|if|unless|or|\|\||!|\{|\}|-[a-z]+)\Z")


def hash_word(word: str, key: int) -> str:
    """A stable, key-dependent replacement for one sensitive word."""
    return f"HASH({zlib.crc32(f'{key}:{word}'.encode('latin-1', 'replace')):08x})"


def anonymise_words(words: list[str], key: int, registry: Any) -> list[str]:
    """Keep the keyword (up to three words, as registered), numbers, units and condition
    operators; replace names, addresses, paths and other values."""
    from ..records import Directive, Section

    keep = 1
    names = {r.name for r in registry.all(Directive)} | {r.name for r in registry.all(Section)}
    for n in range(min(3, len(words)), 0, -1):
        if " ".join(words[:n]) in names:
            keep = n
            break
    if words[0] in ("no", "default") and len(words) > 1:
        keep = max(keep, 2)
    out = list(words[:keep])
    for word in words[keep:]:
        out.append(word if _KEEP.match(word) or word in names else hash_word(word, key))
    return out
