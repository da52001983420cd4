"""``balance rdp-cookie[(<name>)]``: hash of the RDP cookie of the connection request
(``mode tcp``), with the fetches ``req.rdp_cookie``, ``req.rdp_cookie_cnt`` and the ACL
``RDP_COOKIE``: the frontend or backend waits for the cookie with ``tcp-request
inspect-delay`` and ``tcp-request content accept if RDP_COOKIE``."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Balancer, Fetch, PredefinedAcl, SmpType, Use
from hapx.core.sample.types import F_MAY_CHANGE, Sample
from hapx.plugins.servers.lbhashpick import HashPicker


def parse_rdp_cookie(ctx: Any, args: list[str]) -> dict[str, Any]:
    if args:
        raise ctx.error(f"'balance rdp-cookie' takes no argument (got '{args[0]}').")
    return {"name": ctx.param or "mstshash"}


#: outcomes of :func:`scan_rdp_cookie`
SHORT, ABSENT, FOUND = range(3)


def scan_rdp_cookie(buf: bytes, name: bytes) -> tuple[int, bytes]:
    """Look for the RDP cookie ``name`` (any name when empty) in the X.224 connection
    request at the start of ``buf`` (HAProxy's ``fetch_rdp_cookie_name``): 11 bytes of
    TPKT/X.224 header, then ``Cookie: <name>=<value>\\r\\n``.  Returns (SHORT, b"") while
    more data could still make it, (ABSENT, b"") when it cannot, (FOUND, value)."""
    end = len(buf)
    if end - 11 <= 7:
        return SHORT, b""
    pos = 11
    if buf[pos:pos + 7].lower() != b"cookie:":
        return ABSENT, b""
    pos += 7
    while pos < end and buf[pos] == 0x20:
        pos += 1
    if name:
        size = len(name)
        if end - pos <= size:
            return SHORT, b""
        if buf[pos + size] != 0x3D or buf[pos:pos + size].lower() != name.lower():
            return ABSENT, b""
        pos += size + 1
    else:
        while pos < end and buf[pos] != 0x3D:
            if buf[pos] in (0x0D, 0x0A):
                return ABSENT, b""
            pos += 1
        if pos >= end:
            return SHORT, b""
        pos += 1
    cr = buf.find(b"\r", pos)
    if cr < 0 or cr + 1 >= end:
        return SHORT, b""
    if buf[cr + 1] != 0x0A:
        return ABSENT, b""
    return FOUND, buf[pos:cr]


def rdp_cookie(buf: bytes, name: bytes) -> bytes | None:
    """The non-empty value of the RDP cookie ``name``, or None."""
    state, value = scan_rdp_cookie(buf, name)
    return value if state == FOUND and value else None


def _name_arg(args: list[Any]) -> bytes:
    return (args[0] or "").encode("latin-1", "replace") if args else b""


def _fetch_cookie(args: list[Any], strm: Any) -> Sample | None:
    state, value = scan_rdp_cookie(strm.req_buffer, _name_arg(args))
    if state == SHORT:
        return Sample(SmpType.STR, "", F_MAY_CHANGE)
    if state == ABSENT:
        return None
    return Sample(SmpType.STR, value.decode("latin-1"))


def _fetch_count(args: list[Any], strm: Any) -> Sample | None:
    state, _value = scan_rdp_cookie(strm.req_buffer, _name_arg(args))
    if state == SHORT:
        return Sample(SmpType.SINT, 0, F_MAY_CHANGE)
    return Sample(SmpType.SINT, 1 if state == FOUND else 0)


_NAME = (Arg("name", ArgType.STR, optional=True),)
_COOKIE_DOC = ("{0}([<name>])\n\nThe value of the RDP cookie <name> (any name when "
               "omitted) of the Remote Desktop connection request in the request buffer "
               "(tcp-request content rules).  May still change until the request is "
               "complete.")
_COUNT_DOC = ("{0}([<name>])\n\nThe number of RDP cookies (named <name> when given) of the "
              "Remote Desktop connection request in the request buffer: 0 or 1.")

FETCHES = (
    Fetch("req.rdp_cookie", process=_fetch_cookie, out_type=SmpType.STR, args=_NAME,
          uses=Use.L6REQ, doc=_COOKIE_DOC.format("req.rdp_cookie")),
    Fetch("rdp_cookie", process=_fetch_cookie, out_type=SmpType.STR, args=_NAME,
          uses=Use.L6REQ, doc=_COOKIE_DOC.format("rdp_cookie") + "  Old name of "
          "req.rdp_cookie."),
    Fetch("req.rdp_cookie_cnt", process=_fetch_count, out_type=SmpType.SINT, args=_NAME,
          uses=Use.L6REQ, doc=_COUNT_DOC.format("req.rdp_cookie_cnt")),
    Fetch("rdp_cookie_cnt", process=_fetch_count, out_type=SmpType.SINT, args=_NAME,
          uses=Use.L6REQ, doc=_COUNT_DOC.format("rdp_cookie_cnt") + "  Old name of "
          "req.rdp_cookie_cnt."),
    PredefinedAcl("RDP_COOKIE", criterion=("req.rdp_cookie_cnt", "gt", "0"),
                  doc="RDP_COOKIE\n\nThe request buffer holds an RDP cookie "
                      "(req.rdp_cookie_cnt gt 0)."),
)


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(*FETCHES)


def _build(backend: Any, settings: dict[str, Any]) -> HashPicker:
    name = settings["name"].encode("latin-1", "replace")

    def rdp_hash(strm: Any, picker: HashPicker) -> int | None:
        value = rdp_cookie(strm.req_buffer, name)
        return None if value is None else picker.hasher(value)

    return HashPicker(backend, rdp_hash)


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "rdp-cookie", parse=parse_rdp_cookie, build=_build,
        doc="rdp-cookie[(<name>)]\n\nThe value of the RDP cookie <name> (default "
            "'mstshash') sent by a Remote Desktop client in its connection request is "
            "hashed, so a user returns to the same server.  Mode tcp: the request must be "
            "waited for ('tcp-request inspect-delay' with 'tcp-request content accept if "
            "RDP_COOKIE'); without the cookie, round robin.  Static (map-based) unless "
            "'hash-type consistent'."))
