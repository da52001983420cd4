"""The rest of HAProxy's Lua API on hapx (plugin lua): filters with HTTPMessage, CLI
commands, Socket, httpclient and the proxies/servers tables; real processes and clients."""

from __future__ import annotations

import httpx
import pytest
from cliutil import cli
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


CLI_LUA = r"""
local hits = 0
core.register_action("hit", {"http-req"}, function(txn) hits = hits + 1 end)
core.register_cli({"show", "lua", "hits"}, "show lua hits [<prefix>] : the hit counter",
    function(applet, w1, w2, w3, prefix)
        core.msleep(10)
        applet:send((prefix or "hits") .. "=" .. hits .. " words=" .. w1 .. "," .. w2 .. ","
                    .. w3 .. "\n")
    end)
core.register_cli({"lua", "fail"}, "lua fail : fails", function(applet)
    applet:send("before\n")
    error("on purpose")
end)
"""


def test_register_cli_through_the_stats_socket(tmp_path):
    port = free_port()
    sock = str(tmp_path / "stats.sock")
    cfg = HEAD.replace("    lua-load", f"    stats socket {sock} level admin\n    lua-load") + f"""
frontend fe
    bind 127.0.0.1:{port}
    http-request lua.hit
    http-request return status 200
"""
    with run_hapx(cfg, files={"s.lua": CLI_LUA}, ready_ports=[port, sock]):
        assert cli(sock, "show lua hits") == "hits=0 words=show,lua,hits\n\n"
        for _ in range(3):
            httpx.get(f"http://127.0.0.1:{port}/")
        assert cli(sock, "show lua hits now") == "now=3 words=show,lua,hits\n\n"
        out = cli(sock, "lua fail")
        assert out.startswith("before\nLua cli 'lua fail': runtime error: ")
        assert "on purpose" in out
        assert "show lua hits [<prefix>] : the hit counter" in cli(sock, "help")


SOCKET_LUA = r"""
core.register_service("relay", "http", function(applet)
    local s = core.tcp()
    s:settimeout(5)
    local ok, err = s:connect("127.0.0.1:" .. applet.qs)
    if not ok then
        applet:set_status(502)
        applet:start_response()
        applet:send("connect: " .. tostring(err))
        return
    end
    local sent = s:send("hello\nworld\n" .. "x" .. string.rep("y", 9) .. "tail")
    local l1 = s:receive()
    local l2 = s:receive("*l")
    local ten = s:receive(10)
    s:send("", 1, 0)
    s:close()
    applet:set_status(200)
    applet:start_response()
    applet:send(table.concat({sent, l1, l2, ten}, "|"))
end)
core.register_fetches("refused", function(txn)
    return "-"
end)
core.register_service("refused", "http", function(applet)
    local s = core.tcp()
    local ok, err = s:connect("127.0.0.1", tonumber(applet.qs))
    applet:set_status(200)
    applet:start_response()
    applet:send(tostring(ok) .. " " .. tostring(err ~= nil))
end)
"""


def test_socket_talks_to_a_real_tcp_server():
    from netutil import TcpEchoServer

    port = free_port()
    cfg = HEAD + f"""
frontend fe
    bind 127.0.0.1:{port}
    http-request use-service lua.relay if {{ path /relay }}
    http-request use-service lua.refused if {{ path /refused }}
"""
    with TcpEchoServer() as echo, run_hapx(cfg, files={"s.lua": SOCKET_LUA},
                                           ready_ports=[port]):
        r = httpx.get(f"http://127.0.0.1:{port}/relay?{echo.port}", timeout=10)
        assert (r.status_code, r.text) == (200, "26|hello|world|xyyyyyyyyy")
        dead = free_port()
        r = httpx.get(f"http://127.0.0.1:{port}/refused?{dead}", timeout=10)
        assert r.text == "nil true"


HTTPCLIENT_LUA = r"""
core.register_service("fetch", "http", function(applet)
    local hc = core.httpclient()
    local base = "http://127.0.0.1:" .. applet.qs
    local r = hc:get{url = base .. "/data?x=1", headers = {["x-ask"] = {"one", "two"}}}
    local p = hc:post{url = base .. "/echo", body = "posted body", timeout = 3000}
    local bad, err = hc:get{url = "http://127.0.0.1:1/", timeout = 2000}
    applet:set_status(200)
    applet:start_response()
    applet:send(table.concat({r.status, r.reason, r.headers["x-origin"][0] ~= nil and "h" or "-",
        r.body, p.status, p.body, tostring(bad), tostring(err ~= nil)}, "|"))
end)
"""


def test_httpclient_to_a_real_http_server():
    port = free_port()
    cfg = HEAD + f"""
frontend fe
    bind 127.0.0.1:{port}
    http-request use-service lua.fetch
"""
    routes = {"/data": Response(200, b"payload", [("Content-Type", "text/plain")]),
              "/echo": Response(201, b"got", [("Content-Type", "text/plain")])}
    with OriginServer(routes) as o, run_hapx(cfg, files={"s.lua": HTTPCLIENT_LUA},
                                             ready_ports=[port]):
        r = httpx.get(f"http://127.0.0.1:{port}/?{o.port}", timeout=15)
        assert r.text == "200|OK|h|payload|201|got|nil|true"
        data = next(q for q in o.requests if q.path == "/data")
        assert data.target == "/data?x=1"
        assert data.header_all("x-ask") == ["one", "two"]
        echo = next(q for q in o.requests if q.path == "/echo")
        assert (echo.method, echo.body) == ("POST", b"posted body")


PROXIES_LUA = r"""
core.register_action("srv", {"http-req"}, function(txn, op, arg)
    local s = core.backends["be"].servers["s1"]
    local r
    if op == "maint" then r = s:set_maint()
    elseif op == "drain" then r = s:set_drain()
    elseif op == "ready" then r = s:set_ready()
    elseif op == "weight" then r = s:set_weight(arg)
    end
    txn:set_var("txn.r", tostring(r))
end, 2)
core.register_fetches("pinfo", function(txn)
    local be = core.backends["be"]
    local s = be.servers["s1"]
    local names = {}
    for name, _ in pairs(core.proxies) do names[#names + 1] = name end
    table.sort(names)
    local st = s:get_stats()
    return table.concat({table.concat(names, ","), core.frontends["fe"]:get_cap(),
        be:get_cap(), be:get_mode(), tostring(core.frontends["be"]), s:get_name(),
        s:get_addr(), s:get_weight(), st.status, st.svname, tostring(s:is_draining()),
        be:get_stats().pxname, be:get_srv_act(), core.get_info().Process_num}, "|")
end)
"""


def _stat_status(text: str, sv: str) -> str:
    head = text.splitlines()[0].lstrip("# ").split(",")
    for line in text.splitlines()[1:]:
        cells = line.split(",")
        if cells[:2] == ["be", sv]:
            return cells[head.index("status")] + "/" + cells[head.index("weight")]
    raise AssertionError(text)


def test_backends_table_server_admin_visible_in_show_stat(tmp_path):
    port = free_port()
    sock = str(tmp_path / "stats.sock")
    cfg = HEAD.replace("    lua-load", f"    stats socket {sock} level admin\n    lua-load") + f"""
frontend fe
    bind 127.0.0.1:{port}
    http-request lua.srv maint - if {{ path /maint }}
    http-request lua.srv drain - if {{ path /drain }}
    http-request lua.srv ready - if {{ path /ready }}
    http-request lua.srv weight 50% if {{ path /half }}
    http-request lua.srv weight junk if {{ path /junk }}
    http-request return status 200 content-type text/plain lf-string "%[var(txn.r)]" if {{ path /maint }} || {{ path /drain }} || {{ path /ready }} || {{ path /half }} || {{ path /junk }}
    http-request return status 200 content-type text/plain lf-string "%[lua.pinfo]" if {{ path /info }}
    default_backend be
backend be
    server s1 127.0.0.1:{free_port()} weight 10
    server s2 127.0.0.1:{free_port()}
"""
    with run_hapx(cfg, files={"s.lua": PROXIES_LUA}, ready_ports=[port, sock]):
        base = f"http://127.0.0.1:{port}"
        info = httpx.get(f"{base}/info").text.split("|")
        assert info[:6] == ["be,fe", "frontend", "backend", "http", "nil", "s1"]
        assert info[6].startswith("127.0.0.1:")
        assert info[7:11] == ["10", "no check", "s1", "false"]
        assert info[11:] == ["be", "2", "1"]
        assert _stat_status(cli(sock, "show stat"), "s1") == "no check/10"
        assert httpx.get(f"{base}/maint").text == "nil"
        assert _stat_status(cli(sock, "show stat"), "s1") == "MAINT/10"
        assert httpx.get(f"{base}/info").text.split("|")[8] == "MAINT"
        assert httpx.get(f"{base}/ready").text == "nil"
        assert _stat_status(cli(sock, "show stat"), "s1") == "no check/10"
        assert httpx.get(f"{base}/half").text == "nil"
        assert cli(sock, "get weight be/s1") == "5 (initial 10)\n\n"
        assert httpx.get(f"{base}/junk").text.startswith("Empty weight string")
        assert httpx.get(f"{base}/drain").text == "nil"
        assert _stat_status(cli(sock, "show stat"), "s1") == "DRAIN/5"
        assert httpx.get(f"{base}/info").text.split("|")[10] == "true"


SETTINGS_SHARED = r"""
X = "shared"
core.Info("body of the shared script")
core.register_fetches("a", function(txn) return tostring(X) .. core.thread end)
core.register_action("say", {"http-req"}, function(txn) txn:Info("said in a txn") end)
core.register_action("hog", {"http-req"}, function(txn)
    local t = {}
    for i = 1, 1e5 do t[i] = string.rep("x", 100000) .. i end
end)
"""
SETTINGS_THREAD = r"""
core.register_fetches("b", function(txn) return tostring(X) .. core.thread end)
"""


@pytest.mark.parametrize("logging", ["", "    tune.lua.log.loggers off\n"
                                         "    tune.lua.log.stderr on\n"])
def test_lua_settings_per_thread_logging_and_maxmem(logging):
    port = free_port()
    # the tune.lua.* lines come after the lua-load lines and still apply
    cfg = f"""global
    tune.lua.bool-sample-conversion normal
    lua-load shared.lua
    lua-load-per-thread thread.lua
    tune.lua.maxmem 16
{logging}defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{port}
    log stdout format raw local0
    http-request lua.say if {{ path /say }}
    http-request lua.hog if {{ path /hog }}
    http-request return status 200 content-type text/plain lf-string "%[lua.a] %[lua.b]"
"""
    files = {"shared.lua": SETTINGS_SHARED, "thread.lua": SETTINGS_THREAD}
    with run_hapx(cfg, files=files, ready_ports=[port]) as p:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/").text == "shared0 nil1"
        assert "body of the shared script" in p.stderr  # no logger before start
        httpx.get(f"{base}/say")
        if logging:  # loggers off, stderr on
            wait_until(lambda: "said in a txn" in p.stderr, 5)
            assert "said in a txn" not in p.stdout
        else:  # the frontend's logger takes it; stderr (auto) does not
            wait_until(lambda: "said in a txn" in p.stdout, 5)
            assert "said in a txn" not in p.stderr
        assert httpx.get(f"{base}/hog", timeout=30).status_code == 200
        line = wait_until(lambda: next((ln for ln in p.stderr.splitlines()
                                        if "'hog'" in ln), None), 10)
        assert "runtime error" in line and "memory" in line
        assert httpx.get(f"{base}/").text == "shared0 nil1"


EXTRAS_LUA = r"""
local q = core.queue()
core.register_task(function()
    while true do
        local item = q:pop_wait()
        results[#results + 1] = "got " .. item
    end
end)
results = {}
local rx = Regex.new("^/(\\w+)/(\\d+)$", true)
core.register_action("push", {"http-req"}, function(txn) q:push(txn.f:path()) end)
core.register_action("reply", {"http-req"}, function(txn)
    local r = txn:reply({status = 201, headers = {["x-a"] = "1"}})
    r:add_header("x-b", "2")
    r:add_header("x-drop", "3")
    r:del_header("X-Drop")
    r:set_body("made " .. q:size())
    txn:done(r)
end)
core.register_fetches("extras", function(txn)
    local ok, caps = rx:match("/ITEMS/42")
    return table.concat({tostring(rx:exec("/a/1")), tostring(rx:exec("/a/b")),
        tostring(ok), caps[2], caps[3], tostring(core.http_date("Sun, 06 Nov 1994 08:49:37 GMT")),
        tostring(core.rfc850_date("Sunday, 06-Nov-94 08:49:37 GMT")),
        tostring(core.asctime_date("Sun Nov  6 08:49:37 1994")),
        tostring(core.imf_date("garbage")), table.concat(results, ",")}, "|")
end)
"""


def test_reply_regex_queue_and_dates():
    port = free_port()
    cfg = HEAD.replace("lua-load s.lua", "lua-load s.lua") + f"""
frontend fe
    bind 127.0.0.1:{port}
    http-request lua.push if {{ path_beg /push }}
    http-request lua.reply if {{ path /reply }}
    http-request return status 200 content-type text/plain lf-string "%[lua.extras]"
"""
    with run_hapx(cfg, files={"s.lua": EXTRAS_LUA}, ready_ports=[port]):
        base = f"http://127.0.0.1:{port}"
        r = httpx.get(f"{base}/reply")
        assert (r.status_code, r.text) == (201, "made 0")
        assert (r.headers["x-a"], r.headers["x-b"]) == ("1", "2")
        assert "x-drop" not in r.headers
        httpx.get(f"{base}/push/1")
        httpx.get(f"{base}/push/2")
        text = wait_until(lambda: (t := httpx.get(f"{base}/").text).count("got") == 2
                          and t, 5)
        assert text == ("true|false|true|ITEMS|42|784111777|784111777|784111777|nil|"
                        "got /push/1,got /push/2")
