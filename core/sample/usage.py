"""Where a sample fetch may be used.

Each :class:`~hapx.core.records.Use` flag (what data a fetch reads) is available at a set of
:class:`~hapx.core.records.Point` values (where a sample is evaluated), as HAProxy's
``fetch_cap[]`` table has it.  As in HAProxy, a fetch declaring several sources is usable
wherever at least one of them is available.
"""

from __future__ import annotations

from ..records import ALL_POINTS, Point, Use

P = Point

#: the classic stream points, from connection accept to logging
_STREAM = (P.FE_CON_ACC | P.FE_SES_ACC | P.FE_REQ_CNT | P.FE_HRQ_HDR | P.FE_HRQ_BDY
           | P.FE_SET_BCK | P.BE_REQ_CNT | P.BE_HRQ_HDR | P.BE_HRQ_BDY | P.BE_SET_SRV
           | P.BE_SRV_CON | P.BE_RES_CNT | P.BE_HRS_HDR | P.BE_HRS_BDY | P.BE_STO_RUL
           | P.FE_RES_CNT | P.FE_HRS_HDR | P.FE_HRS_BDY | P.FE_LOG_END)
#: request analysis, from tcp-request content to the server connection setup
_REQUEST = (P.FE_REQ_CNT | P.FE_HRQ_HDR | P.FE_HRQ_BDY | P.FE_SET_BCK | P.BE_REQ_CNT
            | P.BE_HRQ_HDR | P.BE_HRQ_BDY | P.BE_SET_SRV | P.BE_SRV_CON)
#: response analysis
_RESPONSE = (P.BE_RES_CNT | P.BE_HRS_HDR | P.BE_HRS_BDY | P.BE_STO_RUL | P.FE_RES_CNT
             | P.FE_HRS_HDR | P.FE_HRS_BDY)
#: once a backend is known
_BACKEND = (P.BE_REQ_CNT | P.BE_HRQ_HDR | P.BE_HRQ_BDY | P.BE_SET_SRV | P.BE_SRV_CON
            | _RESPONSE | P.FE_LOG_END | P.BE_CHK_RUL)

#: Use flag -> the points where the data it names is available
USE_POINTS: dict[Use, Point] = {
    Use.INTERNAL: ALL_POINTS,
    Use.L4CLI: _STREAM,
    Use.L5CLI: _STREAM & ~P.FE_CON_ACC,
    Use.L6REQ: _REQUEST,
    Use.HTTP_REQ: _REQUEST,
    Use.HTTP_REQ_BODY: _REQUEST & ~(P.FE_REQ_CNT | P.FE_HRQ_HDR),
    Use.BACKEND: _BACKEND,
    Use.SERVER: P.BE_SRV_CON | _RESPONSE | P.FE_LOG_END | P.BE_CHK_RUL,
    Use.L4SRV: _RESPONSE | P.FE_LOG_END | P.BE_CHK_RUL,
    Use.L5SRV: _RESPONSE | P.FE_LOG_END | P.BE_CHK_RUL,
    Use.L6RES: _RESPONSE | P.BE_CHK_RUL,
    Use.HTTP_RES: _RESPONSE | P.FE_LOG_END,
    Use.HTTP_RES_BODY: P.BE_HRS_BDY | P.BE_STO_RUL | P.FE_RES_CNT | P.FE_HRS_HDR | P.FE_HRS_BDY,
    Use.TXN_END: P.FE_LOG_END,
}

#: human names of the data sources, for messages (HAProxy's fetch_src_names)
USE_NAMES: dict[Use, str] = {
    Use.INTERNAL: "internal state",
    Use.L4CLI: "client address",
    Use.L5CLI: "client-side connection",
    Use.L6REQ: "request buffer",
    Use.HTTP_REQ: "HTTP request headers",
    Use.HTTP_REQ_BODY: "HTTP request body",
    Use.BACKEND: "backend",
    Use.SERVER: "server",
    Use.L4SRV: "server address",
    Use.L5SRV: "server-side connection",
    Use.L6RES: "response buffer",
    Use.HTTP_RES: "HTTP response headers",
    Use.HTTP_RES_BODY: "HTTP response body",
    Use.TXN_END: "transaction statistics",
}

#: human names of the evaluation points (HAProxy's fetch_ckp_names)
POINT_NAMES: dict[Point, str] = {
    P.FE_CON_ACC: "frontend tcp-request connection rule",
    P.FE_SES_ACC: "frontend tcp-request session rule",
    P.FE_REQ_CNT: "frontend tcp-request content rule",
    P.FE_HRQ_HDR: "frontend http-request header rule",
    P.FE_HRQ_BDY: "frontend http-request body rule",
    P.FE_SET_BCK: "frontend use-backend rule",
    P.BE_REQ_CNT: "backend tcp-request content rule",
    P.BE_HRQ_HDR: "backend http-request header rule",
    P.BE_HRQ_BDY: "backend http-request body rule",
    P.BE_SET_SRV: "backend use-server, balance or stick-match rule",
    P.BE_SRV_CON: "server source selection",
    P.BE_RES_CNT: "backend tcp-response content rule",
    P.BE_HRS_HDR: "backend http-response header rule",
    P.BE_HRS_BDY: "backend http-response body rule",
    P.BE_STO_RUL: "backend stick-store rule",
    P.FE_RES_CNT: "frontend tcp-response content rule",
    P.FE_HRS_HDR: "frontend http-response header rule",
    P.FE_HRS_BDY: "frontend http-response body rule",
    P.FE_LOG_END: "logs",
    P.BE_CHK_RUL: "backend health-check rule",
    P.CFG_PARSER: "configuration parser",
    P.CLI_PARSER: "CLI parser",
}


def _bits(flags: Use) -> list[Use]:
    return [u for u in Use if u & flags]


_AVAILABLE: dict[int, Point] = {}


def available_points(uses: Use) -> Point:
    """Every point where a fetch reading ``uses`` may be evaluated (remembered per value:
    a configuration asks for the same few combinations thousands of times)."""
    found = _AVAILABLE.get(uses)
    if found is not None:
        return found
    if not uses:
        return ALL_POINTS
    out = Point(0)
    for bit in _bits(uses):
        out |= USE_POINTS[bit]
    _AVAILABLE[uses] = out
    return out


def use_names(uses: Use) -> str:
    """``"client address,HTTP request headers"``: the sources, comma-separated."""
    return ",".join(USE_NAMES[b] for b in _bits(uses)) or USE_NAMES[Use.INTERNAL]


def point_name(point: Point) -> str:
    """The name of the lowest point set in ``point``."""
    for p in Point:
        if p & point:
            return POINT_NAMES[p]
    return "unknown sample check place"


def check_use(uses: Use, point: Point | None) -> str | None:
    """None when a fetch reading ``uses`` can run at (one of) ``point``, else the message
    ``"extracts information from '<what>', none of which is available here"``."""
    if point is None or available_points(uses) & point:
        return None
    return f"extracts information from '{use_names(uses)}', none of which is available here"
