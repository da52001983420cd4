"""The QUIC settings of one bind line, from the global ``tune.quic.*`` keywords and the
bind's own options, checked at configuration time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: HAProxy's quic-cc-algo name -> aioquic's congestion_control_algorithm (None: aioquic
#: has no such algorithm)
CC_ALGOS: dict[str, str | None] = {"cubic": "cubic", "newreno": "reno", "bbr": None,
                                   "nocc": None}
#: HAProxy's defaults
DEFAULT_CC = "cubic"
DEFAULT_STREAM_DATA_RATIO = 90
DEFAULT_MAX_STREAMS_BIDI = 100
DEFAULT_IDLE_TIMEOUT_MS = 30000
DEFAULT_GLITCHES = 0


class QuicSettingError(ValueError):
    """A QUIC setting hapx cannot honour (the message names it)."""


@dataclass(frozen=True)
class QuicSettings:
    """What the QUIC listener of one bind applies."""

    #: the quic-cc-algo name as written (cubic, newreno) and aioquic's algorithm
    cc_name: str
    cc_algo: str
    #: transmit pacing (on unless tune.quic.disable-tx-pacing)
    pacing: bool
    #: connection receive window (MAX_DATA credit beyond what was consumed): one buffer
    #: (tune.bufsize) per bidirectional stream the client may open
    conn_window: int
    #: stream receive window: stream-data-ratio percent of the connection window
    stream_window: int
    stream_data_ratio: int
    max_streams_bidi: int
    #: process-wide cap of the response bytes sent and not yet acknowledged (0: none)
    max_tx_mem: int
    #: protocol glitches that get a connection killed (0: never)
    glitches_threshold: int
    #: seconds without traffic before a connection is closed
    idle_timeout: float


def cc_algo(text: str) -> tuple[str, str]:
    """(HAProxy name, aioquic name) of a quic-cc-algo value; arguments in parentheses (the
    max window) are accepted only without a value aioquic cannot apply."""
    m = re.fullmatch(r"(\w+)(?:\(([^)]*)\))?", text)
    name = m.group(1) if m else text
    if name not in CC_ALGOS:
        raise QuicSettingError(f"unknown QUIC congestion control algorithm '{text}'")
    algo = CC_ALGOS[name]
    if algo is None:
        raise QuicSettingError(
            f"'quic-cc-algo {name}' is not available: the QUIC stack of this build (aioquic) "
            "implements only 'cubic' and 'newreno'")
    if m and m.group(2):
        raise QuicSettingError(
            f"'quic-cc-algo {text}': a maximum window or options cannot be applied by the QUIC "
            "stack of this build (aioquic); use 'quic-cc-algo {name}'")
    return name, algo


def settings_for(gset: dict[str, Any], bind: Any) -> QuicSettings:
    """The settings of ``bind`` (global settings ``gset``); raises QuicSettingError."""
    name, algo = cc_algo(str(bind.opt("quic-cc-algo") or DEFAULT_CC))
    ratio = int(gset.get("tune.quic.frontend.stream-data-ratio", DEFAULT_STREAM_DATA_RATIO))
    streams = int(gset.get("tune.quic.frontend.max-streams-bidi", DEFAULT_MAX_STREAMS_BIDI))
    bufsize = int(gset.get("tune.bufsize", 16384))
    conn_window = streams * bufsize
    idle = gset.get("tune.quic.frontend.max-idle-timeout", DEFAULT_IDLE_TIMEOUT_MS)
    return QuicSettings(
        cc_name=name, cc_algo=algo,
        pacing=not gset.get("tune.quic.disable-tx-pacing"),
        conn_window=conn_window,
        stream_window=max(1024, conn_window * ratio // 100),
        stream_data_ratio=ratio,
        max_streams_bidi=streams,
        max_tx_mem=int(gset.get("tune.quic.frontend.max-tx-mem", 0) or 0),
        glitches_threshold=int(gset.get("tune.quic.frontend.glitches-threshold",
                                        DEFAULT_GLITCHES) or 0),
        idle_timeout=max(1, int(idle)) / 1000)
