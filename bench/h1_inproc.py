"""In-process micro-benchmark of the HTTP/1 per-request path, without sockets.

    python bench/h1_inproc.py [--scenario http-ka-100] [--requests 20000] [--repeat 5]
                              [--profile]

Builds the scenario's configuration, one client connection of the frontend and one
pooled server connection on in-memory transports, then per request: the client's
request goes in with ``data_received``, the bytes written to the server are checked and a
fixed nginx-like 100-byte response is fed back.  Prints the Python µs per request (best
of ``--repeat``): the cost of hapx's own code, the kernel's share (the syscalls) left
out.  ``--profile`` prints a cProfile of one repetition.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hapx.core.config.parser import parse_config  # noqa: E402
from hapx.core.errors import Diagnostics  # noqa: E402
from hapx.core.loader import load_plugins  # noqa: E402
from hapx.core.runtime.engine import Engine  # noqa: E402
from hapx.core.runtime.http1 import frontend_factory  # noqa: E402
from hapx.core.runtime.http_server import ServerConnection, pool_of  # noqa: E402
from hapx.core.runtime.process import settle_heap  # noqa: E402
from scenarios import SCENARIOS, render  # noqa: E402

REQUEST = b"GET /100 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 25 Nov 2026 21:00:00 GMT"
            b"\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n"
            b"Last-Modified: Wed, 25 Nov 2026 20:00:00 GMT\r\nConnection: keep-alive\r\n"
            b'ETag: "6925f0a0-64"\r\nAccept-Ranges: bytes\r\n\r\n' + b"x" * 99 + b"\n")


class Transport:
    """An in-memory transport: what is written is kept in ``out``."""

    def __init__(self, peer: tuple[str, int], local: tuple[str, int]) -> None:
        self.out: list[bytes] = []
        self.extra = {"peername": peer, "sockname": local, "socket": None}
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


async def run(args: argparse.Namespace) -> None:
    scn = SCENARIOS[args.scenario]
    work = Path(tempfile.mkdtemp(prefix="hapx-inproc-"))
    cfg = work / "hapx.cfg"
    cfg.write_text(render(scn, "hapx", fe=18080, be=18081, log=9))
    diag = Diagnostics(stream=io.StringIO())
    config = parse_config([str(cfg)], load_plugins(warn=lambda _t: None), diag)
    engine = Engine(config)
    frontend = next(px for px in config.proxies if px.binds)
    factory = frontend_factory(engine, frontend)
    client = factory()
    ctr = Transport(("127.0.0.1", 40000), ("127.0.0.1", 18080))
    client.connection_made(ctr)
    backend = next(px for px in config.proxies if px.servers)
    srv = backend.servers[0]
    sconn = ServerConnection(srv, client.ctx.codec, client.ctx.limits)
    str_ = Transport(("127.0.0.1", 18081), ("127.0.0.1", 40001))
    sconn.connection_made(str_)
    pool_of(srv).put(sconn)
    # the first request is never shared (http-reuse safe): one warm-up request opens
    # nothing, the pool serves the next ones
    client.sess.uniq_id = 0

    def one() -> None:
        client.data_received(REQUEST)
        if not str_.out:
            raise RuntimeError(f"nothing sent to the server: {ctr.out[-1:]!r}")
        str_.out.clear()
        sconn.data_received(RESPONSE)
        ctr.out.clear()

    # first request of a connection: "safe" reuse needs a private connection, give it
    # one by hand then keep it going
    client.nreq = 1
    settle_heap()  # as a serving process does (core/cli/runner.py)
    for _ in range(100):
        one()
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for _ in range(args.requests):
            one()
        best = min(best, (time.perf_counter() - t0) * 1e6 / args.requests)
    print(f"{args.scenario}: {best:.2f} µs/req (best of {args.repeat} x {args.requests})")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.requests):
            one()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(int(__import__("os").environ.get("NSTATS", "35")))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="http-ka-100")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
