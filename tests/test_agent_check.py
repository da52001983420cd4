"""agent-check: a program on the server tells hapx its state, weight and maxconn.

A test agent answers each connection with a line the test sets; hapx and Debian's haproxy
run the same configuration through the same sequence of answers, and the stats columns,
``get weight`` and the server-state log lines must be the same."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from typing import Any

import pytest
from cliutil import cli
from netutil import (
    HAPX_CMD,
    OriginServer,
    free_ports,
    have_haproxy,
    run_haproxy,
    run_hapx,
    wait_until,
)

CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 127.0.0.1:{origin} weight 10 agent-check agent-port {agent} agent-inter 100 agent-send "hello\\n"
    server s2 127.0.0.1:{origin} weight 10
"""

COLUMNS = ("status", "weight", "slim", "agent_status", "agent_code", "last_agt", "agent_desc",
           "agent_rise", "agent_fall", "agent_health")


class Agent:
    """A TCP agent: reads the line hapx sends (``agent-send``) unless ``expect_line`` is
    False, answers ``reply`` and closes."""

    def __init__(self, expect_line: bool = True) -> None:
        self.expect_line = expect_line
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reply = "up"
        self.received: list[bytes] = []
        self.served: dict[str, int] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                got = b""
                try:
                    while self.expect_line and b"\n" not in got:
                        piece = conn.recv(100)
                        if not piece:
                            break
                        got += piece
                    with self.lock:
                        reply = self.reply
                        self.received.append(got)
                    conn.sendall(reply.encode() + b"\n")
                except OSError:
                    continue
                with self.lock:
                    self.served[reply] = self.served.get(reply, 0) + 1

    def answer(self, reply: str) -> None:
        """Answer ``reply`` from now on, and return once two checks have read it."""
        with self.lock:
            self.reply = reply
            self.served.pop(reply, None)
        wait_until(lambda: self.served.get(reply, 0) >= 2, 10)

    def close(self) -> None:
        self.sock.close()


def _row_once(sock: str) -> dict[str, str]:
    lines = cli(sock, "show stat").splitlines()
    names = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(names, line.split(","), strict=False))
        if row.get("svname") == "s1":
            return {k: row[k] for k in COLUMNS}
    raise AssertionError(lines)


def server_row(sock: str) -> dict[str, str]:
    """s1's columns between two agent checks: a check running shows its last status with
    a "* " prefix and no info text yet (HAProxy clears it when a check starts)."""
    rows: list[dict[str, str]] = []

    def settled() -> bool:
        rows.append(_row_once(sock))
        return not rows[-1]["agent_status"].startswith("* ")
    wait_until(settled, 10, interval=0.02)
    return rows[-1]


def state_lines(output: str) -> list[str]:
    """The server-state lines of the output, durations blanked, repeats folded."""
    out: list[str] = []
    for line in output.splitlines():
        m = re.search(r"(Server be/s1 .*)", line)
        if m is None:
            continue
        text = re.sub(r"check duration: \d+ms", "check duration: Nms", m.group(1))
        if not out or out[-1] != text:
            out.append(text)
    return out


SEQUENCE = ["up 50%", "drain", "drain 30%", "stopped #going away", "ready up 100%",
            "bogus words", "maxconn:30", "down", "maint", "ready", "UP", "fail", "up 75%"]


def drive(runner: Any, tmp_path: Any) -> tuple[list[Any], list[str], list[bytes]]:
    agent = Agent()
    fe, = free_ports(1)
    sock = str(tmp_path / f"{runner.__name__}.sock")
    seen: list[Any] = []
    try:
        with OriginServer() as origin, runner(CFG.format(
                sock=sock, fe=fe, origin=origin.port, agent=agent.port),
                ready_ports=[fe, sock]) as proc:
            agent.answer("up")
            for reply in SEQUENCE:
                agent.answer(reply)
                seen.append((reply, server_row(sock), cli(sock, "get weight be/s1")))
            output = proc.output()
    finally:
        agent.close()
    return seen, state_lines(output), agent.received


@pytest.fixture(scope="module")
def hapx_drive(tmp_path_factory):
    """hapx driven through SEQUENCE once, for the tests reading that run (each reads the
    result only: the run is the same whichever test asks first)."""
    return drive(run_hapx, tmp_path_factory.mktemp("agent"))


def test_agent_answers_act_on_the_server(hapx_drive):
    seen, lines, received = hapx_drive
    rows = {reply: row for reply, row, _w in seen}
    assert rows["up 50%"]["weight"] == "5" and rows["up 50%"]["agent_status"] == "L7OK"
    assert rows["drain"]["status"] == "DRAIN (agent)"
    assert rows["stopped #going away"]["status"] == "DOWN (agent)"
    assert rows["stopped #going away"]["last_agt"] == "via agent : stopped (going away)"
    assert rows["bogus words"]["last_agt"] == "agent reports an error : bogus"
    assert rows["bogus words"]["agent_desc"] == "No status change"
    assert rows["maxconn:30"]["slim"] == "30"
    assert rows["maint"]["status"] == "MAINT"
    assert rows["up 75%"]["weight"] == "7"
    assert received and set(received) == {b"hello\n"}
    assert "Server be/s1 is DOWN, reason: Layer7 wrong status, code: 0, info: \"via agent : " \
        "stopped (going away)\", check duration: Nms. 1 active and 0 backup servers left. " \
        "0 sessions active, 0 requeued, 0 remaining in queue." in lines


def test_agent_check_matches_haproxy(hapx_drive, tmp_path):
    ours = hapx_drive
    theirs = drive(run_haproxy, tmp_path)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]


def test_unreachable_agent_changes_nothing(tmp_path):
    fe, dead = free_ports(2)
    sock = str(tmp_path / "s.sock")
    with OriginServer() as origin, run_hapx(CFG.format(
            sock=sock, fe=fe, origin=origin.port, agent=dead), ready_ports=[fe, sock]):
        wait_until(lambda: server_row(sock)["agent_status"] == "L4CON", 10)
        row = server_row(sock)
        assert row["status"] == "no check"
        assert row["agent_desc"] == "Layer4 connection problem"


@pytest.mark.parametrize("cmd", [HAPX_CMD, ["haproxy"]], ids=["hapx", "haproxy"])
def test_agent_check_needs_a_port(cmd, tmp_path):
    if cmd[0] == "haproxy" and not have_haproxy():
        pytest.skip("Debian's haproxy is not installed")
    cfg = tmp_path / "a.cfg"
    cfg.write_text(CFG.format(sock=tmp_path / "s.sock", fe=1, origin=1, agent=1).replace(
        " agent-port 1", ""))
    out = subprocess.run([*cmd, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert out.returncode != 0
    assert "server s1 does not have agent port. Agent check has been disabled." in \
        out.stdout + out.stderr


CLI_SEQUENCE = ["set server be/s2 state drain", "set weight be/s2 5", "set weight be/s2 5",
                "set server be/s2 health down", "set server be/s2 health up",
                "set server be/s2 state ready", "set server be/s2 health stopping",
                "set server be/s2 health up", "set server be/s1 agent down",
                "set server be/s1 agent up"]


def cli_lines(runner: Any, tmp_path: Any) -> list[str]:
    agent = Agent()
    fe, = free_ports(1)
    sock = str(tmp_path / f"cli-{runner.__name__}.sock")
    cfg = CFG.replace("agent-inter 100", "agent-inter 60s").replace(
        "server s2 127.0.0.1:{origin} weight 10", "server s2 127.0.0.1:{origin} weight 10 "
        "check inter 60s")
    try:
        with OriginServer() as origin, runner(cfg.format(
                sock=sock, fe=fe, origin=origin.port, agent=agent.port),
                ready_ports=[fe, sock]) as proc:
            for line in CLI_SEQUENCE:
                assert cli(sock, line).strip() == ""
            wait_until(lambda: "is UP, changed from CLI" in proc.output().split(
                "be/s1 is DOWN")[-1], 10)
            output = proc.output()
    finally:
        agent.close()
    return [re.sub(r".*?(Server be/s\d .*)", r"\1", line) for line in output.splitlines()
            if re.search(r"Server be/s\d ", line)]


def test_forced_states_log_as_haproxy(tmp_path):
    """Weights and forced states from the runtime API, with a drained server."""
    ours = cli_lines(run_hapx, tmp_path)
    assert "Server be/s2 remains in forced drain mode." in ours
    assert "Server be/s2 is stopping, changed from CLI. 1 active and 0 backup servers " \
        "online. 0 sessions requeued, 0 total in queue." in ours
    assert ours == cli_lines(run_haproxy, tmp_path)


def test_dynamic_server_agent_starts_with_enable_agent(tmp_path):
    agent = Agent(expect_line=False)
    fe, = free_ports(1)
    sock = str(tmp_path / "dyn.sock")
    try:
        with OriginServer() as origin, run_hapx(CFG.format(
                sock=sock, fe=fe, origin=origin.port, agent=agent.port),
                ready_ports=[fe, sock]):
            agent.answer("down")
            assert cli(sock, f"add server be/s3 127.0.0.1:{origin.port} agent-check "
                       f"agent-port {agent.port} agent-inter 100").strip() == \
                "New server registered."
            assert cli(sock, "enable server be/s3").strip() == ""
            before = len(agent.received)
            assert cli(sock, "enable agent be/s3").strip() == ""
            wait_until(lambda: len(agent.received) >= before + 4, 10)

            def s3_status() -> str:
                for line in cli(sock, "show stat").splitlines():
                    if line.startswith("be,s3,"):
                        return line.split(",")[17]
                return ""
            wait_until(lambda: s3_status() == "DOWN (agent)", 10)
            agent.answer("up")
            wait_until(lambda: s3_status() == "no check", 10)
    finally:
        agent.close()
