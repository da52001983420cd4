"""bench/run.py's helpers: parsing wrk's output and bench/fixed_rate.lua's line, the fixed
rate chosen from the measured capacities, the per-round p99 ratios, and /proc/<pid>/cgroup.
The benchmark itself is never run by the tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netutil import OriginServer

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"hapx_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run = _load("run")
procs = _load("procs")

WRK_RATE_OUT = """\
Running 5s test @ http://127.0.0.1:40000/100
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms    3.41ms  45.33ms   96.35%
    Req/Sec     1.00k    17.07     1.02k    86.67%
  Latency Distribution
     50%  601.00us
     75%  704.00us
     90%    0.87ms
     99%   10.17ms
  5002 requests in 5.00s, 1.44MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:   1000.31
Transfer/sec:    294.10KB
fixed-rate: requests 5002 duration_us 5000371 p50_us 598 p90_us 873 p99_us 10170 p999_us 35331 max_us 45330
"""


def test_parse_wrk_summary():
    res = run.parse_wrk(WRK_RATE_OUT)
    assert res.requests == 5002
    assert res.seconds == pytest.approx(5.0)
    assert res.rps == pytest.approx(1000.31)
    assert res.p50_ms == pytest.approx(0.601)
    assert res.p99_ms == pytest.approx(10.17)
    assert res.errors == 3
    assert res.mib_per_s == pytest.approx(294.10 / 1024)


def test_parse_fixed_rate_line():
    fr = run.parse_fixed_rate(WRK_RATE_OUT)
    assert fr == {"requests": 5002, "duration_us": 5000371, "p50_us": 598, "p90_us": 873,
                  "p99_us": 10170, "p999_us": 35331, "max_us": 45330}
    with pytest.raises(ValueError):
        run.parse_fixed_rate(WRK_RATE_OUT.replace("fixed-rate:", "other:"))
    with pytest.raises(ValueError):
        run.parse_fixed_rate("fixed-rate: requests 3 p50_us\n")


def test_fixed_rate_argv_passes_the_total_rate_and_threads():
    argv = run.fixed_rate_argv(2500.0, 2)
    assert argv[0] == "-s" and Path(argv[1]).name == "fixed_rate.lua"
    assert Path(argv[1]).is_file()
    assert argv[2:] == ["--", "2500", "2"]


def test_choose_rate_is_a_fraction_of_the_lower_capacity():
    assert run.choose_rate([19034.0, 3755.0], 0.5) == 1800
    assert run.choose_rate([8800.0, 20000.0], 0.25) == 2200
    assert run.choose_rate([150.0, 20000.0], 0.5) == 100      # never below one step
    with pytest.raises(ValueError):
        run.choose_rate([], 0.5)
    with pytest.raises(ValueError):
        run.choose_rate([0.0, 100.0], 0.5)


def _runs() -> list:
    out = []
    for rnd, (h99, x99) in enumerate([(2.0, 3.0), (4.0, 4.0), (1.0, 5.0)], start=1):
        out.append(run.Run("http-p99", "haproxy", rnd, rps=1000, p50_ms=0.3, p99_ms=h99,
                           p999_ms=h99 * 2, offered_rps=1000))
        out.append(run.Run("http-p99", "hapx", rnd, rps=999, p50_ms=0.9, p99_ms=x99,
                           p999_ms=x99 * 2, offered_rps=1000))
    return out


def test_summarize_gives_per_round_p99_ratios_and_the_latency_table():
    scn = run.SCENARIOS["http-p99"]
    assert scn.fixed_rate and scn.uncapped
    s = run.summarize(scn, _runs(), ["haproxy", "hapx"])
    assert s["p99_ratios"] == [1.5, 1.0, 5.0]
    assert s["median_p99_ratio"] == 1.5
    assert s["hapx"]["p999_ms"] == 8.0 and s["haproxy"]["offered_rps"] == 1000
    table = run.markdown_table([s])
    # fixed-rate scenarios get the latency table, not the req/s one
    head, _, latency = table.partition("\n\n")
    assert "http-p99" not in head and scn.title not in head
    rows = [line for line in latency.splitlines() if line.startswith(f"| {scn.title}")]
    assert len(rows) == 2
    assert rows[1].split(" | ")[-2:] == ["1.50, 1.00, 5.00", "hapx/haproxy 1.50 |"]


def test_failed_round_gives_no_ratio():
    runs = _runs()
    runs[3].failed = "died"
    s = run.summarize(run.SCENARIOS["http-p99"], runs, ["haproxy", "hapx"])
    assert s["p99_ratios"] == [1.5, 5.0]


def test_parse_schedstat():
    assert procs.parse_schedstat("1250000 83026 17\n") == (1250000, 83026, 17)


def test_cgroup_of_reads_v1_and_v2_lines():
    text = ("12:cpu,cpuacct:/hapx-bench-7\n4:memory:/x\n1:name=systemd:/\n"
            "0::/user.slice/hapx-bench-8\n")
    assert procs.cgroup_of(text, "cpu") == "/hapx-bench-7"
    assert procs.cgroup_of(text, "cpuacct") == "/hapx-bench-7"
    assert procs.cgroup_of(text, "") == "/user.slice/hapx-bench-8"
    assert procs.cgroup_of("1:cpu:/\n", "pids") is None


def test_tree_outside_sees_a_child_pinned_elsewhere():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    code = ("import os, subprocess, sys\n"
            f"child = subprocess.Popen([sys.executable, '-c', "
            f"'import os, sys; os.sched_setaffinity(0, {{{cpus[1]}}}); "
            f"print(1, flush=True); sys.stdin.read()'], stdin=subprocess.PIPE, "
            "stdout=subprocess.PIPE)\n"
            "child.stdout.readline()\nprint('ready', flush=True)\nsys.stdin.read()\n"
            "child.stdin.close()\nchild.wait()\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        assert parent.stdout.readline() == b"ready\n"
        assert procs.tree_outside(parent.pid, None, set(cpus)) == ""
        stray = procs.tree_outside(parent.pid, None, {cpus[0]})
        # the parent inherited every CPU and the child is on the second one only
        assert f"pid {parent.pid} may run on CPUs" in stray
        assert f"may run on CPUs [{cpus[1]}]" in stray
    finally:
        parent.stdin.close()
        parent.wait(10)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_fixed_rate_script_runs_in_wrk_and_prints_its_line():
    with OriginServer() as origin:
        out = subprocess.run(["wrk", "-t1", "-c2", "-d1s", "--latency", origin.url("/"),
                              *run.fixed_rate_argv(50, 1)],
                             capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    fr = run.parse_fixed_rate(out.stdout)
    assert fr["requests"] == run.parse_wrk(out.stdout).requests
    assert fr["requests"] >= 1
    assert 0 < fr["p50_us"] <= fr["p99_us"] <= fr["p999_us"] <= fr["max_us"]


def test_weighted_group_without_limit_and_join_leave():
    group = procs.CpuQuota(0, f"test-{os.getpid()}", weight=3)
    if not group.active:
        pytest.skip(f"no writable cgroup here: {group.why}")
    try:
        v1 = group.kind.startswith("cgroup v1")
        if v1:
            assert (group.path / "cpu.shares").read_text().strip() == "3072"
            assert (group.path / "cpu.cfs_quota_us").read_text().strip() == "-1"
        else:
            assert (group.path / "cpu.weight").read_text().strip() == "300"
            assert (group.path / "cpu.max").read_text().split()[0] == "max"
        assert group.describe().startswith("uncapped (")
        assert "CPU weight of 3 processes" in group.describe()
        controller = "cpu" if v1 else ""
        before = procs.cgroup_of(Path("/proc/self/cgroup").read_text(), controller)
        group.join()
        try:
            child = subprocess.run([sys.executable, "-c", "print(open('/proc/self/cgroup')"
                                    ".read())"], capture_output=True, text=True, check=True)
            assert procs.cgroup_of(child.stdout, controller) == "/" + str(
                group.path.relative_to(group._mount()))
        finally:
            group.leave()
        assert procs.cgroup_of(Path("/proc/self/cgroup").read_text(), controller) == before
    finally:
        group.remove()
    assert not group.path.exists()
