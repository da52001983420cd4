"""The objects of one ``cache`` section: entries kept in memory under HAProxy's keys, with
its freshness, Vary and size rules, least-recently-used eviction past ``total-max-size``.

Keys follow HAProxy (src/cache.c): the primary key is the request's absolute URI, or
``https://`` + Host + URI for origin-form requests; with ``process-vary on`` a response
varying on Accept-Encoding, Referer or Origin gets a secondary key built from those request
headers (the Accept-Encoding part being the response's own Content-Encoding, matched
against what later clients accept)."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

#: HAProxy's cache block size: sizes in ``show cache`` count blocks of this many bytes
BLOCK = 1024
#: the Vary headers the cache can process, in HAProxy's secondary key order
VARY_HEADERS = ("accept-encoding", "referer", "origin")
#: the content codings HAProxy knows (others are not stored when varying on them)
ENCODINGS = ("gzip", "deflate", "br", "compress", "aes128gcm", "exi", "pack200-gzip",
             "zstd", "identity", "*", "x-gzip", "x-compress")
_ALIASES = {"x-gzip": "gzip", "x-compress": "compress"}
#: HAProxy's sizeof(struct cache_entry) rounded: the overhead counted in an entry's size
ENTRY_OVERHEAD = 120


@dataclass
class Entry:
    """One stored response."""

    key: str
    hash: int
    vary: tuple[str, ...]  # the headers the response varies on (empty: no secondary key)
    seckey: dict[str, Any]  # header -> request value (accept-encoding: response codings)
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    created: float = field(default_factory=time.time)
    expire: float = 0.0
    age: int = 0  # the origin's Age header value
    etag: str | None = None
    last_modified: float = 0.0
    complete: bool = False

    @property
    def size(self) -> int:
        return ENTRY_OVERHEAD + sum(len(n) + len(v) + 8 for n, v in self.headers) + \
            len(self.body)


def primary_key(req: Any) -> str | None:
    """HAProxy's sha1_hosturi input: the absolute URI, or https:// + Host + URI."""
    uri = req.uri
    if not uri:
        return None
    if uri.startswith("/") or uri == "*":
        host = req.get_all("host")
        if not host:
            return None
        return "https://" + host[0] + uri
    return uri


def key_hash(key: str) -> int:
    """The 32-bit hash ``show cache`` prints (the first four bytes of the key's SHA-1)."""
    return int.from_bytes(hashlib.sha1(key.encode("latin-1", "replace")).digest()[:4],
                          "little")


def _tokens(values: list[str]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def encodings_accepted(values: list[str]) -> tuple[set[str], bool]:
    """The codings a request's Accept-Encoding allows (q>0), and whether identity is
    refused explicitly."""
    ok: set[str] = set()
    refused: set[str] = set()
    for token in _tokens(values):
        name, _, params = token.partition(";")
        name = _ALIASES.get(name.strip().lower(), name.strip().lower())
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        (ok if q > 0 else refused).add(name)
    identity_refused = "identity" in refused or ("*" in refused and "identity" not in ok)
    return ok, identity_refused


def response_codings(headers: list[str]) -> frozenset[str] | None:
    """The response's content codings, identity when none; None for one HAProxy does not
    know (such a response is not stored when it varies on Accept-Encoding)."""
    out = set()
    for token in _tokens(headers):
        name = token.partition(";")[0].strip().lower()
        if name not in ENCODINGS:
            return None
        out.add(_ALIASES.get(name, name))
    return frozenset(out or {"identity"})


def vary_of(res: Any) -> tuple[str, ...] | None:
    """The Vary headers of a response, None when one the cache cannot process is named."""
    out: list[str] = []
    for token in _tokens(res.get_all("vary")):
        low = token.lower()
        if low not in VARY_HEADERS:
            return None
        if low not in out:
            out.append(low)
    return tuple(h for h in VARY_HEADERS if h in out)


def seckey_matches(entry: Entry, req: Any) -> bool:
    """Whether a request selects the variant ``entry``."""
    for name in entry.vary:
        if name == "accept-encoding":
            ok, identity_refused = encodings_accepted(req.get_all("accept-encoding"))
            for coding in entry.seckey[name]:
                if coding == "identity":
                    if identity_refused:
                        return False
                elif coding not in ok and "*" not in ok:
                    return False
        elif (req.get(name) or "") != entry.seckey[name]:
            return False
    return True


def http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class Cache:
    """The entries of one ``cache`` section (process-wide, shared by every proxy using
    it), least recently used first."""

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name = name
        self.total = int(settings.get("total-max-size", 64)) * 1024 * 1024
        self.max_object = int(settings.get("max-object-size") or self.total // 256)
        self.max_age = int(settings.get("max-age", 60))
        self.process_vary = bool(settings.get("process-vary", False))
        self.max_secondary = int(settings.get("max-secondary-entries", 10))
        #: primary key -> its variants (complete entries only)
        self.entries: dict[str, list[Entry]] = {}
        #: every complete entry in LRU order (id -> entry)
        self.lru: OrderedDict[int, Entry] = OrderedDict()
        self.used = 0
        #: primary keys whose response is being stored (HAProxy's incomplete entries)
        self.pending: set[tuple[str, tuple[Any, ...]]] = set()

    # -- lookups -------------------------------------------------------------------------------
    def lookup(self, key: str, req: Any) -> Entry | None:
        """The fresh variant of ``key`` the request selects (expired ones are dropped)."""
        variants = self.entries.get(key)
        if not variants:
            return None
        now = time.time()
        for entry in list(variants):
            if entry.expire <= now:
                self.remove(entry)
                continue
            if not entry.vary or seckey_matches(entry, req):
                self.lru.move_to_end(id(entry))
                return entry
        return None

    def invalidate(self, key: str) -> None:
        """A successful unsafe request on ``key``: drop what is stored for it."""
        for entry in list(self.entries.get(key, ())):
            self.remove(entry)

    # -- storage -------------------------------------------------------------------------------
    def insert(self, entry: Entry) -> bool:
        """Add a complete entry, replacing the same variant, evicting the least recently
        used past the size limit; False when it cannot be stored."""
        size = entry.size
        if size > self.max_object or size > self.total:
            return False
        variants = self.entries.setdefault(entry.key, [])
        now = time.time()
        for old in list(variants):
            if old.expire <= now or old.vary != entry.vary or (
                    not entry.vary or old.seckey == entry.seckey):
                self.remove(old)
        variants = self.entries.setdefault(entry.key, [])
        if entry.vary and len(variants) >= self.max_secondary:
            return False
        while self.used + size > self.total and self.lru:
            self.remove(next(iter(self.lru.values())))
        entry.complete = True
        self.entries.setdefault(entry.key, []).append(entry)
        self.lru[id(entry)] = entry
        self.used += size
        return True

    def remove(self, entry: Entry) -> None:
        if self.lru.pop(id(entry), None) is None:
            return
        self.used -= entry.size
        variants = self.entries.get(entry.key)
        if variants is not None:
            variants[:] = [e for e in variants if e is not entry]
            if not variants:
                del self.entries[entry.key]

    def purge_expired(self) -> None:
        now = time.time()
        for entry in [e for e in self.lru.values() if e.expire <= now]:
            self.remove(entry)

    # -- show cache -----------------------------------------------------------------------------
    def blocks(self, n: int) -> int:
        return (n + BLOCK - 1) // BLOCK

    def show(self) -> str:
        """HAProxy's ``show cache`` lines for this cache."""
        self.purge_expired()
        avail = self.blocks(self.total) - sum(self.blocks(e.size) for e in self.lru.values())
        lines = [f"{id(self):#x}: {self.name} (shctx:{id(self.lru):#x}, "
                 f"available blocks:{avail})"]
        now = int(time.time())
        for entry in sorted(self.lru.values(), key=lambda e: e.hash):
            lines.append(f"{id(entry):#x} hash:{entry.hash} vary:0x{seckey_hex(entry)} "
                         f"size:{entry.size} ({self.blocks(entry.size)} blocks), "
                         f"refcount:1, expire:{int(entry.expire) - now}")
        return "\n".join(lines) + "\n"


def seckey_hex(entry: Entry) -> str:
    """The secondary key as HAProxy prints it: 4 bytes of Accept-Encoding bitmap, then
    8-byte hashes of Referer and Origin (zeros for the headers not varied on)."""
    out = bytearray(20)
    if "accept-encoding" in entry.vary:
        bits = 0
        for coding in entry.seckey["accept-encoding"]:
            bits |= 1 << (ENCODINGS.index(coding) if coding in ENCODINGS else 10)
        out[0:4] = bits.to_bytes(4, "little")
    for i, name in enumerate(("referer", "origin")):
        if name in entry.vary and entry.seckey[name]:
            digest = hashlib.blake2b(entry.seckey[name].encode("latin-1", "replace"),
                                     digest_size=8).digest()
            out[4 + 8 * i:12 + 8 * i] = digest
    return out.hex()
