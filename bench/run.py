"""Benchmark hapx against Debian's haproxy with the same configuration.

    python bench/run.py [--rounds 3] [--duration 5] [--connections 50] [--quota 50]
                        [--scenarios http-ka-100,...] [--proxies haproxy,hapx] [--json F]
                        [--rate N | --rate-fraction 0.5 --calibrate 3] [--weight W]
                        [--hapx-global 'h2-codec h2']

An nginx backend (Debian's nginx-light, its own temporary configuration on a 127.0.0.1
port, serving 100 B and 16 KiB files) and wrk run on the second CPU; the proxy under test
runs pinned to the first CPU, capped at ``--quota`` % of it when a cgroup CPU quota can be
set (``--quota 0``: uncapped).  For each scenario the two proxies alternate over
``--rounds`` rounds (a fresh process each time, a short warm-up, then the measured wrk
run).  Printed per run: requests per second, p50/p99 latency (wrk --latency), CPU µs per
request (utime+stime delta of the proxy from /proc/<pid>/stat over the run, divided by the
requests wrk completed); per scenario: medians and the median of the per-round ratios
hapx/haproxy.  When a proxy cannot start (hapx while its data path is missing), the reason
is printed and the other proxy's figures are still given.

A scenario with variants (``nbthread``) runs its own configurations instead of
``--proxies``, each under its own CPU quota of the whole process tree (a supervisor and its
workers), all pinned to the proxy's CPUs; its ratio is last variant / first variant
(``nbthread``: nbthread 2 at 100% of a core in total / nbthread 1 at 50%; CPU time is that
of the whole tree).

The fixed-rate scenario (``http-p99``) compares latency at the same offered load: both
proxies run uncapped and receive the same request rate on ``--connections`` connections
(wrk with bench/fixed_rate.lua: wrk 4.1 has no rate option).  The rate is ``--rate``, or
``--rate-fraction`` (default 0.5) of the lower of the proxies' requests per second measured
first at full speed, uncapped, for ``--calibrate`` seconds each.  Printed: p50/p99/p99.9
per proxy, the achieved rate, and the per-round p99 ratio hapx/haproxy with its median.

Every run checks that each process of the proxy's tree (a supervisor and its workers) is
pinned to the proxy's CPUs and in the quota's cgroup (the run fails otherwise), and gives
the share of the run's time its threads waited for a CPU (the run-queue delay in
/proc/<pid>/task/<tid>/schedstat): on a machine shared with other jobs this says how much
they took from the proxy.  ``--weight W`` gives the proxy's cgroups and the load side's
the CPU weight of W processes, so that on such a machine the quotas bind rather than the
other jobs.

The h2 scenarios (h2c-100, h2-tls-100) load with h2load instead (nghttp2-client):
``h2_connections`` connections of ``streams`` concurrent streams; their p50/p99 columns
hold h2load's mean and max request time (it prints no percentiles).

Needs: nginx (nginx-light), wrk, haproxy, h2load, openssl.  Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import (  # noqa: E402
    CpuQuota,
    Proc,
    cpu_layout,
    cpu_model,
    free_ports,
    start,
    tree_outside,
)
from scenarios import SCENARIOS, Scenario, Variant, render  # noqa: E402

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {dir}/www;
        location / {{ }}
    }}
}}
"""


HAPX_DEFAULT = f"{shlex.quote(sys.executable)} -m hapx.core.cli.main"


# --------------------------------------------------------------------------- wrk

@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non2xx: int
    mib_per_s: float = 0.0
    p999_ms: float = 0.0


FIXED_RATE_LUA = Path(__file__).resolve().parent / "fixed_rate.lua"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> WrkResult:
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not m:
        raise ValueError(f"wrk output not understood:\n{out}")
    requests = int(m.group(1))
    seconds = _ms(m.group(2) + m.group(3)) / 1000
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = 0
    em = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if em:
        errors = sum(int(x) for x in em.groups())
    nm = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    tm = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", out)
    mib = float(tm.group(1)) * {"B": 2**-20, "KB": 2**-10, "MB": 1, "GB": 2**10,
                                "TB": 2**20}[tm.group(2)] if tm else 0.0
    return WrkResult(requests, seconds, rps, _ms(lat["50"]), _ms(lat["99"]), errors,
                     int(nm.group(1)) if nm else 0, mib)


def parse_fixed_rate(out: str) -> dict[str, float]:
    """The ``fixed-rate:`` line bench/fixed_rate.lua's done() prints: requests,
    duration_us and the latency percentiles in µs (p50_us, p90_us, p99_us, p999_us,
    max_us)."""
    m = re.search(r"^fixed-rate: (.*)$", out, re.M)
    if not m:
        raise ValueError(f"no fixed-rate line in wrk's output:\n{out}")
    words = m.group(1).split()
    if len(words) % 2:
        raise ValueError(f"fixed-rate line not understood: {m.group(0)}")
    return {k: float(v) for k, v in zip(words[::2], words[1::2], strict=True)}


def fixed_rate_argv(rate: float, threads: int) -> list[str]:
    """wrk arguments making it send ``rate`` requests per second in all (a Lua script:
    wrk 4.1 has no rate option)."""
    return ["-s", str(FIXED_RATE_LUA), "--", f"{rate:g}", str(threads)]


def run_wrk(url: str, *, duration: int, connections: int, threads: int, cpus: set[int],
            extra: tuple[str, ...], rate: float | None = None) -> WrkResult:
    """wrk at full speed, or at ``rate`` requests per second in all (bench/fixed_rate.lua;
    the result's p99/p99.9 then come from the script's own percentiles)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
            "--timeout", "5s", *extra, url]
    if rate:
        argv += fixed_rate_argv(rate, threads)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                         preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr}{out.stdout}")
    res = parse_wrk(out.stdout)
    if rate:
        fr = parse_fixed_rate(out.stdout)
        res.p50_ms, res.p99_ms = fr["p50_us"] / 1000, fr["p99_us"] / 1000
        res.p999_ms = fr["p999_us"] / 1000
    return res


def choose_rate(capacities: list[float], fraction: float, step: int = 100) -> int:
    """The fixed rate offered to every proxy: ``fraction`` of the lowest measured capacity
    (requests per second), rounded down to ``step`` (at least ``step``)."""
    if not capacities or min(capacities) <= 0:
        raise ValueError("no capacity measured")
    return max(step, int(min(capacities) * fraction) // step * step)


def parse_h2load(out: str) -> WrkResult:
    """h2load's summary as a WrkResult: p50/p99 hold h2load's mean and max request time
    (it prints no percentiles); non2xx counts failed and errored requests."""
    fm = re.search(r"finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req/s", out)
    rm = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                   r"(\d+) failed, (\d+) errored", out)
    if not fm or not rm:
        raise ValueError(f"h2load output not understood:\n{out}")
    seconds = _ms(fm.group(1) + fm.group(2)) / 1000
    tm = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
    mean = _ms(tm.group(3)) if tm else 0.0
    top = _ms(tm.group(2)) if tm else 0.0
    done = int(rm.group(4))
    return WrkResult(done, seconds, float(fm.group(3)), mean, top, int(rm.group(6)),
                     int(rm.group(5)))


def run_h2load(url: str, *, duration: int, connections: int, streams: int, threads: int,
               cpus: set[int]) -> WrkResult:
    if shutil.which("h2load") is None:
        raise RuntimeError("h2load is not installed (apt-get install nghttp2-client)")
    argv = ["h2load", "-D", str(duration), "-c", str(connections), "-m", str(streams),
            "-t", str(max(1, min(threads, connections))), url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                         preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    if out.returncode != 0:
        raise RuntimeError(f"h2load failed ({out.returncode}): {out.stderr}{out.stdout}")
    return parse_h2load(out.stdout)


def make_certificate(workdir: Path) -> str:
    """A self-signed certificate and key in one PEM file (for the TLS scenarios)."""
    pem = workdir / "site.pem"
    if not pem.exists():
        key, crt = workdir / "site.key", workdir / "site.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(key), "-out", str(crt)],
                       check=True, capture_output=True)
        pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return str(pem)


# --------------------------------------------------------------------------- helpers

class UdpSink:
    """Counts the log datagrams the proxies send."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.last = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.count += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def start_nginx(workdir: Path, cpus: set[int]) -> tuple[Proc, int]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    ndir = workdir / "nginx"
    (ndir / "www").mkdir(parents=True)
    (ndir / "tmp").mkdir()
    (ndir / "www" / "100").write_bytes(b"x" * 99 + b"\n")
    (ndir / "www" / "16k").write_bytes(b"y" * 16383 + b"\n")
    (ndir / "www" / "1m").write_bytes(b"z" * ((1 << 20) - 1) + b"\n")
    port = free_ports(1)[0]
    conf = ndir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=ndir, port=port))
    proc = start("nginx", [nginx, "-p", str(ndir), "-e", str(ndir / "nginx-error.log"),
                           "-c", str(conf)], cpus=cpus, workdir=ndir)
    why = proc.wait_listening([port], 10)
    if why:
        raise SystemExit(f"nginx did not start: {why}\n"
                         f"{(ndir / 'nginx-error.log').read_text(errors='replace')}")
    return proc, port


@dataclass
class Run:
    scenario: str
    proxy: str
    round: int
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_req: float = 0.0
    cpu_share: float = 0.0     # proxy CPU time / wall time of the measured run
    mib_per_s: float = 0.0     # what wrk read, MiB per second
    p999_ms: float = 0.0       # fixed-rate scenarios only
    runq_wait: float = 0.0     # time the proxy waited for a CPU (other jobs) / wall time
    offered_rps: float = 0.0   # fixed-rate scenarios: the rate wrk was asked for
    requests: int = 0
    errors: int = 0
    non2xx: int = 0
    logs: int = 0
    failed: str = ""
    started: bool = False      # the proxy listened (a failure after it may be transient)


def proxy_argv(proxy: str, cfg: Path, args: argparse.Namespace) -> list[str]:
    if proxy == "haproxy":
        return [args.haproxy, "-db", "-f", str(cfg)]
    if "{cfg}" in args.hapx:
        return [w.replace("{cfg}", str(cfg)) for w in shlex.split(args.hapx)]
    return [*shlex.split(args.hapx), "-db", "-f", str(cfg)]


def one_run(scn: Scenario, proxy: str, rnd: int, *, args: argparse.Namespace, workdir: Path,
            be_port: int, proxy_cpus: set[int], load_cpus: set[int],
            quota: CpuQuota | None, variant: Variant | None = None,
            rate: float | None = None, uncapped: CpuQuota | None = None) -> Run:
    """One measured run of ``proxy`` (or of ``variant``, named ``proxy`` in the results);
    at full speed, or at ``rate`` requests per second when given.  ``uncapped``: the
    cgroup of the uncapped scenarios (``--weight``: a weight without a limit), or None."""
    if scn.uncapped:
        quota = uncapped
    run = Run(scn.name, proxy, rnd, offered_rps=rate or 0.0)
    sink = UdpSink() if scn.log_sink else None
    fe = free_ports(1)[0]
    cfg = workdir / f"{scn.name}-{proxy}.cfg"
    binary = variant.proxy if variant else proxy
    crt = make_certificate(workdir) if scn.scheme == "https" else ""
    glines = variant.global_lines if variant else None
    if glines is None and binary == "hapx" and args.hapx_global:
        glines = "\n".join(f"    {line}" for line in args.hapx_global)
    cfg.write_text(render(scn, binary, fe=fe, be=be_port, log=sink.port if sink else 9,
                          global_lines=glines, crt=crt))
    proc = start(f"{scn.name}-{proxy}-{rnd}", proxy_argv(binary, cfg, args), cpus=proxy_cpus,
                 workdir=workdir, quota=quota)
    try:
        why = proc.wait_listening([fe], 30)
        if why:
            run.failed = why.strip()
            return run
        run.started = True
        url = f"{scn.scheme}://127.0.0.1:{fe}{scn.path}"
        if scn.load == "h2load":
            def load(duration: int) -> WrkResult:
                return run_h2load(url, duration=duration, connections=scn.h2_connections,
                                  streams=scn.streams, threads=args.threads, cpus=load_cpus)
        else:
            def load(duration: int) -> WrkResult:
                return run_wrk(url, duration=duration, connections=args.connections,
                               threads=args.threads, cpus=load_cpus, extra=scn.wrk_args,
                               rate=rate)
        if args.warmup > 0:
            load(args.warmup)
        # every process of the proxy (a supervisor and its workers, forked by now) runs on
        # the proxy's CPUs and inside the quota's cgroup
        stray = tree_outside(proc.pid, quota, proxy_cpus)
        if stray:
            run.failed = f"the proxy's process tree escapes its limits: {stray}"
            return run
        if sink:
            sink.count = 0
        cpu0, wait0 = proc.cpu_seconds(), proc.runqueue_wait_seconds()
        res = load(args.duration)
        cpu1, wait1 = proc.cpu_seconds(), proc.runqueue_wait_seconds()
        if not proc.alive():
            status = proc.popen.returncode
            how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
            run.failed = f"died during the run ({how}):\n{proc.output()}"
            return run
        run.rps, run.p50_ms, run.p99_ms = res.rps, res.p50_ms, res.p99_ms
        run.p999_ms = res.p999_ms
        run.requests, run.errors, run.non2xx = res.requests, res.errors, res.non2xx
        run.mib_per_s = res.mib_per_s
        run.cpu_us_per_req = (cpu1 - cpu0) * 1e6 / max(1, res.requests)
        run.cpu_share = (cpu1 - cpu0) / max(0.001, res.seconds)
        run.runq_wait = (wait1 - wait0) / max(0.001, res.seconds)
        if sink:
            deadline = time.monotonic() + 2
            while sink.count < res.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            run.logs = sink.count
        return run
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        run.failed = f"{exc}\n{proc.output()}"
        return run
    finally:
        proc.stop()
        if sink:
            sink.close()


def calibrate(scn: Scenario, proxies: list[str], *, args: argparse.Namespace, workdir: Path,
              be_port: int, proxy_cpus: set[int], load_cpus: set[int],
              uncapped: CpuQuota | None = None) -> int | None:
    """The fixed rate of ``scn``: each proxy is first run uncapped at full speed for
    ``--calibrate`` seconds; the rate is ``--rate-fraction`` of the lower requests per
    second.  None (and why, printed) when a proxy cannot run."""
    short = argparse.Namespace(**{**vars(args), "duration": args.calibrate})
    capacities = []
    for proxy in proxies:
        run = one_run(scn, proxy, 0, args=short, workdir=workdir, be_port=be_port,
                      proxy_cpus=proxy_cpus, load_cpus=load_cpus, quota=uncapped,
                      uncapped=uncapped)
        if run.failed:
            print(f"  capacity of {proxy}: FAILED, the scenario is skipped: "
                  f"{run.failed.strip().splitlines()[-1] if run.failed.strip() else ''}")
            return None
        print(f"  capacity of {proxy}, uncapped, full speed: {run.rps:.0f} req/s "
              f"({run.cpu_share * 100:.0f}% of a CPU)", flush=True)
        capacities.append(run.rps)
    return choose_rate(capacities, args.rate_fraction)


def fmt_run(run: Run) -> str:
    if run.failed:
        first = run.failed.strip().splitlines()
        return f"  round {run.round} {run.proxy:8} FAILED: " + "\n      ".join(first[-12:])
    extra = ""
    if run.errors or run.non2xx:
        extra += f"  (socket errors {run.errors}, non-2xx {run.non2xx})"
    if run.logs:
        extra += f"  logs {run.logs}"
    if run.mib_per_s >= 100:
        extra += f"  {run.mib_per_s:.0f} MiB/s"
    if run.offered_rps:
        extra += f"  p99.9 {run.p999_ms:.2f} ms (offered {run.offered_rps:g} req/s)"
    return (f"  round {run.round} {run.proxy:8} {run.rps:10.0f} req/s  p50 {run.p50_ms:7.2f} ms"
            f"  p99 {run.p99_ms:7.2f} ms  CPU {run.cpu_us_per_req:7.1f} µs/req"
            f" ({run.cpu_share * 100:3.0f}% of a CPU, waited {run.runq_wait * 100:3.0f}%)"
            f"{extra}")


def summarize(scn: Scenario, runs: list[Run], proxies: list[str], *, num: str = "hapx",
              den: str = "haproxy") -> dict:
    """Medians per proxy (or variant) and the per-round ratios ``num``/``den``."""
    out: dict = {"scenario": scn.name, "title": scn.title, "names": list(proxies),
                 "num": num, "den": den}
    for proxy in proxies:
        ok = [r for r in runs if r.proxy == proxy and not r.failed]
        if not ok:
            out[proxy] = None
            continue
        out[proxy] = {
            "rps": statistics.median(r.rps for r in ok),
            "p50_ms": statistics.median(r.p50_ms for r in ok),
            "p99_ms": statistics.median(r.p99_ms for r in ok),
            "p999_ms": statistics.median(r.p999_ms for r in ok),
            "offered_rps": statistics.median(r.offered_rps for r in ok),
            "cpu_us_per_req": statistics.median(r.cpu_us_per_req for r in ok),
            "cpu_share": statistics.median(r.cpu_share for r in ok),
            "runq_wait": statistics.median(r.runq_wait for r in ok),
            "rounds": len(ok),
        }
    ratios, p99_ratios = [], []
    rounds = sorted({r.round for r in runs})
    for rnd in rounds:
        by = {r.proxy: r for r in runs if r.round == rnd and not r.failed}
        if num in by and den in by and by[den].rps > 0:
            ratios.append(by[num].rps / by[den].rps)
        if num in by and den in by and by[den].p99_ms > 0:
            p99_ratios.append(by[num].p99_ms / by[den].p99_ms)
    out["ratios"] = ratios
    out["p99_ratios"] = p99_ratios
    out["median_p99_ratio"] = statistics.median(p99_ratios) if p99_ratios else None
    out["fixed_rate"] = scn.fixed_rate
    h, x = out.get(den), out.get(num)
    out["cpu_ratio"] = (h["cpu_us_per_req"] / x["cpu_us_per_req"]
                        if h and x and x["cpu_us_per_req"] > 0 else None)
    out["median_ratio"] = statistics.median(ratios) if ratios else None
    return out


def markdown_table(summaries: list[dict]) -> str:
    lines = ["| scenario | proxy | req/s | p50 ms | p99 ms | CPU µs/req | CPU used "
             "| waited for a CPU | req/s ratio (median of rounds) | per-core ratio (µs/req) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        if s.get("fixed_rate"):
            continue
        ratio = f"{s['median_ratio']:.2f}" if s["median_ratio"] is not None else "n/a"
        cpu_ratio = f"{s['cpu_ratio']:.2f}" if s["cpu_ratio"] is not None else "n/a"
        label = f"{s['num']}/{s['den']} "
        for proxy in s["names"]:
            if proxy not in s:
                continue
            fig = s[proxy]
            if fig is None:
                lines.append(f"| {s['title']} | {proxy} | did not run | | | | | | | |")
                continue
            lines.append(f"| {s['title']} | {proxy} | {fig['rps']:.0f} | {fig['p50_ms']:.2f} | "
                         f"{fig['p99_ms']:.2f} | {fig['cpu_us_per_req']:.1f} | "
                         f"{fig['cpu_share'] * 100:.0f}% | {fig['runq_wait'] * 100:.0f}% | "
                         f"{label + ratio if proxy == s['num'] else ''} | "
                         f"{label + cpu_ratio if proxy == s['num'] else ''} |")
    latency = latency_table(summaries)
    return "\n".join(lines) + ("\n\n" + latency if latency else "")


def latency_table(summaries: list[dict]) -> str:
    """The fixed-rate scenarios: latency of each proxy at the same offered rate and the
    per-round p99 ratios ("" when none ran)."""
    lines = ["| scenario | proxy | offered req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms "
             "| CPU used | waited for a CPU | p99 ratio per round | p99 ratio (median) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for s in summaries:
        if not s.get("fixed_rate"):
            continue
        for proxy in s["names"]:
            fig = s.get(proxy)
            if fig is None:
                lines.append(f"| {s['title']} | {proxy} | did not run | | | | | | | | |")
                continue
            mine = proxy == s["num"]
            per_round = ", ".join(f"{r:.2f}" for r in s["p99_ratios"]) if mine else ""
            med = s["median_p99_ratio"]
            median = (f"{s['num']}/{s['den']} {med:.2f}" if med is not None else "n/a") \
                if mine else ""
            lines.append(f"| {s['title']} | {proxy} | {fig['offered_rps']:.0f} | "
                         f"{fig['rps']:.0f} | {fig['p50_ms']:.2f} | {fig['p99_ms']:.2f} | "
                         f"{fig['p999_ms']:.2f} | {fig['cpu_share'] * 100:.0f}% | "
                         f"{fig['runq_wait'] * 100:.0f}% | {per_round} | {median} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def check_tools(args: argparse.Namespace, proxies: list[str]) -> None:
    missing = [t for t in ("wrk", "nginx") if not shutil.which(t) and
               not os.access(f"/usr/sbin/{t}", os.X_OK)]
    if "haproxy" in proxies and not os.access(args.haproxy, os.X_OK):
        missing.append("haproxy")
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)} (Debian: apt-get install -y "
                         f"--no-install-recommends nginx-light wrk haproxy)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--quota", type=float, default=50.0,
                    help="CPU quota of the proxy, %% of one CPU (0: uncapped)")
    ap.add_argument("--weight", type=float, default=0.0,
                    help="on a machine shared with other jobs: give the proxy's cgroup and "
                         "the load side's (nginx, wrk) the CPU weight of this many ordinary "
                         "processes, so the quota binds rather than the other jobs (0: "
                         "default weight, the proxy is one process among the others)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help=f"comma-separated, among: {', '.join(SCENARIOS)}")
    ap.add_argument("--proxies", default="haproxy,hapx")
    ap.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    ap.add_argument("--hapx", default=HAPX_DEFAULT,
                    help="command starting hapx: '-db -f <cfg>' is appended, or replaces "
                         "a {cfg} in it")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="fixed-rate scenarios (http-p99): requests per second offered to "
                         "every proxy (0: --rate-fraction of the lower capacity, measured)")
    ap.add_argument("--rate-fraction", type=float, default=0.5,
                    help="fixed-rate scenarios without --rate: the rate offered is this "
                         "fraction of the lower proxy's requests per second, measured "
                         "uncapped with --calibrate seconds of wrk at full speed")
    ap.add_argument("--calibrate", type=int, default=3,
                    help="seconds of full-speed wrk per proxy measuring the capacities")
    ap.add_argument("--hapx-global", action="append", default=[], metavar="LINE",
                    help="a global line for hapx's configuration (repeatable), e.g. "
                         "'h2-codec h2' to measure the h2 library's codec")
    ap.add_argument("--json", help="write every run and summary to this file")
    ap.add_argument("--markdown", help="write the summary table to this file")
    args = ap.parse_args(argv)

    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names + proxies if n not in SCENARIOS and n not in ("haproxy", "hapx")]
    if unknown:
        ap.error(f"unknown scenario/proxy: {', '.join(unknown)}")
    check_tools(args, proxies)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                    else 1 << 20, hard))
    proxy_cpus, load_cpus = cpu_layout()
    os.sched_setaffinity(0, load_cpus)
    quota = CpuQuota(args.quota, weight=args.weight) if args.quota > 0 else None
    # --weight: the uncapped scenarios' proxy and the load side get weighted groups too
    uncapped = CpuQuota(0, "uncapped", weight=args.weight) if args.weight > 0 else None
    load_group = CpuQuota(0, "load", weight=args.weight) if args.weight > 0 else None
    if load_group is not None:
        load_group.join()       # nginx, wrk and h2load are started from this process
    hapx_version = subprocess.run(
        [*shlex.split(HAPX_DEFAULT if "{cfg}" in args.hapx else args.hapx), "-v"],
        capture_output=True, text=True).stdout.strip().splitlines()[:1]
    haproxy_version = subprocess.run([args.haproxy, "-v"], capture_output=True,
                                     text=True).stdout.strip().splitlines()[:1]
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs ({cpu_model()}), "
          f"Linux {platform.release()}, Python {platform.python_version()}")
    print(f"proxies: {haproxy_version[0] if haproxy_version else 'haproxy ?'}; "
          f"{hapx_version[0] if hapx_version else 'hapx ?'}")
    print(f"layout: proxy on CPU {sorted(proxy_cpus)}, nginx + wrk on CPU {sorted(load_cpus)}; "
          f"proxy {quota.describe() if quota else 'uncapped (--quota 0)'}"
          + (f"; load side {load_group.describe()}" if load_group else ""))
    print(f"load: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
          f"(+{args.warmup:g}s warm-up), {args.rounds} rounds alternating")

    quotas: dict[str, CpuQuota] = {}  # per variant
    workdir = Path(tempfile.mkdtemp(prefix="hapx-bench-"))
    nginx, be_port = start_nginx(workdir, load_cpus)
    all_runs: list[Run] = []
    summaries: list[dict] = []
    try:
        for name in names:
            scn = SCENARIOS[name]
            print(f"\n== {scn.name}: {scn.title} ==", flush=True)
            runs: list[Run] = []
            dead: dict[str, str] = {}
            variants = {v.name: v for v in scn.variants}
            names_here = list(variants) if variants else proxies
            rate = None
            if scn.fixed_rate:
                rate = args.rate or calibrate(scn, names_here, args=args, workdir=workdir,
                                              be_port=be_port, proxy_cpus=proxy_cpus,
                                              load_cpus=load_cpus, uncapped=uncapped)
                if rate is None:
                    continue
                print(f"  offered to every proxy: {rate:g} req/s on {args.connections} "
                      f"connections (wrk -s bench/fixed_rate.lua)", flush=True)
            for rnd in range(1, args.rounds + 1):
                order = names_here if rnd % 2 else list(reversed(names_here))
                for proxy in order:
                    if proxy in dead:
                        continue
                    variant = variants.get(proxy)
                    run_quota = quota
                    if variant is not None and quota is not None:
                        run_quota = quotas.setdefault(
                            variant.name, CpuQuota(variant.quota, variant.name,
                                                   weight=args.weight * variant.quota
                                                   / args.quota))
                    run = one_run(scn, proxy, rnd, args=args, workdir=workdir,
                                  be_port=be_port, proxy_cpus=proxy_cpus,
                                  load_cpus=load_cpus, quota=run_quota, variant=variant,
                                  rate=rate, uncapped=uncapped)
                    print(fmt_run(run), flush=True)
                    runs.append(run)
                    # a proxy that cannot start is not retried; one that failed once
                    # started (killed by another job, a load generator error) is
                    if run.failed and not run.started:
                        dead[proxy] = run.failed
            if variants:
                s = summarize(scn, runs, names_here, num=names_here[-1], den=names_here[0])
            else:
                s = summarize(scn, runs, proxies)
            summaries.append(s)
            parts = []
            for proxy in names_here:
                fig = s.get(proxy)
                if fig:
                    parts.append(f"{proxy} {fig['rps']:.0f} req/s, p50 {fig['p50_ms']:.2f} ms, "
                                 f"p99 {fig['p99_ms']:.2f} ms, {fig['cpu_us_per_req']:.1f} µs/req")
                else:
                    parts.append(f"{proxy} did not run")
            ratio = s["median_ratio"]
            print("  median: " + "; ".join(parts))
            if ratio is not None:
                print(f"  {s['num']}/{s['den']} req/s per round: "
                      f"{', '.join(f'{r:.2f}' for r in s['ratios'])}; median {ratio:.2f}")
            if s["median_p99_ratio"] is not None and scn.fixed_rate:
                print(f"  {s['num']}/{s['den']} p99 per round: "
                      f"{', '.join(f'{r:.2f}' for r in s['p99_ratios'])}; "
                      f"median {s['median_p99_ratio']:.2f}")
                for proxy in names_here:
                    fig = s.get(proxy)
                    if fig:
                        print(f"  {proxy}: p50 {fig['p50_ms']:.2f} ms, p99 {fig['p99_ms']:.2f}"
                              f" ms, p99.9 {fig['p999_ms']:.2f} ms (medians)")
                        if fig["rps"] < 0.95 * rate:
                            print(f"  note: {proxy} did not sustain the offered rate "
                                  f"({fig['rps']:.0f} of {rate:g} req/s)")
            if s["cpu_ratio"] is not None and not scn.fixed_rate:
                print(f"  per-core capacity {s['num']}/{s['den']} ({s['den']} µs/req ÷ "
                      f"{s['num']} µs/req): {s['cpu_ratio']:.2f}")
            if variants and s["cpu_ratio"] is not None:
                first, last = variants[names_here[0]], variants[names_here[-1]]
                s["quota_estimate"] = s["cpu_ratio"] * last.quota / first.quota
                print(f"  if each variant used all of its quota: {s['num']}/{s['den']} "
                      f"{s['quota_estimate']:.2f} (per-core ratio × {last.quota:g}% / "
                      f"{first.quota:g}%)")
            capped = quota is not None and quota.active and not scn.uncapped
            for proxy in ([] if scn.fixed_rate else names_here):
                fig = s.get(proxy)
                limit = (variants[proxy].quota if proxy in variants else quota.percent) / 100 \
                    if capped else 1.0
                if fig and fig["cpu_share"] < 0.85 * limit:
                    print(f"  note: {proxy} used {fig['cpu_share'] * 100:.0f}% of a CPU "
                          f"(limit {limit * 100:.0f}%): the load side or other jobs on "
                          f"the machine, not its quota, set its req/s")
            all_runs.extend(runs)
    finally:
        nginx.stop()
        if load_group is not None:
            load_group.leave()
        for q in [quota, uncapped, load_group, *quotas.values()]:
            if q:
                q.remove()
        shutil.rmtree(workdir, ignore_errors=True)

    table = markdown_table(summaries)
    print("\n" + table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": {"cpus": os.cpu_count(), "model": cpu_model(),
                        "kernel": platform.release()},
            "quota": quota.describe() if quota else "uncapped",
            "args": vars(args), "runs": [asdict(r) for r in all_runs],
            "summaries": summaries}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
