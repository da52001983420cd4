"""Constant fetches: always_true, always_false, str, int, bool, bin, ipv4, ipv6, meth, plus
env and hostname.  Arguments are checked and converted once, at parse time."""

from __future__ import annotations

import os
import re
import socket
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Fetch, SmpType, Use
from hapx.core.sample.types import F_CONST, Sample

#: HTTP token characters (RFC 9110), allowed in a method name
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def _true(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, True, F_CONST)


def _false(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, False, F_CONST)


def _const(smp_type: SmpType):  # noqa: ANN202 - a process function
    def process(args: list[Any], strm: Any) -> Sample:
        return Sample(smp_type, args[0], F_CONST)

    return process


def _validate_bool(args: list[Any], ctx: Any) -> list[Any]:
    word = args[0]
    if word in ("true", "1"):
        return [True]
    if word in ("false", "0"):
        return [False]
    raise ConfigError("Expects 'true', 'false', '0' or '1'")


def _validate_bin(args: list[Any], ctx: Any) -> list[Any]:
    text = args[0]
    if len(text) % 2:
        raise ConfigError("an even number of hex digit is expected")
    try:
        return [bytes.fromhex(text)]
    except ValueError:
        raise ConfigError(f"invalid hex string '{text}'") from None


def _validate_meth(args: list[Any], ctx: Any) -> list[Any]:
    if not _TOKEN.match(args[0]):
        raise ConfigError("expects valid method.")
    return args


def _env(args: list[Any], strm: Any) -> Sample | None:
    value = os.environ.get(args[0])
    if value is None:
        return None
    return Sample(SmpType.STR, value.encode("utf-8", "surrogateescape").decode("latin-1"))


_HOSTNAME: list[str] = []


def _hostname(args: list[Any], strm: Any) -> Sample:
    if not _HOSTNAME:
        _HOSTNAME.append(socket.gethostname())
    return Sample(SmpType.STR, _HOSTNAME[0])


RECORDS = (
    Fetch("always_true", process=_true, out_type=SmpType.BOOL, uses=Use.INTERNAL,
          doc="always_true\n\nAlways returns the boolean true (predefined ACL TRUE)."),
    Fetch("always_false", process=_false, out_type=SmpType.BOOL, uses=Use.INTERNAL,
          doc="always_false\n\nAlways returns the boolean false (predefined ACL FALSE)."),
    Fetch("str", process=_const(SmpType.STR), out_type=SmpType.STR, uses=Use.INTERNAL,
          args=(Arg("string", ArgType.STR),),
          doc="str(<string>)\n\nReturns the constant string."),
    Fetch("int", process=_const(SmpType.SINT), out_type=SmpType.SINT, uses=Use.INTERNAL,
          args=(Arg("integer", ArgType.SINT),),
          doc="int(<integer>)\n\nReturns the constant signed integer."),
    Fetch("bool", process=_const(SmpType.BOOL), out_type=SmpType.BOOL, uses=Use.INTERNAL,
          args=(Arg("bool", ArgType.STR),), validate=_validate_bool,
          doc="bool(<bool>)\n\nReturns a constant boolean: 'true' or '1', 'false' or '0'."),
    Fetch("bin", process=_const(SmpType.BIN), out_type=SmpType.BIN, uses=Use.INTERNAL,
          args=(Arg("hex", ArgType.STR),), validate=_validate_bin,
          doc="bin(<hex>)\n\nReturns the binary string written in hexadecimal."),
    Fetch("ipv4", process=_const(SmpType.IPV4), out_type=SmpType.IPV4, uses=Use.INTERNAL,
          args=(Arg("ipv4", ArgType.IPV4),),
          doc="ipv4(<ipv4>)\n\nReturns the constant IPv4 address."),
    Fetch("ipv6", process=_const(SmpType.IPV6), out_type=SmpType.IPV6, uses=Use.INTERNAL,
          args=(Arg("ipv6", ArgType.IPV6),),
          doc="ipv6(<ipv6>)\n\nReturns the constant IPv6 address."),
    Fetch("meth", process=_const(SmpType.METH), out_type=SmpType.METH, uses=Use.INTERNAL,
          args=(Arg("method", ArgType.STR),), validate=_validate_meth,
          doc="meth(<method>)\n\nReturns the constant HTTP method (a token)."),
    Fetch("env", process=_env, out_type=SmpType.STR, uses=Use.INTERNAL,
          args=(Arg("name", ArgType.STR),),
          doc="env(<name>)\n\nReturns the value of the environment variable <name>; no "
              "sample when it is not set."),
    Fetch("hostname", process=_hostname, out_type=SmpType.STR, uses=Use.INTERNAL,
          doc="hostname\n\nReturns the system host name."),
)
