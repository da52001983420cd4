"""Loading the plugins and the configuration, and reporting as ``haproxy -c`` does."""

from __future__ import annotations

import argparse
import gc
import io
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from ..config import condition
from ..config.model import Config
from ..config.parser import parse_config
from ..config.sections import scan_plugin_selection
from ..errors import Diagnostics, PluginError
from ..loader import DISABLE_ENV, PluginSet, list_installed, load_plugins
from ..version import HAPROXY_COMPAT
from .options import Options


def say(level: str, text: str, stream: Any = None) -> None:
    """A message in haproxy's layout that is not about a configuration line."""
    label = {"alert": "[ALERT]   ", "warning": "[WARNING] ", "notice": "[NOTICE]  "}[level]
    print(f"{label} ({os.getpid()}) : {text}", file=stream or sys.stderr, flush=True)


def plugin_selection(opts: Options) -> tuple[list[str], list[str]]:
    """The plugins to disable and the contrib plugins to enable, from the configuration's
    global ``disable-plugin``/``enable-plugin`` lines, ``$HAPX_DISABLE_PLUGINS`` and the
    command line.  ``--enable-plugin`` wins over any disabling."""
    # pipes (-f /dev/stdin) can be read once only: the parser reads them, not this scan
    scannable = [f for f in opts.files if os.path.isdir(f) or os.path.isfile(f)]
    cfg_disabled, cfg_enabled = scan_plugin_selection(scannable) if scannable else ([], [])
    env = [n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()]
    enabled = list(dict.fromkeys(cfg_enabled + opts.enable_plugins))
    disabled = [n for n in dict.fromkeys(cfg_disabled + env + opts.disable_plugins)
                if n not in opts.enable_plugins]
    regular = {ep.name for ep in list_installed()}
    # enabling a regular plugin only undoes its disabling; other names are contrib plugins
    contrib = [n for n in enabled if n not in regular]
    return disabled, contrib


def load(opts: Options) -> PluginSet | None:
    """Load the plugins; None (after an alert) when they cannot work together."""
    disabled, contrib = plugin_selection(opts)
    quiet = opts.is_quiet

    def warn(text: str) -> None:
        if not quiet:
            say("warning", text)

    try:
        return load_plugins(disabled=disabled, enabled_contrib=contrib, warn=warn)
    except PluginError as exc:
        say("alert", f"plugins : {exc}")
        return None


def plugin_options(plugins: PluginSet, opts: Options) -> argparse.Namespace:
    """Parse the options that plugins added with ``hapx_add_options``: long options, and
    ``-d<x>`` flags (a plugin declares ``parser.add_argument("-dc", ...)``).  A ``-d<x>``
    flag that no plugin declares is haproxy's ``-d`` (debug mode)."""
    parser = argparse.ArgumentParser(prog="hapx", add_help=False, allow_abbrev=False)
    parser.add_argument("--disable-plugin", action="append", default=[])
    parser.add_argument("--enable-plugin", action="append", default=[])
    plugins.hook.hapx_add_options(parser=parser)
    namespace = parser.parse_args(opts.plugin_args)
    if opts.debug_flags:
        _, unclaimed = parser.parse_known_args(opts.debug_flags, namespace=namespace)
        if unclaimed:
            opts.debug = True
    return namespace


def apply_switches(opts: Options) -> None:
    """Command-line switches that configurations can test (``enabled(EPOLL)``) and the
    environment haproxy sets before reading its files."""
    condition.RUNTIME_OPTIONS.update(opts.switches)
    os.environ["HAPROXY_LOCALPEER"] = opts.localpeer or socket.gethostname()
    os.environ["HAPROXY_BRANCH"] = HAPROXY_COMPAT


def cond_context(plugins: PluginSet) -> condition.CondContext:
    def feature(name: str) -> bool:
        rec = plugins.registry.feature(name)
        return bool(rec and rec.enabled)
    return condition.CondContext(env=os.environ, features=feature)


@dataclass
class Loaded:
    """A configuration that parsed without error."""

    plugins: PluginSet
    config: Config
    diag: Diagnostics


def load_config(opts: Options, plugins: PluginSet,
                options: argparse.Namespace | None = None) -> Loaded | int:
    """Parse the files; on errors print haproxy's closing alerts and return 1.  ``options``
    (the plugins' command-line options) is what ``config.options`` shows the hooks."""
    diag = Diagnostics(quiet=opts.is_quiet, diag_enabled=opts.diag)
    config = parse_config(opts.files, plugins, diag, options)
    # what exists now (the plugins, the configuration) lives as long as the process: keep
    # it out of every future garbage collection instead of scanning it again each time
    gc.freeze()
    if diag.failed:
        bad = [f for f in config.files if any(m.file == f for m in diag.alerts)]
        for name in bad:
            diag.alert(f"Error(s) found in configuration file : {name}")
        diag.alert("Fatal errors found in configuration.")
        return 1
    zero = opts.zero_warning or bool(config.global_.settings.get("zero-warning"))
    if zero and diag.warnings:
        diag.alert("Some warnings were found and 'zero-warning' is set. Aborting.")
        return 1
    return Loaded(plugins, config, diag)


def report_check(loaded: Loaded, opts: Options) -> int:
    """The end of ``-c``: the keywords not active yet, then haproxy's verdict."""
    config, diag = loaded.config, loaded.diag
    for use in config.inactive:
        owner = f" (plugin {use.owner})" if use.owner else ""
        diag.notice(f"'{use.keyword}'{owner} is not active yet in this version of hapx: "
                    "parsed and validated only", use.file, use.line)
    if not opts.is_quiet and diag.warnings:
        print("Warnings were found.", flush=True)
    if config.listener_count() == 0:
        if not opts.is_quiet:
            print("Configuration file has no error but will not start (no listener) => "
                  "exit(2).", flush=True)
        return 2
    if opts.verbose or not opts.quiet:
        print("Configuration file is valid", flush=True)
    return 0


def refuse_inactive(loaded: Loaded) -> bool:
    """Before starting: a keyword whose runtime is missing stops hapx, named with
    file:line.  Returns True when hapx must not start."""
    config, diag = loaded.config, loaded.diag
    for use in config.inactive:
        owner = f" (plugin {use.owner})" if use.owner else ""
        diag.alert(f"'{use.keyword}'{owner} is not active yet in this version of hapx: it is "
                   "parsed and validated only and cannot carry traffic", use.file, use.line)
    if config.inactive:
        diag.alert(f"hapx cannot start: {len(config.inactive)} use(s) of keywords that are not "
                   "active yet (check them with 'hapx -c').")
        return True
    if config.listener_count() == 0:
        diag.alert("[hapx.main()] No enabled listener found (check for 'bind' directives) ! "
                   "Exiting.")
        return True
    return False


def dump_config(opts: Options, plugins: PluginSet) -> None:
    """``-dC[key][,line]``: the configuration as hapx reads it (conditional blocks resolved,
    comments and blank lines removed); with a key, every argument is anonymised."""
    from ..config.reader import expand_paths, read_lines
    from ..config.tokenizer import TokenizeError, tokenize
    from .anon import anonymise_words

    parts = [p for p in (opts.dump_cfg or "").split(",") if p]
    with_lines = "line" in parts
    keys = [p for p in parts if p != "line"]
    key = int(keys[0]) if keys and keys[0].isdigit() else 0
    sink = Diagnostics(quiet=True, stream=io.StringIO())
    for src in read_lines(expand_paths(opts.files), sink, lambda: cond_context(plugins), None):
        try:
            line = tokenize(src.text)
        except TokenizeError:
            continue
        if not line.words:
            continue
        words = anonymise_words(line.words, key, plugins.registry) if key else line.words
        indent = "" if not src.text[:1].isspace() else "    "
        prefix = f"{src.number}\t" if with_lines else ""
        print(f"{prefix}{indent}{' '.join(_quote(w) for w in words)}")


def _quote(word: str) -> str:
    if word == "" or any(c in word for c in " \t#'\"\\"):
        return "'" + word.replace("'", "'\\''") + "'"
    return word
