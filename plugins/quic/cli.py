"""``show quic``: the QUIC connections, in HAProxy's layouts (doc/management.txt and
src/quic_cli.c): ``oneline`` (the default, one netstat-like line per connection), ``full``
(or a comma-separated list of the levels ``tp``, ``sock``, ``pktns``, ``cc``, ``mux``) and
``stream`` (one line per request stream), optionally restricted to one connection
(``0x<id>``) or including closing ones (``all``)."""

from __future__ import annotations

import time
from typing import Any

from .server import CONNECTIONS, H3Connection

HELP = (
    "Usage: show quic [help|<format>] [<filter>]\n"
    "Dumps information about QUIC connections. Available output formats:\n"
    "  oneline    dump a single, netstat-like line per connection (default)\n"
    "  stream     dump a single line per active stream (QUIC stream layer)\n"
    "  full       dump all known information about each connection\n"
    "  <levels>*  only dump certain information, defined by a comma-delimited list\n"
    "             of levels among 'tp', 'sock', 'pktns', 'cc', or 'mux'\n"
    "  help       display this help\n"
    "Available output filters:\n"
    "  all        dump all connections (the default)\n"
    "  <id>       dump only the connection matching this identifier (0x...)\n"
    "Without any argument, all connections are dumped using the oneline format.\n")
LEGEND = ("# conn/frontend                     state   in_flight infl_p lost_p         "
          "Local Address           Foreign Address      local & remote CIDs\n")
STREAM_LEGEND = ("# conn/frontend                     stream_id  state  rxoff      "
                 "rxheld    txoff      txunacked\n")
LEVELS = ("tp", "sock", "pktns", "cc", "mux")


class CliError(Exception):
    """A usage error: the text is the CLI's answer."""


def _state(conn: H3Connection) -> str:
    quic = conn.quic
    st = getattr(quic, "_state", None)
    name = getattr(st, "name", "")
    if name in ("CLOSING",):
        return "CLOSE"
    if name in ("DRAINING", "TERMINATED"):
        return "DRAIN"
    if not conn.handshake_done:
        return "HDSHK"
    return "ESTAB"


def _addr(ip: Any, port: int) -> tuple[str, str]:
    return (str(ip) if ip is not None else "?"), str(port)


def _cids(conn: H3Connection) -> tuple[str, str]:
    quic = conn.quic
    return quic.host_cid.hex(), quic._peer_cid.cid.hex()


def _lost(conn: H3Connection) -> int:
    return int(getattr(conn, "lost_pkts", 0))


def oneline(conn: H3Connection) -> str:
    head = f"0x{id(conn):x}[00]/{conn.listener.frontend.name[:12]} "
    out = head + " " * max(1, 36 - len(head))
    out += f"{_state(conn):<8}"
    loss = conn.quic._loss
    inflight = loss.bytes_in_flight
    pkts = sum(len(space.sent_packets) for space in conn.quic._spaces.values())
    out += f"{inflight:>9} {pkts:>6} {_lost(conn):>6}   "
    sess = conn.sess
    if sess is not None:
        lip, lport = _addr(sess.dst, sess.dst_port)
        rip, rport = _addr(sess.src, sess.src_port)
        out += f"{lip:>15}:{lport:<5}   {rip:>15}:{rport:<5} "
    scid, dcid = _cids(conn)
    return out + f"{scid} {dcid}\n"


def _tps(conn: H3Connection, local: bool) -> str:
    quic = conn.quic
    s = conn.settings
    if local:
        return (f" max_idle_timeout={int(s.idle_timeout * 1000)}"
                f" initial_max_data={s.conn_window}"
                f" initial_max_stream_data_bidi_remote={s.stream_window}"
                f" initial_max_streams_bidi={s.max_streams_bidi}"
                f" max_data(now)={quic._local_max_data.value}")
    return (f" max_idle_timeout={int((quic._remote_max_idle_timeout or 0) * 1000)}"
            f" initial_max_data={quic._remote_max_data}"
            f" initial_max_streams_bidi={quic._remote_max_streams_bidi}")


def full(conn: H3Connection, fields: set[str]) -> str:
    quic = conn.quic
    scid, dcid = _cids(conn)
    pad = lambda cid: cid + ".." * max(0, 20 - len(cid) // 2)  # noqa: E731
    out = [f"* 0x{id(conn):x}[00]: scid={pad(scid)} dcid={pad(dcid)}\n"]
    if "tp" in fields:
        out.append(f"  loc. TPs:{_tps(conn, True)}\n")
        out.append(f"  rem. TPs:{_tps(conn, False)}\n")
    state = {"CLOSE": "closing", "DRAIN": "draining", "HDSHK": "handshake"}.get(
        _state(conn), "opened")
    expire = int(max(0.0, conn.settings.idle_timeout - (time.monotonic() -
                                                        conn.idle_since)))
    mux = "ready" if conn.h3 is not None else "null"
    out.append(f"  st={state:<18}mux={mux:<42}expire={expire:02d}s \n")
    if "sock" in fields and conn.sess is not None:
        sess = conn.sess
        lip, lport = _addr(sess.dst, sess.dst_port)
        rip, rport = _addr(sess.src, sess.src_port)
        fd = conn.listener.sock.fileno() if not conn.listener.sock._closed else -1
        out.append(f"  fd={fd}               local_addr={lip}:{lport} "
                   f"foreign_addr={rip}:{rport}\n")
    loss = quic._loss
    cwnd = max(1, loss.congestion_window)
    if "pktns" in fields:
        for label, space in (("initl", quic._spaces.get(_epoch("INITIAL"))),
                             ("hndshk", quic._spaces.get(_epoch("HANDSHAKE"))),
                             ("01rtt", quic._spaces.get(_epoch("ONE_RTT")))):
            if space is None:
                continue
            infl = sum(p.sent_bytes for p in space.sent_packets.values() if p.in_flight)
            out.append(f"  [{label}] rx.ackrng={len(space.ack_queue):<6} "
                       f"tx.inflight={infl:<6}({infl * 100 // cwnd}%)\n")
    if "cc" in fields:
        ms = lambda v: int((v or 0) * 1000)  # noqa: E731
        out.append(f"  srtt={ms(loss._rtt_smoothed):<4}  rttvar={ms(loss._rtt_variance):<4} "
                   f"rttmin={ms(loss._rtt_min if loss._rtt_initialized else 0):<4} "
                   f"ptoc={loss._pto_count:<4}\n"
                   f"  cwnd={loss.congestion_window:<6}            mcwnd={conn.max_cwnd:<6}\n"
                   f"  sentbytes={conn.sent_bytes:<12} sentbytesgso={0:<12} "
                   f"sentpkts={conn.sent_pkts:<6}\n"
                   f"  lostpkts={_lost(conn):<6}        reorderedpkts={0:<6}\n")
    if "mux" in fields and conn.h3 is not None:
        out.append(f"  qcc=0x{id(conn.h3):x} flags=0x0 sc={len(conn.streams)} "
                   f"hreq={conn.nreq} glitches={conn.glitches} cc={conn.settings.cc_name} "
                   f"pacing={'on' if conn.settings.pacing else 'off'} "
                   f"txmem={conn.listener.txmem.used}/{conn.listener.txmem.limit} "
                   f"txmem_peak={conn.listener.txmem.peak}\n")
        for line in stream_lines(conn):
            out.append("    " + line)
    out.append("\n")
    return "".join(out)


def _epoch(name: str) -> Any:
    from aioquic import tls

    return getattr(tls.Epoch, name)


def stream_lines(conn: H3Connection) -> list[str]:
    lines = []
    quic = conn.quic
    for sid, strm in sorted(conn.streams.items()):
        qs = quic._streams.get(sid)
        rxoff = qs.receiver.highest_offset if qs is not None else 0
        txoff = qs.sender._buffer_stop if qs is not None else 0
        state = ("CLO" if strm.res_ended and strm.req_ended else "HCR" if strm.req_ended
                 else "HCL" if strm.res_ended else "OPN")
        lines.append(f"0x{id(conn):x}[00]/{conn.listener.frontend.name[:12]:<12} "
                     f"{sid:<10} {state:<6} {rxoff:<10} "
                     f"{quic.hx_held.get(sid, 0):<9} {txoff:<10} {conn.unacked(sid)}\n")
    return lines


def parse(args: list[str]) -> tuple[str, set[str], int | None, bool]:
    """(format, levels, connection filter, all) from the words after ``show quic``."""
    fmt, fields, ptr, show_all = "", set(), None, False
    i = 0
    if i < len(args):
        word = args[i]
        if word == "oneline":
            fmt, i = "oneline", i + 1
        elif word == "full":
            fmt, fields, i = "full", set(LEVELS), i + 1
        elif word == "stream":
            fmt, i = "stream", i + 1
        elif word == "help":
            raise CliError(HELP)
        else:
            parts = word.split(",")
            if all(p in LEVELS for p in parts):
                fmt, fields, i = "full", set(parts), i + 1
            elif len(parts) > 1:
                raise CliError("Invalid field, use 'help' for more options.\n")
    if i < len(args):
        word = args[i]
        if word.lower().startswith("0x"):
            try:
                ptr = int(word, 16)
            except ValueError:
                raise CliError("Invalid quic_conn pointer.\n") from None
            if not fields:
                fields = set(LEVELS)
        elif word == "all":
            show_all = True
        else:
            raise CliError("Invalid argument, use 'help' for more options.\n")
    if not fmt:
        fmt = "full" if ptr is not None else "oneline"
    return fmt, fields, ptr, show_all


def show_quic(cli: Any, args: list[str]) -> str:
    """The ``show quic`` command (``args``: every word of the command line)."""
    try:
        fmt, fields, ptr, show_all = parse(list(args[2:]))
    except CliError as exc:
        return str(exc)
    conns = [c for c in list(CONNECTIONS.values())
             if (ptr is None or id(c) == ptr) and (show_all or ptr is not None
                                                   or _state(c) not in ("CLOSE", "DRAIN"))]
    if fmt == "oneline":
        return LEGEND + "".join(oneline(c) for c in conns)
    if fmt == "stream":
        return STREAM_LEGEND + "".join(line for c in conns for line in stream_lines(c))
    return "".join(full(c, fields) for c in conns)
