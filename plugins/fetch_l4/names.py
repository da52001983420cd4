"""Fetches naming what handles the stream: frontend, backend, server and listening socket.

The backend of a stream is its frontend until a backend is chosen (HAProxy's rule), so
be_name in a frontend's rules names the frontend.  Server ids are read from the server
object's ``puid`` (or ``id``) attribute; the listener's name from its ``name`` attribute.
"""

from __future__ import annotations

from typing import Any

from hapx.core.records import Fetch, SmpType, Use
from hapx.core.sample.types import Sample


def _fe(strm: Any) -> Any:
    return strm.sess.frontend or strm.frontend


def _be(strm: Any) -> Any:
    return strm.backend or strm.frontend or strm.sess.frontend


def _fe_name(args: list[Any], strm: Any) -> Sample | None:
    px = _fe(strm)
    return None if px is None else Sample(SmpType.STR, px.name)


def _fe_id(args: list[Any], strm: Any) -> Sample | None:
    px = _fe(strm)
    return None if px is None else Sample(SmpType.SINT, px.uuid)


def _be_name(args: list[Any], strm: Any) -> Sample | None:
    px = _be(strm)
    return None if px is None else Sample(SmpType.STR, px.name)


def _be_id(args: list[Any], strm: Any) -> Sample | None:
    px = _be(strm)
    return None if px is None else Sample(SmpType.SINT, px.uuid)


def _srv_name(args: list[Any], strm: Any) -> Sample | None:
    srv = strm.server
    return None if srv is None else Sample(SmpType.STR, srv.name)


def server_id(srv: Any) -> int | None:
    for attr in ("puid", "id"):
        value = getattr(srv, attr, None)
        if isinstance(value, int):
            return value
    return None


def _srv_id(args: list[Any], strm: Any) -> Sample | None:
    srv = strm.server
    if srv is None:
        return None
    puid = server_id(srv)
    return None if puid is None else Sample(SmpType.SINT, puid)


def _so_name(args: list[Any], strm: Any) -> Sample | None:
    name = getattr(strm.sess.listener, "name", None)
    return Sample(SmpType.STR, name) if name else None


RECORDS = (
    Fetch("fe_name", process=_fe_name, out_type=SmpType.STR, uses=Use.L4CLI,
          doc="fe_name\n\nReturns the name of the frontend that accepted the connection."),
    Fetch("fe_id", process=_fe_id, out_type=SmpType.SINT, uses=Use.L4CLI,
          doc="fe_id\n\nReturns the numeric id of the frontend."),
    Fetch("be_name", process=_be_name, out_type=SmpType.STR, uses=Use.BACKEND,
          doc="be_name\n\nReturns the name of the stream's backend (the frontend until a "
              "backend is chosen)."),
    Fetch("be_id", process=_be_id, out_type=SmpType.SINT, uses=Use.BACKEND,
          doc="be_id\n\nReturns the numeric id of the stream's backend."),
    Fetch("srv_name", process=_srv_name, out_type=SmpType.STR, uses=Use.SERVER,
          doc="srv_name\n\nReturns the name of the server the stream was sent to."),
    Fetch("srv_id", process=_srv_id, out_type=SmpType.SINT, uses=Use.SERVER,
          doc="srv_id\n\nReturns the numeric id of the server the stream was sent to."),
    Fetch("so_name", process=_so_name, out_type=SmpType.STR, uses=Use.L4CLI,
          doc="so_name\n\nReturns the name of the listening socket that accepted the "
              "connection (the 'name' of its bind line)."),
)
