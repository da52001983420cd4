"""haproxy's command line, read the way haproxy reads it.

Flags are single words (``-db``, ``-dKall``, ``-Ws``); a few take the next word (``-f``,
``-p``, ``-cc`` ...); ``-sf``/``-st`` take every following word that does not start with
``-``; files after ``--`` are configuration files.  hapx adds ``--disable-plugin NAME`` and
``--enable-plugin NAME``; other long options are kept for the plugins' own options
(``hapx_add_options``), and so are the ``-d<x>`` flags the kernel does not know (a plugin may
declare one, e.g. ``-dc``; an unclaimed one means ``-d``, as in haproxy).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from ..version import HAPROXY_COMPAT, HAPX_RELEASE_DATE, HAPX_VERSION


class UsageError(Exception):
    """A command line haproxy would refuse: print the usage and exit 1."""


#: runtime switches turned off (or on) by -de/-dp/-dk/-dv/-dS/-dG/-dR/-dF/-dV, named as
#: ``enabled()`` conditions name them
DEBUG_SWITCHES: dict[str, tuple[str, bool]] = {
    "e": ("EPOLL", False),
    "p": ("POLL", False),
    "k": ("KQUEUE", False),
    "v": ("EVPORTS", False),
    "S": ("SPLICE", False),
    "G": ("GETADDRINFO", False),
    "R": ("REUSEPORT", False),
    "F": ("FAST-FORWARD", False),
    "V": ("SERVER-SSL-VERIFY-NONE", True),
}


@dataclass
class Options:
    """Everything the command line says."""

    argv: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    check: bool = False
    check_condition: str | None = None
    version: int = 0  # 1 for -v, 2 for -vv
    debug: bool = False
    foreground: bool = False
    daemon: bool = False
    master_worker: bool = False
    systemd: bool = False
    quiet: bool = False
    verbose: bool = False
    zero_warning: bool = False
    diag: bool = False
    dump_cfg: str | None = None  # -dC[key][,line]
    dump_keywords: str | None = None  # -dK<classes>
    trace: str | None = None  # -dt [<spec>]: "" means every trace source
    mem_debug: str | None = None  # -dM[<opts>]
    insecure_fork: bool = False
    resolve_dontfail: bool = False
    zero_copy: bool = True
    ipv4_only: bool = False
    switches: dict[str, bool] = field(default_factory=dict)
    pidfile: str | None = None
    master_cli: list[str] = field(default_factory=list)
    localpeer: str | None = None
    change_dir: str | None = None
    maxconn: int | None = None
    maxpconn: int | None = None
    memmax_mb: int | None = None
    oldpids: list[int] = field(default_factory=list)
    oldpids_signal: str = ""  # "SIGUSR1" for -sf, "SIGTERM" for -st
    old_unixsocket: str | None = None
    disable_plugins: list[str] = field(default_factory=list)
    enable_plugins: list[str] = field(default_factory=list)
    #: long options left for the plugins (``hapx_add_options``), with their values
    plugin_args: list[str] = field(default_factory=list)
    #: ``-d<x>`` flags the kernel does not know, for the plugins (``-dc``); one that no
    #: plugin declares is ``-d`` (see ``check.plugin_options``)
    debug_flags: list[str] = field(default_factory=list)

    @property
    def is_quiet(self) -> bool:
        """-V undoes -q."""
        return self.quiet and not self.verbose


_ONE_ARG = {"C", "n", "m", "N", "L", "f", "p", "S", "x"}


def _int_arg(flag: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"-{flag} expects a number, not '{value}'") from None


def parse_args(argv: list[str]) -> Options:
    """Read haproxy's command line (without the program name)."""
    opts = Options(argv=list(argv))
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            raise UsageError(f"unexpected argument '{arg}'")
        if arg == "--":
            opts.files.extend(argv[i + 1:])
            break
        if arg.startswith("--"):
            i = _long_option(opts, argv, i)
            continue
        flag = arg[1:]
        if flag[0] == "v":
            opts.version = max(opts.version, 2 if flag[1:2] == "v" else 1)
        elif flag[0] == "d" and len(flag) > 1:
            i = _debug_flag(opts, flag, argv, i)
        elif flag == "d":
            opts.debug = True
        elif flag == "V":
            opts.verbose = True
        elif flag == "cc":
            if i + 1 >= n:
                raise UsageError("-cc expects a condition")
            i += 1
            opts.check_condition = argv[i]
        elif flag == "c":
            opts.check = True
        elif flag == "D":
            opts.daemon = True
        elif flag == "Ws":
            opts.master_worker = opts.foreground = opts.systemd = True
        elif flag == "W":
            opts.master_worker = True
        elif flag == "q":
            opts.quiet = True
        elif flag == "4":
            opts.ipv4_only = True
        elif flag in ("sf", "st"):
            opts.oldpids_signal = "SIGUSR1" if flag == "sf" else "SIGTERM"
            while i + 1 < n and not argv[i + 1].startswith("-"):
                i += 1
                pid = _int_arg(flag, argv[i].strip())
                if pid <= 0:
                    raise UsageError(f"-{flag}: invalid pid '{argv[i]}'")
                opts.oldpids.append(pid)
        elif flag[0] in _ONE_ARG and len(flag) == 1:
            if i + 1 >= n:
                raise UsageError(f"-{flag} expects an argument")
            i += 1
            _one_arg(opts, flag, argv[i])
        else:
            raise UsageError(f"unknown option '{arg}'")
        i += 1
    return opts


def _one_arg(opts: Options, flag: str, value: str) -> None:
    if flag == "f":
        opts.files.append(value)
    elif flag == "p":
        opts.pidfile = value
    elif flag == "S":
        opts.master_cli.append(value)
    elif flag == "L":
        opts.localpeer = value
    elif flag == "C":
        opts.change_dir = value
    elif flag == "x":
        opts.old_unixsocket = value
    elif flag == "n":
        opts.maxconn = _int_arg(flag, value)
    elif flag == "N":
        opts.maxpconn = _int_arg(flag, value)
    elif flag == "m":
        opts.memmax_mb = _int_arg(flag, value)


def _debug_flag(opts: Options, flag: str, argv: list[str], i: int) -> int:
    """``-d<x>...``: the second letter decides, as in haproxy."""
    sub = flag[1]
    if sub in DEBUG_SWITCHES:
        name, value = DEBUG_SWITCHES[sub]
        opts.switches[name] = value
    elif sub == "b":
        opts.foreground = True
    elif sub == "D":
        opts.diag = True
    elif sub == "W":
        opts.zero_warning = True
    elif sub == "M":
        opts.mem_debug = flag[2:]
    elif sub == "I":
        opts.insecure_fork = True
    elif sub == "Z":
        opts.zero_copy = False
    elif sub == "r":
        opts.resolve_dontfail = True
    elif sub == "C":
        opts.dump_cfg = flag[2:]
    elif sub == "K":
        opts.dump_keywords = flag[2:]
    elif sub == "t":
        opts.trace = ""
        if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            i += 1
            opts.trace = argv[i]
    else:
        opts.debug_flags.append("-" + flag)  # a plugin's, or -d (check.plugin_options)
    return i


def _long_option(opts: Options, argv: list[str], i: int) -> int:
    arg = argv[i]
    name, eq, value = arg.partition("=")
    if name in ("--disable-plugin", "--enable-plugin"):
        if not eq:
            if i + 1 >= len(argv):
                raise UsageError(f"{name} expects a plugin name")
            i += 1
            value = argv[i]
        target = opts.disable_plugins if name == "--disable-plugin" else opts.enable_plugins
        target.extend(v for v in value.split(",") if v)
        return i + 1
    if name in ("--help", "--version"):
        if name == "--version":
            opts.version = max(opts.version, 1)
            return i + 1
        raise UsageError("")
    # a plugin's option: it takes the following words that are not options
    opts.plugin_args.append(arg)
    i += 1
    while not eq and i < len(argv) and not argv[i].startswith("-"):
        opts.plugin_args.append(argv[i])
        i += 1
    return i


def usage_text(prog: str = "hapx") -> str:
    return f"""HAPX version {HAPX_VERSION} {HAPX_RELEASE_DATE} - HAProxy {HAPROXY_COMPAT} compatible
Usage : {prog} [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]
        [ -p <pidfile> ] [ -m <max megs> ] [ -C <dir> ] [-- <cfgfile>*]
        {prog} plugins [--json]
        {prog} doc [<kind> [<name>]]
        -v displays version ; -vv shows versions, features and plugins.
        -d enters debug mode ; -db only disables background mode.
        -dM[<opts>,help] debug memory (Python allocation tracing)
        -dt [<source>[:<level>]] activate traces on stderr
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -n sets the maximum total # of connections
        -m limits the usable amount of memory (in MB)
        -N sets the default, per-proxy maximum # of connections
        -L set local peer name (default to hostname)
        -p writes pids of all children to this file
        -dC[[key],line] display the configuration file, anonymised when there is a key
        -de/-dp/-dk/-dv disable epoll/poll/kqueue/evports usage
        -dS disables splice ; -dG disables getaddrinfo() ; -dR disables SO_REUSEPORT
        -dK{{class[,...]}} dump registered keywords (use 'help' for list)
        -dr ignores server address resolution failures
        -dV disables SSL verify on servers side
        -dW fails if any warning is emitted
        -dD diagnostic mode : warn about suspicious configuration statements
        -dF disable fast-forward ; -dZ disable zero-copy forwarding
        -dI enable insecure fork
        -4 resolve names to IPv4 addresses only
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket
        -S <bind>[,<bind options>...] new master CLI
        --disable-plugin <name> / --enable-plugin <name> (also ${{HAPX_DISABLE_PLUGINS}})
"""


def print_usage(message: str = "") -> int:
    if message:
        print(f"[ALERT]    ({os.getpid()}) : {message}", file=sys.stderr)
    print(usage_text(), file=sys.stderr, end="")
    return 1
