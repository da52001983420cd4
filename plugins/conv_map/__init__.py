"""Map converters: ``map(<ref>[,<default>])`` and ``map_<match>[_<out>]``.

The input is looked up in a map (a file, ``opt@`` file or ``virt@`` list) with the match
method of the name (str beg sub dir dom end reg regm int ip) and the value of the matching
entry is returned, typed by ``_<out>`` (str by default, int or ip).  String and IP keys are
looked up in tables (exact, longest prefix); the other methods take the first matching line.
Without a match the default is returned, or the conversion fails when there is none.
``map_regm`` replaces ``\\1``..``\\9`` in the value with the groups of the matching regex.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, SmpType
from hapx.core.sample.match import RefMatcher, expand_backrefs
from hapx.core.sample.types import Sample

MATCHES = ("str", "beg", "sub", "dir", "dom", "end", "reg", "regm", "int", "ip")
OUTPUTS = ("str", "int", "ip")

_IN_TYPE = {"int": SmpType.SINT, "ip": SmpType.ADDR}
_OUT_TYPE = {"str": SmpType.STR, "int": SmpType.SINT, "ip": SmpType.ADDR}
_INT = re.compile(r"[+-]?\d+\Z")
_STR = SmpType.STR


def _out_str(text: str) -> Sample:
    return Sample(SmpType.STR, text)


def _out_int(text: str) -> Sample:
    if not _INT.match(text):
        raise ValueError(f"'{text}' is not a number")
    return Sample(SmpType.SINT, int(text))


def _out_ip(text: str) -> Sample:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a valid IPv4 or IPv6 address") from None
    return Sample(SmpType.IPV4 if addr.version == 4 else SmpType.IPV6, addr)


_OUT_PARSE: dict[str, Callable[[str], Sample]] = {"str": _out_str, "int": _out_int,
                                                  "ip": _out_ip}


class MapState:
    """What a map converter uses at run time: the matcher over the list, the output
    parser and the default sample."""

    __slots__ = ("ref", "matcher", "out", "default", "regm")

    def __init__(self, ref: Any, matcher: RefMatcher, out: str, default: Sample | None,
                 regm: bool) -> None:
        self.ref = ref
        self.matcher = matcher
        self.out = out
        self.default = default
        self.regm = regm


def _validate(match: str, out: str) -> Callable[[list[Any], Any], list[Any]]:
    def validate(args: list[Any], ctx: Any) -> list[Any]:
        name, default = args[0], args[1] if len(args) > 1 else None
        if isinstance(name, MapState):
            return args
        ref = ctx.config.patterns.load(name, ctx, kind="map")
        # regm values hold back-references: they are typed after substitution; string
        # values are used as written (the list's entries are then the matcher's hits)
        key = ("map", match, out)
        matcher = ref.cache.get(key)
        if matcher is None:
            parser = None if match == "regm" or out == "str" else _OUT_PARSE[out]
            try:
                matcher = RefMatcher(ref, match, value_parser=parser)
            except ValueError as exc:
                raise ConfigError(f"{exc} in map file '{ref.path or ref.name}'") from None
            ref.cache[key] = matcher
        dflt: Sample | None = None
        if default is not None:
            if isinstance(default, int) and not isinstance(default, bool):
                dflt = Sample(SmpType.SINT, default)
            else:
                try:
                    dflt = _OUT_PARSE[out](str(default))
                except ValueError:
                    what = {"ip": "ip", "int": "integer", "str": "string"}[out]
                    raise ConfigError(f"map: cannot parse default {what} <{default}>."
                                      ) from None
        return [MapState(ref, matcher, out, dflt, match == "regm")]
    return validate


def map_process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    st: MapState = args[0]
    hit = st.matcher.find(smp)
    if hit is None:
        d = st.default
        return None if d is None else Sample(d.type, d.value, smp.flags)
    val = hit.value
    if st.regm:
        try:
            val = _OUT_PARSE[st.out](expand_backrefs(val or "", hit.m))
        except ValueError:
            return None
    elif st.out == "str":
        return None if val is None else Sample(_STR, val, smp.flags)
    if val is None:
        return None
    return Sample(val.type, val.value, smp.flags)


def _doc(name: str, match: str, out: str) -> str:
    in_label = _IN_TYPE.get(match, SmpType.STR).label
    alias = " It is an alias of map_str." if name == "map" else ""
    extra = ("\nThe value may reference the groups of the matching regex as \\1 to \\9."
             if match == "regm" else "")
    return f"""{name}(<map>[,<default>])

Look the {in_label} input up in the map file <map> (or an opt@ or virt@ list) using the
"{match}" match method and return the associated value as {_OUT_TYPE[out].label}.  When
nothing matches, return <default>, or fail when no default is given.{alias}  Map files
hold one "<key> <value>" per line; "#" starts a comment line.{extra}

Example:
    use_backend %[req.hdr(host),lower,{name}(/etc/hapx/hosts.map,be_default)]
"""


def map_converters() -> list[Converter]:
    out: list[Converter] = []
    for match in MATCHES:
        for kind in OUTPUTS:
            names = [f"map_{match}" if kind == "str" else f"map_{match}_{kind}"]
            if match == "str" and kind == "str":
                names.append("map")
            for name in names:
                default_arg = Arg("default", ArgType.SINT if kind == "int" else ArgType.STR,
                                  optional=True)
                out.append(Converter(
                    name, process=map_process, in_type=_IN_TYPE.get(match, SmpType.STR),
                    out_type=_OUT_TYPE[kind],
                    args=(Arg("map", ArgType.PATREF), default_arg),
                    validate=_validate(match, kind), doc=_doc(name, match, kind)))
    return out


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(*map_converters())
