"""``-v`` and ``-vv``: versions, features, services, filters and the loaded plugins."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys
from collections import Counter
from typing import Any, TextIO

from ..records import Feature, Filter, Record, Service
from ..version import HAPROXY_COMPAT, HAPROXY_VERSION, HAPX_RELEASE_DATE, HAPX_VERSION

#: the libraries hapx uses or may use, as their distributions are named
LIBRARIES = ("pluggy", "stevedore", "anyio", "h11", "h2", "aioquic", "httptools", "uvloop",
             "lupa", "cryptography", "prometheus-client", "rich")


def version_line() -> str:
    return f"HAPX version {HAPX_VERSION} {HAPX_RELEASE_DATE} - HAProxy {HAPROXY_COMPAT} compatible"


def display_version(out: TextIO) -> None:
    print(version_line(), file=out)
    print("Status: kernel release: configurations are checked and plugins loaded; keywords "
          "whose runtime comes later are reported as not active yet.", file=out)
    u = os.uname()
    print(f"Running on: {u.sysname} {u.release} {u.version} {u.machine}", file=out)


def library_version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def plural(kind: str, count: int) -> str:
    if count == 1:
        return kind
    if kind.endswith(("s", "sh", "ch", "x")):
        return kind + "es"
    return kind + "s"


def record_counts(records: list[Record]) -> Counter[str]:
    return Counter(r.kind for r in records)


def counts_text(records: list[Record]) -> str:
    counts = record_counts(records)
    return ", ".join(f"{n} {plural(kind, n)}" for kind, n in sorted(counts.items())) or "nothing"


def feature_line(registry: Any) -> str:
    feats = sorted(registry.all(Feature), key=lambda f: f.name)
    return " ".join(("+" if f.enabled else "-") + f.name for f in feats)


def display_build(out: TextIO, plugins: Any) -> None:
    reg = plugins.registry
    impl = platform.python_implementation()
    print("Build options :", file=out)
    print(f"  HAProxy compatibility : {HAPROXY_COMPAT} (configurations see version "
          f"{HAPROXY_VERSION})", file=out)
    print(f"  Python : {platform.python_version()} ({impl}, {sys.executable})", file=out)
    print("", file=out)
    print("Library versions :", file=out)
    for lib in LIBRARIES:
        print(f"  {lib} : {library_version(lib)}", file=out)
    print("", file=out)
    print(f"Feature list : {feature_line(reg)}", file=out)
    print("", file=out)
    services = reg.names(Service)
    print(f"Available services : {' '.join(services) if services else 'none'}", file=out)
    print("", file=out)
    filters = reg.names(Filter)
    print(f"Available filters : {' '.join(filters) if filters else 'none'}", file=out)
    print("", file=out)
    print("Loaded plugins :", file=out)
    for info in sorted(plugins.infos.values(), key=lambda i: (i.group != "(kernel)", i.name)):
        dist = f"{info.distribution} {info.version}".strip() or info.module
        status = "" if info.status == "loaded" else f" [{info.status}]"
        print(f"  {info.name} ({dist}){status}: {counts_text(info.records)}", file=out)
        if info.error:
            print(f"    error: {info.error}", file=out)
        by_kind: dict[str, list[str]] = {}
        for rec in info.records:
            by_kind.setdefault(rec.kind, []).append(rec.name)
        for kind, names in sorted(by_kind.items()):
            uniq = sorted(set(names))
            print(f"    {plural(kind, len(uniq))}: {' '.join(uniq)}", file=out)
    print("", file=out)
