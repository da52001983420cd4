"""Records of json, url_dec, url_enc, language, ipmask, bytes and the date converters."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Converter, SmpType
from hapx.core.sample.types import F_MAY_CHANGE, Sample

from . import encode, timefmt
from .common import operand, raw, text
from .language import preferred

_STR, _SINT, _BIN = SmpType.STR, SmpType.SINT, SmpType.BIN


# -- json / url --------------------------------------------------------------------------------

def _json_validate(args: list[Any], ctx: Any) -> list[Any]:
    mode = args[0] or "ascii"
    if mode not in encode.JSON_MODES:
        raise ConfigError("Unexpected input code type. Allowed value are 'ascii', 'utf8', "
                          "'utf8s', 'utf8p' and 'utf8ps'")
    return [mode]


def _json(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    out = encode.json_escape(raw(smp.value), args[0])
    return None if out is None else Sample(_STR, out, smp.flags)


def _url_dec(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    out = encode.url_decode(text(smp.value), bool(args[0]))
    return None if out is None else Sample(_STR, out, smp.flags)


def _url_enc_validate(args: list[Any], ctx: Any) -> list[Any]:
    if (args[0] or "query") != "query":
        raise ConfigError("Unexpected encode type. Allowed value is 'query'")
    return ["query"]


def _url_enc(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_STR, encode.url_encode(text(smp.value)), smp.flags)


# -- language ----------------------------------------------------------------------------------

def _language_validate(args: list[Any], ctx: Any) -> list[Any]:
    return [args[0].split(";"), args[1]]


def _language(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    out = preferred(text(smp.value), args[0])
    if not out and args[1] is not None:
        out = args[1]
    return Sample(_STR, out, smp.flags) if out else None


# -- ipmask ------------------------------------------------------------------------------------

def _mask_value(v: Any, bits: int) -> int:
    if hasattr(v, "netmask"):
        return int(v.netmask)
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return int(v)
    if isinstance(v, int):
        return ((1 << bits) - 1) ^ ((1 << (bits - v)) - 1)
    return int(ipaddress.ip_network(f"{'::' if bits == 128 else '0.0.0.0'}/{v}").netmask)


def _ipmask_validate(args: list[Any], ctx: Any) -> list[Any]:
    try:
        m4 = _mask_value(args[0], 32)
        m6 = None if args[1] is None else _mask_value(args[1], 128)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return [m4, m6]


def _ipmask(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    addr = smp.value
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return Sample(SmpType.IPV4, ipaddress.IPv4Address(int(addr) & args[0]), smp.flags)
    if isinstance(addr, ipaddress.IPv6Address):
        if args[1] is None:
            return None
        return Sample(SmpType.IPV6, ipaddress.IPv6Address(int(addr) & args[1]), smp.flags)
    return None


# -- bytes -------------------------------------------------------------------------------------

def _bytes_validate(args: list[Any], ctx: Any) -> list[Any]:
    off, length = args[0], args[1]
    if isinstance(off, int) and off < 0:
        raise ConfigError("expects a non-negative integer")
    if isinstance(length, int) and length <= 0:
        raise ConfigError("expects a positive integer")
    return [off, length]


def _bytes(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    data = raw(smp.value)
    incomplete = bool(smp.flags & F_MAY_CHANGE)
    off = operand(args[0], strm)
    if off is None or off < 0:
        return None
    if off >= len(data):
        return None if incomplete else Sample(_BIN, b"", smp.flags)
    if args[1] is None:
        return Sample(_BIN, data[off:], smp.flags)
    length = operand(args[1], strm)
    if length is None or length < 0:
        return None
    if length > len(data) - off and incomplete:
        return None
    return Sample(_BIN, data[off:off + length], smp.flags)


# -- dates -------------------------------------------------------------------------------------

def _seconds(local: bool) -> Callable[..., Sample | None]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
        out = timefmt.format_seconds(int(smp.value), args[0], args[1] or 0, local)
        return None if out is None else Sample(_STR, out, smp.flags)

    return process


def _subsec(per_sec: int, local: bool) -> Callable[..., Sample | None]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
        out = timefmt.format_subsec(int(smp.value), per_sec, args[0], args[1] or 0, local)
        return None if out is None else Sample(_STR, out, smp.flags)

    return process


def _http_date_validate(args: list[Any], ctx: Any) -> list[Any]:
    unit = args[1]
    if unit is not None and unit not in timefmt.UNITS:
        raise ConfigError(f"expects 's', 'ms' or 'us', got '{unit}'")
    return [args[0] or 0, unit]


def _http_date(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    out = timefmt.http_date(int(smp.value), args[0], args[1])
    return None if out is None else Sample(_STR, out, smp.flags)


_TIME_ARGS = (Arg("format"), Arg("offset", ArgType.SINT, optional=True, default=0))


def _time_record(name: str, process: Callable[..., Sample | None], what: str) -> Converter:
    return Converter(name, process=process, in_type=_SINT, out_type=_STR, args=_TIME_ARGS,
                     doc=f"{name}(<format>[,<offset>])\n\n{what} <offset> (in seconds) is "
                         "added first; <format> is a strftime(3) format.")


def records() -> list[Converter]:
    sub = " %N is the nanoseconds part (%3N: milliseconds, %6N: microseconds)."
    return [
        Converter("json", process=_json, in_type=_STR, out_type=_STR,
                  args=(Arg("input_code", optional=True, default="ascii"),),
                  validate=_json_validate,
                  doc="json([<input-code>])\n\nEscapes the string for use inside a JSON "
                      "string: '\"', '\\\\', '/' and control characters, others as \\uXXXX. "
                      "<input-code> is ascii (default), utf8 (fails on bad UTF-8), utf8s "
                      "(drops bad characters), utf8p (accepts overlong encodings) or utf8ps."),
        Converter("url_dec", process=_url_dec, in_type=_STR, out_type=_STR,
                  args=(Arg("in_form", ArgType.SINT, optional=True, default=0),),
                  doc="url_dec([<in_form>])\n\nDecodes %XX escapes. '+' becomes a space after "
                      "a '?', or everywhere when <in_form> is non-zero. Fails on a bad escape."),
        Converter("url_enc", process=_url_enc, in_type=_STR, out_type=_STR,
                  args=(Arg("enc_type", optional=True, default="query"),),
                  validate=_url_enc_validate,
                  doc="url_enc([<enc_type>])\n\nPercent-encodes the string for a query string: "
                      "everything but letters, digits and '-._~'. Only 'query' exists."),
        Converter("language", process=_language, in_type=_STR, out_type=_STR,
                  args=(Arg("values"), Arg("default", optional=True)),
                  validate=_language_validate,
                  doc="language(<value>[,<default>])\n\nThe language among the ';'-separated "
                      "<value> list with the highest q-factor in an Accept-Language value, or "
                      "<default>; fails when none matches and there is no default.\n"
                      "  Example: req.fhdr(accept-language),language(es;fr;en)"),
        Converter("ipmask", process=_ipmask, in_type=SmpType.ADDR, out_type=SmpType.ADDR,
                  args=(Arg("mask4", ArgType.MSK4), Arg("mask6", ArgType.MSK6, optional=True)),
                  validate=_ipmask_validate,
                  doc="ipmask(<mask4>[,<mask6>])\n\nApplies a mask to an address (dotted or "
                      "CIDR length). IPv4-mapped IPv6 addresses are masked as IPv4; other IPv6 "
                      "addresses fail without <mask6>."),
        Converter("bytes", process=_bytes, in_type=_BIN, out_type=_BIN,
                  args=(Arg("offset", ArgType.SINT, var_ok=True),
                        Arg("length", ArgType.SINT, optional=True, var_ok=True)),
                  validate=_bytes_validate,
                  doc="bytes(<offset>[,<length>])\n\nExtracts <length> bytes (default: all the "
                      "rest) from <offset> of the binary input. Both may be variable names."),
        _time_record("utime", _seconds(False), "Formats a date in seconds since the epoch, "
                     "in UTC."),
        _time_record("ltime", _seconds(True), "Formats a date in seconds since the epoch, in "
                     "local time."),
        _time_record("ms_utime", _subsec(1000, False), "Formats a date in milliseconds since "
                     "the epoch, in UTC." + sub),
        _time_record("ms_ltime", _subsec(1000, True), "Formats a date in milliseconds since "
                     "the epoch, in local time." + sub),
        _time_record("us_utime", _subsec(1_000_000, False), "Formats a date in microseconds "
                     "since the epoch, in UTC." + sub),
        _time_record("us_ltime", _subsec(1_000_000, True), "Formats a date in microseconds "
                     "since the epoch, in local time." + sub),
        Converter("http_date", process=_http_date, in_type=_SINT, out_type=_STR,
                  args=(Arg("offset", ArgType.SINT, optional=True, default=0),
                        Arg("unit", optional=True)),
                  validate=_http_date_validate,
                  doc="http_date([<offset>],[<unit>])\n\nFormats a date since the epoch as an "
                      "HTTP date (IMF-fixdate, \"Sun, 06 Nov 1994 08:49:37 GMT\"). <unit> is s "
                      "(default), ms or us; <offset> is in the same unit."),
    ]
