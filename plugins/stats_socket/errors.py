"""``show errors``: the last invalid request and response each proxy captured
(:mod:`hapx.core.runtime.errcapture`), in HAProxy's layout: a header with the date, the
proxies, the server, the event number and the client's address, the buffer's offsets and
the position of the error, then the bytes, one line of at most 80 characters per message
line, non-printable bytes escaped."""

from __future__ import annotations

import time

from hapx.core.runtime import errcapture
from hapx.core.runtime.cli_api import CliError, CliSession, cli_command

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x1B: "\\e", 0x5C: "\\\\"}


def _date(when: float) -> str:
    t = time.localtime(when)
    ms = int((when - int(when)) * 1000)
    return (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:{t.tm_hour:02d}:"
            f"{t.tm_min:02d}:{t.tm_sec:02d}.{ms:03d}")


def dump_text(buf: bytes) -> list[str]:
    """HAProxy's dump_text_line() over the whole buffer: ``  <offset><' '|'+'> <text>``,
    a new line after each LF or when the line reaches 80 characters (continuations
    are marked ``+``)."""
    lines = []
    ptr = 0
    line_start = 0
    while ptr < len(buf):
        prefix = f"  {ptr:05d}{' ' if ptr == line_start else '+'} "
        out = [prefix]
        size = len(prefix)
        while ptr < len(buf):
            c = buf[ptr]
            if 0x20 <= c < 0x7F and c != 0x5C:
                text = chr(c)
            elif c in _ESCAPES:
                text = _ESCAPES[c]
            else:
                text = f"\\x{c:02X}"
            # the room HAProxy keeps: 2 for a character, 3 for an escape, 5 for \xHH
            if size > 80 - {1: 2, 2: 3}.get(len(text), 5):
                break
            out.append(text)
            size += len(text)
            ptr += 1
            if c == 0x0A:
                line_start = ptr
                break
        lines.append("".join(out))
    return lines


def format_snapshot(snap: errcapture.ErrorSnapshot) -> str:
    px, other, srv = snap.proxy, snap.other, snap.server
    if snap.response:
        head = (f"[{_date(snap.when)}] backend {px.name} (#{px.uuid}): invalid response\n"
                f"  frontend {other.name if other is not None else '<NONE>'} "
                f"(#{other.uuid if other is not None else -1})")
    else:
        be = other if other is not None and other.is_backend else None
        head = (f"[{_date(snap.when)}] frontend {px.name} (#{px.uuid}): invalid request\n"
                f"  backend {be.name if be is not None else '<NONE>'} "
                f"(#{be.uuid if be is not None else -1})")
    sid = getattr(srv, "id", -1) if srv is not None else -1
    free = snap.bufsize - len(snap.buf)
    out = [" \n", head,
           f", server {srv.name if srv is not None else '<NONE>'} (#{sid}), event "
           f"#{snap.ev_id}, src {snap.src}\n",
           f"  buffer starts at {snap.offset} (including 0 out), {free} free,\n",
           f"  len {len(snap.buf)}, wraps at {snap.bufsize}, error at position "
           f"{snap.err_pos}\n", "  \n"]
    out.extend(line + "\n" for line in dump_text(snap.buf))
    return "".join(out)


def _show_errors(cli: CliSession, args: list[str]) -> str:
    words = args[2:]
    only = None
    which = None
    if words and words[0] not in ("request", "response"):
        key = words.pop(0)
        if key != "-1":
            if key.startswith("#"):
                key = key[1:]
            only = next((px for px in cli.config.proxies if not px.is_defaults and (
                px.name == key or (key.isdigit() and px.uuid == int(key)))), None)
            if only is None:
                raise CliError("No such proxy.")
    if words:
        if words[0] not in ("request", "response"):
            raise CliError("Usage: show errors [<px>] [request|response]")
        which = words[0]
    out = [f"Total events captured on [{_date(time.time())}] : {errcapture.events()}\n"]
    for px in cli.config.proxies:
        if px.is_defaults:
            continue
        snaps = errcapture.snapshots(px)
        for direction in ("request", "response"):
            snap = snaps.get(direction)
            if snap is None or which not in (None, direction):
                continue
            # a proxy selects its captures and those where it is the other side
            if only is None or px is only or snap.other is only:
                out.append(format_snapshot(snap))
    return "".join(out)


COMMANDS = [
    cli_command(
        "show errors [<px>] [request|response]", _show_errors, level="operator",
        synopsis="show errors [<iid>|<proxy>] [request|response]", explain=(
            "Report the last request and/or response errors for each proxy: the invalid message "
            "each proxy captured last in each direction, with its date, the other proxy, the "
            "server, the event number, the client's address, the position of the error and the "
            "bytes as received.")),
]
