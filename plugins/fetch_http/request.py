"""Request line and request body fetches: method, path, pathq, query, url, req.uri, base,
base32, baseq, url_param, urlp, urlp_val, url_ip, url_port, req.ver, req.body*,
http_first_req, capture.req.*, request_date."""

from __future__ import annotations

from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Fetch, SmpType, Use
from hapx.core.sample.types import F_MAY_CHANGE, Sample

from . import httputil as hu

_REQ = Use.HTTP_REQ


def _str(value: str | None) -> Sample | None:
    return None if value is None else Sample(SmpType.STR, value)


def _method(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None or not req.method else Sample(SmpType.METH, req.method)


def _path(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    if req is None:
        return None
    uri = req.uri
    path = uri if uri[:1] == "/" else hu.get_path(uri)  # origin form: the path is the uri
    if path is None:
        return None
    q = path.find("?")
    return Sample(SmpType.STR, path if q < 0 else path[:q])


def _pathq(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None else _str(hu.get_path(req.uri))


def _validate_query(args: list[Any], ctx: Any) -> list[Any]:
    if args[0] is None:
        return [False]
    if args[0] != "with_qm":
        raise ConfigError(f"invalid option '{args[0]}', only 'with_qm' is supported")
    return [True]


def _query(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    if req is None:
        return None
    q = req.uri.find("?")
    if q < 0:
        return None
    return Sample(SmpType.STR, req.uri[q:] if args[0] else req.uri[q + 1:])


def _url(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None else Sample(SmpType.STR, req.uri)


def base_of(req: Any, with_query: bool) -> str | None:
    """The first Host value followed by the path (and query): HAProxy's base/baseq."""
    hosts = hu.header_values(req, "host", False)
    path = hu.get_path(req.uri)
    if path is not None and not with_query:
        q = path.find("?")
        if q >= 0:
            path = path[:q]
    if not hosts or not hosts[0]:
        return path
    return hosts[0] + (path or "")


def _base(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None else _str(base_of(req, False))


def _baseq(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None else _str(base_of(req, True))


def sdbm_avalanche(data: bytes) -> int:
    """SDBM hash with full avalanche (HAProxy's base32 = base,sdbm(1))."""
    h = 0
    for b in data:
        h = (b + (h << 6) + (h << 16) - h) & 0xFFFFFFFF
    # Bob Jenkins' full avalanche
    h = (h + 0x7ED55D16 + (h << 12)) & 0xFFFFFFFF
    h = (h ^ 0xC761C23C ^ (h >> 19)) & 0xFFFFFFFF
    h = (h + 0x165667B1 + (h << 5)) & 0xFFFFFFFF
    h = ((h + 0xD3A2646C) ^ (h << 9)) & 0xFFFFFFFF
    h = (h + 0xFD7046C5 + (h << 3)) & 0xFFFFFFFF
    h = (h ^ 0xB55A4F09 ^ (h >> 16)) & 0xFFFFFFFF
    return h


def _base32(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    if req is None:
        return None
    hosts = hu.header_values(req, "host", False)
    path = hu.get_path(req.uri) or ""
    q = path.find("?")
    if q >= 0:
        path = path[:q]
    text = (hosts[0] if hosts else "") + path
    return Sample(SmpType.SINT, sdbm_avalanche(text.encode("latin-1")))


# -- URL parameters ----------------------------------------------------------------------------

def _validate_url_param(args: list[Any], ctx: Any) -> list[Any]:
    name, delim, opt = args
    if opt not in (None, "i"):
        raise ConfigError(f"invalid option '{opt}', only 'i' is supported")
    return [name or "", delim[:1] if delim else "?", opt == "i"]


def _url_param_values(args: list[Any], strm: Any) -> list[str]:
    req = strm.req
    if req is None:
        return []
    return hu.url_params(req.uri, args[0], args[1], args[2])


def _url_param(args: list[Any], strm: Any) -> Sample | None:
    vals = _url_param_values(args, strm)
    return Sample(SmpType.STR, vals[0]) if vals else None


def _url_param_all(args: list[Any], strm: Any) -> list[Sample]:
    return [Sample(SmpType.STR, v) for v in _url_param_values(args, strm)]


def _urlp_val(args: list[Any], strm: Any) -> Sample | None:
    vals = _url_param_values(args, strm)
    return Sample(SmpType.SINT, hu.strl2ic(vals[0])) if vals else None


def _urlp_val_all(args: list[Any], strm: Any) -> list[Sample]:
    return [Sample(SmpType.SINT, hu.strl2ic(v)) for v in _url_param_values(args, strm)]


def _url_ip(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    found = None if req is None else hu.url_address(req.uri)
    if found is None:
        return None
    addr = found[0]
    return Sample(SmpType.IPV4 if addr.version == 4 else SmpType.IPV6, addr)


def _url_port(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    found = None if req is None else hu.url_address(req.uri)
    return None if found is None else Sample(SmpType.SINT, found[1])


def version_of(msg: Any) -> str | None:
    v = msg.version
    if v.startswith("HTTP/"):
        v = v[5:]
    return v or None


def _req_ver(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None else _str(version_of(req))


# -- body ----------------------------------------------------------------------------------------

def body_sample(msg: Any) -> Sample | None:
    """The body received so far; flagged as "may change" while more is being buffered."""
    if msg is None:
        return None
    if msg.body is None:
        return Sample(SmpType.BIN, b"")
    return Sample(SmpType.BIN, bytes(msg.body), 0 if msg.body_complete else F_MAY_CHANGE)


def body_len(msg: Any) -> Sample | None:
    if msg is None:
        return None
    n = len(msg.body) if msg.body is not None else 0
    return Sample(SmpType.SINT, n, 0 if msg.body is None or msg.body_complete else F_MAY_CHANGE)


def body_size(msg: Any) -> Sample | None:
    """The advertised body length (Content-Length), else the body received so far."""
    if msg is None:
        return None
    vals = hu.header_values(msg, "content-length", False)
    if vals and vals[-1].isdigit():
        return Sample(SmpType.SINT, int(vals[-1]))
    return Sample(SmpType.SINT, len(msg.body) if msg.body is not None else 0)


def _req_body(args: list[Any], strm: Any) -> Sample | None:
    return body_sample(strm.req)


def _req_body_len(args: list[Any], strm: Any) -> Sample | None:
    return body_len(strm.req)


def _req_body_size(args: list[Any], strm: Any) -> Sample | None:
    return body_size(strm.req)


def _validate_body_param(args: list[Any], ctx: Any) -> list[Any]:
    name, opt = args
    if opt not in (None, "i"):
        raise ConfigError(f"invalid option '{opt}', only 'i' is supported")
    return [name or "", opt == "i"]


def _body_param_values(args: list[Any], strm: Any) -> list[str]:
    req = strm.req
    if req is None or not req.body:
        return []
    return hu.param_values(bytes(req.body).decode("latin-1"), args[0], "&", args[1])


def _body_param(args: list[Any], strm: Any) -> Sample | None:
    vals = _body_param_values(args, strm)
    return Sample(SmpType.STR, vals[0]) if vals else None


def _body_param_all(args: list[Any], strm: Any) -> list[Sample]:
    return [Sample(SmpType.STR, v) for v in _body_param_values(args, strm)]


# -- transaction -------------------------------------------------------------------------------

def _first_req(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, bool(strm.first_req))


def capture_idx(captures: list[str | None], idx: int) -> Sample | None:
    if idx < 0 or idx >= len(captures) or captures[idx] is None:
        return None
    return Sample(SmpType.STR, captures[idx])


def _capture_req_hdr(args: list[Any], strm: Any) -> Sample | None:
    return capture_idx(strm.captures_req, args[0])


def _capture_method(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None or not req.method else Sample(SmpType.STR, req.method)


def _capture_uri(args: list[Any], strm: Any) -> Sample | None:
    req = strm.req
    return None if req is None or not req.uri else Sample(SmpType.STR, req.uri)


def legacy_version(msg: Any) -> Sample | None:
    """HAProxy's capture.*.ver: "HTTP/1.0" for 1.0 and older, "HTTP/1.1" otherwise."""
    if msg is None:
        return None
    v = version_of(msg)
    if v is None:
        return None
    return Sample(SmpType.STR, "HTTP/1.0" if v in ("1.0", "0.9") else "HTTP/1.1")


def _capture_req_ver(args: list[Any], strm: Any) -> Sample | None:
    return legacy_version(strm.req)


_UNIT = {"s": 1, "ms": 1000, "us": 1000000}


def _validate_unit(args: list[Any], ctx: Any) -> list[Any]:
    unit = args[0] or "s"
    if unit not in _UNIT:
        raise ConfigError(f"expects 's', 'ms' or 'us', got '{unit}'")
    return [_UNIT[unit]]


def _request_date(args: list[Any], strm: Any) -> Sample | None:
    when = strm.request_date
    if when is None:
        return None
    return Sample(SmpType.SINT, int(when * args[0]))


_URLP_ARGS = (Arg("name", ArgType.STR, optional=True), Arg("delim", ArgType.STR, optional=True),
              Arg("i", ArgType.STR, optional=True))

RECORDS = (
    Fetch("method", process=_method, out_type=SmpType.METH, uses=_REQ,
          doc="method\n\nReturns the request method."),
    Fetch("path", process=_path, out_type=SmpType.STR, uses=_REQ,
          doc="path\n\nReturns the path of the request: from the first slash (after any "
              "scheme and authority) to before the question mark. No sample for '*' or "
              "authority-form targets."),
    Fetch("pathq", process=_pathq, out_type=SmpType.STR, uses=_REQ,
          doc="pathq\n\nReturns the path of the request with its query string."),
    Fetch("query", process=_query, out_type=SmpType.STR, uses=_REQ,
          args=(Arg("options", ArgType.STR, optional=True),), validate=_validate_query,
          doc="query([<options>])\n\nReturns the query string, after the first question "
              "mark: no sample without one, empty when nothing follows it. With 'with_qm' the "
              "question mark is included."),
    Fetch("url", process=_url, out_type=SmpType.STR, uses=_REQ,
          doc="url\n\nReturns the request target as received."),
    Fetch("req.uri", process=_url, out_type=SmpType.STR, uses=_REQ,
          doc="req.uri\n\nReturns the request target as received (same as url)."),
    Fetch("base", process=_base, out_type=SmpType.STR, uses=_REQ,
          doc="base\n\nReturns the first Host value followed by the path (without query); "
              "the path alone without Host."),
    Fetch("baseq", process=_baseq, out_type=SmpType.STR, uses=_REQ,
          doc="baseq\n\nLike base, with the query string."),
    Fetch("base32", process=_base32, out_type=SmpType.SINT, uses=_REQ,
          doc="base32\n\nReturns a 32-bit hash of base (exactly base,sdbm(1))."),
    Fetch("url_param", process=_url_param, values=_url_param_all, out_type=SmpType.STR,
          uses=_REQ, args=_URLP_ARGS, validate=_validate_url_param,
          doc="url_param([<name>[,<delim>[,i]]])\n\nReturns the value of the first parameter "
              "<name> of the query string, which starts after the first <delim> ('?' by "
              "default); parameters end at '&', ';' or <delim>. Without <name>, the first "
              "parameter's value. 'i' makes the name case-insensitive. No URL decoding. "
              "ACLs try every occurrence."),
    Fetch("urlp", process=_url_param, values=_url_param_all, out_type=SmpType.STR,
          uses=_REQ, args=_URLP_ARGS, validate=_validate_url_param,
          doc="urlp([<name>[,<delim>[,i]]])\n\nSame as url_param."),
    Fetch("urlp_val", process=_urlp_val, values=_urlp_val_all, out_type=SmpType.SINT,
          uses=_REQ, args=_URLP_ARGS, validate=_validate_url_param,
          doc="urlp_val([<name>[,<delim>[,i]]])\n\nLike url_param, converted to an integer "
              "(leading digits)."),
    Fetch("url_ip", process=_url_ip, out_type=SmpType.IPV4, uses=_REQ,
          doc="url_ip\n\nReturns the IP address in the host part of an absolute http:// or "
              "https:// request target."),
    Fetch("url_port", process=_url_port, out_type=SmpType.SINT, uses=_REQ,
          doc="url_port\n\nReturns the port of an absolute request target whose host is an IP "
              "address (80 or 443 when absent)."),
    Fetch("req.ver", process=_req_ver, out_type=SmpType.STR, uses=_REQ,
          doc="req.ver\n\nReturns the HTTP version of the request, such as '1.1' or '2.0'."),
    Fetch("req.body", process=_req_body, out_type=SmpType.BIN, uses=_REQ,
          doc="req.body\n\nReturns the request body received so far (see "
              "'option http-buffer-request' and 'http-request wait-for-body')."),
    Fetch("req.body_len", process=_req_body_len, out_type=SmpType.SINT,
          uses=_REQ,
          doc="req.body_len\n\nReturns the length of the request body received so far."),
    Fetch("req.body_size", process=_req_body_size, out_type=SmpType.SINT,
          uses=_REQ,
          doc="req.body_size\n\nReturns the advertised length of the request body "
              "(Content-Length), or what was received of a chunked body."),
    Fetch("req.body_param", process=_body_param, values=_body_param_all,
          out_type=SmpType.STR, uses=_REQ,
          args=(Arg("name", ArgType.STR, optional=True), Arg("i", ArgType.STR, optional=True)),
          validate=_validate_body_param,
          doc="req.body_param([<name>[,i]])\n\nReturns the value of the first parameter "
              "<name> of a url-encoded request body (any parameter without <name>); 'i' makes "
              "the name case-insensitive. No URL decoding."),
    Fetch("http_first_req", process=_first_req, out_type=SmpType.BOOL, uses=_REQ,
          doc="http_first_req\n\nReturns true for the first request of a connection."),
    Fetch("capture.req.hdr", process=_capture_req_hdr, out_type=SmpType.STR, uses=_REQ,
          args=(Arg("idx", ArgType.SINT),),
          doc="capture.req.hdr(<idx>)\n\nReturns the request header captured by the "
              "'capture request header' at position <idx> (from 0)."),
    Fetch("capture.req.method", process=_capture_method, out_type=SmpType.STR, uses=_REQ,
          doc="capture.req.method\n\nReturns the request method as a string; usable on the "
              "response side too."),
    Fetch("capture.req.uri", process=_capture_uri, out_type=SmpType.STR, uses=_REQ,
          doc="capture.req.uri\n\nReturns the request target; usable on the response side "
              "too."),
    Fetch("capture.req.ver", process=_capture_req_ver, out_type=SmpType.STR, uses=_REQ,
          doc="capture.req.ver\n\nReturns \"HTTP/1.0\" or \"HTTP/1.1\" after the request's "
              "version; usable on the response side too."),
    Fetch("request_date", process=_request_date, out_type=SmpType.SINT, uses=_REQ,
          args=(Arg("unit", ArgType.STR, optional=True),), validate=_validate_unit,
          doc="request_date([<unit>])\n\nReturns the date the first byte of the request was "
              "received, as an epoch number in 's' (default), 'ms' or 'us'."),
)
