"""The common picker of the hash-based algorithms (source, uri, url_param, hdr, rdp-cookie,
hash): the backend's ``hash-type`` chooses the lookup (map-based or consistent), the hash
function and the avalanche modifier; each algorithm only says how a request gives its hash.

``HashPicker(backend, hash_of)`` where ``hash_of(strm, picker)`` returns the 32-bit hash of
the request's key (``picker.hasher(bytes)`` applies the configured function and modifier),
or None when the request has none: the pick then falls back to round robin over the same
lookup, as HAProxy does.  With a single server in play no key is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .lb import StatePicker, allbackups, live_states
from .lbchash import ChashLookup
from .lbhash import make_hasher
from .lbmap import MapLookup

HashOf = Callable[[Any, "HashPicker"], "int | None"]


def hash_settings(backend: Any) -> dict[str, Any]:
    """``hash-type`` of the backend, with HAProxy's defaults (map-based sdbm)."""
    return backend.settings.get("hash-type") or {"method": "map-based", "function": "sdbm",
                                                 "avalanche": False}


def make_lookup(backend: Any, *, consistent: bool | None = None) -> MapLookup | ChashLookup:
    """The server lookup the backend's settings ask for (``consistent`` forces one)."""
    servers = list(backend.servers)
    live_states(servers)
    if consistent is None:
        consistent = hash_settings(backend)["method"] == "consistent"
    if consistent:
        return ChashLookup(servers, allbackups(backend),
                           balance_factor=int(backend.settings.get("hash-balance-factor", 0)),
                           affinity=backend.settings.get("hash-preserve-affinity", "always"))
    return MapLookup(servers, allbackups(backend))


class LookupPicker(StatePicker):
    """A picker over a weighted lookup (map-based or consistent hash ring)."""

    lookup: MapLookup | ChashLookup

    def refresh(self) -> None:
        self.lookup.update()

    def apply_weight(self, srv: Any, weight: int) -> None:
        self.lookup.set_weight(srv, weight)

    def available(self) -> bool:
        """Some server can take traffic (HAProxy's tot_weight != 0)."""
        return bool(self.lookup.groups.tot_weight)


class HashPicker(LookupPicker):
    """The per-backend picker of a hash-based algorithm."""

    #: a full server it maps a request to queues the request on that server, and retries
    #: do not redispatch by themselves (core/runtime/queue.py, retry.py)
    hash_based = True

    def __init__(self, backend: Any, hash_of: HashOf) -> None:
        settings = hash_settings(backend)
        self.lookup = lookup = make_lookup(backend)
        self.dynamic = lookup.dynamic
        self.hasher = make_hasher(settings["function"], settings["avalanche"])
        self.avalanche = bool(settings["avalanche"])
        self.hash_of = hash_of

    def pick(self, strm: Any = None, avoid: Any = None) -> Any:
        lookup = self.lookup
        if not lookup.groups.tot_weight:
            return None
        if lookup.groups.tot_used == 1:
            return lookup.by_hash(0, avoid)
        h = self.hash_of(strm, self) if strm is not None else None
        if h is None:
            return lookup.next_rr(avoid)
        return lookup.by_hash(h, avoid)
