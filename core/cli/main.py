"""``hapx``: haproxy's command line (check, run, version, keyword dumps) plus the
``hapx plugins`` and ``hapx doc`` subcommands, and the subcommands plugins register."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..config.condition import ConditionError, evaluate
from ..config.tokenizer import TokenizeError, tokenize
from ..runtime import handover
from .check import (
    apply_switches,
    cond_context,
    dump_config,
    load,
    load_config,
    plugin_options,
    refuse_inactive,
    report_check,
    say,
)
from .options import Options, UsageError, parse_args, print_usage

SUBCOMMANDS = ("plugins", "doc")


def configure_traces(opts: Options) -> None:
    """``-d`` and ``-dt [<source>[:<level>]]``: the ``hapx`` loggers go to stderr."""
    if opts.trace is None and not opts.debug:
        return
    source, _, level = (opts.trace or "").partition(":")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[TRACE] %(asctime)s %(name)s: %(message)s"))
    name = "hapx" if source in ("", "all", "hapx") else f"hapx.{source.removeprefix('hapx.')}"
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(getattr(logging, level.upper(), logging.DEBUG) if level else logging.DEBUG)


def check_condition(text: str, plugins: object) -> int:
    """``-cc``: 0 when true, 1 when false, 2 when it cannot be evaluated."""
    try:
        words = tokenize(text).words
    except TokenizeError as exc:
        say("alert", f"config : Syntax Error in condition: {exc}.")
        return 2
    try:
        return 0 if evaluate(" ".join(words), cond_context(plugins)) else 1  # type: ignore[arg-type]
    except ConditionError as exc:
        say("alert", f"config : Failed to evaluate condition: {exc}")
        return 2


def run_haproxy(argv: list[str]) -> int:
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        return print_usage(str(exc))
    if opts.version == 1 and not opts.plugin_args:
        from .versions import display_version

        display_version(sys.stdout)
        return 0
    if opts.mem_debug is not None:
        from .runner import check_memory_debug

        code = check_memory_debug(opts.mem_debug)
        if code is not None:
            return code
    configure_traces(opts)
    apply_switches(opts)
    plugins = load(opts)
    if plugins is None:
        return 1
    was_debug = opts.debug
    try:
        extra = plugin_options(plugins, opts)
    except SystemExit:
        return print_usage("invalid plugin option")
    if opts.debug and not was_debug and opts.trace is None:
        configure_traces(opts)  # an unclaimed -d<x> flag turned out to be -d
    if opts.version:
        from .versions import display_build, display_version

        display_version(sys.stdout)
        if opts.version > 1:
            display_build(sys.stdout, plugins)
        return 0
    if opts.check_condition is not None:
        return check_condition(opts.check_condition, plugins)
    if opts.change_dir:
        try:
            os.chdir(opts.change_dir)
        except OSError as exc:
            say("alert", f"Could not change to directory {opts.change_dir} : {exc.strerror}")
            return 1
    if not opts.files:
        if opts.dump_keywords is not None:
            return dump_keywords(opts, plugins)
        return print_usage("No configuration file given (use -f <file>).")
    for path in opts.files:
        if not os.path.exists(path):
            say("alert", f"Cannot open configuration file/directory {path} : No such file or "
                         "directory")
            return 1
    if opts.dump_cfg is not None:
        dump_config(opts, plugins)
    loaded = load_config(opts, plugins, extra)
    if isinstance(loaded, int):
        return loaded
    if opts.dump_keywords is not None:
        dump_keywords(opts, plugins)
    if opts.check:
        return report_check(loaded, opts)
    if opts.dump_cfg is not None:
        return 0
    if refuse_inactive(loaded):
        return 1
    under_master = handover.load().active
    master_mode = opts.master_worker or "master-worker" in loaded.config.global_.settings
    if opts.old_unixsocket and not under_master and \
            not take_old_sockets(opts.old_unixsocket) and not master_mode:
        return 1
    if under_master:
        pass  # a generation of workers started by the master
    elif master_mode:
        from .master import run_master

        return run_master(opts, loaded)
    from .runner import run_worker

    return run_worker(loaded, opts, extra)


def take_old_sockets(path: str) -> bool:
    """``-x <socket>``: receive the old process's listening sockets (``_getsocks``) for the
    binds to adopt; False when that failed (reported in HAProxy's words: standalone, the
    start then fails; under a master it goes on and binds afresh).  ``/dev/null`` asks for
    nothing."""
    from ..net import sockxfer

    if path == "/dev/null":
        return True
    try:
        handover.HANDOVER.xfer.extend(sockxfer.fetch(path))
    except sockxfer.XferError as exc:
        say("warning", str(exc))
        say("alert", "Failed to get the sockets from the old process!")
        return False
    return True


def dump_keywords(opts: Options, plugins: object) -> int:
    from .keywords import dump_keywords as dump

    dump(opts.dump_keywords or "", plugins.registry, sys.stdout,  # type: ignore[attr-defined]
         lambda text: say("warning", text))
    return 0


def run_subcommand(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hapx", description="hapx plugins and documentation")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--disable-plugin", action="append", default=[], metavar="NAME")
    common.add_argument("--enable-plugin", action="append", default=[], metavar="NAME")
    common.add_argument("-f", dest="files", action="append", default=[], metavar="CFG",
                        help="honour this configuration's disable-plugin/enable-plugin lines")
    p_plugins = sub.add_parser("plugins", parents=[common], help="list the plugins")
    p_plugins.add_argument("--json", action="store_true", help="machine-readable output")
    p_doc = sub.add_parser("doc", parents=[common], help="document the registered keywords")
    p_doc.add_argument("kind", nargs="?", help="fetches, converters, actions, directives, "
                       "sections, balance, filters, services, commands, aliases, acls, features")
    p_doc.add_argument("name", nargs="?", help="one keyword: print its whole documentation")
    args = parser.parse_args(argv)
    opts = Options(files=args.files, disable_plugins=[n for v in args.disable_plugin
                                                     for n in v.split(",") if n],
                   enable_plugins=[n for v in args.enable_plugin for n in v.split(",") if n])
    plugins = load(opts)
    if plugins is None:
        return 1
    if args.command == "plugins":
        from .plugin_list import show_plugins

        show_plugins(plugins, sys.stdout, as_json_output=args.json)
        return 0
    from .doc import run_doc

    return run_doc(plugins.registry, args.kind, args.name, sys.stdout, sys.stderr, plugins)


def run_plugin_subcommand(argv: list[str]) -> int | None:
    """``hapx <word> ...`` where a plugin registered the subcommand ``<word>``
    (:class:`~hapx.core.records.Subcommand`); None when none did."""
    from ..records import Subcommand

    plugins = load(Options())
    if plugins is None:
        return 1
    rec = plugins.registry.get(Subcommand, argv[0])
    if rec is None:
        return None
    parser = argparse.ArgumentParser(prog=f"hapx {rec.name}", description=rec.summary)
    if rec.setup is not None:
        rec.setup(parser)
    return rec.run(parser.parse_args(argv[1:]), sys.stdout)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return run_subcommand(argv)
        if argv and argv[0][:1].isalpha():
            # haproxy's own command line starts with an option: a word is a subcommand
            status = run_plugin_subcommand(argv)
            if status is not None:
                return status
        return run_haproxy(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
