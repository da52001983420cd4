"""The ``%xx`` aliases of the log-format language.

Aliases with an equivalent fetch name it (``%ci`` is ``src``); the others read the Stream.
What the data path must fill for them:

- ``strm.sess.accept_date`` (epoch seconds, float) and ``strm.request_date`` (epoch seconds
  when the request started, None in TCP: the accept date is used).
- ``strm.timers`` (ms, -1 when the stage was not reached): ``Th`` handshake, ``Ti`` idle,
  ``TR`` request headers, ``Tw`` queues, ``Tc`` server connect, ``Tr`` response headers,
  ``Ta`` active time of the request, ``Tt`` total.  ``Tq``, ``Td`` and ``Tu`` are derived
  (``Tq`` = Th+Ti+TR; ``Td`` = Tt-(Tq+Tw+Tc+Tr); ``Tu`` = Tt-Ti) unless given.
- ``strm.counters``: ``bytes_out`` (%B, server to client), ``bytes_in`` (%U),
  ``srv_queue`` / ``be_queue`` (%sq / %bq: queue positions when queued), ``log_counter``
  (%lc).  ``act_conn``, ``fe_conn``, ``be_conn``, ``srv_conn`` override the live values
  otherwise read from ``strm.proc.act_conn``, ``proxy.ext["state"].cur_conn`` and
  ``server.live.cur_conn``.
- ``strm.status`` (%ST), ``strm.term_state`` (2 chars, or 4 with the cookie chars),
  ``strm.conn_retries`` and ``strm.redispatched`` (%rc), ``strm.uniq_id`` (%rt),
  ``strm.unique_id`` (%ID), ``strm.captures_req`` / ``captures_res`` (%hr %hs %hrl %hsl),
  ``strm.ext["capture_cookie"]`` = (request cookie, response cookie) (%CC %CS),
  ``strm.ext["log_origin"]`` (%OG, default "txn_close"), ``strm.req`` (%r %HM %HU %HP
  %HPO %HQ %HV).

A render function returns the text, None for a missing value (printed "-"), or "" for an
item that prints nothing (header captures on a proxy without captures).
"""

from __future__ import annotations

import re
import socket
import time as _time
from ipaddress import IPv4Address
from typing import Any

from hapx.core.records import LogAlias, Use
from hapx.core.runtime.process import PROCESS
from hapx.core.sample.logformat import ipv4_known, ipv4_text

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HOSTNAME = socket.gethostname()


# -- dates ---------------------------------------------------------------------------------

def _tz(tm: _time.struct_time) -> str:
    off = tm.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off) // 60
    return f"{sign}{off // 60:02d}{off % 60:02d}"


def _date_text(sec: int, utc: bool, zone: bool) -> str:
    tm = _time.gmtime(sec) if utc else _time.localtime(sec)
    out = (f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:{tm.tm_hour:02d}:"
           f"{tm.tm_min:02d}:{tm.tm_sec:02d}")
    if zone:
        out += " +0000" if utc else f" {_tz(tm)}"
    return out


_MILLIS = tuple(f".{ms:03d}" for ms in range(1000))
#: (utc, zone) -> (second, its text): dates are formatted once per second
_DATES: dict[tuple[bool, bool], tuple[int, str]] = {}


def _date(ts: float, *, utc: bool, millis: bool, zone: bool) -> str:
    sec = int(ts // 1)
    key = (utc, zone and not millis)
    hit = _DATES.get(key)
    if hit is not None and hit[0] == sec:
        text = hit[1]
    else:
        text = _date_text(sec, utc, zone and not millis)
        _DATES[key] = (sec, text)
    if millis:
        text += _MILLIS[int(ts * 1000) % 1000]
        if zone:
            text += " +0000" if utc else f" {_tz(_time.gmtime(sec) if utc else _time.localtime(sec))}"
    return text


def _local_ms(ts: float) -> str:
    """``_date(ts, utc=False, millis=True, zone=False)`` (%t, %tr), without its options."""
    sec = int(ts // 1)
    hit = _DATES.get(_LOCAL)
    if hit is None or hit[0] != sec:
        hit = _DATES[_LOCAL] = (sec, _date_text(sec, False, False))
    _LOCAL_LAST[0], _LOCAL_LAST[1] = hit
    return hit[1] + _MILLIS[int(ts * 1000) % 1000]


#: [second, its local text] of the last _local_ms() call: the generated log line reads it
#: in line and calls _local_ms() only when the second changed
_LOCAL_LAST: list[Any] = [None, ""]


def _local_ms_inline(date: str) -> str:
    """The inline expression of _local_ms(``date``)."""
    return (f"(_lsec[1] + _MILLIS[int(_ts * 1000) % 1000] if (_ts := {date}) // 1 == _lsec[0]"
            " else _local_ms(_ts))")


_LOCAL_ENV = {"_local_ms": _local_ms, "_lsec": _LOCAL_LAST, "_MILLIS": _MILLIS}


_LOCAL = (False, False)


def _accept(strm: Any) -> float:
    return strm.sess.accept_date


def _request(strm: Any) -> float:
    return strm.request_date if strm.request_date is not None else strm.sess.accept_date


# -- timers and counters ------------------------------------------------------------------

def _timer(strm: Any, name: str) -> int:
    t = strm.timers
    if name in t:
        return t[name]
    get = lambda k: t.get(k, -1)  # noqa: E731
    if name == "Tq":
        parts = (get("Th"), get("Ti"), get("TR"))
        return -1 if min(parts) < 0 else sum(parts)
    if name == "Td":
        tq, tr = _timer(strm, "Tq"), get("Tr")
        if tq < 0 or tr < 0 or get("Tt") < 0:
            return -1
        return get("Tt") - (tq + max(get("Tw"), 0) + max(get("Tc"), 0) + tr)
    if name == "Tu":
        return -1 if get("Tt") < 0 else get("Tt") - max(get("Ti"), 0)
    return -1


def _live(obj: Any, attr: str) -> int:
    if obj is None:
        return 0
    state = obj.ext.get("state") if hasattr(obj, "ext") else None
    return getattr(state, attr, 0) if state is not None else 0


def _count(strm: Any, name: str) -> int:
    c = strm.counters
    if name in c:
        return c[name]
    if name == "act_conn":
        return strm.proc.act_conn if strm.proc is not None else 0
    if name == "fe_conn":
        return _live(strm.frontend, "cur_conn")
    if name == "be_conn":
        return _live(strm.backend, "cur_conn")
    if name == "srv_conn":
        live = getattr(strm.server, "live", None)
        return getattr(live, "cur_conn", 0) if live is not None else 0
    return 0


# -- HTTP ---------------------------------------------------------------------------------

def _req(strm: Any) -> Any:
    return strm.req


_URL_ENCODE = {i: f"#{i:02X}" for i in (*range(32), *range(127, 256), ord('"'), ord("#"))}


_URL_ENCODED = re.compile(r'[\x00-\x1f\x7f-\xff"#]')


def _request_line(strm: Any, _o: Any = None) -> str:
    """The request line, '#XX'-encoded like HAProxy's url_encode_map; ``<BADREQ>`` when
    no request was parsed."""
    r = strm.req
    if r is None or not r.method:
        return "<BADREQ>"
    line = f"{r.method} {r.uri} HTTP/{r.version}"
    # printable ASCII (what the regex tests, in two C calls) without '"' or '#'
    if line.isascii() and line.isprintable() and '"' not in line and "#" not in line:
        return line
    if _URL_ENCODED.search(line) is None:
        return line
    return line.translate(_URL_ENCODE)


def _uri_no_query(r: Any) -> str:
    q = r.uri.find("?")
    return r.uri if q < 0 else r.uri[:q]


def _query(r: Any) -> str:
    q = r.uri.find("?")
    return "" if q < 0 else r.uri[q:]


_HDR_ESCAPE = frozenset('"#{|}')


_HDR_ENCODED = re.compile(r'[\x00-\x1f\x7f-\uffff"#{|}]')


def _hdr_encode(value: str) -> str:
    if _HDR_ENCODED.search(value) is None:
        return value
    return "".join(f"#{ord(c):02X}" if c in _HDR_ESCAPE or ord(c) < 32 or ord(c) > 126
                   else c for c in value)


def _captures(values: list[str | None], clf: bool) -> str:
    if not values:
        return ""
    if len(values) == 1 and not clf:
        return "{" + _hdr_encode(values[0] or "") + "}"
    items = [_hdr_encode(v or "") for v in values]
    if clf:
        return " ".join(f'"{v}"' for v in items)
    return "{" + "|".join(items) + "}"


def _proxy_name(px: Any) -> str | None:
    return getattr(px, "name", None)


def _server_name(strm: Any, _o: Any = None) -> str:
    return getattr(strm.server, "name", None) or "<NOSRV>"


def _frontend_transport(strm: Any, _o: Any = None) -> str | None:
    name = _proxy_name(strm.frontend)
    if name is None:
        return None
    return name + ("~" if strm.sess.ssl is not None else "")


def _retries(strm: Any, _o: Any = None) -> str:
    return ("+" if strm.redispatched else "") + str(strm.conn_retries)


def _term(strm: Any, width: int) -> str:
    state = (strm.term_state or "--").ljust(4, "-")
    return state[:width]


def _cookie(strm: Any, idx: int) -> str | None:
    pair = strm.ext.get("capture_cookie")
    return pair[idx] if pair and pair[idx] is not None else None


def _t(name: str) -> Any:
    def render(strm: Any, _options: Any = None) -> str:
        value = strm.timers.get(name)
        return str(value if value is not None else _timer(strm, name))
    return render


def _c(name: str) -> Any:
    def render(strm: Any, _options: Any = None) -> str:
        value = strm.counters.get(name)
        return str(value if value is not None else _count(strm, name))
    return render


# name: (fetch or None, render or None, uses, explanation)
_ALIASES: dict[str, tuple[str | None, Any, Use, str]] = {
    "ci": ("src", None, Use.L4CLI, "client IP address"),
    "cp": ("src_port", None, Use.L4CLI, "client port"),
    "fi": ("dst", None, Use.L4CLI, "frontend (accepting) IP address"),
    "fp": ("dst_port", None, Use.L4CLI, "frontend (accepting) port"),
    "bi": ("bc_src", None, Use.L4SRV, "backend source IP address"),
    "bp": ("bc_src_port", None, Use.L4SRV, "backend source port"),
    "si": ("bc_dst", None, Use.L4SRV, "server IP address"),
    "sp": ("bc_dst_port", None, Use.L4SRV, "server port"),
    "sslc": ("ssl_fc_cipher", None, Use.L5CLI, "TLS cipher of the client connection"),
    "sslv": ("ssl_fc_protocol", None, Use.L5CLI, "TLS version of the client connection"),
    "f": (None, (lambda s, _o=None: _proxy_name(s.frontend)), Use.INTERNAL, "frontend name"),
    "ft": (None, _frontend_transport, Use.INTERNAL,
           "frontend name, followed by '~' on TLS connections"),
    "b": (None, (lambda s, _o=None: _proxy_name(s.backend or s.frontend)), Use.BACKEND,
          "backend name (the frontend's until a backend is chosen)"),
    "s": (None, _server_name, Use.SERVER, "server name, '<NOSRV>' when none"),
    "t": (None, (lambda s, _o=None: _date(_accept(s), utc=False, millis=True, zone=False)),
          Use.INTERNAL, "accept date, local time, %d/%b/%Y:%H:%M:%S.%3N"),
    "T": (None, (lambda s, _o=None: _date(_accept(s), utc=True, millis=False, zone=True)),
          Use.INTERNAL, "accept date, UTC, %d/%b/%Y:%H:%M:%S +0000"),
    "Tl": (None, (lambda s, _o=None: _date(_accept(s), utc=False, millis=False, zone=True)),
           Use.INTERNAL, "accept date, local time with time zone"),
    "Ts": (None, (lambda s, _o=None: str(int(_accept(s)))), Use.INTERNAL,
           "accept date as a Unix timestamp"),
    "ms": (None, (lambda s, _o=None: f"{int(_accept(s) * 1000) % 1000:03d}"), Use.INTERNAL,
           "milliseconds of the accept date (3 digits)"),
    "tr": (None, (lambda s, _o=None: _date(_request(s), utc=False, millis=True, zone=False)),
           Use.HTTP_REQ, "request date, local time, with milliseconds"),
    "trg": (None, (lambda s, _o=None: _date(_request(s), utc=True, millis=False, zone=True)),
            Use.HTTP_REQ, "request date, UTC"),
    "trl": (None, (lambda s, _o=None: _date(_request(s), utc=False, millis=False, zone=True)),
            Use.HTTP_REQ, "request date, local time with time zone"),
    "ST": (None, (lambda s, _o=None: str(s.status)), Use.HTTP_RES, "HTTP status code"),
    "B": (None, _c("bytes_out"), Use.TXN_END, "bytes sent to the client"),
    "U": (None, _c("bytes_in"), Use.TXN_END, "bytes received from the client"),
    "CC": (None, (lambda s, _o=None: _cookie(s, 0)), Use.HTTP_REQ, "captured request cookie"),
    "CS": (None, (lambda s, _o=None: _cookie(s, 1)), Use.HTTP_RES, "captured response cookie"),
    "tsc": (None, (lambda s, _o=None: _term(s, 4)), Use.TXN_END,
            "termination state with the cookie status (4 characters)"),
    "ts": (None, (lambda s, _o=None: _term(s, 2)), Use.TXN_END, "termination state (2 characters)"),
    "ac": (None, _c("act_conn"), Use.TXN_END, "connections on the process"),
    "fc": (None, _c("fe_conn"), Use.TXN_END, "connections on the frontend"),
    "bc": (None, _c("be_conn"), Use.TXN_END, "connections on the backend"),
    "sc": (None, _c("srv_conn"), Use.TXN_END, "connections on the server"),
    "rc": (None, _retries, Use.TXN_END, "connection retries, '+' first when redispatched"),
    "sq": (None, _c("srv_queue"), Use.TXN_END, "requests before this one in the server queue"),
    "bq": (None, _c("be_queue"), Use.TXN_END,
           "requests before this one in the backend queue"),
    "hr": (None, (lambda s, _o=None: _captures(s.captures_req, False)), Use.HTTP_REQ,
           "captured request headers, {v1|v2}"),
    "hs": (None, (lambda s, _o=None: _captures(s.captures_res, False)), Use.HTTP_RES,
           "captured response headers, {v1|v2}"),
    "hrl": (None, (lambda s, _o=None: _captures(s.captures_req, True)), Use.HTTP_REQ,
            "captured request headers, CLF style (each quoted, space separated)"),
    "hsl": (None, (lambda s, _o=None: _captures(s.captures_res, True)), Use.HTTP_RES,
            "captured response headers, CLF style"),
    "r": (None, _request_line, Use.HTTP_REQ, "request line: method, URI and version"),
    "HM": (None, (lambda s, _o=None: s.req.method if s.req else None), Use.HTTP_REQ,
           "HTTP method"),
    "HU": (None, (lambda s, _o=None: s.req.uri if s.req else None), Use.HTTP_REQ, "request URI"),
    "HP": (None, (lambda s, _o=None: _uri_no_query(s.req) if s.req else None), Use.HTTP_REQ,
           "request URI without the query string"),
    "HPO": (None, (lambda s, _o=None: s.req.path if s.req else None), Use.HTTP_REQ,
            "request path only (no scheme, authority or query)"),
    "HQ": (None, (lambda s, _o=None: _query(s.req) if s.req else None), Use.HTTP_REQ,
           "query string with its '?', empty when none"),
    "HV": (None, (lambda s, _o=None: f"HTTP/{s.req.version}" if s.req else None), Use.HTTP_REQ,
           "HTTP version (HTTP/1.1)"),
    "ID": (None, (lambda s, _o=None: s.unique_id), Use.HTTP_REQ, "unique id of the request"),
    "H": (None, (lambda s, _o=None: _HOSTNAME), Use.INTERNAL, "host name of the system"),
    "pid": (None, (lambda s, _o=None: str(PROCESS.pid)), Use.INTERNAL,
            "process id (the supervising process when several workers run)"),
    "rt": (None, (lambda s, _o=None: str(s.uniq_id)), Use.INTERNAL, "request counter (HTTP) or "
           "connection counter (TCP)"),
    "lc": (None, _c("log_counter"), Use.TXN_END, "log counter"),
    "OG": (None, (lambda s, _o=None: s.ext.get("log_origin", "txn_close")), Use.TXN_END,
           "origin of the log line"),
}

for _name, _what in {"TR": "time to receive the full request headers",
                     "Tw": "time waiting in queues",
                     "Tc": "time to connect to the server",
                     "Tr": "server response time (until response headers)",
                     "Ta": "active time of the request (from its start to the end)",
                     "Tt": "total session time",
                     "Th": "connection handshake time",
                     "Ti": "idle time before the request",
                     "Tq": "Th + Ti + TR",
                     "Td": "data transfer time",
                     "Tu": "total time without idle time"}.items():
    _ALIASES[_name] = (None, _t(_name), Use.TXN_END, f"{_what}, in ms (-1: not reached)")


def _timer_text(strm: Any, name: str) -> str:
    return str(_timer(strm, name))


_REQUEST_DATE = "(strm.request_date if strm.request_date is not None else strm.sess.accept_date)"
_COOKIE = "(_p[{0}] if (_p := strm.ext.get('capture_cookie')) and _p[{0}] is not None else None)"

#: name: (expression, names it uses): what the render functions above compute, written out
#: for the generated function of a log format (core/sample/logformat.py)
_INLINE: dict[str, tuple[str, dict[str, Any]]] = {
    "f": ("getattr(strm.frontend, 'name', None)", {}),
    "ft": ("(_n + ('~' if strm.sess.ssl is not None else '') "
           "if (_n := getattr(strm.frontend, 'name', None)) is not None else None)", {}),
    "b": ("getattr(strm.backend or strm.frontend, 'name', None)", {}),
    "s": ("(getattr(strm.server, 'name', None) or '<NOSRV>')", {}),
    "t": (_local_ms_inline("strm.sess.accept_date"), _LOCAL_ENV),
    "tr": (_local_ms_inline(_REQUEST_DATE), _LOCAL_ENV),
    "ST": ("str(strm.status)", {}),
    "CC": (_COOKIE.format(0), {}),
    "CS": (_COOKIE.format(1), {}),
    "tsc": ("(strm.term_state or '--').ljust(4, '-')[:4]", {}),
    "ts": ("(strm.term_state or '--').ljust(4, '-')[:2]", {}),
    "rc": ("('+' if strm.redispatched else '') + str(strm.conn_retries)", {}),
    "hr": ("_captures(strm.captures_req, False)", {"_captures": _captures}),
    "hs": ("_captures(strm.captures_res, False)", {"_captures": _captures}),
    "hrl": ("_captures(strm.captures_req, True)", {"_captures": _captures}),
    "hsl": ("_captures(strm.captures_res, True)", {"_captures": _captures}),
    "r": ("_request_line(strm)", {"_request_line": _request_line}),
}
# aliases standing for a fetch: the text printed in the common case, None to run the fetch
_INLINE["ci"] = ("(_ipv4_known(_x._ip) or _ipv4_text(_x) "
                 "if (_x := strm.sess.src).__class__ is _IPv4Address else None)",
                 {"_ipv4_known": ipv4_known, "_ipv4_text": ipv4_text,
                  "_IPv4Address": IPv4Address})
_INLINE["cp"] = ("(str(_x) if strm.sess.src is not None and (_x := strm.sess.src_port)"
                 ".__class__ is int else None)", {})
for _name in ("TR", "Tw", "Tc", "Tr", "Ta", "Tt", "Th", "Ti", "Tq", "Td", "Tu"):
    _INLINE[_name] = (f"(str(_v) if (_v := strm.timers.get({_name!r})) is not None "
                      f"else _timer_text(strm, {_name!r}))", {"_timer_text": _timer_text})
#: _live(<proxy>, 'cur_conn') written out
_LIVE = ("str(0 if (_o := {}) is None or (_st := (_o.ext.get('state') if hasattr(_o, 'ext') "
         "else None)) is None else getattr(_st, 'cur_conn', 0))")
#: what _count() gives for a counter the stream does not hold
_COUNT_DEFAULT = {
    "act_conn": "str(strm.proc.act_conn if strm.proc is not None else 0)",
    "fe_conn": _LIVE.format("strm.frontend"),
    "be_conn": _LIVE.format("strm.backend"),
    "srv_conn": "str(getattr(getattr(strm.server, 'live', None), 'cur_conn', 0))",
}
for _name, _counter in (("B", "bytes_out"), ("U", "bytes_in"), ("ac", "act_conn"),
                        ("fc", "fe_conn"), ("bc", "be_conn"), ("sc", "srv_conn"),
                        ("sq", "srv_queue"), ("bq", "be_queue"), ("lc", "log_counter")):
    _INLINE[_name] = (f"(str(_v) if (_v := strm.counters.get({_counter!r})) is not None "
                      f"else {_COUNT_DEFAULT.get(_counter, repr('0'))})", {"_live": _live})


#: aliases whose inline expression always gives a number's text (never empty, no NUL)
_INLINE_TEXT = frozenset({"TR", "Tw", "Tc", "Tr", "Ta", "Tt", "Th", "Ti", "Tq", "Td", "Tu",
                          "B", "U", "ac", "fc", "bc", "sc", "sq", "bq", "lc", "ST", "rc"})


def aliases() -> list[LogAlias]:
    out = []
    for name, (fetch, render, uses, what) in _ALIASES.items():
        equiv = f"  Same as %[{fetch}]." if fetch else ""
        inline, env = _INLINE.get(name, (None, None))
        out.append(LogAlias(name, fetch=fetch, render=render, uses=uses, inline=inline,
                            inline_env=env, inline_text=name in _INLINE_TEXT,
                            doc=f"%{name}\n\nLog-format alias: {what}.{equiv}"))
    return out
