"""The rest of HAProxy's Lua API on hapx (plugin lua): filters with HTTPMessage, CLI
commands, Socket, httpclient and the proxies/servers tables; real processes and clients."""

from __future__ import annotations

import httpx
import pytest
from netutil import OriginServer, Response, free_port, run_hapx, wait_until

pytest.importorskip("lupa")

HEAD = """global
    tune.lua.bool-sample-conversion normal
    lua-load s.lua
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
"""

FILTER_LUA = r"""
local Counter = {}
Counter.id = "body counter"
Counter.flags = filter.FLT_CFG_FL_HTX
Counter.__index = Counter

function Counter:new()
    return setmetatable({ req = 0, res = 0, chunks = 0 }, Counter)
end

function Counter:start_analyze(txn, chn)
    filter.register_data_filter(self, chn)
end

function Counter:http_headers(txn, msg)
    if msg:is_resp() then
        local len = tonumber(msg:get_headers()["content-length"][0])
        self.ok = msg:set_body_len(len + #self.suffix)
        msg:set_header("x-stline", msg:get_stline().code)
    end
end

function Counter:http_payload(txn, msg)
    local n = msg:input()
    if msg:is_resp() then
        self.res = self.res + n
        self.chunks = self.chunks + 1
        msg:set(msg:body():upper())
    else
        self.req = self.req + n
    end
end

function Counter:http_end(txn, msg)
    if msg:is_resp() then
        msg:append(self.suffix)
        core.Info(string.format("counted req=%d res=%d set_body_len=%s late=%s",
            self.req, self.res, tostring(self.ok), tostring(msg:set_body_len(1))))
    end
end

core.register_filter("counter", Counter, function(flt, args)
    flt.suffix = args[1] or "!"
    return flt
end)
"""


def test_filter_counts_body_bytes_and_sets_body_len():
    port = free_port()
    body = b"abcdefghij" * 3000
    with OriginServer(default=Response(200, body, [("Content-Type", "text/plain")])) as o:
        cfg = HEAD + f"""
frontend fe
    bind 127.0.0.1:{port}
    filter lua.counter -END
    default_backend be
backend be
    server s1 127.0.0.1:{o.port}
"""
        with run_hapx(cfg, files={"s.lua": FILTER_LUA}, ready_ports=[port]) as p:
            r = httpx.post(f"http://127.0.0.1:{port}/x", content=b"q" * 1234)
            assert r.status_code == 200
            assert r.headers["content-length"] == str(len(body) + 4)
            assert r.headers["x-stline"] == "200"
            assert r.content == body.upper() + b"-END"
            line = wait_until(lambda: next((ln for ln in p.stderr.splitlines()
                                            if "counted" in ln), None), 5)
            assert line.endswith(f"counted req=1234 res={len(body)} set_body_len=true "
                                 "late=false")
            assert o.last.body == b"q" * 1234
