"""Lua filters: ``core.register_filter(name, Class, fn)`` and ``filter lua.<name> [args]``.

At configuration time ``fn(Class, args)`` returns the filter's configuration object (nil
disables the filter line); for each stream ``conf:new()`` makes the instance whose
callbacks run on the HTTP data path (:mod:`hapx.core.runtime.filters`):

* ``start_analyze(txn, chn)`` then ``http_headers(txn, http_msg)`` when the headers of a
  message are there (request: after the http-request rules; response: before the
  http-response rules);
* ``http_payload(txn, http_msg)`` for each piece of body, once
  ``filter.register_data_filter(self, chn)`` asked for that channel: the data it leaves in
  the message (``body``/``set``/``append``/``insert``/``remove``...) is what is forwarded
  when it returns; ``filter.WAIT`` keeps it buffered and presents it again with the next
  piece (so a filter can wait for the whole body, ``http_msg:eom()`` tells when it is);
* ``http_end(txn, http_msg)`` and ``end_analyze(txn, chn)`` when the message ended (data
  appended in ``http_end`` is sent last).

``http_msg:set_body_len(n | "chunked")`` (3.2) replaces the message's Content-Length /
Transfer-Encoding; it works while the headers are not yet sent (``http_headers``) and
returns false after.  The callbacks run to completion: they may not block (a yield is a
runtime error).  hapx filters act on HTTP streams only, so ``tcp_payload`` is never called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hapx.core.stream import HttpMessage

from .runtime import LuaRuntimeError, LuaState, alert
from .values import as_text

LUA = (Path(__file__).parent / "filters.lua").read_text()
WAIT = 0
ERROR = -1


class FilterMsg:
    """One direction of a filtered stream: the message and the body data in hand."""

    __slots__ = ("strm", "side", "buf", "sent", "eom", "data_on", "headers_done",
                 "framing", "lua_chn", "lua_msg")

    def __init__(self, strm: Any, side: str) -> None:
        self.strm, self.side = strm, side
        self.buf = bytearray()
        self.sent = bytearray()
        self.eom = False
        self.data_on = False
        self.headers_done = False
        self.framing = False
        self.lua_chn: Any = None
        self.lua_msg: Any = None

    @property
    def msg(self) -> HttpMessage:
        m = self.strm.req if self.side == "req" else self.strm.res
        if m is None:
            from lupa.lua54 import LuaError

            raise LuaError("no HTTP message here")
        return m

    def span(self, off: Any, length: Any) -> tuple[int, int]:
        n = len(self.buf)
        start = 0 if off is None else int(off)
        if start < 0:
            start = max(0, n + start)
        start = min(start, n)
        end = n if length is None or int(length) < 0 else min(n, start + int(length))
        return start, end


class Bridge:
    """The Python side of HTTPMessage and Channel in filters."""

    def __init__(self, state: LuaState) -> None:
        self.state = state

    def functions(self) -> dict[str, Any]:
        names = ("data_filter", "body", "line", "input", "insert", "remove", "set", "send",
                 "forward", "is_resp", "eom", "set_eom", "stline", "headers", "hdr",
                 "set_line", "set_status", "set_body_len")
        return {n: getattr(self, n) for n in names}

    @staticmethod
    def data_filter(m: FilterMsg, on: bool) -> None:
        m.data_on = bool(on)

    @staticmethod
    def body(m: FilterMsg, off: Any = None, length: Any = None) -> str:
        a, b = m.span(off, length)
        return bytes(m.buf[a:b]).decode("latin-1")

    @staticmethod
    def line(m: FilterMsg, off: Any = None, length: Any = None) -> str:
        a, b = m.span(off, length)
        nl = m.buf.find(b"\n", a, b)
        return bytes(m.buf[a:b if nl < 0 else nl + 1]).decode("latin-1")

    @staticmethod
    def input(m: FilterMsg) -> int:
        return len(m.buf)

    @staticmethod
    def insert(m: FilterMsg, s: Any, off: Any = 0) -> int:
        data = as_text(s).encode("latin-1")
        pos = len(m.buf) if off is None or int(off) < 0 else min(int(off), len(m.buf))
        m.buf[pos:pos] = data
        return len(data)

    @staticmethod
    def remove(m: FilterMsg, off: Any = None, length: Any = None) -> int:
        a, b = m.span(off, length)
        del m.buf[a:b]
        return b - a

    @staticmethod
    def set(m: FilterMsg, s: Any, off: Any = None, length: Any = None) -> int:
        a, b = m.span(off, length)
        data = as_text(s).encode("latin-1")
        m.buf[a:b] = data
        return len(data)

    @staticmethod
    def send(m: FilterMsg, s: Any) -> int:
        data = as_text(s).encode("latin-1")
        m.sent += data
        return len(data)

    @staticmethod
    def forward(m: FilterMsg, n: Any) -> int:
        """Everything left in the message is forwarded when the callback returns."""
        return min(int(n), len(m.buf))

    @staticmethod
    def is_resp(m: FilterMsg) -> bool:
        return m.side == "res"

    @staticmethod
    def eom(m: FilterMsg) -> bool:
        return m.eom

    @staticmethod
    def set_eom(m: FilterMsg, on: bool) -> None:
        m.eom = bool(on)

    def stline(self, m: FilterMsg) -> Any:
        msg = m.msg
        lua = self.state.lua
        if m.side == "req":
            return lua.table_from({"method": msg.method, "uri": msg.uri,
                                   "version": msg.version})
        return lua.table_from({"version": msg.version, "code": msg.status,
                               "reason": msg.reason})

    def headers(self, m: FilterMsg) -> Any:
        lua = self.state.lua
        return self.state.headers_table(lua.table_from([lua.table_from([n, v])
                                                        for n, v in m.msg.headers]))

    def hdr(self, m: FilterMsg, op: str, name: Any, value: Any = None,
            repl: Any = None) -> None:
        msg, n = m.msg, as_text(name)
        if op == "add":
            msg.add(n, as_text(value))
        elif op == "set":
            msg.set(n, as_text(value))
        elif op == "del":
            msg.remove(n)
        else:
            self.state.bridge.hdr_rep(m.strm, m.side, n, value, repl, op == "repv")

    def set_line(self, m: FilterMsg, what: str, value: Any) -> bool:
        if m.side != "req" or m.headers_done:
            return False
        return bool(self.state.bridge.req_set(m.strm, what, value))

    def set_status(self, m: FilterMsg, code: Any, reason: Any = None) -> bool:
        if m.side != "res" or m.headers_done:
            return False
        self.state.bridge.res_set_status(m.strm, code, reason)
        return True

    @staticmethod
    def set_body_len(m: FilterMsg, length: Any) -> bool:
        """3.2: drop every Content-Length and Transfer-Encoding, then announce ``length``
        bytes or a chunked body."""
        if m.headers_done:
            return False
        if isinstance(length, str | bytes) and as_text(length) == "chunked":
            value = None
        else:
            try:
                value = int(length)
            except (TypeError, ValueError):
                return False
            if value < 0:
                return False
        msg = m.msg
        msg.remove("content-length")
        msg.remove("transfer-encoding")
        if value is None:
            msg.add("Transfer-Encoding", "chunked")
        else:
            msg.add("Content-Length", str(value))
        m.framing = True
        return True


class LuaFilterConf:
    """What a ``filter lua.<name>`` line configured: the Lua configuration object."""

    def __init__(self, state: LuaState, name: str, obj: Any) -> None:
        self.state, self.name, self.obj = state, name, obj


class LuaFilter:
    """The per-stream instance of a Lua filter (the ops of the Filter record)."""

    def __init__(self, conf: LuaFilterConf, strm: Any) -> None:
        st = self.state = conf.state
        self.name = conf.name
        self.api = st.ext["filters"]
        self.inst: Any = None
        self.msgs = {"req": FilterMsg(strm, "req"), "res": FilterMsg(strm, "res")}
        for m in self.msgs.values():
            m.lua_chn = self.api.channel(m, False)
            m.lua_msg = self.api.channel(m, True)
        self.txn = st.new_txn(strm, True)
        if conf.obj is None:
            return
        try:
            self.inst = st.call_sync(self.api.new, st.session_ms,
                                     f"Lua filter '{self.name}'", conf.obj)[1]
        except LuaRuntimeError as exc:
            alert(f"Lua filter '{self.name}': runtime error: {exc}")

    def _call(self, hook: str, m: FilterMsg, http: bool) -> int:
        if self.inst is None:
            return 1
        st = self.state
        try:
            res = st.call_sync(self.api.call, st.session_ms, f"Lua filter '{self.name}'",
                               self.inst, hook, self.txn, m.lua_msg if http else m.lua_chn)
        except LuaRuntimeError as exc:
            alert(f"Lua filter '{self.name}': runtime error: {exc}")
            self.inst = None  # a failing filter stops filtering this stream
            return ERROR
        try:
            return int(res[1]) if len(res) > 1 else 1
        except (TypeError, ValueError):
            return 1

    # -- the data path's callbacks ---------------------------------------------------------
    def _headers(self, side: str) -> bool:
        m = self.msgs[side]
        self._call("start_analyze", m, False)
        self._call("http_headers", m, True)
        m.headers_done = True
        return m.framing

    def _data(self, side: str, data: bytes) -> bytes:
        m = self.msgs[side]
        if not m.data_on or self.inst is None:
            return data
        m.buf += data
        if self._call("http_payload", m, True) == WAIT:
            return b""
        return self._release(m)

    def _end(self, side: str) -> bytes:
        m = self.msgs[side]
        m.eom = True
        if m.data_on and m.buf and self.inst is not None:
            self._call("http_payload", m, True)
        self._call("http_end", m, True)
        self._call("end_analyze", m, False)
        return self._release(m)

    @staticmethod
    def _release(m: FilterMsg) -> bytes:
        out = bytes(m.sent + m.buf)
        m.sent.clear()
        m.buf.clear()
        return out

    def on_request_headers(self, strm: Any) -> bool:
        return self._headers("req")

    def on_request_data(self, strm: Any, data: bytes) -> bytes:
        return self._data("req", data)

    def on_request_end(self, strm: Any) -> bytes:
        return self._end("req")

    def on_response_headers(self, strm: Any) -> bool:
        return self._headers("res")

    def on_response_data(self, strm: Any, data: bytes) -> bytes:
        return self._data("res", data)

    def on_response_end(self, strm: Any) -> bytes:
        return self._end("res")


def configure(state: LuaState, name: str, cls: Any, fn: Any, args: list[str]) -> Any:
    """Run ``fn(Class, args)`` for a ``filter lua.<name>`` line: the configuration object
    (a nil one leaves the line without effect).  Raises LuaRuntimeError."""
    api = state.ext["filters"]
    res = state.call_sync(api.configure, state.session_ms, f"Lua filter '{name}'", cls, fn,
                          state.lua.table_from(args))
    return LuaFilterConf(state, name, res[1] if len(res) > 1 else None)


def lua_api(api: Any) -> None:
    """The filter table, HTTPMessage and Channel."""
    api.state.ext["filters"] = api.define(LUA, Bridge(api.state).functions())
