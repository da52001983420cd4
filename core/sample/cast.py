"""Casts between sample types (HAProxy's ``sample_casts[][]`` matrix).

``CASTS[(src, dst)]`` is a function ``Sample -> Sample | None`` (None: the value does not
convert, e.g. a string that is not an address); a missing pair is an impossible cast, which
the expression compiler reports at configuration time.  ``ADDR`` as a destination keeps IPv4
or IPv6 as they are (a string tries IPv4 first, then IPv6); as a source (a fetch declared
``addr``) it stands for "IPv4 or IPv6".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from ..records import SmpType
from .types import Sample, saturate

T = SmpType
CastFn = Callable[[Sample], Sample | None]

_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"
_V4_COMPAT = b"\x00" * 12


# -- helpers ---------------------------------------------------------------------------------

def str_to_int(text: str) -> int | None:
    """HAProxy's read_int64: optional sign, then the leading digits; saturated.  An empty
    string gives None; no digits give 0."""
    if not text:
        return None
    i = 0
    neg = False
    if text[0] in "+-":
        neg = text[0] == "-"
        i = 1
    n = len(text)
    j = i
    while j < n and "0" <= text[j] <= "9":
        j += 1
    value = int(text[i:j]) if j > i else 0
    return saturate(-value if neg else value)


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """HAProxy's buf2ip: four dotted decimal bytes; parsing stops at the first character
    that is neither a digit nor a dot (so trailing text after a full address is ignored)."""
    parts = [0]
    saw_digit = False
    octets = 0
    for ch in text:
        if "0" <= ch <= "9":
            val = parts[-1] * 10 + (ord(ch) - 48)
            if val > 255:
                return None
            parts[-1] = val
            if not saw_digit:
                octets += 1
                if octets > 4:
                    return None
                saw_digit = True
        elif ch == ".":
            if not saw_digit or octets == 4:
                return None
            parts.append(0)
            saw_digit = False
        else:
            break
    if octets < 4:
        return None
    return ipaddress.IPv4Address(bytes(parts))


def parse_ipv6(text: str) -> ipaddress.IPv6Address | None:
    """inet_pton(AF_INET6) on the whole string."""
    if ":" not in text:
        return None
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def ipv6_text(addr: ipaddress.IPv6Address) -> str:
    """The address as glibc's inet_ntop prints it: RFC 5952 compression, with the last 32
    bits dotted for IPv4-mapped (``::ffff:a.b.c.d``) and IPv4-compatible addresses."""
    raw = addr.packed
    words = [raw[i] << 8 | raw[i + 1] for i in range(0, 16, 2)]
    if words[:5] == [0] * 5 and (words[5] == 0xFFFF or (words[5] == 0 and words[6] != 0)):
        dotted = ".".join(str(b) for b in raw[12:])
        return ("::ffff:" if words[5] == 0xFFFF else "::") + dotted
    return addr.compressed


def ipv6_to_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a v4-mapped or v4-compatible IPv6 address, else None."""
    raw = addr.packed
    if raw[:12] in (_V4_MAPPED, _V4_COMPAT):
        return ipaddress.IPv4Address(raw[12:])
    return None


def ipv4_to_ipv6(addr: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(_V4_MAPPED + addr.packed)


def _trunc_nul(data: bytes) -> bytes:
    idx = data.find(b"\x00")
    return data if idx < 0 else data[:idx]


# -- cast functions --------------------------------------------------------------------------

def _to_int_from_bool(s: Sample) -> Sample:
    return Sample(T.SINT, 1 if s.value else 0, s.flags)


def _int_to_bool(s: Sample) -> Sample:
    return Sample(T.BOOL, s.value != 0, s.flags)


def _int_to_str(s: Sample) -> Sample:
    return Sample(T.STR, str(int(s.value)), s.flags)


def _int_to_bin(s: Sample) -> Sample:
    v = saturate(int(s.value))
    return Sample(T.BIN, v.to_bytes(8, "big", signed=True), s.flags)


def _int_to_ipv4(s: Sample) -> Sample:
    return Sample(T.IPV4, ipaddress.IPv4Address(int(s.value) & 0xFFFFFFFF), s.flags)


def _int_to_ipv6(s: Sample) -> Sample:
    v4 = ipaddress.IPv4Address(int(s.value) & 0xFFFFFFFF)
    return Sample(T.IPV6, ipv4_to_ipv6(v4), s.flags)


def _ipv4_to_int(s: Sample) -> Sample:
    return Sample(T.SINT, int(s.value), s.flags)


def _ipv4_to_ipv6(s: Sample) -> Sample:
    return Sample(T.IPV6, ipv4_to_ipv6(s.value), s.flags)


def _ipv4_to_str(s: Sample) -> Sample:
    return Sample(T.STR, str(s.value), s.flags)


def _addr_to_bin(s: Sample) -> Sample:
    return Sample(T.BIN, s.value.packed, s.flags)


def _ipv6_to_ipv4(s: Sample) -> Sample | None:
    v4 = ipv6_to_ipv4(s.value)
    return None if v4 is None else Sample(T.IPV4, v4, s.flags)


def _ipv6_to_str(s: Sample) -> Sample:
    return Sample(T.STR, ipv6_text(s.value), s.flags)


def _str_to_int(s: Sample) -> Sample | None:
    v = str_to_int(s.value)
    return None if v is None else Sample(T.SINT, v, s.flags)


def _str_to_bool(s: Sample) -> Sample | None:
    v = str_to_int(s.value)
    return None if v is None else Sample(T.BOOL, v != 0, s.flags)


def _str_to_ipv4(s: Sample) -> Sample | None:
    v4 = parse_ipv4(s.value)
    return None if v4 is None else Sample(T.IPV4, v4, s.flags)


def _str_to_ipv6(s: Sample) -> Sample | None:
    v6 = parse_ipv6(s.value)
    return None if v6 is None else Sample(T.IPV6, v6, s.flags)


def _str_to_addr(s: Sample) -> Sample | None:
    return _str_to_ipv4(s) or _str_to_ipv6(s)


def _str_to_bin(s: Sample) -> Sample:
    return Sample(T.BIN, s.value.encode("latin-1"), s.flags)


def _str_to_meth(s: Sample) -> Sample:
    return Sample(T.METH, s.value, s.flags)


def _bin_to_str(s: Sample) -> Sample:
    return Sample(T.STR, _trunc_nul(s.value).decode("latin-1"), s.flags)


def _bin_to_meth(s: Sample) -> Sample:
    return Sample(T.METH, bytes(s.value).decode("latin-1"), s.flags)


def _meth_to_str(s: Sample) -> Sample:
    return Sample(T.STR, s.value, s.flags)


def _meth_to_bin(s: Sample) -> Sample:
    return Sample(T.BIN, s.value.encode("latin-1"), s.flags)


def _same(s: Sample) -> Sample:
    return s


def _bool_to_str(s: Sample) -> Sample:
    return Sample(T.STR, "1" if s.value else "0", s.flags)


def _bool_to_bin(s: Sample) -> Sample:
    return Sample(T.BIN, (1 if s.value else 0).to_bytes(8, "big"), s.flags)


#: (from, to) -> cast function; a missing pair is impossible
CASTS: dict[tuple[SmpType, SmpType], CastFn] = {
    (T.BOOL, T.BOOL): _same, (T.BOOL, T.SINT): _to_int_from_bool,
    (T.BOOL, T.STR): _bool_to_str, (T.BOOL, T.BIN): _bool_to_bin,

    (T.SINT, T.BOOL): _int_to_bool, (T.SINT, T.SINT): _same,
    (T.SINT, T.ADDR): _int_to_ipv4, (T.SINT, T.IPV4): _int_to_ipv4,
    (T.SINT, T.IPV6): _int_to_ipv6, (T.SINT, T.STR): _int_to_str,
    (T.SINT, T.BIN): _int_to_bin,

    (T.IPV4, T.SINT): _ipv4_to_int, (T.IPV4, T.ADDR): _same, (T.IPV4, T.IPV4): _same,
    (T.IPV4, T.IPV6): _ipv4_to_ipv6, (T.IPV4, T.STR): _ipv4_to_str,
    (T.IPV4, T.BIN): _addr_to_bin,

    (T.IPV6, T.ADDR): _same, (T.IPV6, T.IPV4): _ipv6_to_ipv4, (T.IPV6, T.IPV6): _same,
    (T.IPV6, T.STR): _ipv6_to_str, (T.IPV6, T.BIN): _addr_to_bin,

    (T.STR, T.BOOL): _str_to_bool, (T.STR, T.SINT): _str_to_int,
    (T.STR, T.ADDR): _str_to_addr, (T.STR, T.IPV4): _str_to_ipv4,
    (T.STR, T.IPV6): _str_to_ipv6, (T.STR, T.STR): _same, (T.STR, T.BIN): _str_to_bin,
    (T.STR, T.METH): _str_to_meth,

    (T.BIN, T.STR): _bin_to_str, (T.BIN, T.BIN): _same, (T.BIN, T.METH): _bin_to_meth,

    (T.METH, T.STR): _meth_to_str, (T.METH, T.BIN): _meth_to_bin, (T.METH, T.METH): _same,
}

#: the concrete types a value of a declared type may have at run time
RUNTIME_TYPES: dict[SmpType, tuple[SmpType, ...]] = {
    T.ADDR: (T.IPV4, T.IPV6),
    T.ANY: (T.BOOL, T.SINT, T.IPV4, T.IPV6, T.STR, T.BIN, T.METH),
}


def can_cast(src: SmpType, dst: SmpType) -> bool:
    """Whether a value declared ``src`` may be converted to ``dst`` (checked at parse time).
    ``ANY`` on either side is accepted; an ``ADDR`` source may be IPv4 or IPv6."""
    if dst in (T.ANY, T.SAME) or src in (T.ANY, T.SAME) or src == dst:
        return True
    if src == T.ADDR:
        return any((s, dst) in CASTS for s in RUNTIME_TYPES[T.ADDR])
    return (src, dst) in CASTS


def cast(smp: Sample, dst: SmpType) -> Sample | None:
    """``smp`` converted to ``dst`` (itself when already of that type), or None when the
    value does not convert or the cast is impossible."""
    src = smp.type
    if src == dst or dst in (T.ANY, T.SAME):
        return smp
    if dst == T.ADDR and src in (T.IPV4, T.IPV6):
        return smp
    fn = CASTS.get((src, dst))
    return None if fn is None else fn(smp)


def accepted(dst: SmpType) -> tuple[SmpType, ...]:
    """The run-time types that need no cast to satisfy ``dst``."""
    if dst in (T.ANY, T.SAME):
        return RUNTIME_TYPES[T.ANY]
    return RUNTIME_TYPES.get(dst, (dst,))


def caster(dst: SmpType) -> Callable[[Sample], Sample | None]:
    """A fast cast to ``dst``: a function that returns its argument untouched when it is of
    an accepted type already."""
    ok = accepted(dst)

    def do_cast(smp: Sample) -> Sample | None:
        if smp.type in ok:
            return smp
        fn = CASTS.get((smp.type, dst))
        return None if fn is None else fn(smp)

    return do_cast
