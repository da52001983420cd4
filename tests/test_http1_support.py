"""Shared helpers of the HTTP/1 data-path tests (no tests here).

``proxy(cfg)`` runs hapx as a real process through netutil's ``run_hapx``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

CODECS = ("httptools", "h11")


def cfg_with_codec(cfg: str, codec: str) -> str:
    if cfg.lstrip().startswith("global"):
        head, _, rest = cfg.partition("\n")
        return f"{head}\n    h1-codec {codec}\n{rest}"
    return f"global\n    h1-codec {codec}\n\n{cfg}"


@contextlib.contextmanager
def proxy(cfg: str, port: int, files: dict[str, str | bytes] | None = None) -> Iterator[str]:
    """Run hapx on ``cfg``; yields the work directory."""
    from netutil import run_hapx

    with run_hapx(cfg, ready_ports=[port], files=files) as px:
        yield str(getattr(px, "workdir", "."))
