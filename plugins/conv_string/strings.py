"""Records of the text converters: lower, upper, length, ltrim, rtrim, cut_crlf, field,
word, param, host_only, port_only, regsub, concat, add_item, strcmp, secure_memcmp."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Converter, SmpType
from hapx.core.sample.types import Sample

from . import text as t
from .common import raw, read_var, text, var_arg
from .regsub import regsub

_STR, _SINT, _BIN, _BOOL = SmpType.STR, SmpType.SINT, SmpType.BIN, SmpType.BOOL


def _str_fn(fn: Callable[[str], str]) -> Callable[..., Sample]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample:
        return Sample(_STR, fn(text(smp.value)), smp.flags)

    return process


def _case_fn(fn: Callable[[str], str], ascii_fn: Callable[[str], str]) -> Callable[..., Sample]:
    """lower/upper: ``ascii_fn`` (str.lower, str.upper) gives the same text as ``fn`` on
    an ASCII string, without a table lookup per character; a string sample it leaves
    unchanged is returned as it is (samples are never changed once built)."""
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample:
        v = smp.value
        if v.__class__ is str and v.isascii():
            out = ascii_fn(v)
            if smp.type is _STR and out == v:
                return smp
            return Sample(_STR, out, smp.flags)
        return Sample(_STR, fn(text(v)), smp.flags)

    return process


def _length(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_SINT, len(smp.value), smp.flags)


def _ltrim(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_STR, text(smp.value).lstrip(args[0]) if args[0] else text(smp.value),
                  smp.flags)


def _rtrim(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_STR, text(smp.value).rstrip(args[0]) if args[0] else text(smp.value),
                  smp.flags)


# -- field / word ----------------------------------------------------------------------------

def _field_validate(args: list[Any], ctx: Any) -> list[Any]:
    if not args[0]:
        raise ConfigError("Unexpected value 0 for index")
    if not args[1]:
        raise ConfigError("Empty separators list")
    return [args[0], args[1], 1 if args[2] is None else args[2]]


def _splitter(fn: Callable[[str, int, str, int], str | None]) -> Callable[..., Sample | None]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
        out = fn(text(smp.value), args[0], args[1], args[2])
        return None if out is None else Sample(_STR, out, smp.flags)

    return process


_FIELD_ARGS = (Arg("index", ArgType.SINT), Arg("delimiters"),
               Arg("count", ArgType.SINT, optional=True, default=1))


# -- param / host / port -----------------------------------------------------------------------

def _param_validate(args: list[Any], ctx: Any) -> list[Any]:
    delim = "&" if args[1] is None else args[1]
    if len(delim) != 1:
        raise ConfigError("Delimiter must be exactly 1 character.")
    return [args[0], delim]


def _param(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    out = t.param(text(smp.value), args[0], args[1])
    return None if out is None else Sample(_STR, out, smp.flags)


def _port_only(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_SINT, t.port_only(text(smp.value)), smp.flags)


# -- regsub ------------------------------------------------------------------------------------

def _regsub_validate(args: list[Any], ctx: Any) -> list[Any]:
    pattern, subst, flags = args[0], args[1], args[2] or ""
    icase = glob = False
    for c in flags:
        if c == "i":
            icase = True
        elif c == "g":
            glob = True
        else:
            raise ConfigError(f"invalid regex flag '{c}', only 'i' and 'g' are supported")
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    if isinstance(source, bytes):
        source = source.decode("latin-1")
    # PCRE without UTF: classes and case folding are ASCII only
    try:
        compiled = re.compile(source, re.ASCII | (re.IGNORECASE if icase else 0))
    except re.error as exc:
        raise ConfigError(f"error in regex '{source}' : {exc}") from None
    return [compiled, subst, glob]


def _regsub(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_STR, regsub(args[0], args[1], text(smp.value), args[2]), smp.flags)


# -- concat / add_item ------------------------------------------------------------------------

def _concat_validate(args: list[Any], ctx: Any) -> list[Any]:
    return [args[0] or "", var_arg(args[1] or "", required=False), args[2] or ""]


def _concat(args: list[Any], smp: Sample, strm: Any) -> Sample:
    var = read_var(args[1], strm, _STR)
    middle = text(var.value) if var is not None else ""
    return Sample(_STR, text(smp.value) + args[0] + middle + args[2], smp.flags)


def _add_item_validate(args: list[Any], ctx: Any) -> list[Any]:
    ref = var_arg(args[1] or "", required=False)
    if ref is None and not args[2]:
        raise ConfigError("one of the optional arguments has to be nonempty")
    return [args[0], ref, args[2] or ""]


def _add_item(args: list[Any], smp: Sample, strm: Any) -> Sample:
    cur = text(smp.value)
    var = read_var(args[1], strm, _STR)
    middle = text(var.value) if var is not None else ""
    out = cur
    if cur and (middle or args[2]):
        out += args[0]
    return Sample(_STR, out + middle + args[2], smp.flags)


# -- comparisons ------------------------------------------------------------------------------

def _var_validate(args: list[Any], ctx: Any) -> list[Any]:
    return [var_arg(args[0], required=True)]


def _strcmp(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    var = read_var(args[0], strm, _STR)
    if var is None:
        return None
    return Sample(_SINT, t.strcmp(text(smp.value), text(var.value)), smp.flags)


def _secure_memcmp(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    var = read_var(args[0], strm, _BIN)
    if var is None:
        return None
    return Sample(_BOOL, hmac.compare_digest(raw(smp.value), raw(var.value)), smp.flags)


def records() -> list[Converter]:
    chars = (Arg("chars"),)
    return [
        Converter("lower", process=_case_fn(t.lower, str.lower), in_type=_STR, out_type=_STR,
                  doc="lower\n\nConverts the ASCII letters of the string to lower case."),
        Converter("upper", process=_case_fn(t.upper, str.upper), in_type=_STR, out_type=_STR,
                  doc="upper\n\nConverts the ASCII letters of the string to upper case."),
        Converter("length", process=_length, in_type=_STR, out_type=_SINT,
                  doc="length\n\nThe length of the string, in bytes."),
        Converter("ltrim", process=_ltrim, in_type=_STR, out_type=_STR, args=chars,
                  doc="ltrim(<chars>)\n\nRemoves the characters of <chars> from the start of "
                      "the string."),
        Converter("rtrim", process=_rtrim, in_type=_STR, out_type=_STR, args=chars,
                  doc="rtrim(<chars>)\n\nRemoves the characters of <chars> from the end of "
                      "the string."),
        Converter("cut_crlf", process=_str_fn(t.cut_crlf), in_type=_STR, out_type=_STR,
                  doc="cut_crlf\n\nCuts the string at the first CR or LF character."),
        Converter("field", process=_splitter(t.field), in_type=_STR, out_type=_STR,
                  args=_FIELD_ARGS, validate=_field_validate,
                  doc="field(<index>,<delimiters>[,<count>])\n\nExtracts the field at <index> "
                      "(from 1, or from -1 at the end) of the string split on any character of "
                      "<delimiters>; empty fields count. <count> fields are returned with their "
                      "delimiters (default 1; 0 means all the remaining ones). Fails when the "
                      "field does not exist.\n"
                      "  Example: str(f1_f2_f3__f5),field(2,_,2)  # f2_f3"),
        Converter("word", process=_splitter(t.word), in_type=_STR, out_type=_STR,
                  args=_FIELD_ARGS, validate=_field_validate,
                  doc="word(<index>,<delimiters>[,<count>])\n\nLike field() but consecutive "
                      "delimiters make one separator: empty words are skipped.\n"
                      "  Example: str(/a//b/c),word(2,/)  # b"),
        Converter("param", process=_param, in_type=_STR, out_type=_STR,
                  args=(Arg("name"), Arg("delim", optional=True)), validate=_param_validate,
                  doc="param(<name>[,<delim>])\n\nThe value of parameter <name> in a list of "
                      "name=value pairs separated by <delim> (default '&'); empty when the "
                      "parameter has no value, fails when it is absent."),
        Converter("host_only", process=_str_fn(t.host_only), in_type=_STR, out_type=_STR,
                  doc="host_only\n\nThe host part of a Host header value (port removed, "
                      "IPv6 literals kept), in lower case."),
        Converter("port_only", process=_port_only, in_type=_STR, out_type=_SINT,
                  doc="port_only\n\nThe port of a Host header value as an integer (0 when "
                      "there is none)."),
        Converter("regsub", process=_regsub, in_type=_STR, out_type=_STR,
                  args=(Arg("regex", ArgType.REGEX), Arg("subst"),
                        Arg("flags", optional=True, default="")),
                  validate=_regsub_validate,
                  doc="regsub(<regex>,<subst>[,<flags>])\n\nReplaces the first match of "
                      "<regex> with <subst>, or every match with flag 'g'; flag 'i' ignores "
                      "case. <subst> may use \\0 to \\9 for the match and its groups.\n"
                      "  Example: req.hdr(x-path),regsub(/+,/,g)"),
        Converter("concat", process=_concat, in_type=_STR, out_type=_STR,
                  args=(Arg("start", optional=True, default=""),
                        Arg("var", optional=True, default=""),
                        Arg("end", optional=True, default="")),
                  validate=_concat_validate,
                  doc="concat([<start>],[<var>],[<end>])\n\nAppends <start>, the string value "
                      "of variable <var> (nothing when it is not set) and <end> to the string."),
        Converter("add_item", process=_add_item, in_type=_STR, out_type=_STR,
                  args=(Arg("delim"), Arg("var"), Arg("suffix", optional=True, default="")),
                  validate=_add_item_validate,
                  doc="add_item(<delim>,[<var>][,<suffix>])\n\nAppends the value of variable "
                      "<var> and <suffix>, preceded by <delim> only when the input is not empty "
                      "and something is appended."),
        Converter("strcmp", process=_strcmp, in_type=_STR, out_type=_SINT,
                  args=(Arg("var"),), validate=_var_validate,
                  doc="strcmp(<var>)\n\nCompares the string with the variable <var> like "
                      "strcmp(3): 0 when equal, negative or positive otherwise. Fails when the "
                      "variable is not set."),
        Converter("secure_memcmp", process=_secure_memcmp, in_type=_BIN, out_type=_BOOL,
                  args=(Arg("var"),), validate=_var_validate,
                  doc="secure_memcmp(<var>)\n\nTrue when the binary input equals the variable "
                      "<var>, compared in constant time for equal lengths."),
    ]
