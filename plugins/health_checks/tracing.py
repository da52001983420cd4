"""The ``check`` trace source (HAProxy's ``trace_check``): each health check's start and
outcome, traced by the check loop of :mod:`.manager`."""

from __future__ import annotations

from typing import Any

from hapx.core.trace import ERROR, PROTO, STREAM_VERBOSITIES, TraceSource, register_source

CHECK_TRACE = register_source(TraceSource(
    "check", "Health-check",
    events=(
        ("task_wake", "Check task woken up"), ("hchck_start", "Health-check started"),
        ("hchck_wake", "Health-check woken up"), ("hchck_run", "Health-check running"),
        ("hchck_end", "Health-check terminated"), ("hchck_succ", "Health-check success"),
        ("hchck_err", "Health-check failure"),
        ("tcp_check_eval", "tcp-check rules evaluation"),
        ("tcp_check_err", "tcp-check evaluation error"),
        ("tcp_check_conn", "tcp-check connection rule"),
        ("tcp_check_send", "tcp-check send rule"),
        ("tcp_check_expect", "tcp-check expect rule"),
        ("tcp_check_action", "tcp-check action rule"),
        ("rx_data", "receipt of data"), ("rx_blk", "receipt blocked"),
        ("rx_err", "receipt error"), ("tx_data", "transmission of data"),
        ("tx_blk", "transmission blocked"), ("tx_err", "transmission error"),
    ),
    verbosities=STREAM_VERBOSITIES,
    locks=("check", "thread"),
))


def _who(srv: Any) -> str:
    return f"check={id(srv):#x}({srv.proxy}/{srv.name})"


def trace_start(srv: Any) -> None:
    CHECK_TRACE.trace(PROTO, "hchck_start", "health-check started",
                      lambda: _who(srv) if CHECK_TRACE.verbosity >= 2 else "",
                      {"check": srv, "server": srv})


def trace_result(srv: Any, res: Any, failed: bool) -> None:
    def detail() -> str:
        if CHECK_TRACE.verbosity < 2:
            return ""
        return (f"{_who(srv)} status={res.status} code={res.code}"
                + (f' info="{res.info}"' if res.info else ""))
    if failed:
        CHECK_TRACE.trace(ERROR, "hchck_err", "health-check failed", detail,
                          {"check": srv, "server": srv})
    else:
        CHECK_TRACE.trace(PROTO, "hchck_succ", "health-check succeeded", detail,
                          {"check": srv, "server": srv})
