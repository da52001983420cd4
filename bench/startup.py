"""Start-up and check time on a large configuration.

    python bench/startup.py [--backends N] [--servers-per-backend N] [--rounds N] [--keep DIR]
                            [--haproxy]

Writes a configuration with N backends (5,000 by default) of M servers each (4: 20,000
servers), a defaults section they inherit, and one frontend with N ``use_backend`` rules
(one per backend, each with an anonymous ACL on the Host header), then times
``hapx -c -f <cfg>`` (the whole process: interpreter start, plugin discovery, parsing,
checks).  Prints the wall and CPU time of each round and the median; ``--haproxy`` also
times Debian's ``haproxy -c`` on the same file for reference.

These are figures to compare between versions, never assertions in tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def make_config(backends: int, per_backend: int) -> str:
    out = ["global",
           "    maxconn 100000",
           "",
           "defaults",
           "    mode http",
           "    option httplog",
           "    option forwardfor",
           "    timeout client 30s",
           "    timeout server 30s",
           "    timeout connect 5s",
           "",
           "frontend fe",
           "    bind 127.0.0.1:18080",
           "    http-request set-header X-Forwarded-Proto http",
           "    acl is_api path_beg /api/"]
    for b in range(backends):
        out.append(f"    use_backend be_{b} if {{ req.hdr(host) -i h{b}.example.com }}")
    out.append("    default_backend be_0")
    out.append("")
    for b in range(backends):
        out.append(f"backend be_{b}")
        out.append("    balance roundrobin")
        for s in range(per_backend):
            n = b * per_backend + s
            out.append(f"    server s{s} 10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}:8080 "
                       "weight 10")
        out.append("")
    return "\n".join(out)


def timed(argv: list[str]) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system of the child) and exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", type=int, default=5000)
    ap.add_argument("--servers-per-backend", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", help="write the configuration in this directory and keep it")
    ap.add_argument("--haproxy", action="store_true", help="also time haproxy -c")
    args = ap.parse_args()
    workdir = args.keep or tempfile.mkdtemp(prefix="hapx-startup-")
    os.makedirs(workdir, exist_ok=True)
    cfg = os.path.join(workdir, "big.cfg")
    with open(cfg, "w") as fh:
        fh.write(make_config(args.backends, args.servers_per_backend))
    print(f"{args.backends} backends, {args.backends * args.servers_per_backend} servers, "
          f"{args.backends} use_backend rules: {cfg} ({os.path.getsize(cfg) // 1024} KiB)")
    hapx = os.path.join(os.path.dirname(sys.executable), "hapx")
    commands = [("hapx -c", [hapx, "-c", "-f", cfg])]
    if args.haproxy and shutil.which("haproxy"):
        commands.append(("haproxy -c", ["haproxy", "-q", "-c", "-f", cfg]))
    try:
        for label, argv in commands:
            walls, cpus = [], []
            for r in range(args.rounds):
                wall, cpu, rc = timed(argv)
                status = "" if rc == 0 else f"  (exit status {rc})"
                print(f"{label} round {r + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU{status}",
                      flush=True)
                walls.append(wall)
                cpus.append(cpu)
            print(f"{label}: median {statistics.median(walls):.2f} s wall, "
                  f"{statistics.median(cpus):.2f} s CPU")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
