"""Sample fetches and converters reading stick tables.

Every counter ``X`` comes as ``sc_X(<ctr>[,<table>])``, ``sc0_X([<table>])`` ..
``sc2_X([<table>])`` (the entry tracked by a stick counter; with a table, the same key looked
up there) and ``src_X([<table>])`` (the entry of the client's address; 0 when absent; the
``inc``/``clr``/``updt`` ones create it).  Array counters take the element index first:
``sc_get_gpc(<idx>,<ctr>[,<table>])``, ``sc0_get_gpc(<idx>[,<table>])``,
``src_get_gpc(<idx>[,<table>])``.  ``table_avl``/``table_cnt`` read a table's free and used
entries.  Converters (``in_table``, ``table_<counter>``) look their input up.

Tables are resolved at their first use through :class:`~.runtime.TableRef` (the argument is
replaced at configuration time), never per request by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Converter, Fetch, SmpType, Use
from hapx.core.sample.types import Sample

from . import runtime as rt
from .store import Entry, Store, now_ms
from .track import NB_CTR, tracked

SINT = SmpType.SINT

# -- what each counter reads: fn(store, entry, idx) -> int | None -------------------------------

Reader = Callable[[Store, Entry, int], Any]


def _plain(dt: str) -> Reader:
    return lambda st, e, _i: rt.read(st, e, dt)


def _kbytes(dt: str) -> Reader:
    def fn(st: Store, e: Entry, _i: int) -> Any:
        v = rt.read(st, e, dt)
        return None if v is None else v >> 10
    return fn


def _legacy(fn: Callable[..., Any], n: int) -> Reader:
    return lambda st, e, _i: fn(st, e, n, True)


def _array(fn: Callable[..., Any]) -> Reader:
    return lambda st, e, i: fn(st, e, i, False)


def _inc(st: Store, e: Entry, i: int, legacy: bool) -> Any:
    v = rt.gpc_add(st, e, i, 1, legacy)
    st.touch(e)
    return v


def _clr(st: Store, e: Entry, i: int, legacy: bool) -> Any:
    v = rt.gpc_clear(st, e, i, legacy)
    st.touch(e)
    return v


def _updt_conn_cnt(st: Store, e: Entry, _i: int) -> Any:
    if "conn_cnt" not in e.d:
        return None
    rt.add(st, e, "conn_cnt", 1)
    rt.add(st, e, "conn_rate", 1)
    st.touch(e)
    return e.d["conn_cnt"]


#: name -> (reader, takes an index, creates the src entry)
COUNTERS: dict[str, tuple[Reader, bool, bool]] = {
    **{name: (_plain(name), False, False) for name in (
        "conn_cnt", "conn_cur", "conn_rate", "sess_cnt", "sess_rate", "http_req_cnt",
        "http_req_rate", "http_err_cnt", "http_err_rate", "http_fail_cnt", "http_fail_rate",
        "bytes_in_rate", "bytes_out_rate", "glitch_cnt", "glitch_rate")},
    "kbytes_in": (_kbytes("bytes_in_cnt"), False, False),
    "kbytes_out": (_kbytes("bytes_out_cnt"), False, False),
    "get_gpc0": (_legacy(rt.gpc_get, 0), False, False),
    "get_gpc1": (_legacy(rt.gpc_get, 1), False, False),
    "gpc0_rate": (_legacy(rt.gpc_rate, 0), False, False),
    "gpc1_rate": (_legacy(rt.gpc_rate, 1), False, False),
    "get_gpt0": (_legacy(rt.gpt_get, 0), False, False),
    "inc_gpc0": (_legacy(_inc, 0), False, True),
    "inc_gpc1": (_legacy(_inc, 1), False, True),
    "clr_gpc0": (_legacy(_clr, 0), False, True),
    "clr_gpc1": (_legacy(_clr, 1), False, True),
    "get_gpc": (_array(rt.gpc_get), True, False),
    "gpc_rate": (_array(rt.gpc_rate), True, False),
    "get_gpt": (_array(rt.gpt_get), True, False),
    "inc_gpc": (_array(_inc), True, True),
    "clr_gpc": (_array(_clr), True, True),
}

_DESC = {
    "conn_cnt": "the cumulative number of connections", "conn_cur": "the current number of "
    "connections", "conn_rate": "the connection rate", "sess_cnt": "the cumulative number of "
    "sessions", "sess_rate": "the session rate", "http_req_cnt": "the cumulative number of "
    "HTTP requests", "http_req_rate": "the HTTP request rate", "http_err_cnt": "the "
    "cumulative number of HTTP errors (4xx)", "http_err_rate": "the HTTP error rate",
    "http_fail_cnt": "the cumulative number of HTTP failures (5xx)", "http_fail_rate": "the "
    "HTTP failure rate", "bytes_in_rate": "the rate of bytes received from the client",
    "bytes_out_rate": "the rate of bytes sent to the client", "glitch_cnt": "the cumulative "
    "number of front connection glitches", "glitch_rate": "the glitch rate", "kbytes_in":
    "the kilobytes received from the client", "kbytes_out": "the kilobytes sent to the client",
    "get_gpc0": "gpc0 (or gpc[0])", "get_gpc1": "gpc1 (or gpc[1])", "gpc0_rate": "the gpc0 "
    "rate", "gpc1_rate": "the gpc1 rate", "get_gpt0": "gpt0 (or gpt[0])", "inc_gpc0":
    "gpc0 incremented (the new value)", "inc_gpc1": "gpc1 incremented (the new value)",
    "clr_gpc0": "gpc0 before it is cleared", "clr_gpc1": "gpc1 before it is cleared",
    "get_gpc": "element <idx> of the gpc array", "gpc_rate": "element <idx> of gpc_rate",
    "get_gpt": "element <idx> of the gpt array", "inc_gpc": "element <idx> of gpc "
    "incremented (the new value)", "clr_gpc": "element <idx> of gpc before it is cleared",
}


def _sint(v: Any) -> Sample | None:
    return None if v is None else Sample(SINT, v)


# -- argument resolution ------------------------------------------------------------------------

def _resolve_table(args: list[Any], pos: int, ctx: Any) -> list[Any]:
    """Replace the table name at ``pos`` (or the current proxy's when absent) by a TableRef."""
    name = args[pos] if pos < len(args) else None
    proxy = getattr(ctx, "section", None)
    config = ctx.config
    target = name or (proxy.name if proxy is not None else None)
    args = list(args)
    while len(args) <= pos:
        args.append(None)
    if target is None:
        raise ConfigError("no table given and no proxy to take it from")
    if not name:
        def check(cfg: Any) -> None:
            if rt.find_table(cfg, target) is None:
                raise ConfigError(f"no table in {proxy.kind} '{proxy.name}' for a fetch "
                                  "without a table argument")
        ctx.defer(check)
    args[pos] = rt.TableRef(target, config)
    return args


def _check_range(value: int, high: int, what: str) -> None:
    if not 0 <= value < high:
        raise ConfigError(f"invalid {what} '{value}' (must be between 0 and {high - 1})")


# -- fetch bodies -------------------------------------------------------------------------------

def _sc_entry(strm: Any, ctr: int, ref: Any) -> tuple[Store, Entry] | None:
    tr = tracked(strm, ctr)
    if tr is None:
        return None
    if ref is None:
        return tr.store, tr.entry
    st = ref.store
    if st is None:
        return None
    if st is tr.store:
        return st, tr.entry
    e = st.lookup(tr.entry.key)
    return (st, e) if e is not None else None


def _src_key(strm: Any, st: Store) -> Any:
    src = strm.sess.src
    if src is None:
        return None
    smp = Sample(SmpType.IPV4 if src.version == 4 else SmpType.IPV6, src)
    return rt.key_of(st, smp)


def _make_sc(reader: Reader, with_idx: bool, fixed_ctr: int | None) -> Callable[..., Any]:
    def process(args: list[Any], strm: Any) -> Sample | None:
        i = 0
        idx = 0
        if with_idx:
            idx, i = args[0], 1
        if fixed_ctr is None:
            ctr, i = args[i], i + 1
        else:
            ctr = fixed_ctr
        found = _sc_entry(strm, ctr, args[i] if i < len(args) else None)
        if found is None:
            return None
        return _sint(reader(found[0], found[1], idx))
    return process


def _make_src(reader: Reader, with_idx: bool, creates: bool) -> Callable[..., Any]:
    def process(args: list[Any], strm: Any) -> Sample | None:
        idx = args[0] if with_idx else 0
        st = args[1 if with_idx else 0].store
        if st is None:
            return None
        key = _src_key(strm, st)
        if key is None:
            return None
        e = st.get(key) if creates else st.lookup(key)
        if e is None:
            return Sample(SINT, 0)
        v = reader(st, e, idx)
        return Sample(SINT, 0 if v is None else v)
    return process


def _validator(with_idx: bool, with_ctr: bool, *,
               optional_table: bool = False) -> Callable[..., Any]:
    """Check the gpc/gpt index and stick counter arguments, then resolve the table argument
    (``optional_table``, the sc fetches': it stays None when absent)."""
    def validate(args: list[Any], ctx: Any) -> list[Any]:
        i = 0
        if with_idx:
            _check_range(args[0], 100, "gpc/gpt index")
            i = 1
        if with_ctr:
            _check_range(args[i], NB_CTR, "stick counter")
            i += 1
        if optional_table and not (i < len(args) and args[i]):
            return args
        return _resolve_table(args, i, ctx)
    return validate


def _validator_sc(with_idx: bool, with_ctr: bool) -> Callable[..., Any]:
    """sc fetches: the table argument is optional and stays None when absent."""
    return _validator(with_idx, with_ctr, optional_table=True)


_T = Arg("table", ArgType.TABLE, optional=True)
_IDX = Arg("idx", ArgType.SINT)
_CTR = Arg("ctr", ArgType.SINT)


def _counter_records() -> list[Fetch]:
    recs: list[Fetch] = []
    for name, (reader, with_idx, creates) in COUNTERS.items():
        desc = _DESC[name]
        lead = (_IDX,) if with_idx else ()
        idx_txt = "<idx>," if with_idx else ""
        recs.append(Fetch(
            f"sc_{name}", process=_make_sc(reader, with_idx, None), out_type=SINT,
            args=(*lead, _CTR, _T), validate=_validator_sc(with_idx, True), uses=Use.INTERNAL,
            doc=f"sc_{name}({idx_txt}<ctr>[,<table>])\n\nReturns {desc} of the entry tracked "
                "by stick counter <ctr> (in <table> when given); no sample when not tracked."))
        for n in range(NB_CTR):
            recs.append(Fetch(
                f"sc{n}_{name}", process=_make_sc(reader, with_idx, n), out_type=SINT,
                args=(*lead, _T), validate=_validator_sc(with_idx, False), uses=Use.INTERNAL,
                doc=f"sc{n}_{name}({idx_txt}[<table>])\n\nReturns {desc} of the entry tracked "
                    f"by stick counter {n}."))
        recs.append(Fetch(
            f"src_{name}", process=_make_src(reader, with_idx, creates), out_type=SINT,
            args=(*lead, _T), validate=_validator(with_idx, False), uses=Use.L4CLI,
            doc=f"src_{name}({idx_txt}[<table>])\n\nReturns {desc} of the entry of the "
                "client's source address in the table (this proxy's by default); 0 when "
                "there is none" + (" (it is created)." if creates else ".")))
    return recs


def _sc_tracked(fixed: int | None) -> Callable[..., Any]:
    def process(args: list[Any], strm: Any) -> Sample | None:
        ctr = fixed if fixed is not None else args[0]
        ref = args[-1] if args else None
        found = _sc_entry(strm, ctr, ref)
        return Sample(SmpType.BOOL, found is not None)
    return process


def _sc_trackers(fixed: int | None) -> Callable[..., Any]:
    def process(args: list[Any], strm: Any) -> Sample | None:
        ctr = fixed if fixed is not None else args[0]
        found = _sc_entry(strm, ctr, args[-1] if args else None)
        return None if found is None else Sample(SINT, found[1].use)
    return process


def _sc_key(fixed: int | None) -> Callable[..., Any]:
    def process(args: list[Any], strm: Any) -> Sample | None:
        tr = tracked(strm, fixed if fixed is not None else args[0])
        return None if tr is None else rt.key_sample(tr.store.spec, tr.entry.key)
    return process


def _src_updt(args: list[Any], strm: Any) -> Sample | None:
    st = args[0].store
    if st is None:
        return None
    key = _src_key(strm, st)
    e = st.get(key) if key is not None else None
    if e is None:
        return None
    return _sint(_updt_conn_cnt(st, e, 0))


def _table_avl(args: list[Any], strm: Any) -> Sample | None:
    st = args[0].store
    return None if st is None else Sample(SINT, st.size - st.used())


def _table_cnt(args: list[Any], strm: Any) -> Sample | None:
    st = args[0].store
    return None if st is None else Sample(SINT, st.used())


def _misc_records() -> list[Fetch]:
    recs: list[Fetch] = []
    for fixed in (None, *range(NB_CTR)):
        pre = "sc_" if fixed is None else f"sc{fixed}_"
        ctr_args = (_CTR,) if fixed is None else ()
        ctr_txt = "<ctr>" if fixed is None else ""
        recs.append(Fetch(
            f"{pre}tracked", process=_sc_tracked(fixed), out_type=SmpType.BOOL,
            args=(*ctr_args, _T), validate=_validator_sc(False, fixed is None),
            uses=Use.INTERNAL,
            doc=f"{pre}tracked({ctr_txt}{',' if ctr_txt else ''}[<table>])\n\nReturns true "
                "when the stick counter tracks an entry (of <table> when given)."))
        recs.append(Fetch(
            f"{pre}trackers", process=_sc_trackers(fixed), out_type=SINT,
            args=(*ctr_args, _T), validate=_validator_sc(False, fixed is None),
            uses=Use.INTERNAL,
            doc=f"{pre}trackers({ctr_txt}{',' if ctr_txt else ''}[<table>])\n\nReturns the "
                "number of streams currently tracking the entry of the stick counter."))
        recs.append(Fetch(
            f"{pre}key", process=_sc_key(fixed), out_type=SmpType.ANY, args=ctr_args,
            validate=_validator_sc(False, True) if fixed is None else None,
            uses=Use.INTERNAL,
            doc=f"{pre}key({ctr_txt})\n\nReturns the key of the entry tracked by the stick "
                "counter, typed as the table's key."))
    recs.append(Fetch(
        "src_updt_conn_cnt", process=_src_updt, out_type=SINT, args=(_T,),
        validate=_validator(False, False), uses=Use.L4CLI,
        doc="src_updt_conn_cnt([<table>])\n\nCreates or updates the entry of the client's "
            "source address, counts a connection (conn_cnt, conn_rate) and returns conn_cnt."))
    recs.append(Fetch(
        "table_avl", process=_table_avl, out_type=SINT, args=(_T,),
        validate=_validator(False, False), uses=Use.INTERNAL,
        doc="table_avl([<table>])\n\nReturns the number of free entries of the table (this "
            "proxy's by default)."))
    recs.append(Fetch(
        "table_cnt", process=_table_cnt, out_type=SINT, args=(_T,),
        validate=_validator(False, False), uses=Use.INTERNAL,
        doc="table_cnt([<table>])\n\nReturns the number of entries of the table (this "
            "proxy's by default)."))
    return recs


# -- converters ---------------------------------------------------------------------------------

def _conv_entry(args: list[Any], pos: int, smp: Sample, create: bool) -> Any:
    st = args[pos].store
    if st is None:
        return None, None
    key = rt.key_of(st, smp)
    if key is None:
        return st, None
    return st, (st.get(key) if create else st.lookup(key))


def _conv(reader: Reader, with_idx: bool, creates: bool) -> Callable[..., Any]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
        pos = 1 if with_idx else 0
        st, e = _conv_entry(args, pos, smp, creates)
        if st is None:
            return None
        if e is None:
            return Sample(SINT, 0)
        v = reader(st, e, args[0] if with_idx else 0)
        return None if v is None else Sample(SINT, v)
    return process


def _in_table(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    st, e = _conv_entry(args, 0, smp, False)
    return Sample(SmpType.BOOL, e is not None)


def _expire_idle(idle: bool) -> Callable[..., Any]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
        st, e = _conv_entry(args, 0, smp, False)
        default = args[1] if len(args) > 1 else None
        if e is None or e.exp is None or st is None or st.expire is None:
            return None if default is None else Sample(SINT, default)
        left = max(0, e.exp - now_ms())
        return Sample(SINT, (st.expire - left if idle else left) // 1000)
    return process


_CONV_NAMES = {"get_gpc0": "gpc0", "get_gpc1": "gpc1", "get_gpt0": "gpt0", "get_gpc": "gpc",
               "get_gpt": "gpt", "kbytes_in": "kbytes_in", "kbytes_out": "kbytes_out"}


def _converter_records() -> list[Converter]:
    recs: list[Converter] = [
        Converter("in_table", process=_in_table, in_type=SmpType.ANY, out_type=SmpType.BOOL,
                  args=(_T,), validate=_validator(False, False),
                  doc="in_table([<table>])\n\nReturns true when the input sample is a key of "
                      "the table."),
        Converter("table_expire", process=_expire_idle(False), in_type=SmpType.ANY,
                  out_type=SINT, args=(_T, Arg("default", ArgType.SINT, optional=True)),
                  validate=_validator(False, False),
                  doc="table_expire([<table>[,<default>]])\n\nReturns the seconds before the "
                      "entry of the input key expires (<default> when absent)."),
        Converter("table_idle", process=_expire_idle(True), in_type=SmpType.ANY,
                  out_type=SINT, args=(_T, Arg("default", ArgType.SINT, optional=True)),
                  validate=_validator(False, False),
                  doc="table_idle([<table>[,<default>]])\n\nReturns the seconds since the "
                      "entry of the input key was last updated (<default> when absent)."),
        Converter("table_server_id", process=_conv(_plain("server_id"), False, False),
                  in_type=SmpType.ANY, out_type=SINT, args=(_T,),
                  validate=_validator(False, False),
                  doc="table_server_id([<table>])\n\nReturns the server_id of the entry of "
                      "the input key."),
    ]
    for name, (reader, with_idx, creates) in COUNTERS.items():
        cname = "table_" + _CONV_NAMES.get(name, name)
        lead = (_IDX,) if with_idx else ()
        recs.append(Converter(
            cname, process=_conv(reader, with_idx, creates), in_type=SmpType.ANY,
            out_type=SINT, args=(*lead, _T), validate=_validator(with_idx, False),
            doc=f"{cname}({'<idx>,' if with_idx else ''}[<table>])\n\nReturns "
                f"{_DESC[name]} of the entry of the input key in the table; 0 when absent."))
    return recs


FETCHES = (*_counter_records(), *_misc_records())
CONVERTERS = tuple(_converter_records())
