"""Runtime API commands over the ACL and map lists (filled below)."""

from __future__ import annotations

from hapx.core.records import CliCommand

COMMANDS: list[CliCommand] = []
