"""``ring`` sections: in-memory event buffers that logs (``log ring@<name>``) and traces
(``trace <src> sink <name>``) write to, read with the runtime API's ``show events``.

Each section becomes a :class:`hapx.core.sinks.RingSink` of the configuration's sinks when
it ends: ``size`` bytes (default 16384), ``format`` of the stored events (default raw),
``maxlen`` (longest event, default 16384), ``description`` (default the ring's name); with
``backing-file`` a :class:`hapx.core.sinks.FileRingSink` (the ring in a mapped file)."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.core.sinks import DEFAULT_MAXLEN, FileRingSink, RingSink, sinks_of
from hapx.plugins.confkit import (
    declare_section,
    simple_directive,
    v_choice,
    v_int,
    v_size,
    v_str,
    v_time,
    v_words,
)
from hapx.plugins.servers import SERVER_OPTIONS
from hapx.plugins.servers.model import make_server

from .forward import Forwarder

KIND = "ring"
# the framing of the ring servers (see .forward)
SERVER_OPTIONS.activate("log-proto")
FORMATS = ("iso", "local", "raw", "rfc3164", "rfc5424", "short", "priority", "timed")


def _server(ctx: Any, args: list[str]) -> None:
    sec = ctx.section
    srv = make_server(ctx, args)
    if srv.address.transport != "stream":
        raise ctx.error(f"'server {sec.name}/{srv.name}' : ring servers are TCP syslog "
                        "servers (stream addresses only).")
    sec.entries.append(srv)


def _post(ctx: Any, sec: Any) -> None:
    st = sec.settings
    st.setdefault("format", "raw")
    st.setdefault("size", 16384)
    desc, maxlen = st.get("description") or sec.name, int(st.get("maxlen") or DEFAULT_MAXLEN)
    if st.get("backing-file"):
        try:
            ring: RingSink = FileRingSink(sec.name, desc, st["backing-file"],
                                          size=int(st["size"]), fmt=st["format"],
                                          maxlen=maxlen)
        except (OSError, ValueError) as exc:
            raise ctx.error(f"ring '{sec.name}': failed to use '{st['backing-file']}' as a "
                            f"backing file: {exc}.") from None
    else:
        ring = RingSink(sec.name, desc, size=int(st["size"]), fmt=st["format"],
                        maxlen=maxlen)
    sinks_of(ctx.config).add(ring)
    ring_servers = [e for e in sec.entries if hasattr(e, "address")]
    if ring_servers:
        connect = (st.get("timeout connect") or 5000) / 1000
        send = (st.get("timeout server") or 0) / 1000 or None
        ctx.config.ext.setdefault("ring.forwarders", []).extend(
            Forwarder(ring, srv, connect, send) for srv in ring_servers)


def _description(ctx: Any, values: list[Any]) -> str:
    return " ".join(values)


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(KIND, post=_post, active=True, doc="ring <ringname>\n\nA ring buffer of "
                                 "events (logs, traces) that may be forwarded to syslog "
                                 "servers over TCP."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        simple_directive("description", sec, "description <text>\n\nDescription of the "
                         "ring.", [v_words], rest=v_words, check=_description, active=True),
        simple_directive("format", sec, "format <format>\n\nFormat of the stored events: "
                         + ", ".join(FORMATS) + ".", [v_choice(*FORMATS)], active=True),
        simple_directive("maxlen", sec, "maxlen <length>\n\nLongest event kept; longer ones "
                         "are truncated.", [v_int(1)], active=True),
        simple_directive("size", sec, "size <size>\n\nSize of the ring buffer (default "
                         "16384).", [v_size], active=True),
        simple_directive("backing-file", sec, "backing-file <path>\n\nKeep the ring in a "
                         "file mapped in memory (mode 0600, of the ring's size) instead of "
                         "memory, so that its events are still in the file after the process "
                         "stops or crashes.  An existing non-empty file is first renamed "
                         "<path>.bak (an older .bak is removed), so a restart or reload keeps "
                         "the previous contents there.  Read a file with 'python -m "
                         "hapx.core.ringfile <path>'.", [v_str], active=True),
        simple_directive("timeout connect", sec, "timeout connect <timeout>\n\nConnect "
                         "timeout towards the servers.", [v_time()], active=True),
        simple_directive("timeout server", sec, "timeout server <timeout>\n\nSend timeout "
                         "towards the servers.", [v_time()], active=True),
        Directive("server", sections=sec, parse=_server, active=True,
                  doc="server <name> <address> [param*]\n\nA TCP syslog server events are "
                      "forwarded to (server options apply)."),
    )


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    from .commands import COMMANDS
    commands.add(*COMMANDS)


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    """Start forwarding the rings that have servers."""
    for fwd in config.ext.get("ring.forwarders", []):
        fwd.start()


@hookimpl
def hapx_shutdown(config: Any, runtime: Any) -> None:
    for fwd in config.ext.get("ring.forwarders", []):
        fwd.stop()
