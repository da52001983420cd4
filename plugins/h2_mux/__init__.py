"""HTTP/2 with the h2 library, on both sides of ``mode http``.

- Frontend: a bind with ``ssl … alpn h2,http/1.1`` (ALPN chooses h2) or ``proto h2``
  (clear text, prior knowledge): each stream is a Transaction through the same rules,
  switching, backends, filters and logs as HTTP/1 (``req.ver`` 2.0, logs ``HTTP/2.0``).
- Backend: ``server … proto h2``, or ``server … ssl alpn h2[,http/1.1]`` when the server
  chooses h2 by ALPN (the kernel's AlpnChooser): streams multiplexed on shared server
  connections, over the server's transport (TLS) with its pool key.
- The frame codec of client connections: ``h2-codec lean`` (global, the default: the lean
  codec of :mod:`.lean`) or ``h2-codec h2`` (the h2 library, :mod:`.h2lib`).
- ``idle-ping`` on bind and server lines, the ``tune.h2.*`` settings, protocol glitches
  (``tune.h2.fe/be.glitches-threshold``, ``tune.glitches.kill.cpu-usage``, ``fc_glitches``).

The kernel finds the multiplexer through a :class:`~hapx.core.records.Codec` record of
protocol ``"h2"`` whose factory has ``multiplexed = True`` and is called as
``factory("frontend", client_connection)`` (returning the connection's multiplexer, which
then receives the connection's events: data_received, eof_received, connection_lost,
pause_writing, resume_writing, soft_stop) or ``factory("backend", server)`` (returning the
server side: see :mod:`.backend`).  HTTP/3 can register the same way.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Codec, Directive, Fetch, SmpType, Use
from hapx.core.sample.types import Sample
from hapx.plugins.binds import BIND_OPTIONS
from hapx.plugins.servers.options import SERVER_OPTIONS

from . import glitches, tracing  # noqa: F401 - tracing registers the h2 trace source
from .params import H2Params

BIND_OPTIONS.activate("proto", "idle-ping")
SERVER_OPTIONS.activate("proto", "idle-ping")


class H2Codec:
    """The HTTP/2 multiplexer factory (see the module's docstring)."""

    multiplexed = True

    def __init__(self) -> None:
        self.gset: dict[str, Any] = {}
        self.params: dict[int, H2Params] = {}
        #: the frame codec of client connections (``h2-codec``)
        self.fe_codec = "lean"

    def configure(self, gset: dict[str, Any]) -> None:
        self.gset = gset
        self.params = {}
        self.fe_codec = gset.get("h2-codec", "lean")

    def params_for(self, bind: Any) -> H2Params:
        key = id(bind)
        p = self.params.get(key)
        if p is None:
            p = self.params[key] = H2Params.from_global(self.gset, bind)
        return p

    def __call__(self, role: str, owner: Any) -> Any:
        if role == "frontend":
            from .frontend import H2ClientMux

            listener = getattr(owner, "listener", None)
            bind = listener.bind if listener is not None else None
            return H2ClientMux(owner, self.params_for(bind), self.fe_codec)
        if role == "backend":
            from .backend import H2ServerSide

            return H2ServerSide.of(owner, self.params_for(None))
        raise ValueError(f"unknown HTTP/2 role {role!r}")


CODEC = H2Codec()


def _fc_glitches(args: list[Any], strm: Any) -> Sample:
    return Sample(SmpType.SINT, strm.sess.conn_glitches)


@hookimpl
def hapx_register_codecs(codecs: Any) -> None:
    codecs.add(Codec(
        "h2", protocol="h2", factory=CODEC,
        doc="h2\n\nHTTP/2: client connections that negotiate ALPN h2 or arrive on a "
            "'proto h2' bind (the frame codec chosen by 'h2-codec': the lean one by "
            "default, or the h2 library), and servers declared with 'proto h2' (the h2 "
            "library)."))


FRONTEND_CODECS = ("lean", "h2")


def _parse_h2_codec(ctx: Any, args: list[str]) -> None:
    if len(args) != 1 or args[0] not in FRONTEND_CODECS:
        raise ctx.error(f"'h2-codec' expects one of {', '.join(FRONTEND_CODECS)}.")
    ctx.section.settings["h2-codec"] = args[0]


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "h2-codec", sections=frozenset({"global"}), parse=_parse_h2_codec,
        doc="h2-codec lean|h2\n\nThe HTTP/2 frame codec of client connections: 'lean' (the "
            "default: frames parsed straight into the multiplexer, HPACK encoding with the "
            "static table only; about 2.8 times fewer instructions per request) or 'h2' "
            "(the h2 "
            "library's state machine).  Servers ('proto h2') always use the h2 library.  "
            "Stored in global settings['h2-codec']."))


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(Fetch(
        "fc_glitches", process=_fc_glitches, out_type=SmpType.SINT, uses=Use.L4CLI,
        doc="fc_glitches\n\nReturns the number of protocol glitches counted on the client "
            "connection so far (HTTP/2: requests reset before their response, empty DATA "
            "frames, protocol errors; QUIC/HTTP/3: requests reset before their response, "
            "malformed requests, data for unknown streams); 0 on HTTP/1. Any protocol "
            "counts through the client session's conn_glitches."))


@hookimpl
def hapx_configure(config: Any) -> None:
    gset = config.global_.settings
    CODEC.configure(gset)
    glitches.KILL_CPU["usage"] = int(gset.get("tune.glitches.kill.cpu-usage") or 0)
