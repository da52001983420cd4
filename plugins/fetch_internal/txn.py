"""Fetches about the transaction: txn.id32, txn.status, txn.sess_term_state,
txn.conn_retries, txn.redispatched, last_rule_file and last_rule_line."""

from __future__ import annotations

from typing import Any

from hapx.core.records import Fetch, SmpType, Use
from hapx.core.sample.types import Sample


def _id32(args: list[Any], strm: Any) -> Sample | None:
    if strm is None:
        return None
    return Sample(SmpType.SINT, strm.uniq_id & 0xFFFFFFFF)


def _status(args: list[Any], strm: Any) -> Sample | None:
    if strm is None:
        return None
    return Sample(SmpType.SINT, strm.status)


def _term_state(args: list[Any], strm: Any) -> Sample | None:
    if strm is None:
        return None
    return Sample(SmpType.STR, strm.term_state[:2])


def _conn_retries(args: list[Any], strm: Any) -> Sample | None:
    if strm is None:
        return None
    return Sample(SmpType.SINT, strm.conn_retries)


def _redispatched(args: list[Any], strm: Any) -> Sample | None:
    if strm is None:
        return None
    return Sample(SmpType.BOOL, strm.redispatched)


def _rule_file(args: list[Any], strm: Any) -> Sample | None:
    rule = getattr(strm, "last_rule", None)
    if rule is None:
        return None
    return Sample(SmpType.STR, rule.file)


def _rule_line(args: list[Any], strm: Any) -> Sample | None:
    rule = getattr(strm, "last_rule", None)
    if rule is None:
        return None
    return Sample(SmpType.SINT, rule.line)


RECORDS = (
    Fetch("txn.id32", process=_id32, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="txn.id32\n\nReturns the internal identifier of the transaction, on 32 bits "
              "(it wraps)."),
    Fetch("txn.status", process=_status, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="txn.status\n\nReturns the HTTP status of the transaction: the status sent to "
              "the client, whether it came from the server or from hapx (-1 while unknown)."),
    Fetch("txn.sess_term_state", process=_term_state, out_type=SmpType.STR,
          uses=Use.INTERNAL,
          doc="txn.sess_term_state\n\nReturns the two-character termination state of the "
              "stream, as in the logs ('--' while running, 'CD', 'sH' ...)."),
    Fetch("txn.conn_retries", process=_conn_retries, out_type=SmpType.SINT, uses=Use.L4SRV,
          doc="txn.conn_retries\n\nReturns the number of connection retries to the server "
              "(0 when the first attempt succeeded)."),
    Fetch("txn.redispatched", process=_redispatched, out_type=SmpType.BOOL, uses=Use.L4SRV,
          doc="txn.redispatched\n\nReturns true when the connection was redispatched to "
              "another server after a failure."),
    Fetch("last_rule_file", process=_rule_file, out_type=SmpType.STR, uses=Use.INTERNAL,
          doc="last_rule_file\n\nReturns the configuration file of the last final rule that "
              "matched (accept, deny, redirect ...) in tcp content or HTTP rule sets."),
    Fetch("last_rule_line", process=_rule_line, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="last_rule_line\n\nReturns the line in its configuration file of the last final "
              "rule that matched."),
)
