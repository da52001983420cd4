"""Kernel benchmark: how long a configuration takes to compile, and how fast the compiled
samples, conditions and log-format strings run per call.

    python bench/kernel.py [--rounds N]

Prints one line per case: calls per second and nanoseconds per call (median of rounds).
These are figures to compare between versions, never assertions in tests.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from ipaddress import ip_address

from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins
from hapx.core.stream import HttpMessage, ProcState, Session, Stream

CONFIG = """
defaults web
    mode http
    option httplog
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe from web
    bind :8080
    acl api path_beg /api/ /v2/
    acl static path_end -i .css .js .png
    http-request set-header X-Client-IP %[src]
    http-request set-var(txn.bucket) src,ipmask(24),crc32,mod(4)
    http-request set-header X-Host %[req.hdr(host),lower,field(1,:)]
    http-request deny if { req.hdr_cnt(host) gt 1 }
    use_backend be if api || static
    default_backend be
backend be from web
    server s1 127.0.0.1:9000
"""


def make_stream(config) -> Stream:
    sess = Session(src=ip_address("192.0.2.10"), src_port=40000, dst=ip_address("127.0.0.1"),
                   dst_port=8080, frontend=config.frontend("fe"))
    req = HttpMessage(method="GET", uri="/api/items?id=3", version="1.1",
                      headers=[("Host", "Example.com:8080"), ("User-Agent", "bench"),
                               ("Accept", "*/*")])
    return Stream(sess=sess, frontend=config.frontend("fe"), backend=config.backend("be"),
                  req=req, proc=ProcState())


def per_call(fn: Callable[[], object], rounds: int, n: int = 20000) -> float:
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        results.append((time.perf_counter() - t0) / n)
    return statistics.median(results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    opts = ap.parse_args()

    plugins = load_plugins(warn=lambda text: None)
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as fh:
        fh.write(CONFIG)
        fh.flush()
        t0 = time.perf_counter()
        for _ in range(opts.rounds):
            config = parse_config([fh.name], plugins, Diagnostics(stream=io.StringIO()))
        compile_s = (time.perf_counter() - t0) / opts.rounds
    if config.diag.failed:
        raise SystemExit("the benchmark configuration does not compile")
    print(f"{'compile configuration':40s} {compile_s * 1e3:10.2f} ms")

    fe = config.frontend("fe")
    strm = make_stream(config)
    from hapx.core.rules import run_rules

    rules = fe.rules["http-request"]
    cases: list[tuple[str, Callable[[], object]]] = [
        ("4 http-request rules", lambda: run_rules(rules, strm)),
        ("acl condition of use_backend", lambda: fe.settings["switching"](strm)),
    ]
    lf = fe.settings.get("log-format")
    if lf is not None:
        strm.timers.update({"TR": 1, "Tw": 0, "Tc": 1, "Tr": 2, "Ta": 4})
        cases.append(("httplog line", lambda: lf.render(strm)))
    for name, fn in cases:
        sec = per_call(fn, opts.rounds)
        print(f"{name:40s} {1 / sec:10.0f} /s {sec * 1e9:10.0f} ns")


if __name__ == "__main__":
    main()
