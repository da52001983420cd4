"""The h2 library as the frame codec of client connections (``h2-codec h2``): an
``H2Connection`` whose ``receive_data`` hands h2's events to the multiplexer as the
method calls :mod:`.lean` makes (``_on_request``, ``_on_data``, ``_on_end``, ...)."""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings

from .params import H2Params, response_headers

_RequestReceived = h2.events.RequestReceived
_DataReceived = h2.events.DataReceived
_StreamEnded = h2.events.StreamEnded
_StreamReset = h2.events.StreamReset
_WindowUpdated = h2.events.WindowUpdated
_TrailersReceived = h2.events.TrailersReceived
_RemoteSettingsChanged = h2.events.RemoteSettingsChanged
_ConnectionTerminated = h2.events.ConnectionTerminated
_PingAckReceived = h2.events.PingAckReceived


class H2LibServer(h2.connection.H2Connection):
    """h2's server-side connection state machine, reporting to ``mux``."""

    def __init__(self, mux: Any, params: H2Params) -> None:
        cfg = h2.config.H2Configuration(
            client_side=False, header_encoding="latin-1", validate_outbound_headers=False,
            normalize_outbound_headers=False, normalize_inbound_headers=False)
        super().__init__(cfg)
        self.mux = mux
        self.local_settings = h2.settings.Settings(client=False,
                                                   initial_values=params.local(True))
        # (what h2 derives from its settings when they change)
        self.max_inbound_frame_size = params.max_frame_size
        self.decoder.max_allowed_table_size = params.header_table_size

    def send_response(self, sid: int, status: int, headers: list[tuple[str, str]],
                      end_stream: bool) -> int:
        """A response head from the message model's str pairs; its size as logged."""
        block = response_headers(status, headers)
        self.send_headers(sid, block, end_stream=end_stream)
        return sum(len(n) + len(v) + 4 for n, v in block)

    def try_send_data(self, sid: int, data: bytes) -> bool:
        """``send_data`` when the windows and the frame size allow all of ``data`` in one
        frame; False (nothing sent) when they do not."""
        n = len(data)
        if n > self.max_outbound_frame_size or n > self.local_flow_control_window(sid):
            return False
        self.send_data(sid, data)
        return True

    def receive_data(self, data: bytes) -> list[Any]:  # type: ignore[override]
        events = super().receive_data(data)
        mux = self.mux
        for ev in events:
            t = type(ev)
            if t is _DataReceived:
                mux._on_data(ev.stream_id, ev.data, ev.flow_controlled_length,
                             ev.stream_ended is not None)
            elif t is _RequestReceived:
                mux._on_request(ev.stream_id, ev.headers, ev.stream_ended is not None)
            elif t is _StreamEnded:
                mux._on_end(ev.stream_id)
            elif t is _WindowUpdated:
                mux._on_window(ev.stream_id)
            elif t is _StreamReset:
                mux._on_reset(ev.stream_id)
            elif t is _TrailersReceived:
                mux._on_trailers(ev.stream_id, [(n, v) for n, v in ev.headers])
            elif t is _RemoteSettingsChanged:
                mux._on_window(0)
            elif t is _ConnectionTerminated:
                mux._on_goaway()
            elif t is _PingAckReceived:
                mux._on_ping_ack()
            if mux.closed:
                break
        return events
