"""Buffer contents fetches (layer 6, for tcp-request / tcp-response content rules):
req.len, req.payload, req.payload_lv, req.proto_http, res.len, res.payload,
res.payload_lv.

While the data asked for is not all in the buffer, these return a sample flagged
F_MAY_CHANGE (an empty one for payloads, false for req.proto_http) so that ACLs answer
"unknown" and content rules wait for more data, within the inspect delay.
"""

from __future__ import annotations

import re
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Fetch, SmpType, Use
from hapx.core.sample.types import F_MAY_CHANGE, Sample

#: the largest buffer a content rule can wait for (HAProxy's default tune.bufsize)
BUFSIZE = 16384

_REQ_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \r\n]+ HTTP/[0-9]\.[0-9]\r?\n")


def _buf(side: str):  # noqa: ANN202
    attr = "req_buffer" if side == "req" else "res_buffer"

    def get(strm: Any) -> bytes:
        return getattr(strm, attr)

    return get


def _len(side: str):  # noqa: ANN202
    get = _buf(side)

    def process(args: list[Any], strm: Any) -> Sample:
        return Sample(SmpType.SINT, len(get(strm)), F_MAY_CHANGE)

    return process


def _validate_payload(args: list[Any], ctx: Any) -> list[Any]:
    if args[1] < 0:
        raise ConfigError("payload length must be >= 0")
    return args


def _payload(side: str):  # noqa: ANN202
    get = _buf(side)

    def process(args: list[Any], strm: Any) -> Sample | None:
        offset, size = args
        buf = get(strm)
        if not size:
            if offset >= len(buf):
                return Sample(SmpType.BIN, b"", F_MAY_CHANGE)
            return Sample(SmpType.BIN, bytes(buf[offset:]), F_MAY_CHANGE)
        if offset + size > BUFSIZE:
            return None
        if offset + size > len(buf):
            return Sample(SmpType.BIN, b"", F_MAY_CHANGE)
        return Sample(SmpType.BIN, bytes(buf[offset:offset + size]))

    return process


def _validate_payload_lv(args: list[Any], ctx: Any) -> list[Any]:
    off1, size, off2 = args
    if size <= 0:
        raise ConfigError("payload length must be > 0")
    if off2 is None:
        return [off1, size, None, False]
    text = off2.strip()
    relative = text[:1] in ("+", "-")
    try:
        value = int(text)
    except ValueError:
        raise ConfigError("payload offset2 is not a number") from None
    return [off1, size, value, relative]


def _payload_lv(side: str):  # noqa: ANN202
    get = _buf(side)

    def process(args: list[Any], strm: Any) -> Sample | None:
        off1, size, off2, relative = args
        buf = get(strm)
        if off1 + size > len(buf):
            return Sample(SmpType.BIN, b"", F_MAY_CHANGE)
        length = int.from_bytes(buf[off1:off1 + size], "big")
        start = off1 + size
        if off2 is not None:
            start = start + off2 if relative else off2
        if not length or start < 0 or start + length > BUFSIZE:
            return None
        if start + length > len(buf):
            return Sample(SmpType.BIN, b"", F_MAY_CHANGE)
        return Sample(SmpType.BIN, bytes(buf[start:start + length]))

    return process


def _proto_http(args: list[Any], strm: Any) -> Sample | None:
    if strm.req is not None:
        return Sample(SmpType.BOOL, True)
    buf = bytes(strm.req_buffer)
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        end = buf.find(b"\n\n")
    if end < 0:
        if len(buf) >= BUFSIZE:
            return None
        return Sample(SmpType.BOOL, False, F_MAY_CHANGE)
    return Sample(SmpType.BOOL, _REQ_LINE.match(buf) is not None)


def _records(side: str) -> list[Fetch]:
    uses = Use.L6REQ if side == "req" else Use.L6RES
    what = "request" if side == "req" else "response"
    return [
        Fetch(f"{side}.len", process=_len(side), out_type=SmpType.SINT, uses=uses,
              doc=f"{side}.len\n\nReturns the number of bytes in the {what} buffer. The value "
                  "may still grow: an ACL that does not match answers 'unknown' until the "
                  "inspect delay ends."),
        Fetch(f"{side}.payload", process=_payload(side), out_type=SmpType.BIN, uses=uses,
              args=(Arg("offset", ArgType.SINT), Arg("length", ArgType.SINT)),
              validate=_validate_payload,
              doc=f"{side}.payload(<offset>,<length>)\n\nReturns <length> bytes of the {what} "
                  "buffer from <offset>; with length 0, everything from <offset>."),
        Fetch(f"{side}.payload_lv", process=_payload_lv(side), out_type=SmpType.BIN,
              uses=uses,
              args=(Arg("offset1", ArgType.SINT), Arg("length", ArgType.SINT),
                    Arg("offset2", ArgType.STR, optional=True)),
              validate=_validate_payload_lv,
              doc=f"{side}.payload_lv(<offset1>,<length>[,<offset2>])\n\nReturns a block of "
                  f"the {what} buffer whose size is the big-endian number of <length> bytes at "
                  "<offset1>; it starts right after that number, or at <offset2> (relative to "
                  "that point when written with a sign)."),
    ]


RECORDS = (
    *_records("req"),
    *_records("res"),
    Fetch("req.proto_http", process=_proto_http, out_type=SmpType.BOOL, uses=Use.L6REQ,
          doc="req.proto_http\n\nReturns true when the request buffer holds a complete, valid "
              "HTTP request head (always true once hapx parsed the request as HTTP)."),
)
