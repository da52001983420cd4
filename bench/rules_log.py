"""Micro-benchmark of the `http-rules-log` scenario's per-request extras: its 10
``http-request`` rules and its httplog line (render, syslog framing, UDP send).

    python bench/rules_log.py [--rounds N] [--per-rule]

The configuration is the scenario's own (bench/scenarios.py), parsed in-process; the log
line goes to a local UDP socket.  Prints nanoseconds per call (best of rounds).  Figures
to compare between versions, never assertions.
"""

from __future__ import annotations

import argparse
import io
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hapx.core.config.parser import parse_config  # noqa: E402
from hapx.core.errors import Diagnostics  # noqa: E402
from hapx.core.loader import load_plugins  # noqa: E402
from hapx.core.rules import run_rules  # noqa: E402
from hapx.core.stream import HttpMessage, ProcState, Session, Stream  # noqa: E402
from scenarios import SCENARIOS, render  # noqa: E402


def make_stream(config, fe_port: int) -> Stream:
    fe, be = config.frontend("fe"), config.backend("be")
    sess = Session(src=ip_address("127.0.0.1"), src_port=40000, dst=ip_address("127.0.0.1"),
                   dst_port=fe_port, frontend=fe)
    req = HttpMessage(method="GET", uri="/100", version="1.1",
                      headers=[("Host", f"127.0.0.1:{fe_port}"),
                               ("User-Agent", "wrk/4.2.0"), ("Accept", "*/*")])
    strm = Stream(sess=sess, frontend=fe, backend=be, req=req, proc=ProcState())
    strm.timers.update({"TR": 1, "Tw": 0, "Tc": 1, "Tr": 2, "Ta": 4})
    strm.status = 200
    return strm


def per_call(fn: Callable[[], object], rounds: int, n: int = 20000) -> float:
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        results.append((time.perf_counter() - t0) / n)
    return min(results)


def per_stream(fn: Callable[[Stream], object], make: Callable[[], Stream], rounds: int,
               n: int = 10000) -> float:
    """Like :func:`per_call`, on a fresh stream each call (built before the clock starts)."""
    results = []
    for _ in range(rounds):
        streams = [make() for _ in range(n)]
        t0 = time.perf_counter()
        for strm in streams:
            fn(strm)
        results.append((time.perf_counter() - t0) / n)
    return min(results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-rule", action="store_true", help="also time each rule alone")
    opts = ap.parse_args()

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    log_port = sink.getsockname()[1]
    fe_port = 8080
    text = render(SCENARIOS["http-rules-log"], "hapx", fe=fe_port, be=9000, log=log_port)
    plugins = load_plugins(warn=lambda text: None)
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as fh:
        fh.write(text)
        fh.flush()
        config = parse_config([fh.name], plugins, Diagnostics(stream=io.StringIO()))
    if config.diag.failed:
        raise SystemExit("the scenario's configuration does not compile")
    from hapx.plugins.logs.emit import install

    install(config)
    fe = config.frontend("fe")
    logger = fe.stream_end[-1]
    rules = fe.rules["http-request"]

    def fresh() -> Stream:
        return make_stream(config, fe_port)

    def drain() -> None:
        try:
            while True:
                sink.recv(65536)
        except BlockingIOError:
            pass

    strm = fresh()
    run_rules(rules, strm)
    sec = per_stream(lambda s: run_rules(rules, s), fresh, opts.rounds)
    print(f"{'10 http-request rules':40s} {sec * 1e9:10.0f} ns")
    if opts.per_rule:
        for rule in rules:
            single = [rule]
            sec = per_stream(lambda s, single=single: run_rules(single, s), fresh, opts.rounds)
            print(f"{'  ' + rule.keyword + f' (line {rule.line})':40s} {sec * 1e9:10.0f} ns")
    for name, fn in (("httplog render", lambda: logger.lf.render(strm)),
                     ("httplog line (render+frame+send)", lambda: logger.emit(strm))):
        sec = per_call(fn, opts.rounds)
        drain()
        print(f"{name:40s} {sec * 1e9:10.0f} ns")
    drain()
    sys.stdout.flush()
    print("sample line:", logger.lf.render(strm))


if __name__ == "__main__":
    main()
