"""Shared helpers of the HTTP/1 data-path tests (no tests here).

``proxy(cfg)`` runs hapx as a real process through netutil's ``run_hapx``.  Until the
engine (core/runtime/engine.py) opens listeners itself, this module is also a tiny runner:
``python tests/test_http1_support.py cfg`` parses the configuration with the real plugins
and serves every ``mode http`` frontend with ``core.runtime.http1.frontend_factory``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Iterator
from pathlib import Path

ENGINE = (Path(__file__).resolve().parent.parent / "core" / "runtime" / "engine.py").exists()
CODECS = ("httptools", "h11")


def cfg_with_codec(cfg: str, codec: str) -> str:
    if cfg.lstrip().startswith("global"):
        head, _, rest = cfg.partition("\n")
        return f"{head}\n    h1-codec {codec}\n{rest}"
    return f"global\n    h1-codec {codec}\n\n{cfg}"


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"proxy exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise AssertionError(f"port {port} never listened")


@contextlib.contextmanager
def proxy(cfg: str, port: int, files: dict[str, str | bytes] | None = None) -> Iterator[str]:
    """Run the proxy on ``cfg``; yields the work directory."""
    if ENGINE:
        from netutil import run_hapx

        with run_hapx(cfg, ready_ports=[port], files=files) as px:
            yield str(getattr(px, "workdir", "."))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in (files or {}).items():
            data = content.encode() if isinstance(content, str) else content
            Path(tmp, name).write_bytes(data)
        path = Path(tmp, "hapx.cfg")
        path.write_text(cfg)
        proc = subprocess.Popen([sys.executable, __file__, str(path)], cwd=tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait_port(port, proc)
            yield tmp
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate()
            assert b"Traceback" not in err, err.decode()


def _serve(cfg_path: str) -> None:
    from hapx.core.config.parser import parse_config
    from hapx.core.errors import Diagnostics
    from hapx.core.loader import load_plugins
    from hapx.core.runtime.http1 import frontend_factory
    from hapx.core.stream import ProcState

    plugins = load_plugins()
    diag = Diagnostics()
    config = parse_config([cfg_path], plugins, diag)
    if diag.failed:
        print(diag, file=sys.stderr)
        sys.exit(1)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    engine = types.SimpleNamespace(config=config, proc=ProcState())

    async def main() -> None:
        servers = []
        for fe in config.proxies:
            if not fe.is_frontend or fe.mode != "http":
                continue
            for bind in fe.binds:
                addr = bind.address
                host = str(addr.ip) if addr.ip is not None else "127.0.0.1"
                servers.append(await asyncio.get_running_loop().create_server(
                    frontend_factory(engine, fe), host, addr.port))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        for s in servers:
            s.close()

    asyncio.run(main())
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1])
