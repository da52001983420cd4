"""The objects that fetches, converters and actions work on at run time.

The data path builds one :class:`Session` per client connection and one :class:`Stream` per
request (HTTP) or per connection (TCP).  HTTP messages use one protocol-neutral model,
:class:`HttpMessage`, whatever the codec that produced them (HTTP/1, HTTP/2, HTTP/3).
Header names keep their case; values are ``str`` holding bytes as latin-1 characters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class HttpMessage:
    """A request or a response: start line, headers, body and trailers."""

    method: str = ""
    uri: str = ""
    version: str = "1.1"
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: the body bytes seen so far, when a feature asked to buffer it (wait-for-body, cache)
    body: bytes | None = None
    #: True once the whole body has been received
    body_complete: bool = False
    trailers: list[tuple[str, str]] = field(default_factory=list)

    # -- headers -------------------------------------------------------------------------------
    # (names are compared by length first: lower() runs only on the candidates)
    def get_all(self, name: str) -> list[str]:
        """Every full value of the header ``name`` (case-insensitive), in order."""
        low = name.lower()
        size = len(low)
        return [v for n, v in self.headers if len(n) == size and n.lower() == low]

    def get(self, name: str) -> str | None:
        vals = self.get_all(name)
        return vals[-1] if vals else None

    def add(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    def remove(self, name: str) -> int:
        low = name.lower()
        size = len(low)
        headers = self.headers
        kept = [h for h in headers if len(h[0]) != size or h[0].lower() != low]
        if len(kept) == len(headers):
            return 0
        self.headers = kept
        return len(headers) - len(kept)

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    # -- request target --------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The path: from the first ``/`` (after any scheme and authority) to before ``?``."""
        uri = self.uri
        if not uri.startswith("/"):
            scheme = uri.find("://")
            if scheme >= 0:
                slash = uri.find("/", scheme + 3)
                uri = uri[slash:] if slash >= 0 else ""
        q = uri.find("?")
        return uri if q < 0 else uri[:q]

    @property
    def query(self) -> str | None:
        q = self.uri.find("?")
        return None if q < 0 else self.uri[q + 1:]


@dataclass(slots=True)
class Session:
    """One client connection."""

    src: Any = None  # ipaddress object, or None for unix sockets
    src_port: int = 0
    dst: Any = None
    dst_port: int = 0
    frontend: Any = None  # the Proxy that accepted it
    listener: Any = None
    accept_date: float = field(default_factory=time.time)
    accept_mono: float = field(default_factory=time.monotonic)
    vars: dict[str, Any] = field(default_factory=dict)
    ssl: Any = None  # TLS details when the connection is TLS
    uniq_id: int = 0
    #: the connection's own addresses when a PROXY header replaced src/dst (None: the same)
    conn_src: Any = None
    conn_src_port: int | None = None
    conn_dst: Any = None
    conn_dst_port: int | None = None
    #: True when the connection started with a PROXY protocol header
    rcvd_proxy: bool = False
    #: HTTP major version of the client connection's wire encoding (1, 2, 3; 0: not HTTP)
    http_major: int = 0
    #: error code of the client connection (HAProxy's fc_err numbering), 0 when none
    conn_err: int = 0
    #: per-plugin data of the connection, seen by each of its streams (keyed by plugin
    #: name); let go when the connection closes, so objects freed then release what
    #: they hold
    ext: dict[str, Any] = field(default_factory=dict)
    #: termination events of the client connection and of its protocol layer
    #: (:mod:`hapx.core.runtime.tevents`)
    fc_evts: int = 0
    fmux_evts: int = 0
    #: protocol glitches counted on the client connection (HTTP/2, QUIC): fc_glitches
    conn_glitches: int = 0


@dataclass(slots=True)
class Stream:
    """One request (HTTP) or one connection's flow (TCP) through a frontend and a backend.

    The HTTP/1 data path builds it with positional arguments in this field order."""

    sess: Session
    frontend: Any = None
    backend: Any = None
    server: Any = None
    req: HttpMessage | None = None
    res: HttpMessage | None = None
    #: transaction-scoped, request-scoped and response-scoped variables
    txn_vars: dict[str, Any] = field(default_factory=dict)
    req_vars: dict[str, Any] = field(default_factory=dict)
    res_vars: dict[str, Any] = field(default_factory=dict)
    #: the raw bytes seen by tcp-request/tcp-response content rules
    req_buffer: bytes = b""
    res_buffer: bytes = b""
    uniq_id: int = 0
    unique_id: str | None = None
    request_date: float | None = None
    status: int = -1
    log_level: str | None = None
    captures_req: list[str | None] = field(default_factory=list)
    captures_res: list[str | None] = field(default_factory=list)
    #: the results the log line reports: timers (ms, -1 when not reached), byte counts,
    #: termination state ... filled by the data path
    timers: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    term_state: str = "--"
    #: per-plugin data, keyed by plugin name
    ext: dict[str, Any] = field(default_factory=dict)
    #: process-wide state (proc-scoped variables, counters), shared by every stream
    proc: ProcState | None = None
    #: the server-side connection, once one is established or reused
    srv_conn: ServerConn | None = None
    #: connection attempts retried, and whether the stream was redispatched
    conn_retries: int = 0
    redispatched: bool = False
    #: the last final rule that matched (a config Rule: it has ``file`` and ``line``)
    last_rule: Any = None
    #: False for the second and later requests of a connection
    first_req: bool = True
    #: termination events (:mod:`hapx.core.runtime.tevents`) of the client-side endpoint,
    #: the stream, the server-side endpoint, the server connection's protocol layer and
    #: the server connection
    fse_evts: int = 0
    strm_evts: int = 0
    bse_evts: int = 0
    bmux_evts: int = 0
    bc_evts: int = 0


@dataclass(slots=True)
class ServerConn:
    """The connection to a server used by a stream."""

    src: Any = None
    src_port: int = 0
    dst: Any = None
    dst_port: int = 0
    #: True when the request went over an idle connection kept from an earlier request
    reused: bool = False
    #: error code of the connection (HAProxy's bc_err numbering), 0 when none
    err: int = 0
    #: HTTP major version of the wire encoding (1, 2, 3; 0: not HTTP)
    http_major: int = 0
    #: the TLS object (:class:`ssl.SSLObject`) of a TLS server connection, else None
    ssl: Any = None


@dataclass
class ProxyState:
    """Live counters of a frontend or backend, kept in ``proxy.ext["state"]`` (created on
    first use).  The data path updates them; fetches such as fe_conn, be_conn and queue
    read them, and so will the runtime API (stats columns in brackets).

    Backend counters are kept by :mod:`hapx.core.runtime.queue` (slots and queues) and
    :mod:`hapx.core.runtime.retry` (retries, errors)."""

    #: connections currently established on this proxy (feconn / beconn)
    cur_conn: int = 0
    #: requests waiting in the backend's own queue (server queues not included) [qcur]
    queued: int = 0
    #: streams currently assigned to this proxy as a backend (logged as %bc)
    served: int = 0
    #: the most requests the backend's own queue ever held [qmax]
    max_queued: int = 0
    #: the most streams ever assigned at once to this proxy as a backend [smax]
    max_served: int = 0
    #: streams assigned to this proxy as a backend since start [stot]
    total: int = 0
    #: failed connection attempts to its servers, queue timeouts and full queues [econ]
    conn_errors: int = 0
    #: responses that failed: server closed, timed out or sent junk, not retried [eresp]
    resp_errors: int = 0
    #: retries on the same server [wretr]
    retries: int = 0
    #: retries moved to another server [wredis]
    redispatches: int = 0


@dataclass
class ServerState:
    """Live state of a server, kept as the ``live`` attribute of the server object
    (created on first use).  Configured limits stay on the server object itself
    (``maxconn``, ``maxqueue``: 0 for unlimited)."""

    #: False when the server is DOWN or in maintenance
    up: bool = True
    #: TCP connections currently established to the server, idle pooled ones included
    cur_conn: int = 0
    #: requests waiting in the server's queue [qcur]
    queued: int = 0
    #: streams currently holding a slot on the server (HAProxy's "served", logged as
    #: %sc): what ``maxconn`` limits [scur]
    served: int = 0
    #: transports of the connections established to the server (counted in cur_conn), so
    #: that they can be closed (``on-marked-down shutdown-sessions``)
    conns: set[Any] = field(default_factory=set)
    #: the most connections ever established at once
    max_conn: int = 0
    #: the most streams ever served at once [smax]
    max_served: int = 0
    #: the most requests the server's queue ever held [qmax]
    max_queued: int = 0
    #: streams that got a slot on this server since start [stot]
    total: int = 0
    #: failed connection attempts, queue timeouts and full queues [econ]
    conn_errors: int = 0
    #: responses that failed: server closed, timed out or sent junk, not retried [eresp]
    resp_errors: int = 0
    #: retries on this server [wretr]
    retries: int = 0
    #: streams that left this server for another one on a retry [wredis]
    redispatches: int = 0
    #: the server's queue and limits (a :class:`hapx.core.runtime.queue.ServerSlots`,
    #: set up when the data path first uses the server)
    slots: Any = None


@dataclass
class ProcState:
    """Process-wide state shared by all streams: ``proc.*`` variables and the like."""

    vars: dict[str, Any] = field(default_factory=dict)
    ext: dict[str, Any] = field(default_factory=dict)
    #: True once a graceful stop began
    stopping: bool = False
    #: when the process started (epoch seconds)
    start_time: float = field(default_factory=time.time)
    #: connections currently active on the whole process
    act_conn: int = 0
