"""Connection fetches: addresses and ports on both sides, locality, PROXY protocol, HTTP
wire version, error codes and connection reuse."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address
from typing import Any

from hapx.core.records import Fetch, SmpType, Use
from hapx.core.sample.types import Sample


def ip_sample(addr: Any) -> Sample | None:
    """An address as a sample typed after its family; None for a missing address."""
    if addr is None:
        return None
    # isinstance rather than the Python-level ``version`` property
    return Sample(SmpType.IPV4 if isinstance(addr, IPv4Address) else SmpType.IPV6, addr)


def is_local(addr: Any) -> bool:
    """True when the address belongs to this host (a UNIX socket, None, counts as local):
    the address can be bound to."""
    if addr is None:
        return True
    family = socket.AF_INET if addr.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((str(addr), 0))
    except OSError:
        return False
    return True


# -- client side -------------------------------------------------------------------------------

_IPV4, _IPV6 = SmpType.IPV4, SmpType.IPV6


def _src(args: list[Any], strm: Any) -> Sample | None:
    addr = strm.sess.src  # ip_sample(), in line
    if addr is None:
        return None
    return Sample(_IPV4 if isinstance(addr, IPv4Address) else _IPV6, addr)


def _dst(args: list[Any], strm: Any) -> Sample | None:
    addr = strm.sess.dst  # ip_sample(), in line
    if addr is None:
        return None
    return Sample(_IPV4 if isinstance(addr, IPv4Address) else _IPV6, addr)


def _src_port(args: list[Any], strm: Any) -> Sample | None:
    sess = strm.sess
    return None if sess.src is None else Sample(SmpType.SINT, sess.src_port)


def _dst_port(args: list[Any], strm: Any) -> Sample | None:
    sess = strm.sess
    return None if sess.dst is None else Sample(SmpType.SINT, sess.dst_port)


def _src_is_local(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, is_local(strm.sess.src))


def _dst_is_local(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, is_local(strm.sess.dst))


def _fc_src_addr(sess: Any) -> Any:
    return sess.src if sess.conn_src is None else sess.conn_src


def _fc_dst_addr(sess: Any) -> Any:
    return sess.dst if sess.conn_dst is None else sess.conn_dst


def _fc_src(args: list[Any], strm: Any) -> Sample | None:
    return ip_sample(_fc_src_addr(strm.sess))


def _fc_dst(args: list[Any], strm: Any) -> Sample | None:
    return ip_sample(_fc_dst_addr(strm.sess))


def _fc_src_port(args: list[Any], strm: Any) -> Sample | None:
    sess = strm.sess
    if _fc_src_addr(sess) is None:
        return None
    port = sess.src_port if sess.conn_src_port is None else sess.conn_src_port
    return Sample(SmpType.SINT, port)


def _fc_dst_port(args: list[Any], strm: Any) -> Sample | None:
    sess = strm.sess
    if _fc_dst_addr(sess) is None:
        return None
    port = sess.dst_port if sess.conn_dst_port is None else sess.conn_dst_port
    return Sample(SmpType.SINT, port)


def _fc_src_is_local(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, is_local(_fc_src_addr(strm.sess)))


def _fc_dst_is_local(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, is_local(_fc_dst_addr(strm.sess)))


def _fc_http_major(args: list[Any], strm: Any) -> Sample:
    # like HAProxy, anything that is not HTTP/2 or HTTP/3 reports 1
    return Sample(SmpType.SINT, strm.sess.http_major or 1)


def _fc_rcvd_proxy(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.BOOL, strm.sess.rcvd_proxy)


def _fc_err(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.SINT, strm.sess.conn_err)


# -- server side -------------------------------------------------------------------------------

def _bc(attr: str, kind: str):  # noqa: ANN202
    """A fetch reading one attribute of the stream's server connection (no sample without
    one)."""
    if kind == "ip":
        def process(args: list[Any], strm: Any) -> Sample | None:
            conn = strm.srv_conn
            return None if conn is None else ip_sample(getattr(conn, attr))
    elif kind == "port":
        addr_attr = attr.replace("_port", "")

        def process(args: list[Any], strm: Any) -> Sample | None:
            conn = strm.srv_conn
            if conn is None or getattr(conn, addr_attr) is None:
                return None
            return Sample(SmpType.SINT, getattr(conn, attr))
    elif kind == "bool":
        def process(args: list[Any], strm: Any) -> Sample | None:
            conn = strm.srv_conn
            return None if conn is None else Sample(SmpType.BOOL, bool(getattr(conn, attr)))
    else:
        def process(args: list[Any], strm: Any) -> Sample | None:
            conn = strm.srv_conn
            return None if conn is None else Sample(SmpType.SINT, getattr(conn, attr))
    return process


def _bc_http_major(args: list[Any], strm: Any) -> Sample | None:
    conn = strm.srv_conn
    return None if conn is None else Sample(SmpType.SINT, conn.http_major or 1)


RECORDS = (
    Fetch("src", process=_src, out_type=SmpType.IPV4, uses=Use.L4CLI,
          doc="src\n\nReturns the client's source address (the one of a PROXY protocol header "
              "when the connection carried one)."),
    Fetch("src_port", process=_src_port, out_type=SmpType.SINT, uses=Use.L4CLI,
          doc="src_port\n\nReturns the client's source port."),
    Fetch("dst", process=_dst, out_type=SmpType.IPV4, uses=Use.L4CLI,
          doc="dst\n\nReturns the destination address of the client connection (the address "
              "hapx accepted it on, or the PROXY protocol header's)."),
    Fetch("dst_port", process=_dst_port, out_type=SmpType.SINT, uses=Use.L4CLI,
          doc="dst_port\n\nReturns the destination port of the client connection."),
    Fetch("src_is_local", process=_src_is_local, out_type=SmpType.BOOL, uses=Use.L4CLI,
          doc="src_is_local\n\nReturns true when the source address belongs to this host "
              "(UNIX sockets count as local). Costs a few system calls."),
    Fetch("dst_is_local", process=_dst_is_local, out_type=SmpType.BOOL, uses=Use.L4CLI,
          doc="dst_is_local\n\nReturns true when the destination address belongs to this "
              "host."),
    Fetch("fc_src", process=_fc_src, out_type=SmpType.IPV4, uses=Use.L4CLI,
          doc="fc_src\n\nReturns the source address of the client connection itself, "
              "ignoring any PROXY protocol header."),
    Fetch("fc_dst", process=_fc_dst, out_type=SmpType.IPV4, uses=Use.L4CLI,
          doc="fc_dst\n\nReturns the destination address of the client connection itself."),
    Fetch("fc_src_port", process=_fc_src_port, out_type=SmpType.SINT, uses=Use.L4CLI,
          doc="fc_src_port\n\nReturns the source port of the client connection itself."),
    Fetch("fc_dst_port", process=_fc_dst_port, out_type=SmpType.SINT, uses=Use.L4CLI,
          doc="fc_dst_port\n\nReturns the destination port of the client connection itself."),
    Fetch("fc_src_is_local", process=_fc_src_is_local, out_type=SmpType.BOOL,
          uses=Use.L4CLI,
          doc="fc_src_is_local\n\nLike src_is_local, on the connection's own source."),
    Fetch("fc_dst_is_local", process=_fc_dst_is_local, out_type=SmpType.BOOL,
          uses=Use.L4CLI,
          doc="fc_dst_is_local\n\nLike dst_is_local, on the connection's own destination."),
    Fetch("fc_http_major", process=_fc_http_major, out_type=SmpType.SINT, uses=Use.L4CLI,
          doc="fc_http_major\n\nReturns the HTTP major version of the client connection's "
              "wire encoding: 1 (HTTP/1.x), 2 or 3."),
    Fetch("fc_rcvd_proxy", process=_fc_rcvd_proxy, out_type=SmpType.BOOL, uses=Use.L5CLI,
          doc="fc_rcvd_proxy\n\nReturns true when the client connection began with a PROXY "
              "protocol header."),
    Fetch("fc_err", process=_fc_err, out_type=SmpType.SINT, uses=Use.L4CLI,
          doc="fc_err\n\nReturns the error code of the client connection (0: none)."),
    Fetch("bc_src", process=_bc("src", "ip"), out_type=SmpType.IPV4, uses=Use.L4SRV,
          doc="bc_src\n\nReturns the source address of the connection to the server."),
    Fetch("bc_dst", process=_bc("dst", "ip"), out_type=SmpType.IPV4, uses=Use.L4SRV,
          doc="bc_dst\n\nReturns the server address the stream is connected to."),
    Fetch("bc_src_port", process=_bc("src_port", "port"), out_type=SmpType.SINT,
          uses=Use.L4SRV,
          doc="bc_src_port\n\nReturns the source port of the connection to the server."),
    Fetch("bc_dst_port", process=_bc("dst_port", "port"), out_type=SmpType.SINT,
          uses=Use.L4SRV,
          doc="bc_dst_port\n\nReturns the server port the stream is connected to."),
    Fetch("bc_reused", process=_bc("reused", "bool"), out_type=SmpType.BOOL, uses=Use.L4SRV,
          doc="bc_reused\n\nReturns true when the request went over a reused (idle) server "
              "connection, false over a new one."),
    Fetch("bc_err", process=_bc("err", "int"), out_type=SmpType.SINT, uses=Use.L4SRV,
          doc="bc_err\n\nReturns the error code of the server connection (0: none)."),
    Fetch("bc_http_major", process=_bc_http_major, out_type=SmpType.SINT, uses=Use.L4SRV,
          doc="bc_http_major\n\nReturns the HTTP major version of the server connection's "
              "wire encoding: 1, 2 or 3."),
)
