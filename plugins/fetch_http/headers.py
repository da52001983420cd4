"""Header and cookie fetches, built for both directions: req.hdr / hdr, req.fhdr,
req.hdr_cnt, req.hdr_val, req.hdr_ip, req.hdr_names, req.hdrs, req.hdrs_bin, req.cook /
cook, req.cook_cnt, req.cook_val, req.cook_names, and their res.* / shdr / scook forms.

Occurrences: 1 is the first value, -1 the last; without one a single fetch gives the last
value and ACLs try every value.  Header names are matched without case and reported in lower
case, as HTTP/2 and HAProxy's internal representation have them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Fetch, SmpType, Use
from hapx.core.sample.types import Sample

from . import httputil as hu

MAX_HDR_HISTORY = 10

_NAME_OCC = (Arg("name", ArgType.STR, optional=True), Arg("occ", ArgType.SINT, optional=True))
_NAME = (Arg("name", ArgType.STR, optional=True),)
_DELIM = (Arg("delim", ArgType.STR, optional=True),)

Process = Callable[[list[Any], Any], Any]


def _validate_name_occ(args: list[Any], ctx: Any) -> list[Any]:
    name, occ = args
    if occ is not None and occ < -MAX_HDR_HISTORY:
        raise ConfigError(f"header occurrence must be >= {-MAX_HDR_HISTORY}")
    return [name.lower() if name else None, occ]


def _validate_name(args: list[Any], ctx: Any) -> list[Any]:
    return [args[0].lower() if args[0] else None]


def _validate_cookie_name(args: list[Any], ctx: Any) -> list[Any]:
    return [args[0] or None]


def _validate_delim(args: list[Any], ctx: Any) -> list[Any]:
    return [args[0][:1] if args[0] else ","]


def _ip_sample(value: str) -> Sample | None:
    addr = hu.parse_ip(value)
    if addr is None:
        return None
    return Sample(SmpType.IPV4 if addr.version == 4 else SmpType.IPV6, addr)


# -- headers -----------------------------------------------------------------------------------

def _hdr(side: str, full: bool, conv: str) -> tuple[Process, Process]:
    """process and values functions of a header fetch: ``conv`` is "str", "int" or "ip"."""

    def collect(args: list[Any], strm: Any) -> list[str]:
        msg = getattr(strm, side)
        return [] if msg is None else hu.header_values(msg, args[0], full)

    if conv == "str":
        def make(v: str) -> Sample | None:
            return Sample(SmpType.STR, v)
    elif conv == "int":
        def make(v: str) -> Sample | None:
            return Sample(SmpType.SINT, hu.strl2ic(v))
    else:
        make = _ip_sample

    as_str, t_str = conv == "str", SmpType.STR

    def process(args: list[Any], strm: Any) -> Sample | None:
        name, occ = args[0], args[1]
        if not occ and name is not None:
            # the last value: found from the end, without listing every value
            msg = getattr(strm, side)
            if msg is None:
                return None
            size = len(name)
            for hname, value in reversed(msg.headers):
                if len(hname) == size and hname.lower() == name:
                    if not full:
                        # the last comma-separated value (a single one: the value trimmed)
                        value = (value.strip(" \t") if "," not in value
                                 else hu.split_values(value)[-1])
                    return Sample(t_str, value) if as_str else make(value)
            return None
        value = hu.pick(collect(args, strm), occ)
        return None if value is None else make(value)

    def values(args: list[Any], strm: Any) -> list[Sample]:
        vals = collect(args, strm)
        if args[1]:
            one = hu.pick(vals, args[1])
            vals = [] if one is None else [one]
        out = []
        for v in vals:
            smp = make(v)
            if smp is not None:
                out.append(smp)
        return out

    return process, values


def _hdr_cnt(side: str, full: bool) -> Process:
    def process(args: list[Any], strm: Any) -> Sample | None:
        msg = getattr(strm, side)
        if msg is None:
            return None
        name = args[0]
        if name is None:
            return Sample(SmpType.SINT, len(hu.header_values(msg, name, full)))
        size, count = len(name), 0
        for hname, value in msg.headers:
            if len(hname) == size and hname.lower() == name:
                # the number of comma-separated values (as split_values counts them)
                count += 1 if full else (
                    value.count(",") + 1 if '"' not in value else len(hu.split_values(value)))
        return Sample(SmpType.SINT, count)

    return process


def _hdr_names(side: str) -> Process:
    def process(args: list[Any], strm: Any) -> Sample | None:
        msg = getattr(strm, side)
        if msg is None:
            return None
        return Sample(SmpType.STR, args[0].join(n.lower() for n, _ in msg.headers))

    return process


def _hdrs(side: str) -> Process:
    def process(args: list[Any], strm: Any) -> Sample | None:
        msg = getattr(strm, side)
        if msg is None:
            return None
        text = "".join(f"{n.lower()}: {v}\r\n" for n, v in msg.headers) + "\r\n"
        return Sample(SmpType.STR, text)

    return process


def _hdrs_bin(side: str) -> Process:
    def process(args: list[Any], strm: Any) -> Sample | None:
        msg = getattr(strm, side)
        if msg is None:
            return None
        out = bytearray()
        for n, v in msg.headers:
            for part in (n.lower().encode("latin-1"), v.encode("latin-1")):
                out += hu.encode_varint(len(part))
                out += part
        out += b"\x00\x00"
        return Sample(SmpType.BIN, bytes(out))

    return process


# -- cookies -----------------------------------------------------------------------------------

def _cookie_values(side: str, args: list[Any], strm: Any) -> list[str]:
    msg = getattr(strm, side)
    if msg is None:
        return []
    name = args[0]
    pairs = hu.cookies(msg, side == "req")
    if name is None:
        return [v for _, v in pairs]
    return [v for n, v in pairs if n == name]


def _cook(side: str, conv: str) -> tuple[Process, Process]:
    """A named cookie gives its last occurrence, no name the first cookie's value."""
    if conv == "str":
        def make(v: str) -> Sample:
            return Sample(SmpType.STR, v)
    else:
        def make(v: str) -> Sample:
            return Sample(SmpType.SINT, hu.strl2ic(v))

    def process(args: list[Any], strm: Any) -> Sample | None:
        vals = _cookie_values(side, args, strm)
        if not vals:
            return None
        return make(vals[-1] if args[0] is not None else vals[0])

    def values(args: list[Any], strm: Any) -> list[Sample]:
        return [make(v) for v in _cookie_values(side, args, strm)]

    return process, values


def _cook_cnt(side: str) -> Process:
    def process(args: list[Any], strm: Any) -> Sample | None:
        if getattr(strm, side) is None:
            return None
        return Sample(SmpType.SINT, len(_cookie_values(side, args, strm)))

    return process


def _cook_names(side: str) -> Process:
    def process(args: list[Any], strm: Any) -> Sample | None:
        msg = getattr(strm, side)
        if msg is None:
            return None
        return Sample(SmpType.STR, args[0].join(n for n, _ in hu.cookies(msg, side == "req")))

    return process


# -- records -----------------------------------------------------------------------------------

def _records(side: str) -> list[Fetch]:
    uses = Use.HTTP_REQ if side == "req" else Use.HTTP_RES
    what = "request" if side == "req" else "response"
    cookie_hdr = "Cookie" if side == "req" else "Set-Cookie"
    short_hdr = "hdr" if side == "req" else "shdr"
    short_cook = "cook" if side == "req" else "scook"
    recs: list[Fetch] = []

    hdr_p, hdr_v = _hdr(side, False, "str")
    hdr_doc = (f"{side}.hdr([<name>[,<occ>]])\n\nReturns the last comma-separated value of "
               f"header <name> of the {what} (every header without <name>), or occurrence "
               f"<occ>: 1 the first, -1 the last, down to -{MAX_HDR_HISTORY}. Commas inside "
               "double quotes do not separate values. ACLs try every value unless <occ> is "
               "given.")
    for name in (f"{side}.hdr", short_hdr):
        recs.append(Fetch(name, process=hdr_p, values=hdr_v, out_type=SmpType.STR, uses=uses,
                          args=_NAME_OCC, validate=_validate_name_occ,
                          doc=hdr_doc.replace(f"{side}.hdr(", f"{name}(", 1)))

    fhdr_p, fhdr_v = _hdr(side, True, "str")
    recs.append(Fetch(f"{side}.fhdr", process=fhdr_p, values=fhdr_v, out_type=SmpType.STR,
                      uses=uses, args=_NAME_OCC, validate=_validate_name_occ,
                      doc=f"{side}.fhdr(<name>[,<occ>])\n\nLike {side}.hdr with full header "
                          "lines: commas do not separate values."))

    cnt_doc = (f"{side}.hdr_cnt([<name>])\n\nReturns the number of comma-separated values of "
               f"header <name> of the {what}, or of all headers.")
    for name in (f"{side}.hdr_cnt", f"{short_hdr}_cnt"):
        recs.append(Fetch(name, process=_hdr_cnt(side, False), out_type=SmpType.SINT,
                          uses=uses, args=_NAME, validate=_validate_name,
                          doc=cnt_doc.replace(f"{side}.hdr_cnt(", f"{name}(", 1)))
    recs.append(Fetch(f"{side}.fhdr_cnt", process=_hdr_cnt(side, True), out_type=SmpType.SINT,
                      uses=uses, args=_NAME, validate=_validate_name,
                      doc=f"{side}.fhdr_cnt([<name>])\n\nReturns the number of header lines "
                          f"<name> of the {what}, or of all header lines."))

    val_p, val_v = _hdr(side, False, "int")
    val_doc = (f"{side}.hdr_val([<name>[,<occ>]])\n\nLike {side}.hdr, converted to an integer "
               "(an optional '-' and the leading digits).")
    for name in (f"{side}.hdr_val", f"{short_hdr}_val"):
        recs.append(Fetch(name, process=val_p, values=val_v, out_type=SmpType.SINT, uses=uses,
                          args=_NAME_OCC, validate=_validate_name_occ,
                          doc=val_doc.replace(f"{side}.hdr_val(", f"{name}(", 1)))

    ip_p, ip_v = _hdr(side, False, "ip")
    ip_doc = (f"{side}.hdr_ip([<name>[,<occ>]])\n\nLike {side}.hdr, parsed as an IPv4 address "
              "(a port may follow) or an IPv6 address (possibly in brackets); no sample when it "
              "is neither.")
    for name in (f"{side}.hdr_ip", f"{short_hdr}_ip"):
        recs.append(Fetch(name, process=ip_p, values=ip_v, out_type=SmpType.IPV4, uses=uses,
                          args=_NAME_OCC, validate=_validate_name_occ,
                          doc=ip_doc.replace(f"{side}.hdr_ip(", f"{name}(", 1)))

    recs += [
        Fetch(f"{side}.hdr_names", process=_hdr_names(side), out_type=SmpType.STR, uses=uses,
              args=_DELIM, validate=_validate_delim,
              doc=f"{side}.hdr_names([<delim>])\n\nReturns the names of all headers of the "
                  f"{what}, in order, joined by the first character of <delim> (',' by "
                  "default)."),
        Fetch(f"{side}.hdrs", process=_hdrs(side), out_type=SmpType.STR, uses=uses,
              doc=f"{side}.hdrs\n\nReturns the header block of the {what}: 'name: value' "
                  "lines ending in CRLF, and the final empty line."),
        Fetch(f"{side}.hdrs_bin", process=_hdrs_bin(side), out_type=SmpType.BIN, uses=uses,
              doc=f"{side}.hdrs_bin\n\nReturns the headers of the {what} in binary form: each "
                  "name and value as a varint length (SPOE encoding) and its bytes, ended by "
                  "two empty strings."),
    ]

    cook_p, cook_v = _cook(side, "str")
    cook_doc = (f"{side}.cook([<name>])\n\nReturns the value of the last cookie <name> of the "
                f"{what}'s {cookie_hdr} headers, or the first cookie's value without <name>. "
                "Names are case-sensitive; spaces around names and values are ignored. ACLs "
                "try every matching cookie.")
    for name in (f"{side}.cook", short_cook):
        recs.append(Fetch(name, process=cook_p, values=cook_v, out_type=SmpType.STR, uses=uses,
                          args=_NAME, validate=_validate_cookie_name,
                          doc=cook_doc.replace(f"{side}.cook(", f"{name}(", 1)))
    for name in (f"{side}.cook_cnt", f"{short_cook}_cnt"):
        recs.append(Fetch(name, process=_cook_cnt(side), out_type=SmpType.SINT, uses=uses,
                          args=_NAME, validate=_validate_cookie_name,
                          doc=f"{name}([<name>])\n\nReturns the number of cookies <name> (or of "
                              f"all cookies) in the {what}'s {cookie_hdr} headers."))
    cv_p, cv_v = _cook(side, "int")
    for name in (f"{side}.cook_val", f"{short_cook}_val"):
        recs.append(Fetch(name, process=cv_p, values=cv_v, out_type=SmpType.SINT, uses=uses,
                          args=_NAME, validate=_validate_cookie_name,
                          doc=f"{name}([<name>])\n\nLike {side}.cook, converted to an integer."))
    recs.append(Fetch(f"{side}.cook_names", process=_cook_names(side), out_type=SmpType.STR,
                      uses=uses, args=_DELIM, validate=_validate_delim,
                      doc=f"{side}.cook_names([<delim>])\n\nReturns the names of all cookies of "
                          f"the {what}'s {cookie_hdr} headers, joined by the first character of "
                          "<delim> (',' by default)."))
    return recs


RECORDS = tuple(_records("req") + _records("res"))
