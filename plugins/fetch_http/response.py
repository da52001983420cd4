"""Response fetches: status, res.ver, res.body, res.body_len, res.body_size,
capture.res.hdr and capture.res.ver."""

from __future__ import annotations

from typing import Any

from hapx.core.records import Arg, ArgType, Fetch, SmpType, Use
from hapx.core.sample.types import Sample

from .request import body_len, body_sample, body_size, capture_idx, legacy_version, version_of

_RES = Use.HTTP_RES


def _status(args: list[Any], strm: Any) -> Sample | None:
    res = strm.res
    return None if res is None or not res.status else Sample(SmpType.SINT, res.status)


def _res_ver(args: list[Any], strm: Any) -> Sample | None:
    res = strm.res
    if res is None:
        return None
    v = version_of(res)
    return None if v is None else Sample(SmpType.STR, v)


def _res_body(args: list[Any], strm: Any) -> Sample | None:
    return body_sample(strm.res)


def _res_body_len(args: list[Any], strm: Any) -> Sample | None:
    return body_len(strm.res)


def _res_body_size(args: list[Any], strm: Any) -> Sample | None:
    return body_size(strm.res)


def _capture_res_hdr(args: list[Any], strm: Any) -> Sample | None:
    return capture_idx(strm.captures_res, args[0])


def _capture_res_ver(args: list[Any], strm: Any) -> Sample | None:
    return legacy_version(strm.res)


RECORDS = (
    Fetch("status", process=_status, out_type=SmpType.SINT, uses=_RES,
          doc="status\n\nReturns the status code of the HTTP response."),
    Fetch("res.ver", process=_res_ver, out_type=SmpType.STR, uses=_RES,
          doc="res.ver\n\nReturns the HTTP version of the response, such as '1.1'."),
    Fetch("res.body", process=_res_body, out_type=SmpType.BIN, uses=_RES,
          doc="res.body\n\nReturns the response body received so far (see "
              "'http-response wait-for-body')."),
    Fetch("res.body_len", process=_res_body_len, out_type=SmpType.SINT,
          uses=_RES,
          doc="res.body_len\n\nReturns the length of the response body received so far."),
    Fetch("res.body_size", process=_res_body_size, out_type=SmpType.SINT,
          uses=_RES,
          doc="res.body_size\n\nReturns the advertised length of the response body "
              "(Content-Length), or what was received of a chunked body."),
    Fetch("capture.res.hdr", process=_capture_res_hdr, out_type=SmpType.STR, uses=_RES,
          args=(Arg("idx", ArgType.SINT),),
          doc="capture.res.hdr(<idx>)\n\nReturns the response header captured by the "
              "'capture response header' at position <idx> (from 0)."),
    Fetch("capture.res.ver", process=_capture_res_ver, out_type=SmpType.STR, uses=_RES,
          doc="capture.res.ver\n\nReturns \"HTTP/1.0\" or \"HTTP/1.1\" after the response's "
              "version."),
)
