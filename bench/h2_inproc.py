"""In-process micro-benchmark of the HTTP/2 (h2c) per-request path, without sockets.

    python bench/h2_inproc.py [--scenario h2c-100] [--requests 20000] [--batch 100]
                              [--codec lean|h2] [--repeat 5] [--profile]

Builds the scenario's configuration, one HTTP/2 client connection of the frontend (prior
knowledge, a ``proto h2`` bind) and ``--batch`` pooled HTTP/1 server connections on
in-memory transports.  Then per batch: ``--batch`` HEADERS frames (as h2load sends them,
HPACK-indexed after the first) go in with one ``data_received``, each server connection's
request is checked and a fixed nginx-like 100-byte response fed back, and the frames
written to the client are counted (each stream must get its HEADERS and DATA).  Prints the
Python µs per request (best of ``--repeat``): hapx's own code, the syscalls left out.
``--profile`` prints a cProfile of one repetition.  ``bench/icount.py --driver h2`` counts
its instructions with callgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hpack

sys.path.insert(0, str(Path(__file__).resolve().parent))

from h1_inproc import RESPONSE, Transport  # noqa: E402
from hapx.core.config.parser import parse_config  # noqa: E402
from hapx.core.errors import Diagnostics  # noqa: E402
from hapx.core.loader import load_plugins  # noqa: E402
from hapx.core.runtime.engine import Engine  # noqa: E402
from hapx.core.runtime.http1 import frontend_factory  # noqa: E402
from hapx.core.runtime.http_server import ServerConnection, pool_of  # noqa: E402
from hapx.core.runtime.process import settle_heap  # noqa: E402
from scenarios import SCENARIOS, render  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
REQ_HEADERS = [(":method", "GET"), (":path", "/100"), (":scheme", "http"),
               (":authority", "127.0.0.1:18080"), ("user-agent", "h2load nghttp2/1.52.0")]


def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    n = len(payload)
    return struct.pack(">BHBBL", n >> 16, n & 0xFFFF, ftype, flags, sid) + payload


def frames_of(data: bytes) -> list[tuple[int, int, int, bytes]]:
    out = []
    i = 0
    while i + 9 <= len(data):
        hi, lo, ftype, flags, sid = struct.unpack_from(">BHBBL", data, i)
        n = (hi << 16) | lo
        out.append((ftype, flags, sid & 0x7FFFFFFF, data[i + 9:i + 9 + n]))
        i += 9 + n
    return out


class Listener:
    def __init__(self, bind: Any) -> None:
        self.bind = bind


async def run(args: argparse.Namespace) -> None:
    scn = SCENARIOS[args.scenario]
    work = Path(tempfile.mkdtemp(prefix="hapx-inproc-"))
    cfg = work / "hapx.cfg"
    cfg.write_text(render(scn, "hapx", fe=18080, be=18081, log=9,
                          global_lines=f"    h2-codec {args.codec}"))
    diag = Diagnostics(stream=io.StringIO())
    config = parse_config([str(cfg)], load_plugins(warn=lambda _t: None), diag)
    engine = Engine(config)
    frontend = next(px for px in config.proxies if px.binds)
    factory = frontend_factory(engine, frontend)
    client = factory()
    client.listener = Listener(frontend.binds[0])
    ctr = Transport(("127.0.0.1", 40000), ("127.0.0.1", 18080))
    client.connection_made(ctr)
    if client.mux is None:
        raise SystemExit("the client connection did not choose HTTP/2")
    backend = next(px for px in config.proxies if px.servers)
    srv = backend.servers[0]
    pool = pool_of(srv)
    sconns = []
    for i in range(args.batch):
        sconn = ServerConnection(srv, client.ctx.codec, client.ctx.limits)
        tr = Transport(("127.0.0.1", 18081), ("127.0.0.1", 41000 + i))
        sconn.connection_made(tr)
        pool.put(sconn)
        sconns.append((sconn, tr))
    client.mux.nreq = 1  # (not the connection's first request: pooled connections serve it)
    enc = hpack.Encoder()
    client.data_received(PREFACE + frame(4, 0, 0, struct.pack(">HL", 4, 2**30 - 1))
                         + frame(8, 0, 0, struct.pack(">L", 2**30)))
    first_block = enc.encode(REQ_HEADERS)
    block = enc.encode(REQ_HEADERS)  # all indexed from now on
    state = {"sid": 1, "first": True}
    await asyncio.sleep(0)
    client.data_received(frame(4, 1, 0, b""))  # SETTINGS ACK
    await asyncio.sleep(0)
    ctr.out.clear()

    async def one_batch() -> None:
        parts = []
        sid = state["sid"]
        for _ in range(args.batch):
            b = first_block if state["first"] else block
            state["first"] = False
            parts.append(frame(1, 5, sid, b))  # END_HEADERS | END_STREAM
            sid += 2
        state["sid"] = sid
        client.data_received(b"".join(parts))
        await asyncio.sleep(0)
        for sconn, tr in sconns:
            if tr.out:
                tr.out.clear()
                sconn.data_received(RESPONSE)
        await asyncio.sleep(0)
        out = b"".join(ctr.out)
        ctr.out.clear()
        ends = sum(1 for ftype, flags, _s, _p in frames_of(out) if ftype == 0 and flags & 1)
        if ends != args.batch:
            raise RuntimeError(f"{ends} responses for {args.batch} requests: {out[:300]!r}")

    batches = max(1, args.requests // args.batch)
    settle_heap()  # as a serving process does (core/cli/runner.py)
    for _ in range(3):
        await one_batch()
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for _ in range(batches):
            await one_batch()
        best = min(best, (time.perf_counter() - t0) * 1e6 / (batches * args.batch))
    print(f"{args.scenario}: {best:.2f} µs/req (best of {args.repeat} x "
          f"{batches * args.batch})")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(batches):
            await one_batch()
        prof.disable()
        pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="h2c-100")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--codec", default="lean", help="h2-codec: lean or h2")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--top", type=int, default=45)
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
