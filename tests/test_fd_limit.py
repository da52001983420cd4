"""The file-descriptor limit at start-up (``maxconn``, ``ulimit-n``, ``strict-limits``):
the same limits, messages and exit statuses as haproxy.  Each proxy starts under a
lowered hard RLIMIT_NOFILE of 4096 (any process may lower its own), so the cases do not
depend on the machine's limit."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netutil import free_port, wait_until

HARD = 4096
CONFIG = """\
global
    maxconn {maxconn}
{extra}
defaults
    mode http
    timeout client 5s
    timeout connect 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200
"""

HAPX = [sys.executable, "-m", "hapx.core.cli.main"]
HAPROXY = shutil.which("haproxy")


def _lower_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, HARD))


def start(argv: list[str], cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*argv, "-db", "-f", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_lower_limit)


def soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


def listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def run_case(argv: list[str], tmp_path: Path, maxconn: int, extra: str
             ) -> tuple[int | None, list[str], int | None]:
    """(exit status or None while serving, the messages without pids, the soft limit
    while serving)."""
    port = free_port()
    cfg = tmp_path / f"c{port}.cfg"
    cfg.write_text(CONFIG.format(maxconn=maxconn, extra=extra, port=port))
    proc = start(argv, cfg)
    limit = None
    try:
        wait_until(lambda: proc.poll() is not None or listening(port), timeout=60,
                   interval=0.05)
        if proc.poll() is None:
            limit = soft_limit(proc.pid)
            proc.terminate()
            status = None
        else:
            status = proc.returncode
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # haproxy names itself by its argv[0], hapx as "hapx"
    lines = [re.sub(r"\[\S*\.main\(\)\]", "[hapx.main()]",
                    re.sub(r"\(\d+\)", "(PID)", ln, count=1))
             for ln in err.splitlines()
             if ln.startswith(("[ALERT]", "[WARNING]")) and "main()" in ln]
    return status, lines, limit


CASES = {
    # maxsock = 2 x 3000 + 1 listener + 16 = 6017 > 4096: refused
    "cannot-raise": (3000, ""),
    "cannot-raise-no-strict": (3000, "    no strict-limits"),
    "ulimit-above-hard": (1000, "    ulimit-n 5000"),
    # ulimit-n below what maxconn needs
    "ulimit-too-low": (1500, "    ulimit-n 2000"),
    # raised from 1024 to what maxconn needs
    "raised": (1000, ""),
    "ulimit-raises": (100, "    ulimit-n 3000"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fd_limit_like_haproxy(tmp_path, case):
    maxconn, extra = CASES[case]
    ours = run_case(HAPX, tmp_path, maxconn, extra)
    if HAPROXY is None:
        pytest.skip("haproxy is not installed")
    theirs = run_case([HAPROXY], tmp_path, maxconn, extra)
    assert ours[0] == theirs[0] and (ours[0] is None or ours[0] == 1)
    assert ours[1] == theirs[1]
    if ours[0] is None:
        assert ours[2] is not None and ours[2] >= {"raised": 2017}.get(case, 0)


def test_no_strict_limits_serves_with_what_it_has(tmp_path):
    status, lines, limit = run_case(HAPX, tmp_path, 3000, "    no strict-limits")
    assert status is None and limit == HARD
    assert lines == [
        "[WARNING]  (PID) : [hapx.main()] Cannot raise FD limit to 6017, limit is 4096.",
        "[ALERT]    (PID) : [hapx.main()] FD limit (4096) too low for maxconn=3000/"
        "maxsock=6017. Please raise 'ulimit-n' to 6017 or more to avoid any trouble."]
