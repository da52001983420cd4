"""Helpers shared by load-balancing algorithms: which servers compete for a pick."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def allbackups(backend: Any) -> bool:
    """``option allbackups``: balance over every backup server, not only the first."""
    return bool(getattr(backend, "options", {}).get("allbackups"))


def active_servers(servers: Iterable[Any]) -> list[Any]:
    return [s for s in servers if not s.backup]


def backup_servers(servers: Iterable[Any]) -> list[Any]:
    return [s for s in servers if s.backup]


def no_args(ctx: Any, args: list[str]) -> None:
    """``parse`` of algorithms that take no argument (ctx may be None for the default)."""
    if ctx is not None and getattr(ctx, "param", None):
        raise ctx.error(f"'{ctx.keyword}' takes no parameter (got '({ctx.param})').")
    if args:
        raise ctx.error(f"'{ctx.keyword}' takes no argument (got '{args[0]}').")
    return None
