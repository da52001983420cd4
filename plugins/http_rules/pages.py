"""HTTP reason phrases and HAProxy's built-in error pages: they live in the kernel
(:mod:`hapx.core.proto.pages`) because the data path sends them too; re-exported here."""

from __future__ import annotations

from hapx.core.proto.pages import (
    ERROR_STATUSES,
    REASONS,
    REPLY_ERRFILE_STATUSES,
    RawResponseError,
    copy_message,
    default_page,
    parse_raw_response,
    reason,
)

__all__ = ["ERROR_STATUSES", "REASONS", "REPLY_ERRFILE_STATUSES", "RawResponseError",
           "copy_message", "default_page", "parse_raw_response", "reason"]
