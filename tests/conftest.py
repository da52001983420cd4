"""Shared test helpers: a registry holding given records, and a ParseContext on a fresh
configuration.  Use them as fixtures (``registry_with``, ``make_ctx``)."""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
from typing import Any

import pytest
from hapx.core.config.model import Config, Proxy
from hapx.core.config.parser import ParseContext
from hapx.core.config.reader import SourceLine
from hapx.core.errors import Diagnostics
from hapx.core.records import Point, Record
from hapx.core.registry import Registry


def _cache_children_bytecode() -> None:
    """With PYTHONDONTWRITEBYTECODE set, every hapx the tests start (hundreds of them)
    would compile all of hapx's modules from source again: about half of its start-up
    CPU.  Let the children cache their bytecode instead, in a directory of this test
    session (PYTHONPYCACHEPREFIX), never next to the sources, removed at the end.  Under
    xdist each worker has its own.  An explicit PYTHONPYCACHEPREFIX is left alone."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or "PYTHONPYCACHEPREFIX" in os.environ:
        return
    prefix = tempfile.mkdtemp(prefix="hapx-tests-pycache-")
    atexit.register(shutil.rmtree, prefix, ignore_errors=True)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = prefix


_cache_children_bytecode()


def build_registry(*records: Record, owner: str = "test") -> Registry:
    """A Registry with ``records`` added under ``owner``."""
    reg = Registry()
    for rec in records:
        reg.add(rec, owner)
    return reg


def build_ctx(registry: Registry | None = None, *, section: Any = None,
              section_kind: str = "frontend", proxy_name: str = "fe",
              keyword: str = "test", args: list[str] | None = None,
              point: Point | None = None, line_text: str = "") -> ParseContext:
    """A ParseContext on a fresh Config (quiet diagnostics).  Without ``section``, a proxy
    of kind ``section_kind`` named ``proxy_name`` is created and declared in the config."""
    config = Config(registry=registry or Registry(),
                    diag=Diagnostics(quiet=True, stream=io.StringIO()))
    if section is None and section_kind in ("frontend", "backend", "listen", "defaults"):
        section = Proxy(proxy_name, section_kind)
        if section_kind != "defaults":
            config.proxies.append(section)
    ctx = ParseContext(config, SourceLine("test.cfg", 1, line_text), keyword,
                       list(args or []), section_kind, section)
    ctx.point = point
    return ctx


@pytest.fixture
def registry_with():
    """``registry_with(*records)`` -> Registry with the records owned by "test"."""
    return build_registry


@pytest.fixture
def make_ctx():
    """``make_ctx(registry, section=..., section_kind=..., point=...)`` -> ParseContext."""
    return build_ctx
