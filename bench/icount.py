"""Instructions per request of hapx's own code, counted by callgrind: a deterministic
figure to compare two versions of the per-request path on a machine whose timings vary.

    python bench/icount.py [--scenario http-ka-100] [--small 300] [--large 1300]
    python bench/icount.py --driver h2 --scenario h2c-100 --small 300 --large 1300

Runs ``bench/h1_inproc.py`` (or ``bench/h2_inproc.py``) (in-memory transports, no sockets except a log sink) under
``valgrind --tool=callgrind`` twice, with ``--small`` and ``--large`` requests, in
parallel, and prints (large - small) / (large - small requests): start-up cancels out.
Needs valgrind (Debian package ``valgrind``).  Counts user-space instructions of the
Python process only: system calls and the kernel's work are not in it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def start(scenario: str, requests: int, driver: str = "h1",
          extra: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           sys.executable, str(HERE / f"{driver}_inproc.py"), "--scenario", scenario,
           "--repeat", "1", "--requests", str(requests), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def collected(proc: subprocess.Popen[str]) -> int:
    out, _ = proc.communicate()
    m = _COLLECTED.search(out)
    if m is None:
        raise SystemExit(f"callgrind printed no count:\n{out[-2000:]}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="http-ka-100")
    ap.add_argument("--small", type=int, default=300)
    ap.add_argument("--large", type=int, default=1300)
    ap.add_argument("--driver", choices=("h1", "h2"), default="h1",
                    help="h1: bench/h1_inproc.py; h2: bench/h2_inproc.py (h2c, batches "
                         "of 100 streams: give --small/--large in hundreds)")
    ap.add_argument("--codec", help="h2 driver: h2-codec lean or h2")
    args = ap.parse_args()
    extra = ("--codec", args.codec) if args.codec else ()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    small = start(args.scenario, args.small, args.driver, extra)
    large = start(args.scenario, args.large, args.driver, extra)
    a, b = collected(small), collected(large)
    per = (b - a) / (args.large - args.small)
    print(f"{args.scenario}: {per:,.0f} instructions per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
