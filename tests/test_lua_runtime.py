"""The Lua runtime (plugin lua, lupa / Lua 5.4): real scripts loaded by real hapx
processes, driven by real clients (httpx, sockets)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from cfgtools import alerts, parse_text
from netutil import OriginServer, free_port, run_haproxy, run_hapx, wait_until

pytest.importorskip("lupa")

DEFAULTS = """defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
"""

SCRIPT = r"""
core.register_fetches("greet", function(txn, who) return "hello " .. (who or "nobody") end)
core.register_fetches("btype", function(txn) return type(txn.f:always_true()) end)
core.register_fetches("nothing", function(txn) return nil end)
core.register_fetches("broken", function(txn) error("boom") end)
core.register_converters("rev", function(s) return s:reverse() end)
core.register_converters("twice", function(s, sep) return s .. (sep or "") .. s end)
core.register_action("tag", {"http-req"}, function(txn, v)
    local hdrs = txn.http:req_get_headers()
    txn.http:req_set_header("x-tag", v .. ":" .. txn.f:path() .. ":" .. txn.c:upper("abc")
        .. ":" .. hdrs["host"][0])
    txn.http:req_del_header("x-drop")
    txn:set_var("txn.count", 41)
    txn:set_var("txn.count", txn:get_var("txn.count") + 1)
    txn:set_var("txn.never", 1, true)
end, 1)
core.register_action("rewrite", {"http-req"}, function(txn)
    txn.http:req_set_path("/rewritten")
    txn.http:req_set_query("a=1")
    txn.http:req_set_method("PUT")
end)
core.register_action("stamp", {"http-res"}, function(txn)
    txn.http:res_set_header("x-res", "lua")
    txn.http:res_set_status(203)
end)
core.register_action("answer", {"http-req"}, function(txn)
    txn:done({status = 418, headers = {["x-done"] = {"yes"}}, body = "teapot\n"})
end)
"""


def _cfg(port: int, oport: int, fe: str, head: str = "") -> str:
    return f"""global
    tune.lua.bool-sample-conversion normal
    lua-load script.lua
{head}
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
{fe}
    default_backend be

backend be
    server s1 127.0.0.1:{oport}
"""


def test_action_fetch_converter_and_variables():
    port = free_port()
    fe = """    log stdout format raw local0
    log-format "LOG %[lua.greet(ann)] %[str(abc),lua.rev] %[var(txn.count)]"
    http-request lua.tag v1
    http-request set-header x-f %[lua.greet(bob)]
    http-request set-header x-c %[path,lua.twice(-)]
    http-request set-header x-none %[lua.nothing] if { lua.nothing -m found }
    http-request set-header x-var %[var(txn.count)]
    http-request set-header x-never %[var(txn.never)] if { var(txn.never) -m found }
    http-request set-header x-broken %[lua.broken] if { lua.broken -m found }
    http-response lua.stamp"""
    with OriginServer() as o, run_hapx(_cfg(port, o.port, fe), files={"script.lua": SCRIPT},
                                       ready_ports=[port]) as p:
        r = httpx.get(f"http://127.0.0.1:{port}/abc", headers={"x-drop": "1"})
        assert r.status_code == 203 and r.headers["x-res"] == "lua"
        req = o.last
        assert req.header("x-tag") == f"v1:/abc:ABC:127.0.0.1:{port}"
        assert req.header("x-drop") is None
        assert req.header("x-f") == "hello bob"
        assert req.header("x-c") == "/abc-/abc"
        assert req.header("x-var") == "42"
        assert req.header("x-none") is None and req.header("x-never") is None
        assert req.header("x-broken") is None
        out = p.wait_output("LOG ", stream="stdout")
        assert "LOG hello ann cba 42" in out
        p.wait_output("Lua sample-fetch 'broken': runtime error: ", stream="stderr")
        # the process goes on serving
        assert httpx.get(f"http://127.0.0.1:{port}/x").status_code == 203


def test_request_rewrites_and_txn_done():
    port = free_port()
    fe = """    http-request lua.answer if { path /teapot }
    http-request lua.rewrite"""
    with OriginServer() as o, run_hapx(_cfg(port, o.port, fe), files={"script.lua": SCRIPT},
                                       ready_ports=[port]):
        r = httpx.get(f"http://127.0.0.1:{port}/teapot")
        assert (r.status_code, r.text, r.headers["x-done"]) == (418, "teapot\n", "yes")
        assert httpx.get(f"http://127.0.0.1:{port}/orig?x=2").status_code == 200
        req = o.last
        assert (req.method, req.target) == ("PUT", "/rewritten?a=1")


@pytest.mark.parametrize("setting, expected", [("normal", "boolean"),
                                               ("pre-3.1-bug", "number"),
                                               (None, "number")])
def test_bool_sample_conversion(setting, expected):
    port = free_port()
    line = f"    tune.lua.bool-sample-conversion {setting}\n" if setting else ""
    cfg = f"""global
{line}    lua-load script.lua
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain lf-string "%[lua.btype]"
"""
    with run_hapx(cfg, files={"script.lua": SCRIPT}, ready_ports=[port]) as p:
        assert httpx.get(f"http://127.0.0.1:{port}/").text == expected
        if setting is None:
            assert "'tune.lua.bool-sample-conversion' is not set" in p.stderr


def test_bool_sample_conversion_after_lua_load_warns(tmp_path):
    script = tmp_path / "s.lua"
    script.write_text("core.Debug('loaded')\n")
    config, diag, _ = parse_text(tmp_path, f"global\n    lua-load {script}\n"
                                 "    tune.lua.bool-sample-conversion normal\n")
    assert not diag.failed, alerts(diag)
    texts = [m.text for m in diag.warnings]
    assert any("set after 'lua-load'" in t for t in texts), texts


def test_script_errors_are_config_errors(tmp_path):
    script = tmp_path / "bad.lua"
    script.write_text("core.register_action('x', {'http-req'}, function() end)\n"
                      "error('refused at load')\n")
    _, diag, _ = parse_text(tmp_path, f"global\n    lua-load {script}\n")
    assert diag.failed and "refused at load" in diag.alerts[0].text
    script.write_text("core.register_action('x', {'nowhere'}, function() end)\n")
    _, diag, _ = parse_text(tmp_path, f"global\n    lua-load {script}\n")
    assert "unknown action type 'nowhere'" in diag.alerts[0].text
    script.write_text("core.register_fetches('f', 12)\n")
    _, diag, _ = parse_text(tmp_path, f"global\n    lua-load {script}\n")
    assert "function expected" in diag.alerts[0].text
    # a keyword registered by a later script is known to the lines after it only
    script.write_text("core.register_action('late', {'http-req'}, function() end)\n")
    _, diag, _ = parse_text(tmp_path, DEFAULTS + "frontend f\n    http-request lua.late\n"
                            f"global\n    lua-load {script}\n")
    assert diag.failed
    # nb_args: exactly that many words
    script.write_text("core.register_action('two', {'http-req'}, function() end, 2)\n")
    head = f"global\n    lua-load {script}\n" + DEFAULTS + "frontend f\n"
    assert not parse_text(tmp_path, head + "    http-request lua.two a b\n")[1].failed
    _, diag, _ = parse_text(tmp_path, head + "    http-request lua.two a\n")
    assert "expect 2 arguments" in diag.alerts[0].text
    _, diag, _ = parse_text(tmp_path, head + "    http-request lua.two a b c\n")
    assert "'c'" in diag.alerts[0].text


def test_load_arguments_and_prepend_path(tmp_path):
    port = free_port()
    files = {
        "lib/helper.lua": "return { word = function() return 'from-module' end }\n",
        "script.lua": """local a, b = ...
local helper = require("helper")
core.register_fetches("args", function(txn) return a .. "," .. b .. "," .. helper.word() end)
""",
    }
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    lua-prepend-path ./lib/?.lua
    lua-load script.lua one two
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain lf-string "%[lua.args]"
"""
    with run_hapx(cfg, files=files, ready_ports=[port]):
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "one,two,from-module"


HTTP_SERVICE = r"""
core.register_service("hello", "http", function(applet)
    local body = applet:receive()
    local first = ""
    local out = string.format("%s %s %s qs=%s len=%d host=%s body=%s\n", applet.method,
        applet.path, applet.version, applet.qs, applet.length, applet.headers["host"][0], body)
    applet:set_status(201, "Made")
    applet:add_header("content-type", "text/plain")
    applet:add_header("x-fetch", applet.f:path())
    applet:start_response()
    applet:send(out)
end)
core.register_service("fails", "http", function(applet) error("no way") end)
"""


def test_http_service():
    port = free_port()
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    lua-load svc.lua
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request use-service lua.fails if {{ path /fails }}
    http-request use-service lua.hello
"""
    with run_hapx(cfg, files={"svc.lua": HTTP_SERVICE}, ready_ports=[port]) as p:
        r = httpx.get(f"http://127.0.0.1:{port}/hi?x=1")
        assert (r.status_code, r.reason_phrase) == (201, "Made")
        assert r.headers["x-fetch"] == "/hi" and r.headers["content-type"] == "text/plain"
        assert r.text == f"GET /hi 1.1 qs=x=1 len=0 host=127.0.0.1:{port} body=\n"
        r = httpx.get(f"http://127.0.0.1:{port}/fails")
        assert r.status_code == 500
        p.wait_output("Lua applet http 'fails': runtime error: ", stream="stderr")


TCP_SERVICE = r"""
core.register_service("timed", "tcp", function(applet)
    local data = applet:receive(5, 200)
    if data == nil then
        applet:send("timeout\n")
    else
        applet:send("got " .. data .. "\n")
    end
end)
core.register_service("keys", "tcp", function(applet)
    applet:send("press keys, q quits\n")
    local ticks = 0
    while true do
        local key = applet:receive(1, 100)
        if key == nil then
            ticks = ticks + 1
        elseif key == "" or key == "q" then
            break
        else
            applet:send("key " .. key .. "\n")
        end
    end
    applet:send("bye after " .. (ticks > 0 and "ticks" or "no ticks") .. "\n")
end)
"""


def _tcp_cfg(ports: dict[str, int]) -> str:
    fes = "".join(f"""
frontend {name}
    mode tcp
    bind 127.0.0.1:{port}
    tcp-request content use-service lua.{name}
""" for name, port in ports.items())
    return f"""global
    tune.lua.bool-sample-conversion normal
    lua-load tcp.lua
{DEFAULTS}{fes}"""


def _read_until(sock: socket.socket, text: bytes, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while text not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_tcp_services():
    ports = {"timed": free_port(), "keys": free_port()}
    with run_hapx(_tcp_cfg(ports), files={"tcp.lua": TCP_SERVICE},
                  ready_ports=list(ports.values())):
        # a line with a timeout: data in time, then nothing in time
        with socket.create_connection(("127.0.0.1", ports["timed"])) as s:
            s.sendall(b"abcdefg")
            assert _read_until(s, b"\n") == b"got abcde\n"
            assert _read_until(s, b"never") == b""  # closed after the answer
        with socket.create_connection(("127.0.0.1", ports["timed"])) as s:
            assert _read_until(s, b"\n") == b"timeout\n"
        # an interactive service driven by key presses
        with socket.create_connection(("127.0.0.1", ports["keys"])) as s:
            assert _read_until(s, b"\n") == b"press keys, q quits\n"
            for key in b"ab":
                s.sendall(bytes([key]))
                assert _read_until(s, b"\n") == f"key {chr(key)}\n".encode()
            time.sleep(0.25)  # let the 100 ms receive timeout pass at least once
            s.sendall(b"q")
            assert _read_until(s, b"ticks\n") == b"bye after ticks\n"


def test_tcp_service_getline_and_half_close():
    port = free_port()
    script = r"""
core.register_service("echo", "tcp", function(applet)
    while true do
        local line = applet:getline()
        if line == "" then break end
        applet:send("> " .. line)
    end
    applet:send("rest:" .. (applet:try_receive() or "nil") .. "\n")
end)
"""
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    lua-load tcp.lua
{DEFAULTS}
frontend echo
    mode tcp
    bind 127.0.0.1:{port}
    tcp-request content use-service lua.echo
"""
    with run_hapx(cfg, files={"tcp.lua": script}, ready_ports=[port]):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"one\ntwo\n")
            assert _read_until(s, b"> two\n") == b"> one\n> two\n"
            s.sendall(b"three")
            s.shutdown(socket.SHUT_WR)
            assert _read_until(s, b"rest:").startswith(b"> three")


def test_infinite_loop_is_cut_and_process_keeps_serving():
    port = free_port()
    script = """core.register_action("spin", {"http-req"}, function(txn) while true do end end)
core.register_fetches("spinf", function(txn) while true do end end)
"""
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    tune.lua.session-timeout 300ms
    lua-load spin.lua
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request lua.spin if {{ path /spin }}
    http-request return status 200 content-type text/plain lf-string "ok %[lua.spinf]" if {{ path /spinf }}
    http-request return status 200 content-type text/plain string "fine"
"""
    with run_hapx(cfg, files={"spin.lua": script}, ready_ports=[port]) as p:
        # as HAProxy: the action is cut, logged, and the request goes on
        r = httpx.get(f"http://127.0.0.1:{port}/spin", timeout=10)
        assert (r.status_code, r.text) == (200, "fine")
        p.wait_output("Lua function 'spin': runtime error: execution timeout", stream="stderr")
        r = httpx.get(f"http://127.0.0.1:{port}/spinf", timeout=10)
        assert (r.status_code, r.text) == (200, "ok ")
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "fine"


def test_infinite_loop_matches_haproxy():
    """The same cut request through Debian's haproxy: the action is abandoned, the request
    answered by the next rule."""
    port = free_port()
    script = 'core.register_action("spin", {"http-req"}, function(txn) while true do end end)\n'
    cfg = f"""global
    tune.lua.session-timeout 300ms
    lua-load spin.lua
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request lua.spin
    http-request return status 200 content-type text/plain string "fine"
"""
    with run_haproxy(cfg, files={"spin.lua": script}, ready_ports=[port]) as p:
        r = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert (r.status_code, r.text) == (200, "fine")
        wait_until(lambda: "execution timeout" in p.stderr, 5)


def test_core_functions(tmp_path):
    port = free_port()
    script = r"""
local words = core.tokenize("a,b,,c", ",", true)
local c = core.concat()
for _, w in ipairs(words) do c:add(w) end
local joined = c:dump()
core.Info("joined " .. joined)
core.register_fetches("misc", function(txn)
    local now = core.now()
    return joined .. " " .. #core.tokenize("x y", " ") .. " " .. tostring(now.sec > 0)
        .. " " .. tostring(core.info) .. " " .. txn.sf:req_hdr("missing") .. "|"
        .. tostring(txn.f:req_hdr("missing"))
end)
"""
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    lua-load s.lua
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain lf-string "%[lua.misc]"
"""
    with run_hapx(cfg, files={"s.lua": script}, ready_ports=[port]) as p:
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "abc 2 true 6 |nil"
        assert "[info]" in p.stderr and ": joined abc" in p.stderr


def test_init_and_task():
    port = free_port()
    script = r"""
local ticks, ready = 0, "no"
core.register_init(function() ready = "yes" end)
core.register_task(function(step)
    while true do
        ticks = ticks + step
        core.msleep(20)
    end
end, 1)
core.register_fetches("ticks", function(txn) return ready .. " " .. ticks end)
"""
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    lua-load s.lua
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain lf-string "%[lua.ticks]"
"""
    with run_hapx(cfg, files={"s.lua": script}, ready_ports=[port]):
        url = f"http://127.0.0.1:{port}/"
        first = wait_until(lambda: (t := httpx.get(url).text).startswith("yes") and t, 5)
        n = int(first.split()[1])
        # the task keeps ticking while the process serves requests
        wait_until(lambda: int(httpx.get(url).text.split()[1]) >= n + 3, 5)


def test_map_class():
    port = free_port()
    script = r"""
local m = Map.new("paths.map", Map._beg)
core.register_fetches("route", function(txn)
    return (m:lookup(txn.f:path()) or "none") .. "|" .. m:slookup("/zzz") .. "|"
end)
"""
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    lua-load s.lua
{DEFAULTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain lf-string "%[lua.route]"
"""
    files = {"s.lua": script, "paths.map": "/api be_api\n/static be_static\n"}
    with run_hapx(cfg, files=files, ready_ports=[port]):
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1").text == "be_api||"
        assert httpx.get(f"http://127.0.0.1:{port}/other").text == "none||"


BLOCKING = r"""
local released = false
core.register_action("hold", {"http-req"}, function(txn)
    while not released do core.msleep(10) end
    txn.http:req_set_header("x-held", "done")
end)
core.register_action("release", {"http-req"}, function(txn) released = true end)
core.register_action("nap", {"http-req"}, function(txn)
    core.sleep(0.2)
    core.yield()
    txn.http:req_set_header("x-napped", "yes")
end)
core.register_service("slowsvc", "http", function(applet)
    local body = applet:receive()
    core.msleep(50)
    applet:set_status(200)
    applet:start_response()
    applet:send("len=" .. #body .. " last=" .. body:sub(-3))
end)
"""


def test_blocking_action_delays_only_its_own_request():
    pytest.importorskip("hapx.core.runtime.waits")
    import concurrent.futures

    port = free_port()
    fe = """    http-request lua.hold if { path /hold }
    http-request lua.release if { path /release }
    http-request lua.nap if { path /nap }
    http-request use-service lua.slowsvc if { path /svc }"""
    with OriginServer() as o, run_hapx(_cfg(port, o.port, fe),
                                       files={"script.lua": BLOCKING}, ready_ports=[port]):
        base = f"http://127.0.0.1:{port}"
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            held = pool.submit(httpx.get, f"{base}/hold", timeout=20)
            naps = [pool.submit(httpx.get, f"{base}/nap", timeout=20) for _ in range(2)]
            # the held request waits for another request: served only if nothing blocks
            wait_until(lambda: httpx.get(f"{base}/other").status_code == 200, 5)
            assert not held.done()
            assert httpx.get(f"{base}/release").status_code == 200
            assert held.result().status_code == 200
            assert all(f.result().status_code == 200 for f in naps)
        by_path = {r.path: r for r in o.requests}
        assert by_path["/hold"].header("x-held") == "done"
        assert by_path["/nap"].header("x-napped") == "yes"
        body = b"x" * 50000 + b"end"
        r = httpx.post(f"{base}/svc", content=body, timeout=20)
        assert (r.status_code, r.text) == (200, f"len={len(body)} last=end")
