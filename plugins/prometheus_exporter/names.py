"""How statistics registry fields become Prometheus metrics, as HAProxy's promex names them.

promex's metric names are the stat fields' "alternate names": ``scur`` is
``current_sessions``, ``stot`` ``sessions_total`` ...; the help text is the stat field's
HAProxy description, or promex's own for the few it overrides.  This module holds that
mapping, keyed by the registry's field names, plus the fields promex deliberately leaves out.

A registry field that is in neither table is not dropped: :func:`derived` names it from the
field itself (``haproxy_<object>_<field>``, ``_total`` for counters), with the registry's
description as help text and the object kinds the field declares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GAUGE = "gauge"
COUNTER = "counter"

#: object kind letter -> the metric name prefix
PREFIX = {"F": "haproxy_frontend_", "B": "haproxy_backend_", "S": "haproxy_server_",
          "L": "haproxy_listener_"}
PROCESS = "haproxy_process_"
STICKTABLE = "haproxy_sticktable_"


@dataclass(frozen=True)
class PxMetric:
    """A proxy/server field as promex exports it: name suffix, type, the object kinds it is
    exported for (a subset of F, B, S, L), help text, and ``scale`` (values are
    multiplied by it: 0.001 turns milliseconds into seconds)."""

    suffix: str
    type: str
    kinds: str
    help: str
    scale: float = 1.0


def _px(suffix: str, typ: str, kinds: str, help_: str, scale: float = 1.0) -> PxMetric:
    return PxMetric(suffix, typ, kinds, help_, scale)


_MS = 0.001

#: registry field name -> metric (HAProxy 3.2 promex, addons/promex/service-prometheus.c,
#: help texts from src/stats-proxy.c or promex's overrides)
PX_METRICS: dict[str, PxMetric] = {
    "qcur": _px("current_queue", GAUGE, "BS",
                "Number of current queued connections"),
    "qmax": _px("max_queue", GAUGE, "BS",
                "Highest value of queued connections encountered since process started"),
    "scur": _px("current_sessions", GAUGE, "FBSL",
                "Number of current sessions on the frontend, backend or server"),
    "smax": _px("max_sessions", GAUGE, "FBSL",
                "Highest value of current sessions encountered since process started"),
    "slim": _px("limit_sessions", GAUGE, "FBSL",
                "Frontend/listener/server's maxconn, backend's fullconn"),
    "stot": _px("sessions_total", COUNTER, "FBSL",
                "Total number of sessions since process started"),
    "bin": _px("bytes_in_total", COUNTER, "FBSL",
               "Total number of request bytes since process started"),
    "bout": _px("bytes_out_total", COUNTER, "FBSL",
                "Total number of response bytes since process started"),
    "dreq": _px("requests_denied_total", COUNTER, "FBL",
                "Total number of denied requests since process started"),
    "dresp": _px("responses_denied_total", COUNTER, "FBSL",
                 "Total number of denied responses since process started"),
    "ereq": _px("request_errors_total", COUNTER, "FL",
                "Total number of invalid requests since process started"),
    "econ": _px("connection_errors_total", COUNTER, "BS",
                "Total number of failed connections to server since the worker process "
                "started"),
    "eresp": _px("response_errors_total", COUNTER, "BS",
                 "Total number of invalid responses since the worker process started"),
    "wretr": _px("retry_warnings_total", COUNTER, "BS",
                 "Total number of server connection retries since the worker process "
                 "started"),
    "wredis": _px("redispatch_warnings_total", COUNTER, "BS",
                  "Total number of server redispatches due to connection failures since the "
                  "worker process started"),
    "status": _px("status", GAUGE, "FBSL",
                  "Current status of the service, per state label value."),
    "weight": _px("weight", GAUGE, "BS",
                  "Server's effective weight, or sum of active servers' effective weights "
                  "for a backend"),
    "act": _px("active_servers", GAUGE, "B",
               "Total number of active UP servers with a non-zero weight"),
    "bck": _px("backup_servers", GAUGE, "B",
               "Total number of backup UP servers with a non-zero weight"),
    "chkfail": _px("check_failures_total", COUNTER, "S",
                   "Total number of failed individual health checks per server/backend, since "
                   "the worker process started"),
    "chkdown": _px("check_up_down_total", COUNTER, "BS",
                   "Total number of failed checks causing UP to DOWN server transitions, per "
                   "server/backend, since the worker process started"),
    "lastchg": _px("check_last_change_seconds", GAUGE, "BS",
                   "How long ago the last server state changed, in seconds"),
    "downtime": _px("downtime_seconds_total", COUNTER, "BS",
                    "Total time spent in DOWN state, for server or backend"),
    "qlimit": _px("queue_limit", GAUGE, "S",
                  "Limit on the number of connections in queue, for servers only (maxqueue "
                  "argument)"),
    "throttle": _px("current_throttle", GAUGE, "S",
                    "Throttling ratio applied to a server's maxconn and weight during the "
                    "slowstart period (0 to 100%)"),
    "lbtot": _px("loadbalanced_total", COUNTER, "BS",
                 "Total number of requests routed by load balancing since the worker process "
                 "started (ignores queue pop and stickiness)"),
    # 3.2: the current session rate is exported
    "rate": _px("current_session_rate", GAUGE, "FBS",
                "Total number of sessions processed by this object over the last second "
                "(sessions for listeners/frontends, requests for backends/servers)"),
    "rate_lim": _px("limit_session_rate", GAUGE, "F",
                    "Limit on the number of sessions accepted in a second (frontend only, "
                    "'rate-limit sessions' setting)"),
    "rate_max": _px("max_session_rate", GAUGE, "FBS",
                    "Highest value of sessions per second observed since the worker process "
                    "started"),
    "check_status": _px("check_status", GAUGE, "S",
                        "Status of last health check, per state label value."),
    "check_code": _px("check_code", GAUGE, "S",
                      "layer5-7 code, if available of the last health check."),
    "check_duration": _px("check_duration_seconds", GAUGE, "S",
                          "Total duration of the latest server health check, in seconds.",
                          _MS),
    "hrsp_1xx": _px("http_responses_total", COUNTER, "FBS",
                    "Total number of HTTP responses with status 100-199 returned by this "
                    "object since the worker process started"),
    "req_rate_max": _px("http_requests_rate_max", GAUGE, "F",
                        "Highest value of http requests observed since the worker process "
                        "started"),
    "req_tot": _px("http_requests_total", COUNTER, "FB",
                   "Total number of HTTP requests processed by this object since the worker "
                   "process started"),
    "cli_abrt": _px("client_aborts_total", COUNTER, "BS",
                    "Total number of requests or connections aborted by the client since the "
                    "worker process started"),
    "srv_abrt": _px("server_aborts_total", COUNTER, "BS",
                    "Total number of requests or connections aborted by the server since the "
                    "worker process started"),
    "comp_in": _px("http_comp_bytes_in_total", COUNTER, "FB",
                   "Total number of bytes submitted to the HTTP compressor for this object "
                   "since the worker process started"),
    "comp_out": _px("http_comp_bytes_out_total", COUNTER, "FB",
                    "Total number of bytes emitted by the HTTP compressor for this object "
                    "since the worker process started"),
    "comp_byp": _px("http_comp_bytes_bypassed_total", COUNTER, "FB",
                    "Total number of bytes that bypassed HTTP compression for this object "
                    "since the worker process started (CPU/memory/bandwidth limitation)"),
    "comp_rsp": _px("http_comp_responses_total", COUNTER, "FB",
                    "Total number of HTTP responses that were compressed for this object "
                    "since the worker process started"),
    "lastsess": _px("last_session_seconds", GAUGE, "BS",
                    "How long ago some traffic was seen on this object on this worker "
                    "process, in seconds"),
    "qtime": _px("queue_time_average_seconds", GAUGE, "BS",
                 "Avg. queue time for last 1024 successful connections.", _MS),
    "ctime": _px("connect_time_average_seconds", GAUGE, "BS",
                 "Avg. connect time for last 1024 successful connections.", _MS),
    "rtime": _px("response_time_average_seconds", GAUGE, "BS",
                 "Avg. response time for last 1024 successful connections.", _MS),
    "ttime": _px("total_time_average_seconds", GAUGE, "BS",
                 "Avg. total time for last 1024 successful connections.", _MS),
    "conn_rate_max": _px("connections_rate_max", GAUGE, "F",
                         "Highest value of connections per second observed since the worker "
                         "process started"),
    "conn_tot": _px("connections_total", COUNTER, "F",
                    "Total number of new connections accepted on this frontend since the "
                    "worker process started"),
    "intercepted": _px("intercepted_requests_total", COUNTER, "F",
                       "Total number of HTTP requests intercepted on the frontend "
                       "(redirects/stats/services) since the worker process started"),
    "dcon": _px("denied_connections_total", COUNTER, "FL",
                "Total number of incoming connections blocked on a listener/frontend by a "
                "tcp-request connection rule since the worker process started"),
    "dses": _px("denied_sessions_total", COUNTER, "FL",
                "Total number of incoming sessions blocked on a listener/frontend by a "
                "tcp-request connection rule since the worker process started"),
    "wrew": _px("failed_header_rewriting_total", COUNTER, "FBSL",
                "Total number of failed HTTP header rewrites since the worker process "
                "started"),
    "connect": _px("connection_attempts_total", COUNTER, "BS",
                   "Total number of outgoing connection attempts on this backend/server since "
                   "the worker process started"),
    "reuse": _px("connection_reuses_total", COUNTER, "BS",
                 "Total number of reused connection on this backend/server since the worker "
                 "process started"),
    "cache_lookups": _px("http_cache_lookups_total", COUNTER, "FB",
                         "Total number of HTTP requests looked up in the cache on this "
                         "frontend/backend since the worker process started"),
    "cache_hits": _px("http_cache_hits_total", COUNTER, "FB",
                      "Total number of HTTP requests not found in the cache on this "
                      "frontend/backend since the worker process started"),
    "srv_icur": _px("idle_connections_current", GAUGE, "S",
                    "Current number of idle connections available for reuse on this server"),
    "src_ilim": _px("idle_connections_limit", GAUGE, "S",
                    "Limit on the number of available idle connections on this server (server "
                    "'pool_max_conn' directive)"),
    "qtime_max": _px("max_queue_time_seconds", GAUGE, "BS",
                     "Maximum observed time spent in the queue", _MS),
    "ctime_max": _px("max_connect_time_seconds", GAUGE, "BS",
                     "Maximum observed time spent waiting for a connection to complete", _MS),
    "rtime_max": _px("max_response_time_seconds", GAUGE, "BS",
                     "Maximum observed time spent waiting for a server response", _MS),
    "ttime_max": _px("max_total_time_seconds", GAUGE, "BS",
                     "Maximum observed total request+response time "
                     "(request+queue+connect+response+processing)", _MS),
    "eint": _px("internal_errors_total", COUNTER, "FBSL",
                "Total number of internal errors since process started"),
    "idle_conn_cur": _px("unsafe_idle_connections_current", GAUGE, "S",
                         "Current number of unsafe idle connections"),
    "safe_conn_cur": _px("safe_idle_connections_current", GAUGE, "S",
                         "Current number of safe idle connections"),
    "used_conn_cur": _px("used_connections_current", GAUGE, "S",
                         "Current number of connections in use"),
    "need_conn_est": _px("need_connections_current", GAUGE, "S",
                         "Estimated needed number of connections"),
    "uweight": _px("uweight", GAUGE, "BS",
                   "Server's user weight, or sum of active servers' user weights for a "
                   "backend"),
    "agg_server_status": _px("agg_server_status", GAUGE, "B",
                             "Backend's aggregated gauge of servers' status"),
    "agg_check_status": _px("agg_check_status", GAUGE, "B",
                            "Backend's aggregated gauge of servers' state check status"),
}

#: the hrsp_* fields are one metric with a ``code`` label
HRSP_CODES = {"hrsp_1xx": "1xx", "hrsp_2xx": "2xx", "hrsp_3xx": "3xx", "hrsp_4xx": "4xx",
              "hrsp_5xx": "5xx", "hrsp_other": "other"}
for _name in HRSP_CODES:
    PX_METRICS.setdefault(_name, PX_METRICS["hrsp_1xx"])

#: fields promex does not export (names, keys, strings, per-version splits, fields it
#: documents as ignored): they never get a derived name either
PX_IGNORED = frozenset({
    "pxname", "svname", "pid", "iid", "sid", "tracked", "type", "hanafail", "req_rate",
    "last_chk", "last_agt", "agent_status", "agent_code", "agent_duration", "check_desc",
    "agent_desc", "check_rise", "check_fall", "check_health", "agent_rise", "agent_fall",
    "agent_health", "addr", "cookie", "mode", "algo", "conn_rate", "srid", "sess_other",
    "h1sess", "h2sess", "h3sess", "req_other", "h1req", "h2req", "h3req", "proto",
    "agg_server_check_status",
})


@dataclass(frozen=True)
class InfoMetric:
    """A ``show info`` field as a ``haproxy_process_*`` metric."""

    suffix: str
    type: str
    help: str


def _inf(suffix: str, typ: str, help_: str) -> InfoMetric:
    return InfoMetric(suffix, typ, help_)


#: ``show info`` field name -> metric (help texts: HAProxy's info field descriptions)
INFO_METRICS: dict[str, InfoMetric] = {
    "Nbthread": _inf("nbthread", GAUGE, "Number of started threads (global.nbthread)"),
    "Nbproc": _inf("nbproc", GAUGE, "Number of started worker processes (global.nbproc)"),
    "Process_num": _inf("relative_process_id", GAUGE,
                        "Relative worker process number (1..Nbproc)"),
    "Uptime_sec": _inf("uptime_seconds", GAUGE,
                       "How long ago this worker process was started (seconds)"),
    "Start_time_sec": _inf("start_time_seconds", GAUGE,
                           "Start time in seconds"),
    "Memmax_bytes": _inf("max_memory_bytes", GAUGE,
                         "Worker process's hard limit on memory usage in byes (-m on command "
                         "line)"),
    "PoolAlloc_bytes": _inf("pool_allocated_bytes", GAUGE,
                            "Amount of memory allocated in pools (in bytes)"),
    "PoolUsed_bytes": _inf("pool_used_bytes", GAUGE,
                           "Amount of pool memory currently used (in bytes)"),
    "PoolFailed": _inf("pool_failures_total", COUNTER,
                       "Number of failed pool allocations since this worker was started"),
    "Ulimit-n": _inf("max_fds", GAUGE,
                     "Hard limit on the number of per-process file descriptors"),
    "Maxsock": _inf("max_sockets", GAUGE, "Hard limit on the number of per-process sockets"),
    "Maxconn": _inf("max_connections", GAUGE,
                    "Hard limit on the number of per-process connections (configured or "
                    "imposed by Ulimit-n)"),
    "Hard_maxconn": _inf("hard_max_connections", GAUGE,
                         "Hard limit on the number of per-process connections (imposed by "
                         "Memmax_MB or Ulimit-n)"),
    "CurrConns": _inf("current_connections", GAUGE,
                      "Current number of connections on this worker process"),
    "CumConns": _inf("connections_total", COUNTER,
                     "Total number of connections on this worker process since started"),
    "CumReq": _inf("requests_total", COUNTER,
                   "Total number of requests on this worker process since started"),
    "MaxSslConns": _inf("max_ssl_connections", GAUGE,
                        "Hard limit on the number of per-process SSL endpoints (front+back), "
                        "0=unlimited"),
    "CurrSslConns": _inf("current_ssl_connections", GAUGE,
                         "Current number of SSL endpoints on this worker process (front+back)"),
    "CumSslConns": _inf("ssl_connections_total", COUNTER,
                        "Total number of SSL endpoints on this worker process since started "
                        "(front+back)"),
    "Maxpipes": _inf("max_pipes", GAUGE,
                     "Hard limit on the number of pipes for splicing, 0=unlimited"),
    "PipesUsed": _inf("pipes_used_total", COUNTER,
                      "Current number of pipes in use in this worker process"),
    "PipesFree": _inf("pipes_free_total", COUNTER,
                      "Current number of allocated and available pipes in this worker "
                      "process"),
    "ConnRate": _inf("current_connection_rate", GAUGE,
                     "Number of front connections created on this worker process over the "
                     "last second"),
    "ConnRateLimit": _inf("limit_connection_rate", GAUGE,
                          "Hard limit for ConnRate (global.maxconnrate)"),
    "MaxConnRate": _inf("max_connection_rate", GAUGE,
                        "Highest ConnRate reached on this worker process since started (in "
                        "connections per second)"),
    "SessRate": _inf("current_session_rate", GAUGE,
                     "Number of sessions created on this worker process over the last second"),
    "SessRateLimit": _inf("limit_session_rate", GAUGE,
                          "Hard limit for SessRate (global.maxsessrate)"),
    "MaxSessRate": _inf("max_session_rate", GAUGE,
                        "Highest SessRate reached on this worker process since started (in "
                        "sessions per second)"),
    "SslRate": _inf("current_ssl_rate", GAUGE,
                    "Number of SSL connections created on this worker process over the last "
                    "second"),
    "SslRateLimit": _inf("limit_ssl_rate", GAUGE, "Hard limit for SslRate (global.maxsslrate)"),
    "MaxSslRate": _inf("max_ssl_rate", GAUGE,
                       "Highest SslRate reached on this worker process since started (in "
                       "connections per second)"),
    "SslFrontendKeyRate": _inf("current_frontend_ssl_key_rate", GAUGE,
                               "Number of SSL keys created on frontends in this worker "
                               "process over the last second"),
    "SslFrontendMaxKeyRate": _inf("max_frontend_ssl_key_rate", GAUGE,
                                  "Highest SslFrontendKeyRate reached on this worker process "
                                  "since started (in SSL keys per second)"),
    "SslFrontendSessionReuse_pct": _inf("frontend_ssl_reuse", GAUGE,
                                        "Percent of frontend SSL connections which did not "
                                        "require a new key"),
    "SslBackendKeyRate": _inf("current_backend_ssl_key_rate", GAUGE,
                              "Number of SSL keys created on backends in this worker process "
                              "over the last second"),
    "SslBackendMaxKeyRate": _inf("max_backend_ssl_key_rate", GAUGE,
                                 "Highest SslBackendKeyRate reached on this worker process "
                                 "since started (in SSL keys per second)"),
    "SslCacheLookups": _inf("ssl_cache_lookups_total", COUNTER,
                            "Total number of SSL session ID lookups in the SSL session cache "
                            "on this worker since started"),
    "SslCacheMisses": _inf("ssl_cache_misses_total", COUNTER,
                           "Total number of SSL session ID lookups that didn't find a session "
                           "in the SSL session cache on this worker since started"),
    "CompressBpsIn": _inf("http_comp_bytes_in_total", COUNTER,
                          "Number of bytes submitted to the HTTP compressor in this worker "
                          "process over the last second"),
    "CompressBpsOut": _inf("http_comp_bytes_out_total", COUNTER,
                           "Number of bytes emitted by the HTTP compressor in this worker "
                           "process over the last second"),
    "CompressBpsRateLim": _inf("limit_http_comp", GAUGE,
                               "Limit of CompressBpsOut beyond which HTTP compression is "
                               "automatically disabled"),
    "ZlibMemUsage": _inf("current_zlib_memory", GAUGE,
                         "Amount of memory currently used by HTTP compression on the current "
                         "worker process (in bytes)"),
    "MaxZlibMemUsage": _inf("max_zlib_memory", GAUGE,
                            "Limit on the amount of memory used by HTTP compression above "
                            "which it is automatically disabled (in bytes, see "
                            "global.maxzlibmem)"),
    "Tasks": _inf("current_tasks", GAUGE,
                  "Total number of tasks in the current worker process (active + sleeping)"),
    "Run_queue": _inf("current_run_queue", GAUGE,
                      "Total number of active tasks+tasklets in the current worker process"),
    "Idle_pct": _inf("idle_time_percent", GAUGE,
                     "Percentage of last second spent waiting in the current worker thread"),
    "Stopping": _inf("stopping", GAUGE,
                     "1 if the worker process is currently stopping, otherwise zero"),
    "Jobs": _inf("jobs", GAUGE,
                 "Current number of active jobs on the current worker process (frontend "
                 "connections, master connections, listeners)"),
    "Unstoppable Jobs": _inf("unstoppable_jobs", GAUGE,
                             "Current number of unstoppable jobs on the current worker "
                             "process (master connections)"),
    "Listeners": _inf("listeners", GAUGE,
                      "Current number of active listeners on the current worker process"),
    "ActivePeers": _inf("active_peers", GAUGE,
                        "Current number of verified active peers connections on the current "
                        "worker process"),
    "ConnectedPeers": _inf("connected_peers", GAUGE,
                           "Current number of peers having passed the connection step on the "
                           "current worker process"),
    "DroppedLogs": _inf("dropped_logs_total", COUNTER,
                        "Total number of dropped logs for current worker process since "
                        "started"),
    "BusyPolling": _inf("busy_polling_enabled", GAUGE,
                        "1 if busy-polling is currently in use on the worker process, "
                        "otherwise zero (config.busy-polling)"),
    "FailedResolutions": _inf("failed_resolutions", COUNTER,
                              "Total number of failed DNS resolutions in current worker "
                              "process since started"),
    "TotalBytesOut": _inf("bytes_out_total", COUNTER,
                          "Total number of bytes emitted by current worker process since "
                          "started"),
    "TotalSplicedBytesOut": _inf("spliced_bytes_out_total", COUNTER,
                                 "Total number of bytes emitted by current worker process "
                                 "through a kernel pipe since started"),
    "BytesOutRate": _inf("bytes_out_rate", GAUGE,
                         "Number of bytes emitted by current worker process over the last "
                         "second"),
    "CumRecvLogs": _inf("recv_logs_total", COUNTER,
                        "Total number of log messages received by log-forwarding listeners on "
                        "this worker process since started"),
    "Build info": _inf("build_info", GAUGE, "Build info"),
}

#: ``show info`` fields promex leaves out (strings, duplicates in MB, debug counters)
INFO_IGNORED = frozenset({
    "Name", "Version", "Release_date", "Pid", "Uptime", "Memmax_MB", "PoolAlloc_MB",
    "PoolUsed_MB", "node", "description", "DebugCommandsIssued", "Tainted",
})

#: backend/server/frontend ``state`` label values of the status metrics (promex order)
FRONT_STATES = ("DOWN", "UP")
BACK_STATES = ("DOWN", "UP")
SRV_STATES = ("DOWN", "UP", "MAINT", "DRAIN", "NOLB")
LI_STATES = ("WAITING", "OPEN", "FULL", "PAUSED", "STOPPED")
#: health check status names (HAProxy's HCHK_STATUS_* short names)
CHECK_STATES = ("HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP",
                "L7TOUT", "L7RSP", "L7OKD", "L7OKCD", "L7STS", "PROCERR", "PROCTOUT",
                "PROCOK")

_BAD = re.compile(r"[^a-zA-Z0-9_]")


def metric_word(name: str) -> str:
    """A field or info name as a metric name part: lower case, only ``[a-z0-9_]``."""
    word = _BAD.sub("_", name.strip()).lower()
    return re.sub(r"_+", "_", word).strip("_") or "unnamed"


def derived(name: str, tags: str, kinds: str, desc: str) -> PxMetric:
    """The metric of a registry field the table does not know: named after the field
    (counters end with ``_total``), typed from its nature tag, documented by its
    description."""
    counter = len(tags) > 1 and tags[1] == "C"
    suffix = metric_word(name)
    if counter and not suffix.endswith("_total"):
        suffix += "_total"
    return PxMetric(suffix, COUNTER if counter else GAUGE, kinds, desc or name)


def derived_info(name: str, tags: str, desc: str) -> InfoMetric:
    """The ``haproxy_process_*`` metric of an info field the table does not know."""
    m = derived(name, tags, "", desc)
    return InfoMetric(m.suffix, m.type, m.help)
