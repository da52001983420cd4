"""Parsing of stick-table arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hapx.core.errors import did_you_mean
from hapx.plugins.confkit import v_int, v_size, v_time

KEY_TYPES = ("ip", "ipv6", "integer", "string", "binary")
#: counters and tags (no parameter)
PLAIN_TYPES = ("server_id", "server_key", "gpc0", "gpc1", "gpt0", "conn_cnt",
               "conn_cur", "sess_cnt", "http_req_cnt", "http_err_cnt", "http_fail_cnt",
               "bytes_in_cnt", "bytes_out_cnt", "glitch_cnt")
#: rates: <type>(<period>)
RATE_TYPES = ("gpc0_rate", "gpc1_rate", "conn_rate", "sess_rate", "http_req_rate",
              "http_err_rate", "http_fail_rate", "bytes_in_rate", "bytes_out_rate",
              "glitch_rate")
#: arrays: gpc(<n>), gpt(<n>), gpc_rate(<n>,<period>)
ARRAY_TYPES = ("gpc", "gpt", "gpc_rate")
ARRAY_MAX = 100


@dataclass
class StickTable:
    name: str
    type: str = ""
    key_len: int | None = None
    size: int = 0
    expire: int | None = None
    nopurge: bool = False
    peers: str | None = None
    srvkey: str = "name"
    write_to: str | None = None
    recv_only: bool = False
    store: dict[str, Any] = field(default_factory=dict)
    #: the entries (a :class:`~.store.Store`, created on first use)
    live: Any = field(default=None, repr=False, compare=False)


def _data_type(ctx: Any, word: str, table: StickTable) -> None:
    m = re.fullmatch(r"([a-z0-9_]+)(?:\(([^)]*)\))?", word)
    if not m:
        raise ctx.error(f"stick-table: invalid data type '{word}'.")
    name, param = m.group(1), m.group(2)
    if name in PLAIN_TYPES:
        if param is not None:
            raise ctx.error(f"stick-table: data type '{name}' takes no argument.")
        table.store[name] = True
    elif name in RATE_TYPES:
        if not param:
            raise ctx.error(f"stick-table: missing period for data type '{name}'.")
        try:
            table.store[name] = v_time()(param)
        except ValueError as exc:
            raise ctx.error(f"stick-table: data type '{name}': {exc}.") from None
    elif name in ARRAY_TYPES:
        parts = (param or "").split(",")
        want = 2 if name == "gpc_rate" else 1
        if param is None or len(parts) != want:
            usage = "<nb>,<period>" if name == "gpc_rate" else "<nb>"
            raise ctx.error(f"stick-table: data type '{name}' expects '{name}({usage})'.")
        try:
            count = int(parts[0])
        except ValueError:
            count = 0
        if not 1 <= count <= ARRAY_MAX:
            raise ctx.error(f"stick-table: array size is out of allowed range (1-{ARRAY_MAX}) "
                            f"for store option '{name}'.")
        try:
            table.store[name] = (count, v_time()(parts[1])) if want == 2 else count
        except ValueError as exc:
            raise ctx.error(f"stick-table: data type '{name}': {exc}.") from None
    else:
        known = PLAIN_TYPES + RATE_TYPES + ARRAY_TYPES
        raise ctx.error(f"stick-table: unknown data type '{name}'{did_you_mean(name, known)}.")


def _split_types(text: str) -> list[str]:
    """``conn_cur,gpc_rate(2,1m)`` -> the data types (commas inside parentheses kept)."""
    return re.findall(r"[^,(]+(?:\([^)]*\))?", text)


def _value(ctx: Any, args: list[str], i: int, word: str) -> str:
    if i + 1 >= len(args):
        raise ctx.error(f"stick-table: missing argument after '{word}'.")
    return args[i + 1]


def parse_table(ctx: Any, args: list[str], name: str) -> StickTable:
    """``type <t> [len <n>] size <n> [expire <t>] [nopurge] [peers <p>] [srvkey <k>]
    [write-to <t>] [recv-only] [store <types>]*``"""
    table = StickTable(name)
    i = 0
    while i < len(args):
        word = args[i]
        if word == "type":
            kind = _value(ctx, args, i, word)
            if kind not in KEY_TYPES:
                raise ctx.error(f"stick-table: unknown type '{kind}'"
                                f"{did_you_mean(kind, KEY_TYPES)}.")
            table.type = kind
            i += 2
            if kind in ("string", "binary") and i < len(args) and args[i] == "len":
                try:
                    table.key_len = v_int(1, 65535)(_value(ctx, args, i, "len"))
                except ValueError as exc:
                    raise ctx.error(f"stick-table: 'len' : {exc}.") from None
                i += 2
            continue
        if word == "size":
            try:
                table.size = v_size(_value(ctx, args, i, word))
            except ValueError as exc:
                raise ctx.error(f"stick-table: 'size' : {exc}.") from None
        elif word == "expire":
            try:
                table.expire = v_time()(_value(ctx, args, i, word))
            except ValueError as exc:
                raise ctx.error(f"stick-table: 'expire' : {exc}.") from None
        elif word in ("peers", "write-to"):
            setattr(table, word.replace("-", "_"), _value(ctx, args, i, word))
        elif word == "srvkey":
            key = _value(ctx, args, i, word)
            if key not in ("name", "addr"):
                raise ctx.error(f"stick-table: 'srvkey' expects 'name' or 'addr' (got "
                                f"'{key}').")
            table.srvkey = key
        elif word == "store":
            for item in _split_types(_value(ctx, args, i, word)):
                _data_type(ctx, item, table)
        elif word in ("nopurge", "recv-only"):
            setattr(table, word.replace("-", "_"), True)
            i += 1
            continue
        else:
            words = ("type", "size", "expire", "nopurge", "peers", "srvkey", "write-to",
                     "recv-only", "store")
            raise ctx.error(f"stick-table: unknown argument '{word}'"
                            f"{did_you_mean(word, words)}.")
        i += 2
    if not table.type:
        raise ctx.error("stick-table: missing type.")
    for array, legacy, label in (("gpt", ("gpt0",), "gpt0"), ("gpc", ("gpc0", "gpc1"), "gpc[0/1]"),
                                 ("gpc_rate", ("gpc0_rate", "gpc1_rate"), "gpc[0/1]_rate")):
        if array in table.store and any(x in table.store for x in legacy):
            raise ctx.error(f"stick-table: simultaneous usage of '{array}' and '{label}' in a "
                            f"same table is not permitted as '{array}' overrides '{label}'.")
    if table.type in ("string", "binary") and table.key_len is None:
        table.key_len = 32
    if table.size <= 0:
        raise ctx.error("stick-table: missing size.")
    if table.peers:
        peers = table.peers

        def check(config: Any) -> None:
            if peers not in config.sections.get("peers", {}):
                raise ctx.error(f"stick-table: unable to find peers section '{peers}'.")
        ctx.defer(check)
    return table
