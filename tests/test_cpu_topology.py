"""CPU topology, cpu-policy, cpu-set, cpu-map, thread groups and ``-dc`` (plugin
cpu_binding), on sysfs trees of other machines (tests/fixtures/sys/generate.py: a 64-core
EPYC with 8 CCX, a 6P+8E hybrid laptop with cpu_capacity, a 2-node NUMA server) and on
this machine for the live binding.

Expected bindings come from the HAProxy 3.2 release notes (the EPYC examples) and from
the documented policy semantics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cfgtools import alerts, parse_text
from hapx.plugins.cpu_binding import plan, read_topology, thread_bindings
from hapx.plugins.cpu_binding.config import cpu_config
from hapx.plugins.cpu_binding.dump import render
from netutil import free_port, run_hapx, wait_until

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "sys"))
import generate  # noqa: E402

TAIL = """defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
listen web
    bind 127.0.0.1:{port}
"""


@pytest.fixture(scope="module")
def sysroot(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("sys")
    return {name: str(generate.write_machine(name, out)) for name in generate.MACHINES}


def dump(tmp_path: Path, root: str, global_lines: str = "",
         bound: frozenset[int] | None = None) -> str:
    config, diag, _ = parse_text(tmp_path, "global\n" + global_lines + TAIL.format(port=1))
    assert not diag.failed, alerts(diag)
    return render(plan(cpu_config(config.global_.settings), read_topology(root, bound)))


def bindings_section(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index("Thread CPU Bindings:"):]


def cpu_line(text: str, cpu: int) -> str:
    return next(line for line in text.splitlines() if line[7:14] == f"cpu={cpu:3d}")


# -- EPYC 64 cores, 8 CCX: the release notes' examples ------------------------------------

def test_epyc_default_is_64_threads_in_one_group_on_all_cpus(tmp_path, sysroot):
    text = dump(tmp_path, sysroot["epyc-7763"])
    assert bindings_section(text) == [
        "Thread CPU Bindings:",
        "  Tgrp/Thr  Tid        CPU set",
        "  1/1-64    1-64       128: 0-127",
    ]


def test_epyc_performance_makes_one_group_per_ccx(tmp_path, sysroot):
    text = dump(tmp_path, sysroot["epyc-7763"], "    cpu-policy performance\n")
    assert bindings_section(text) == [
        "Thread CPU Bindings:",
        "  Tgrp/Thr  Tid        CPU set",
        "  1/1-16    1-16       16: 0-7,64-71",
        "  2/1-16    17-32      16: 8-15,72-79",
        "  3/1-16    33-48      16: 16-23,80-87",
        "  4/1-16    49-64      16: 24-31,88-95",
        "  5/1-16    65-80      16: 32-39,96-103",
        "  6/1-16    81-96      16: 40-47,104-111",
        "  7/1-16    97-112     16: 48-55,112-119",
        "  8/1-16    113-128    16: 56-63,120-127",
    ]


def test_epyc_topology_lines_and_clusters(tmp_path, sysroot):
    text = dump(tmp_path, sysroot["epyc-7763"])
    # 2450 MHz, 1.5x for an SMT core; one cluster per CCX (L3); cores renumbered per node
    assert cpu_line(text, 0) == ("[keep] cpu=  0 pk=00 no=00 cl=000(000) l3=000 l2=00 "
                                 "l1=00 ts=000 capa=3675 smt=0/2")
    assert cpu_line(text, 64) == ("[keep] cpu= 64 pk=00 no=00 cl=000(000) l3=000 l2=00 "
                                  "l1=00 ts=000 capa=3675 smt=1/2")
    assert cpu_line(text, 9) == ("[keep] cpu=  9 pk=00 no=00 cl=001(001) l3=001 l2=09 "
                                 "l1=09 ts=009 capa=3675 smt=0/2")
    lines = text.splitlines()
    assert len([line for line in lines if line.startswith("[keep]")]) == 128
    clusters = lines[lines.index("CPU clusters:") + 1:lines.index("Thread CPU Bindings:")]
    # 8 cores of 3675 plus a third of it for each second thread
    assert clusters == [f"  {i:3d}  cpus= 16 cores=  8 capa=39200" for i in range(8)]


@pytest.mark.parametrize("policy, expected", [
    ("group-by-ccx", [(16, "0-7,64-71"), (16, "56-63,120-127")]),
    ("group-by-cluster", [(16, "0-7,64-71"), (16, "56-63,120-127")]),
    ("group-by-2-ccx", [(32, "0-15,64-79"), (32, "48-63,112-127")]),
    ("group-by-4-clusters", [(64, "0-31,64-95"), (64, "32-63,96-127")]),
    ("efficiency", [(16, "0-7,64-71"), (16, "56-63,120-127")]),  # all CCX alike
    ("resource", [(16, "56-63,120-127"), (16, "56-63,120-127")]),  # one cluster only
])
def test_epyc_grouping_policies(tmp_path, sysroot, policy, expected):
    lines = bindings_section(dump(tmp_path, sysroot["epyc-7763"],
                                  f"    cpu-policy {policy}\n"))[2:]
    first, last = expected
    assert lines[0].endswith(f"{first[0]}: {first[1]}")
    assert lines[-1].endswith(f"{last[0]}: {last[1]}")
    assert len(lines) == 128 // first[0] if policy != "resource" else len(lines) == 1


def test_epyc_cpu_set_only_one_thread_per_core(tmp_path, sysroot):
    text = dump(tmp_path, sysroot["epyc-7763"], "    cpu-set only-thread 0\n"
                                                "    cpu-policy performance\n")
    assert bindings_section(text)[2] == "  1/1-8     1-8        8: 0-7"
    assert bindings_section(text)[-1] == "  8/1-8     57-64      8: 56-63"
    assert cpu_line(text, 64).startswith("[----] cpu= 64")


# -- hybrid laptop: 6 P-cores with SMT, 8 E-cores in 2 clusters ---------------------------

def test_hybrid_clusters_by_capacity(tmp_path, sysroot):
    text = dump(tmp_path, sysroot["hybrid-6p8e"])
    lines = text.splitlines()
    assert lines[lines.index("CPU clusters:") + 1:lines.index("Thread CPU Bindings:")] == [
        "    0  cpus= 12 cores=  6 capa=8190",
        "    1  cpus=  4 cores=  4 capa=1920",
        "    2  cpus=  4 cores=  4 capa=1920",
    ]
    assert cpu_line(text, 1) == ("[keep] cpu=  1 pk=00 no=00 cl=000(000) l3=000 l2=00 "
                                 "l1=00 ts=000 capa=1024 smt=1/2")
    assert cpu_line(text, 13) == ("[keep] cpu= 13 pk=00 no=00 cl=001(001) l3=000 l2=06 "
                                  "l1=07 ts=007 capa=480 smt=1")
    assert bindings_section(text)[2:] == ["  1/1-20    1-20       20: 0-19"]


@pytest.mark.parametrize("policy, expected", [
    # P-cores only: the E clusters deliver less than 80% of the P cluster per CPU
    ("performance", ["  1/1-12    1-12       12: 0-11"]),
    # E-cores only: the P cluster is more than 25% faster per CPU
    ("efficiency", ["  1/1-8     1-8        8: 12-19"]),
    # the smallest cluster
    ("resource", ["  1/1-4     1-4        4: 16-19"]),
    ("group-by-cluster", ["  1/1-12    1-12       12: 0-11",
                          "  2/1-4     13-16      4: 12-15",
                          "  3/1-4     17-20      4: 16-19"]),
    ("group-by-ccx", ["  1/1-20    1-20       20: 0-19"]),  # one L3
    ("none", ["  1/1-20    1-20       20: 0-19"]),
])
def test_hybrid_policies(tmp_path, sysroot, policy, expected):
    text = dump(tmp_path, sysroot["hybrid-6p8e"], f"    cpu-policy {policy}\n")
    assert bindings_section(text)[2:] == expected


def test_hybrid_performance_marks_e_cores_unused(tmp_path, sysroot):
    text = dump(tmp_path, sysroot["hybrid-6p8e"], "    cpu-policy performance\n")
    assert cpu_line(text, 11).startswith("[keep]")
    assert all(cpu_line(text, c).startswith("[----]") for c in range(12, 20))


def test_hybrid_cpu_set_by_cluster_and_core(tmp_path, sysroot):
    root = sysroot["hybrid-6p8e"]
    assert bindings_section(dump(tmp_path, root, "    cpu-set only-cluster 1,2\n"))[2:] == \
        ["  1/1-8     1-8        8: 12-19"]
    assert bindings_section(dump(tmp_path, root, "    cpu-set drop-cluster 0\n"))[2:] == \
        ["  1/1-8     1-8        8: 12-19"]
    # cores are numbered per package: P-cores 0-5, E-cores 6-13
    assert bindings_section(dump(tmp_path, root, "    cpu-set only-core 0-1\n"))[2:] == \
        ["  1/1-4     1-4        4: 0-3"]
    assert bindings_section(dump(tmp_path, root, "    cpu-set drop-core 0-5 drop-cpu 19\n"
                                 ))[2:] == ["  1/1-7     1-7        7: 12-18"]
    assert bindings_section(dump(tmp_path, root, "    cpu-set drop-thread 1\n"))[2:] == \
        ["  1/1-14    1-14       14: 0,2,4,6,8,10,12-19"]
    assert bindings_section(dump(tmp_path, root, "    cpu-set only-cpu 2-5,8\n"))[2:] == \
        ["  1/1-5     1-5        5: 2-5,8"]


# -- 2-node NUMA server -------------------------------------------------------------------

def test_numa_first_usable_node(tmp_path, sysroot):
    text = dump(tmp_path, sysroot["numa-2node"])
    assert bindings_section(text)[2:] == ["  1/1-24    1-24       24: 0-11,24-35"]
    assert cpu_line(text, 0) == ("[keep] cpu=  0 pk=00 no=00 cl=000(000) l3=000 l2=00 "
                                 "l1=00 ts=000 capa=5850 smt=0/2")
    assert cpu_line(text, 12) == ("[----] cpu= 12 pk=01 no=01 cl=001(000) l3=001 l2=12 "
                                  "l1=12 ts=000 capa=5850 smt=0/2")
    assert cpu_line(text, 36).startswith("[----]") and cpu_line(text, 35).startswith("[keep]")


@pytest.mark.parametrize("lines, expected", [
    # nbthread set: the policy leaves every CPU
    ("    nbthread 8\n", ["  1/1-8     1-8        48: 0-47"]),
    ("    no numa-cpu-mapping\n", ["  1/1-48    1-48       48: 0-47"]),
    ("    cpu-policy none\n", ["  1/1-48    1-48       48: 0-47"]),
    ("    cpu-set only-node 1\n", ["  1/1-24    1-24       24: 12-23,36-47"]),
    ("    cpu-set drop-node 0\n", ["  1/1-24    1-24       24: 12-23,36-47"]),
    # the release notes' example: one thread per core of node 0
    ("    cpu-set only-node 0 only-thread 0\n    cpu-policy performance\n",
     ["  1/1-12    1-12       12: 0-11"]),
    ("    cpu-policy performance\n", ["  1/1-24    1-24       24: 0-11,24-35",
                                      "  2/1-24    25-48      24: 12-23,36-47"]),
    # thread-groups set: group-by-cluster leaves the layout to the defaults
    ("    thread-groups 2\n    cpu-policy group-by-cluster\n",
     ["  1/1-24    1-24       48: 0-47", "  2/1-24    25-48      48: 0-47"]),
])
def test_numa_variants(tmp_path, sysroot, lines, expected):
    assert bindings_section(dump(tmp_path, sysroot["numa-2node"], lines))[2:] == expected


def test_taskset_and_cpu_set_reset(tmp_path, sysroot):
    root = sysroot["numa-2node"]
    bound = frozenset(range(12, 16))  # as if started under taskset -c 12-15
    text = dump(tmp_path, root, bound=bound)
    assert bindings_section(text)[2:] == ["  1/1-4     1-4        4: 12-15"]
    assert cpu_line(text, 0).startswith("[----]") and cpu_line(text, 12).startswith("[keep]")
    # reset undoes taskset; then first-usable-node keeps node 0
    text = dump(tmp_path, root, "    cpu-set reset\n", bound=bound)
    assert bindings_section(text)[2:] == ["  1/1-24    1-24       24: 0-11,24-35"]


# -- cpu-map, nbthread, thread-groups -------------------------------------------------------

@pytest.mark.parametrize("lines, expected", [
    ("    nbthread 4\n    cpu-map 1/1-4 0-3\n", ["  1/1-4     1-4        4: 0-3"]),
    ("    nbthread 4\n    cpu-map auto:1/1-4 0-3\n",
     ["  1/1       1          1: 0", "  1/2       2          1: 1",
      "  1/3       3          1: 2", "  1/4       4          1: 3"]),
    ("    nbthread 4\n    cpu-map 1/1 5\n",
     ["  1/1       1          1: 5", "  1/2-4     2-4        <all>"]),
    ("    nbthread 4\n    cpu-map 1/all 8-9 12\n    cpu-map 1/odd 1\n",
     ["  1/1       1          1: 1", "  1/2       2          3: 8-9,12",
      "  1/3       3          1: 1", "  1/4       4          3: 8-9,12"]),
    ("    nbthread 4\n    thread-groups 2\n    cpu-map auto:1-2 6,7\n",
     ["  1/1-2     1-2        1: 6", "  2/1-2     3-4        1: 7"]),
    # cpu-map disables the policy
    ("    cpu-policy performance\n    cpu-map 1/all 0-1\n", ["  1/1-20    1-20       2: 0-1"]),
    ("    nbthread 10\n    thread-groups 3\n",
     ["  1/1-4     1-4        20: 0-19", "  2/1-3     5-7        20: 0-19",
      "  3/1-3     8-10       20: 0-19"]),
    ("    thread-hard-limit 6\n", ["  1/1-6     1-6        20: 0-19"]),
    ("    nbthread 100\n", ["  1/1-50    1-50       20: 0-19",
                           "  2/1-50    51-100     20: 0-19"]),
])
def test_cpu_map_and_thread_layout(tmp_path, sysroot, lines, expected):
    assert bindings_section(dump(tmp_path, sysroot["hybrid-6p8e"], lines))[2:] == expected


def test_thread_bindings_api(tmp_path, sysroot):
    config, diag, _ = parse_text(tmp_path, "global\n    cpu-policy group-by-cluster\n"
                                 + TAIL.format(port=1))
    raw = read_topology(sysroot["hybrid-6p8e"])
    got = thread_bindings(config, raw)
    assert len(got) == 20
    assert got[0] == frozenset(range(12)) and got[12] == got[15] == frozenset(range(12, 16))
    assert got[19] == frozenset(range(16, 20))
    assert thread_bindings(config.global_.settings, raw) == got


def test_parse_errors(tmp_path):
    _, diag, _ = parse_text(tmp_path, """global
    cpu-policy fastest
    cpu-set only-core
    cpu-set frobnicate 1
    cpu-set
    cpu-set drop-cpu x
    cpu-map 1
    cpu-map x 0
    cpu-map 1/70 0
    cpu-map 1/1 a
    cpu-map 1/1 5000
    cpu-map auto:1/1-4 0-2
    nbthread 2000
    thread-groups 40
""" + TAIL.format(port=1))
    got = {m.line: m.text for m in diag.alerts}
    assert got[2] == (
        "'cpu-policy' passed an unknown CPU policy 'fastest'. Supported values are: and "
        "'none' (use all available CPUs), 'first-usable-node' (use only first usable node "
        "if nbthreads not set), 'group-by-ccx' (make one thread group per CCX), "
        "'group-by-2-ccx' (make one thread group per 2 CCX), 'group-by-3-ccx' (make one "
        "thread group per 3 CCX), 'group-by-4-ccx' (make one thread group per 4 CCX), "
        "'group-by-cluster' (make one thread group per core cluster), 'group-by-2-clusters' "
        "(make one thread group per 2 core clusters), 'group-by-3-clusters' (make one thread "
        "group per 3 core clusters), 'group-by-4-clusters' (make one thread group per 4 core "
        "clusters), 'performance' (make one thread group per perf. core cluster), "
        "'efficiency' (make one thread group per eff. core cluster), and 'resource' (make "
        "one thread group from the smallest cluster).")
    assert got[3] == "'cpu-set only-core': missing core set\n."
    assert got[4].startswith("'cpu-set' passed an unknown directive 'frobnicate' (only "
                             "'reset', 'only-cpu', 'drop-cpu',")
    assert got[5].startswith("'cpu-set' requires a directive and an optional value (only ")
    assert got[6] == "'cpu-set drop-cpu': 'x' is not a CPU range.\n."
    assert got[7].startswith("cpu-map expects a thread group number  ('all', 'odd', 'even',")
    assert got[8] == "cpu-map : 'x' is not a valid number/range."
    assert got[9] == ("cpu-map : '70' is not a valid number/range. It supports numbers from 1 "
                      "to 64.\n")
    assert got[10] == "cpu-map : 'a' is not a CPU range."
    assert got[11] == "cpu-map : supports CPU numbers from 0 to 1023."
    assert got[12] == ("cpu-map : TGROUP/THREAD range and CPU sets must have the same size to "
                       "be automatically bound")
    assert got[13] == "'nbthread' value must be between 1 and 1024 (was 2000)"
    assert got[14] == "'thread-groups' value must be between 1 and 32 (was 40)"


@pytest.mark.parametrize("lines, message", [
    ("    nbthread 2\n    thread-groups 3\n",
     "More unassigned thread-groups (3) than threads (2). Please reduce thread-groups"),
    ("    nbthread 200\n    thread-groups 2\n",
     "Too many remaining unassigned threads (200) for thread groups (2). Please increase "
     "thread-groups or make sure to keep thread numbers contiguous"),
])
def test_impossible_layouts_are_refused(tmp_path, lines, message):
    _, diag, _ = parse_text(tmp_path, "global\n" + lines + TAIL.format(port=1))
    assert diag.failed and message in [m.text for m in diag.alerts]


# -- the command line ---------------------------------------------------------------------

def test_hapx_dc_on_a_fixture_tree(tmp_path, sysroot):
    cfg = tmp_path / "h.cfg"
    cfg.write_text("global\n    cpu-policy performance\n" + TAIL.format(port=free_port()))
    env = dict(os.environ, HAPX_SYSFS_ROOT=sysroot["epyc-7763"])
    proc = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-dc", "-c", "-f",
                           str(cfg)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == ("[keep] cpu=  0 pk=00 no=00 cl=000(000) l3=000 l2=00 l1=00 ts=000 "
                      "capa=3675 smt=0/2")
    assert out[out.index("Thread CPU Bindings:") + 2] == "  1/1-16    1-16       16: 0-7,64-71"
    assert out[-2] == "  8/1-16    113-128    16: 56-63,120-127"
    assert out[-1] == "Configuration file is valid"
    assert "[TRACE]" not in proc.stderr  # -dc is not -d
    # without -dc nothing is dumped
    proc = subprocess.run([sys.executable, "-m", "hapx.core.cli.main", "-c", "-f", str(cfg)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout == "Configuration file is valid\n"


def test_live_process_is_bound_by_cpu_map():
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("binding to the only allowed CPU would prove nothing")
    cpu = allowed[-1]
    port = free_port()
    cfg = (f"global\n    nbthread 1\n    cpu-map 1/1 {cpu}\n" + TAIL.format(port=port)
           + "    http-request return status 200\n")
    with run_hapx(cfg, ready_ports=[port], env={"HAPX_SYSFS_ROOT": ""}) as proc:
        wait_until(lambda: os.sched_getaffinity(proc.pid) == {cpu})
        assert f"Cpus_allowed_list:\t{cpu}\n" in Path(f"/proc/{proc.pid}/status").read_text()
