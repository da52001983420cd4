"""Runtime API commands on stick tables: ``show table``, ``set table``, ``clear table``,
in HAProxy's layout and with its messages (checked against haproxy 2.6; the array syntax
``data.gpc[<idx>]`` and the ``shard=`` field are 3.x's)."""

from __future__ import annotations

import re
from typing import Any

from hapx.core.runtime.cli_api import CliError, cli_command

from . import runtime as rt
from .store import DT_ORDER, Entry, FreqCtr, Store, now_ms
from .table import ARRAY_TYPES

_OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "le": lambda a, b: a <= b,
        "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "gt": lambda a, b: a > b}
_DATA = re.compile(r"data\.([a-z0-9_]+)(?:\[(\d+)\])?")
_MAX_FILTERS = 4
_INT = re.compile(r"[-+]?\d+")


def str_to_int(text: str) -> int | None:
    """A whole signed decimal integer, or None."""
    return int(text) if _INT.fullmatch(text) else None


def _tables(config: Any) -> list[tuple[str, Any]]:
    """Declared tables, in HAProxy's listing order (the last declared first)."""
    return list(reversed(list(config.ext.get(rt.TABLES, {}).items())))


def _header(name: str, st: Store) -> str:
    return (f"# table: {name}, type: {st.spec.type}, size:{st.size}, "
            f"used:{st.used()}\n")


def _period_ms(param: Any) -> int:
    return param[1] if isinstance(param, tuple) else param


def dump_entry(st: Store, e: Entry, now: int | None = None) -> str:
    """One entry as ``show table`` prints it."""
    now = now_ms() if now is None else now
    exp = max(0, e.exp - now) if e.exp is not None else 0
    out = [f"0x{id(e):x}: key={rt.key_text(st.spec, e.key)} use={e.use} exp={exp} shard=0"]
    for dt, param in st.layout:
        v = e.d.get(dt)
        if dt in ("gpt", "gpc"):
            out.extend(f" {dt}{i}={x}" for i, x in enumerate(v))
        elif dt == "gpc_rate":
            period = _period_ms(param)
            out.extend(f" gpc{i}_rate({period})={fc.read(period, now)}"
                       for i, fc in enumerate(v))
        elif isinstance(v, FreqCtr):
            period = _period_ms(param)
            out.append(f" {dt}({period})={v.read(period, now)}")
        elif dt == "server_key":
            out.append(f" server_key={v if v is not None else '-'}")
        else:
            out.append(f" {dt}={v}")
    out.append("\n")
    return "".join(out)


def _data_word(st: Store, word: str) -> tuple[str, int]:
    """``data.<type>[<idx>]`` -> (type, idx); raises the CLI's messages."""
    m = _DATA.fullmatch(word)
    if m is None or m.group(1) not in DT_ORDER:
        raise CliError("Unknown data type")
    dt, idx = m.group(1), int(m.group(2) or 0)
    if dt not in st.spec.store:
        raise CliError("Data type not stored in this table")
    if dt in ARRAY_TYPES:
        param = st.spec.store[dt]
        count = param[0] if isinstance(param, tuple) else param
        if idx >= count:
            raise CliError("Data type not stored in this table")
    elif m.group(2) is not None:
        raise CliError("Unknown data type")
    return dt, idx


def _find(cli: Any, args: list[str], pos: int) -> tuple[str, Store]:
    if len(args) <= pos:
        raise CliError('Required arguments: <table> "data.<store_data_type>" <operator> '
                       '<value> or <table> key <key>')
    name = args[pos]
    spec = rt.find_table(cli.config, name)
    if spec is None:
        raise CliError("No such table")
    return name, rt.live(spec)


def _lookup(st: Store, args: list[str], i: int, create: bool) -> Entry | None:
    """The entry named by ``key <k>`` or ``ptr <p>`` at ``args[i]``."""
    if i + 1 >= len(args):
        raise CliError("Key value expected")
    if args[i] == "ptr":
        for e in st:
            if f"0x{id(e):x}" == args[i + 1].lower():
                return e
        if create:
            raise CliError("No entry can be found matching passed address")
        return None
    if st.spec.type == "binary":
        raise CliError("Inserting keys into tables of type other than ip, ipv6, string and "
                       "integer is not supported")
    key = rt.key_from_text(st.spec, args[i + 1])
    if key is None:
        raise CliError("Invalid key")
    if create:
        e = st.get(key)
        if e is None:
            raise CliError("Unable to allocate a new entry")
        return e
    return st.lookup(key)


def _filters(st: Store, args: list[str], i: int) -> list[tuple[str, int, Any, int]]:
    filters = []
    n = 0
    while i < len(args):
        n += 1
        if n > _MAX_FILTERS or not args[i].startswith("data."):
            raise CliError('Optional argument only supports "data.<store_data_type>" '
                           '<operator> <value> and key <key>')
        try:
            dt, idx = _data_word(st, args[i])
        except CliError as exc:
            raise CliError(f"Filter entry #{n}: {exc}") from None
        op = args[i + 1] if i + 1 < len(args) else ""
        if op not in _OPS:
            raise CliError(f'Filter entry #{n}: Require and operator among "eq", "ne", "le", '
                           '"ge", "lt", "gt"')
        value = str_to_int(args[i + 2]) if i + 2 < len(args) else None
        if value is None:
            raise CliError(f"Filter entry #{n}: Require a valid integer value to compare "
                           "against")
        if dt == "server_key":
            raise CliError(f"Filter entry #{n}: Data type not usable as a filter")
        filters.append((dt, idx, _OPS[op], value))
        i += 3
    return filters


def _keep(st: Store, e: Entry, filters: list[tuple[str, int, Any, int]]) -> bool:
    for dt, idx, op, value in filters:
        v = rt.read(st, e, dt, idx)
        if v is None or not op(v, value):
            return False
    return True


def _select(st: Store, args: list[str]) -> tuple[Entry | None, list[Any], bool]:
    """(entry of key/ptr, filters, by key) from the arguments after the table name."""
    if len(args) > 3 and args[3] in ("key", "ptr"):
        if len(args) > 5:
            raise CliError('Optional argument only supports "data.<store_data_type>" '
                           '<operator> <value> and key <key>')
        return _lookup(st, args, 3, False), [], True
    return None, _filters(st, args, 3), False


def show_table(cli: Any, args: list[str]) -> str:
    if len(args) < 3:
        return "".join(_header(name, rt.live(spec)) for name, spec in _tables(cli.config))
    name, st = _find(cli, args, 2)
    entry, filters, by_key = _select(st, args)
    if by_key:
        if entry is None:
            return ""
        return _header(name, st) + dump_entry(st, entry)
    now = now_ms()
    body = "".join(dump_entry(st, e, now) for e in st if _keep(st, e, filters))
    return _header(name, st) + body


def set_table(cli: Any, args: list[str]) -> str:
    _name, st = _find(cli, args, 2)
    if len(args) < 4 or args[3] not in ("key", "ptr"):
        raise CliError('content-based lookup is only supported with the "show" and "clear" '
                       'actions')
    e = _lookup(st, args, 3, True)
    assert e is not None
    i = 5
    while i < len(args):
        dt, idx = _data_word(st, args[i])
        value = str_to_int(args[i + 1]) if i + 1 < len(args) else None
        if value is None:
            raise CliError("Require a valid integer value to store")
        if dt == "server_key":
            raise CliError("Data type not usable with set table")
        rt.write(st, e, dt, value, idx)
        i += 2
    st.touch(e)
    return ""


def clear_table(cli: Any, args: list[str]) -> str:
    _name, st = _find(cli, args, 2)
    entry, filters, by_key = _select(st, args)
    if by_key:
        if entry is not None:
            st.remove(entry.key)
        return ""
    for e in st:
        if _keep(st, e, filters):
            st.remove(e.key)
    return ""


def tables(config: Any) -> list[dict[str, Any]]:
    """The declared tables for exporters: name, type, size and used entries (in ``show
    table`` order)."""
    out = []
    for name, spec in _tables(config):
        st = rt.live(spec)
        out.append({"name": name, "type": spec.type, "size": st.size, "used": st.used()})
    return out


COMMANDS = (
    cli_command(
        "show table <table> [<filter>]*", show_table, level="operator",
        synopsis=("show table [<table> [data.<type>[<idx>] <op> <value>]* | [key <key>] | "
                  "[ptr <ptr>]]"), explain=(
            "Without a table, one summary line per table (type, size, used entries); with one, its "
            "entries with their stored data, filtered by data values (eq ne le ge lt gt, up to 4) "
            "or one key.")),
    cli_command(
        "set table <table> key <key> [data.<type>[<idx>] <value>]*", set_table, level="admin",
        synopsis="set table <table> {key <key> | ptr <ptr>} [data.<type>[<idx>] <value>]*",
        explain=(
            "Create or update the entry of <key>: set counters, tags, rates and array elements "
            "(data.gpc[2] 5).")),
    cli_command(
        "clear table <table> [<filter>]*", clear_table, level="admin",
        synopsis=("clear table <table> [data.<type>[<idx>] <op> <value>]* | [key <key>] | "
                  "[ptr <ptr>]"), explain=(
            "Remove the matching entries (all without a filter); entries currently tracked are "
            "kept.")),
)
