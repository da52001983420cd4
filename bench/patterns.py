"""Pattern matching at scale: load time and lookups per second of large maps.

    python bench/patterns.py [--entries N] [--lookups N] [--methods str,beg,...] [--check]

For each match method, a map file of N entries (1,000,000 by default) is written to a
temporary directory, then:

- "load": reading the file into a pattern list (PatternStore.load) plus indexing it for the
  method (what a map converter does at start-up), in seconds (wall clock; "load CPU" is
  the process's CPU time, less sensitive to other jobs on the machine);
- "lookups/s": map lookups of samples that hit and that miss, alternately;
- "key index s": the first runtime deletion, which builds the list's index by key (the
  ``str`` matcher shares it, so it is already built);
- "add+del/s": runtime additions then deletions of entries (incremental index updates);
- with ``--check``, ``hapx -c`` on a configuration using the map (the whole start-up).

These are figures to compare between versions, never assertions in tests.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from hapx.core.records import SmpType
from hapx.core.sample.match import RefMatcher
from hapx.core.sample.patterns import PatternStore
from hapx.core.sample.types import Sample, smp_int, smp_str

Gen = Callable[[int], str]


def _host(i: int) -> str:
    return f"host{i}.shop{i % 977}.example.com"


def _path(i: int) -> str:
    return f"/api/v{i % 7}/item{i}/"


def _ipv4(i: int) -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + i * 8)) + ("/29" if i % 2 else "")


#: method -> (key of entry i, sample that hits entry i, sample that misses)
CASES: dict[str, tuple[Gen, Callable[[int], Sample], Callable[[int], Sample]]] = {
    "str": (_host, lambda i: smp_str(_host(i)), lambda i: smp_str(f"nohost{i}.example.net")),
    "beg": (_path, lambda i: smp_str(_path(i) + "details?x=1"),
            lambda i: smp_str(f"/static/{i}/a.png")),
    "end": (lambda i: f".{_host(i)}", lambda i: smp_str(f"www.{_host(i)}"),
            lambda i: smp_str(f"www.nohost{i}.example.net")),
    "dom": (_host, lambda i: smp_str(f"www.{_host(i)}:8080"),
            lambda i: smp_str(f"www.nohost{i}.example.net:8080")),
    "dir": (lambda i: f"item{i}", lambda i: smp_str(f"/api/v1/item{i}/photo.png"),
            lambda i: smp_str(f"/api/v1/other{i}/photo.png")),
    "ip": (_ipv4, lambda i: Sample(SmpType.IPV4, ipaddress.IPv4Address(0x0A000000 + i * 8 + 1
                                                                      if i % 2 else
                                                                      0x0A000000 + i * 8)),
           lambda i: Sample(SmpType.IPV4, ipaddress.IPv4Address(0xC0A80000 + i % 65536))),
    "int": (lambda i: str(i * 3), lambda i: smp_int(i * 3), lambda i: smp_int(i * 3 + 1)),
}


def write_map(path: str, gen: Gen, n: int) -> None:
    with open(path, "w") as fh:
        chunk: list[str] = []
        for i in range(n):
            chunk.append(f"{gen(i)} be_{i % 5000}\n")
            if len(chunk) == 10000:
                fh.write("".join(chunk))
                chunk = []
        fh.write("".join(chunk))


def bench_method(method: str, path: str, n: int, lookups: int) -> dict[str, float]:
    gen, hit, miss = CASES[method]
    c0 = time.process_time()
    t0 = time.perf_counter()
    store = PatternStore()
    ref = store.load(path, kind="map")
    t1 = time.perf_counter()
    matcher = RefMatcher(ref, method)
    t2 = time.perf_counter()
    c2 = time.process_time()
    rnd = random.Random(1)
    idx = [rnd.randrange(n) for _ in range(lookups)]
    samples = [hit(i) if k % 2 == 0 else miss(i) for k, i in enumerate(idx)]
    find = matcher.find
    found = 0
    t3 = time.perf_counter()
    for smp in samples:
        if find(smp) is not None:
            found += 1
    t4 = time.perf_counter()
    if found != (lookups + 1) // 2:
        raise SystemExit(f"{method}: {found} hits for {(lookups + 1) // 2} expected")
    upd = min(10000, n)
    keys = [f"{gen(n + i)}" for i in range(upd)]
    t5 = time.perf_counter()
    ref.delete(keys[0])  # the list's key index is built on its first use (str: at load)
    t6 = time.perf_counter()
    for k in keys:
        ref.add(k, "new")
    for k in keys:
        ref.delete(k)
    t7 = time.perf_counter()
    return {"read": t1 - t0, "index": t2 - t1, "load": t2 - t0, "load_cpu": c2 - c0,
            "lookups_s": lookups / (t4 - t3), "key_index": t6 - t5,
            "updates_s": 2 * upd / (t7 - t6)}


def check_time(path: str) -> tuple[float, float]:
    """``hapx -c`` on a configuration looking the Host header up in the map: wall time and
    CPU time (user + system) of the process."""
    cfg = os.path.join(os.path.dirname(path), "map.cfg")
    with open(cfg, "w") as fh:
        fh.write("defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n"
                 "    timeout connect 1s\n"
                 "frontend fe\n    bind 127.0.0.1:18080\n"
                 f"    use_backend %[req.hdr(host),lower,map_str({path},be_0)]\n"
                 "backend be_0\n    server s1 127.0.0.1:8080\n")
    hapx = os.path.join(os.path.dirname(sys.executable), "hapx")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([hapx, "-c", "-f", cfg], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--lookups", type=int, default=200_000)
    ap.add_argument("--methods", default=",".join(CASES))
    ap.add_argument("--check", action="store_true", help="also time hapx -c with the map")
    args = ap.parse_args()
    print(f"{args.entries} entries per map, {args.lookups} lookups (half hits, half misses)")
    print(f"{'method':<6} {'read s':>7} {'index s':>8} {'load s':>7} {'lookups/s':>11} "
          f"{'load CPU s':>10} {'key index s':>12} {'add+del/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            path = os.path.join(tmp, f"{method}.map")
            write_map(path, CASES[method][0], args.entries)
            r = bench_method(method, path, args.entries, args.lookups)
            print(f"{method:<6} {r['read']:7.2f} {r['index']:8.2f} {r['load']:7.2f} "
                  f"{r['lookups_s']:11,.0f} {r['load_cpu']:10.2f} {r['key_index']:12.2f} "
                  f"{r['updates_s']:10,.0f}",
                  flush=True)
            if args.check and method == "str":
                wall, cpu = check_time(path)
                print(f"hapx -c with the {args.entries}-entry map_str: {wall:.2f} s "
                      f"({cpu:.2f} s CPU)", flush=True)


if __name__ == "__main__":
    main()
