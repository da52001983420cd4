"""Encoding converters: base64, b64dec, ub64enc, ub64dec, hex, hex2i, be2dec, be2hex and
htonl."""

from __future__ import annotations

from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, SmpType
from hapx.core.sample.types import Sample

from . import codecs

_BIN, _STR, _SINT = SmpType.BIN, SmpType.STR, SmpType.SINT


def _bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("latin-1")


def _base64(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_STR, codecs.b64encode(_bytes(smp.value)), smp.flags)


def _b64dec(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    raw = codecs.b64decode(_bytes(smp.value))
    return None if raw is None else Sample(_BIN, raw, smp.flags)


def _ub64enc(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_STR, codecs.ub64encode(_bytes(smp.value)), smp.flags)


def _ub64dec(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    raw = codecs.ub64decode(_bytes(smp.value))
    return None if raw is None else Sample(_BIN, raw, smp.flags)


def _hex(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_STR, _bytes(smp.value).hex().upper(), smp.flags)


_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def _hex2i(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    text = smp.value
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    n = 0
    for c in text:
        if c not in _HEXDIGITS:
            return None
        n = ((n << 4) + int(c, 16)) & 0xFFFFFFFFFFFFFFFF
    if n >> 63:
        n -= 1 << 64
    return Sample(_SINT, n, smp.flags)


def _be2dec_validate(args: list[Any], ctx: Any) -> list[Any]:
    sep, chunk, trunc = args[0], args[1] or 0, args[2] or 0
    if chunk <= 0 or chunk > 8:
        raise ConfigError(f"chunk_size out of [1..8] range ({chunk})")
    if trunc not in (0, 1):
        raise ConfigError(f"Unsupported truncate value ({trunc})")
    return [sep, chunk, trunc]


def _be2dec(args: list[Any], smp: Sample, strm: Any) -> Sample:
    out = codecs.be2dec(_bytes(smp.value), args[0], args[1], bool(args[2]))
    return Sample(_STR, out, smp.flags)


def _be2hex_validate(args: list[Any], ctx: Any) -> list[Any]:
    sep, chunk, trunc = args[0] or "", args[1] or 0, args[2] or 0
    if chunk <= 0 and (sep or trunc):
        raise ConfigError(f"chunk_size needs to be positive ({chunk})")
    if trunc not in (0, 1):
        raise ConfigError(f"Unsupported truncate value ({trunc})")
    return [sep, chunk, trunc]


def _be2hex(args: list[Any], smp: Sample, strm: Any) -> Sample:
    out = codecs.be2hex(_bytes(smp.value), args[0], args[1], bool(args[2]))
    return Sample(_STR, out, smp.flags)


def _htonl(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_BIN, (int(smp.value) & 0xFFFFFFFF).to_bytes(4, "big"), smp.flags)


def records() -> list[Converter]:
    chunk_args = (Arg("chunk_size", ArgType.SINT, optional=True, default=0),
                  Arg("truncate", ArgType.SINT, optional=True, default=0))
    return [
        Converter("base64", process=_base64, in_type=_BIN, out_type=_STR,
                  doc="base64\n\nEncodes the binary input in base64 (with padding). See "
                      "\"ub64enc\" for the URL-safe variant."),
        Converter("b64dec", process=_b64dec, in_type=_STR, out_type=_BIN,
                  doc="b64dec\n\nDecodes a base64 string to binary; fails on invalid input "
                      "(the length must be a multiple of 4)."),
        Converter("ub64enc", process=_ub64enc, in_type=_BIN, out_type=_STR,
                  doc="ub64enc\n\nEncodes the binary input in base64url (\"URL and Filename "
                      "Safe Alphabet\", RFC 4648) without padding."),
        Converter("ub64dec", process=_ub64dec, in_type=_STR, out_type=_BIN,
                  doc="ub64dec\n\nDecodes a base64url string (padding optional), as found in "
                      "JSON Web Tokens.\n  Example: req.hdr(Authorization),word(2,.),ub64dec"),
        Converter("hex", process=_hex, in_type=_BIN, out_type=_STR,
                  doc="hex\n\nConverts the binary input to uppercase hex, two digits per "
                      "byte."),
        Converter("hex2i", process=_hex2i, in_type=_STR, out_type=_SINT,
                  doc="hex2i\n\nConverts a hex string to an integer; fails when a character "
                      "is not a hex digit."),
        Converter("be2dec", process=_be2dec, in_type=_BIN, out_type=_STR,
                  args=(Arg("separator"),) + chunk_args, validate=_be2dec_validate,
                  doc="be2dec(<separator>,<chunk_size>[,<truncate>])\n\nConverts big-endian "
                      "binary input to unsigned decimal numbers, one per <chunk_size> bytes "
                      "(1 to 8), joined by <separator>. With <truncate> set to 1, a short last "
                      "chunk is dropped.\n  Example: bin(01020304050607),be2dec(:,2)  # "
                      "258:772:1286:7"),
        Converter("be2hex", process=_be2hex, in_type=_BIN, out_type=_STR,
                  args=(Arg("separator", optional=True, default=""),) + chunk_args,
                  validate=_be2hex_validate,
                  doc="be2hex([<separator>],[<chunk_size>],[<truncate>])\n\nConverts binary "
                      "input to uppercase hex, with <separator> every <chunk_size> bytes. With "
                      "<truncate> set to 1, a short last chunk is dropped.\n"
                      "  Example: bin(01020304050607),be2hex(:,2)  # 0102:0304:0506:07"),
        Converter("htonl", process=_htonl, in_type=_SINT, out_type=_BIN,
                  doc="htonl\n\nThe input integer, cast to unsigned 32 bits, as 4 bytes in "
                      "network byte order."),
    ]


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(*records())
