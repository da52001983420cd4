"""Micro-benchmark of hapx's HTTP/1 per-request path, hapx alone, uncapped.

    python bench/h1_path.py [--scenario http-ka-100] [--duration 5] [--runs 3] [--profile N]

Starts the nginx backend of bench/run.py and one hapx process (the scenario's
configuration), then per run: a 1 s warm-up and ``wrk -t1 -c50 -d<duration>s``; prints the
hapx CPU µs per request of each run (utime+stime from /proc/<pid>/stat) and their median.
``--profile N``: afterwards, ``py-spy record`` for N seconds under load and the top
functions by own and by inclusive samples.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import cpu_layout, free_ports, start  # noqa: E402
from run import UdpSink, run_wrk, start_nginx  # noqa: E402
from scenarios import SCENARIOS, render  # noqa: E402

_LINE = re.compile(r":\d+\)$")


def profile(pid: int, seconds: int, url: str, load_cpus: set[int], top: int,
            lines: bool) -> None:
    out = Path(tempfile.mkdtemp(prefix="hapx-prof-")) / "stacks.txt"
    load = threading.Thread(target=run_wrk, args=(url,), kwargs=dict(
        duration=seconds + 2, connections=50, threads=1, cpus=load_cpus, extra=()))
    load.start()
    subprocess.run(["py-spy", "record", "-r", "1000", "--nonblocking", "-d", str(seconds),
                    "--format", "raw", "-o", str(out), "-p", str(pid)],
                   capture_output=True, check=False)
    load.join()
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f if lines else _LINE.sub(")", f) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    print(f"\n{total} samples; own time:")
    for f, n in own.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("inclusive:")
    for f, n in incl.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {f}")


def _stime(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[12]) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="http-ka-100")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", type=int, default=0)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--lines", action="store_true", help="profile per line, not function")
    args = ap.parse_args()
    scn = SCENARIOS[args.scenario]
    proxy_cpus, load_cpus = cpu_layout()
    work = Path(tempfile.mkdtemp(prefix="hapx-h1-"))
    nginx, be = start_nginx(work, load_cpus)
    sink = UdpSink() if scn.log_sink else None
    fe = free_ports(1)[0]
    cfg = work / "hapx.cfg"
    cfg.write_text(render(scn, "hapx", fe=fe, be=be, log=sink.port if sink else 9))
    proc = start("hapx", [sys.executable, "-m", "hapx.core.cli.main", "-db", "-f", str(cfg)],
                 cpus=proxy_cpus, workdir=work)
    try:
        why = proc.wait_listening([fe], 30)
        if why:
            print(why)
            return 1
        url = f"http://127.0.0.1:{fe}{scn.path}"
        figures = []
        for _ in range(args.runs):
            run_wrk(url, duration=1, connections=50, threads=1, cpus=load_cpus, extra=())
            s0 = _stime(proc.pid)
            c0 = proc.cpu_seconds()
            res = run_wrk(url, duration=args.duration, connections=50, threads=1,
                          cpus=load_cpus, extra=())
            c1 = proc.cpu_seconds()
            sys_us = (_stime(proc.pid) - s0) * 1e6 / max(1, res.requests)
            us = (c1 - c0) * 1e6 / max(1, res.requests)
            figures.append(us)
            print(f"{res.rps:8.0f} req/s  {us:6.1f} µs/req (system {sys_us:5.1f})  errors {res.errors} "
                  f"non2xx {res.non2xx}")
        print(f"median {statistics.median(figures):.1f} µs/req")
        if args.profile:
            profile(proc.pid, args.profile, url, load_cpus, args.top, args.lines)
    finally:
        proc.stop()
        nginx.stop()
        if sink:
            sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
