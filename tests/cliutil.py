"""Runtime-API clients for the tests: one command on a stats (or master) CLI socket, the
whole answer back.

- ``cli(path, line)``: a Python client: connects to the UNIX socket, sends the line (and
  optionally a ``<<`` payload), reads until the server closes.
- ``socat_cli(path, line)``: the same exchange through ``socat`` (the client the HAProxy docs
  use) when it is installed, else ``cli``.

Interactive sessions (prompt mode) are written in the tests themselves with
``netutil.recv_until``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from netutil import recv_until_eof

SOCAT = shutil.which("socat")


def cli_request(line: str, payload: str | None = None) -> str:
    """The text sent for one command: the line, or with ``payload`` the line ending in ``<<``
    then the payload's lines and an empty line."""
    if payload is None:
        return line + "\n"
    return line + " <<\n" + payload + "\n\n"


def cli(path: str | Path, line: str, payload: str | None = None, *, timeout: float = 20.0,
        half_close: bool = False) -> str:
    """One non-interactive exchange with a Python client: the reply until the server closes
    (``half_close``: shut our side down right after the command)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(cli_request(line, payload).encode())
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s, timeout).decode()


def socat_cli(path: str | Path, line: str, payload: str | None = None, *,
              timeout: float = 20.0) -> str:
    """One non-interactive exchange through socat when present, else the Python client."""
    if SOCAT is None:
        return cli(path, line, payload=payload, timeout=timeout)
    out = subprocess.run([SOCAT, "-t", "5", "-", f"UNIX-CONNECT:{path}"],
                         input=cli_request(line, payload), capture_output=True, text=True,
                         timeout=timeout)
    return out.stdout
