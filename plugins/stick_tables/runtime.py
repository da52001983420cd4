"""Keys and data of table entries: converting samples and CLI words to keys, reading and
updating the stored data types (with the legacy gpc0/gpc1/gpt0 names falling back to the
first elements of the gpc/gpt arrays, as in HAProxy 2.5+), and references to tables
resolved once (``TableRef``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from hapx.core.records import SmpType
from hapx.core.sample.cast import caster
from hapx.core.sample.types import Sample

from .store import DT_U64, U32, U64, Entry, FreqCtr, Store, now_ms

TABLES = "tables"

SMP_OF_KEY = {"ip": SmpType.IPV4, "ipv6": SmpType.IPV6, "integer": SmpType.SINT,
              "string": SmpType.STR, "binary": SmpType.BIN}


def live(spec: Any) -> Store:
    """The store of a table declaration (created on first use)."""
    st = spec.live
    if st is None:
        st = spec.live = Store(spec)
    return st


def find_table(config: Any, name: str) -> Any:
    """The declaration of table ``name`` (a proxy's, or ``<peers>/<table>``) or None."""
    return config.ext.get(TABLES, {}).get(name)


class TableRef:
    """A table named in a rule or a fetch, resolved at its first use (the configuration is
    complete by then), then kept."""

    __slots__ = ("name", "config", "_store")

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config
        self._store: Store | None = None

    @property
    def store(self) -> Store | None:
        st = self._store
        if st is None:
            spec = find_table(self.config, self.name)
            if spec is None:
                return None
            st = self._store = live(spec)
        return st


# -- keys ---------------------------------------------------------------------------------------

def key_maker(spec: Any) -> Any:
    """``Sample -> key | None`` for the table's key type."""
    to = caster(SMP_OF_KEY[spec.type])
    kind = spec.type
    klen = spec.key_len or 32

    def make(smp: Sample) -> Any:
        s = to(smp)
        if s is None:
            return None
        v = s.value
        if kind == "integer":
            return v & U32
        if kind == "string":
            nul = v.find("\0")
            if nul >= 0:
                v = v[:nul]
            return v[:klen]
        if kind == "binary":
            return bytes(v[:klen]).ljust(klen, b"\0")
        return v
    return make


def key_of(store: Store, smp: Sample) -> Any:
    """The key of ``smp`` in ``store`` (None when it does not convert)."""
    make = store.make_key
    if make is None:
        make = store.make_key = key_maker(store.spec)
    return make(smp)


def key_from_text(spec: Any, text: str) -> Any:
    """A key typed on the CLI (None: invalid)."""
    kind = spec.type
    try:
        if kind == "ip":
            return ipaddress.IPv4Address(text)
        if kind == "ipv6":
            return ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if kind == "integer":
        if not text.isdigit():
            return None
        n = int(text)
        return n if n <= U32 else None
    if kind == "string":
        return text[:spec.key_len or 32]
    return None


def key_text(spec: Any, key: Any) -> str:
    if spec.type == "binary":
        return key.hex()
    return str(key)


def key_sample(spec: Any, key: Any) -> Sample:
    kind = spec.type
    return Sample(SMP_OF_KEY[kind], key)


# -- data ---------------------------------------------------------------------------------------

def _period(store: Store, dt: str) -> int:
    p = store.spec.store[dt]
    return p[1] if isinstance(p, tuple) else p


def read(store: Store, e: Entry, dt: str, idx: int = 0) -> int | None:
    """The value of a data type (rates read over their period); None when not stored."""
    v = e.d.get(dt)
    if v is None:
        if dt == "server_key" or dt not in store.spec.store:
            return None
        return 0
    if isinstance(v, list):
        if idx >= len(v):
            return None
        v = v[idx]
    if isinstance(v, FreqCtr):
        return v.read(_period(store, dt))
    return v


def add(store: Store, e: Entry, dt: str, n: int, now: int | None = None) -> None:
    """Add ``n`` to a counter or a rate, if stored."""
    d = e.d
    v = d.get(dt)
    if v is None:
        return
    if isinstance(v, FreqCtr):
        v.add(n, _period(store, dt), now)
    else:
        d[dt] = (v + n) & (U64 if dt in DT_U64 else U32)


def write(store: Store, e: Entry, dt: str, value: int, idx: int = 0) -> bool:
    """Set a data type (``set table``, sc-set-gpt); False when not stored."""
    d = e.d
    v = d.get(dt)
    if v is None:
        return False
    mask = U64 if dt in DT_U64 else U32
    if isinstance(v, list):
        if idx >= len(v):
            return False
        if isinstance(v[idx], FreqCtr):
            v[idx].set(value, _period(store, dt))
        else:
            v[idx] = value & mask
        return True
    if isinstance(v, FreqCtr):
        v.set(value, _period(store, dt))
    elif dt == "server_id":
        d[dt] = value
    else:
        d[dt] = value & mask
    return True


def gpc_slot(e: Entry, idx: int, legacy: bool) -> tuple[str, str, int] | None:
    """Where general purpose counter ``idx`` lives: (counter type, rate type, index).
    ``legacy`` (gpc0/gpc1 names) prefers gpc0/gpc1 and falls back to the array."""
    d = e.d
    if legacy and idx < 2:
        name = f"gpc{idx}"
        if name in d or f"{name}_rate" in d:
            return name, f"{name}_rate", 0
    if "gpc" in d or "gpc_rate" in d:
        return "gpc", "gpc_rate", idx
    return None


def gpc_get(store: Store, e: Entry, idx: int, legacy: bool = False) -> int | None:
    slot = gpc_slot(e, idx, legacy)
    return None if slot is None else read(store, e, slot[0], slot[2])


def gpc_rate(store: Store, e: Entry, idx: int, legacy: bool = False) -> int | None:
    slot = gpc_slot(e, idx, legacy)
    return None if slot is None else read(store, e, slot[1], slot[2])


def gpc_add(store: Store, e: Entry, idx: int, n: int, legacy: bool = False) -> int | None:
    """Add ``n`` to counter ``idx`` and its rate; the new value (None: not stored)."""
    slot = gpc_slot(e, idx, legacy)
    if slot is None:
        return None
    cnt, rate, i = slot
    d = e.d
    now = now_ms()
    r = d.get(rate)
    if r is not None:
        fc = r[i] if isinstance(r, list) else r
        if isinstance(fc, FreqCtr) and (not isinstance(r, list) or i < len(r)):
            fc.add(n, _period(store, rate), now)
    c = d.get(cnt)
    if c is None:
        return 0 if r is not None else None
    if isinstance(c, list):
        if i >= len(c):
            return None
        c[i] = (c[i] + n) & U32
        return c[i]
    d[cnt] = (c + n) & U32
    return d[cnt]


def gpc_clear(store: Store, e: Entry, idx: int, legacy: bool = False) -> int | None:
    """Reset counter ``idx`` to 0; its previous value (None: not stored)."""
    slot = gpc_slot(e, idx, legacy)
    if slot is None:
        return None
    cnt, _rate, i = slot
    c = e.d.get(cnt)
    if c is None:
        return None
    if isinstance(c, list):
        if i >= len(c):
            return None
        old, c[i] = c[i], 0
        return old
    e.d[cnt] = 0
    return c


def gpt_slot(e: Entry, idx: int, legacy: bool) -> tuple[str, int] | None:
    d = e.d
    if legacy and idx == 0 and "gpt0" in d:
        return "gpt0", 0
    if "gpt" in d:
        return "gpt", idx
    return None


def gpt_get(store: Store, e: Entry, idx: int, legacy: bool = False) -> int | None:
    slot = gpt_slot(e, idx, legacy)
    return None if slot is None else read(store, e, slot[0], slot[1])


def gpt_set(store: Store, e: Entry, idx: int, value: int, legacy: bool = False) -> bool:
    slot = gpt_slot(e, idx, legacy)
    return slot is not None and write(store, e, slot[0], value, slot[1])
