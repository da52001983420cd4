"""patref (plugin patref over the Lua runtime): core.get_patref and the Patref class, with
real hapx processes, clients and the stats socket."""

from __future__ import annotations

import httpx
import pytest
from cliutil import cli
from netutil import OriginServer, Response, free_port, run_hapx, wait_until

pytest.importorskip("lupa")

# the 3.2 release notes' example, as written there
SEED_LUA = r"""
function add_path(txn)
    local acl_file = os.getenv("ACL_FILE")
    if acl_file == nil then
        core.Warning("Environment variable 'ACL_FILE' not set!")
        return
    end
    local patref = core.get_patref(acl_file)
    if patref ~= nil then
        local path = txn.f:path()
        patref:add(path)
        core.Info("Added to list of patterns: " .. path)
    end
end
-- Register the action with HAProxy
core.register_action("add-path", {"http-req"}, add_path, 0)
"""


def test_seed_patref_cache_example(tmp_path):
    port = free_port()
    sock = str(tmp_path / "stats.sock")
    body = b"page body\n"
    cacheable = Response(200, body, [("Content-Type", "text/plain"),
                                     ("Cache-Control", "max-age=300")])
    cfg = f"""global
    log stderr format raw local0
    stats socket {sock} level admin
    tune.lua.bool-sample-conversion normal
    lua-load acl-patterns.lua
    setenv ACL_FILE virt@cached_paths.txt
defaults
    mode http
    log global
    timeout connect 5s
    timeout server 5s
    timeout client 5s
cache mycache
    total-max-size 4
    max-object-size 10000
    max-age 300
    process-vary on
frontend fe_main
    bind 127.0.0.1:{port}
    # cache responses that match paths in ACL file
    filter cache mycache
    acl is_cached_path path -i -m beg -f virt@cached_paths.txt
    http-request cache-use mycache if is_cached_path
    http-response cache-store mycache
    # Add the request path to the ACL file if 'cacheit' URL param exists
    http-request lua.add-path if {{ url_param(cacheit) -m found }}
    http-after-response set-header x-cache-hit %[res.cache_hit]
    default_backend webservers
backend webservers
    server s1 {{origin}}
"""
    with OriginServer(default=cacheable) as o:
        with run_hapx(cfg.replace("{origin}", f"127.0.0.1:{o.port}"),
                      files={"acl-patterns.lua": SEED_LUA},
                      ready_ports=[port, sock]) as p:
            base = f"http://127.0.0.1:{port}"
            # before: nothing cached, every request reaches the origin
            for _ in range(2):
                assert httpx.get(f"{base}/plain").headers["x-cache-hit"] == "0"
            assert sum(r.target == "/plain" for r in o.requests) == 2
            # url_param() finds a parameter followed by "=" only (as HAProxy: checked
            # against haproxy 2.6), so the bare "?cacheit" of the notes adds nothing
            httpx.get(f"{base}/bare?cacheit")
            r = httpx.get(f"{base}/products/list?cacheit=1")
            assert r.status_code == 200
            wait_until(lambda: "Added to list of patterns: /products/list" in p.stderr, 5,
                       message=lambda: p.output())
            shown = cli(sock, "show acl virt@cached_paths.txt")
            assert "/products/list" in shown and "/bare" not in shown
            hits = [httpx.get(f"{base}/products/list").headers["x-cache-hit"]
                    for _ in range(3)]
            assert hits == ["0", "1", "1"]
            assert sum(r.target == "/products/list" for r in o.requests) == 1
            # -m beg -i: a path below the added one matches too
            httpx.get(f"{base}/PRODUCTS/list/2")
            assert httpx.get(f"{base}/PRODUCTS/list/2").headers["x-cache-hit"] == "1"


API_LUA = r"""
local events = {}
local m, a
core.register_init(function()
    m = core.get_patref("virt@routes")
    a = core.get_patref("blocked.acl")
    m:event_sub({"PAT_REF_ADD", "PAT_REF_SET", "PAT_REF_DEL", "PAT_REF_COMMIT"},
                function(event) events[#events + 1] = event end)
end)
core.register_fetches("patinfo", function(txn)
    local keys = {}
    for k, v in pairs(m) do keys[#keys + 1] = k .. "=" .. v end
    return table.concat({m:get_name(), tostring(m:is_map()), a:get_name(),
        tostring(a:is_map()), tostring(core.get_patref("virt@nope")),
        table.concat(keys, ","), tostring(m["/api"]), table.concat(events, ",")}, " ")
end)
core.register_action("pat", {"http-req"}, function(txn, op)
    if op == "add" then
        m:add("/api", "be_api")
        m:add_bulk({["/static"] = "be_static"})
        a:add_bulk({"/admin", "/private"})
    elseif op == "set" then
        txn:set_var("txn.r", tostring(m:set("/api", "be_v2")) .. tostring(m:set("/x", "y"))
            .. tostring(m:set("/new", "be_new", true)))
    elseif op == "del" then
        txn:set_var("txn.r", tostring(a:del("/private")) .. tostring(a:del("/none")))
    elseif op == "swap" then
        m:prepare()
        m:add("/only", "be_only")
        txn:set_var("txn.r", tostring(m["/only"]))  -- not visible before commit
        m:commit()
    elseif op == "giveup" then
        m:prepare()
        m:add("/ghost", "be_ghost")
        m:giveup()
        local ok, err = m:commit()
        txn:set_var("txn.r", tostring(ok) .. ":" .. tostring(err ~= nil))
    end
end, 1)
"""


def test_patref_api_changes_are_seen_by_acls_maps_and_cli(tmp_path):
    port = free_port()
    sock = str(tmp_path / "stats.sock")
    cfg = f"""global
    stats socket {sock} level admin
    tune.lua.bool-sample-conversion normal
    lua-load api.lua
defaults
    mode http
    timeout connect 5s
    timeout server 5s
    timeout client 5s
frontend fe
    bind 127.0.0.1:{port}
    http-request lua.pat add if {{ path /op/add }}
    http-request lua.pat set if {{ path /op/set }}
    http-request lua.pat del if {{ path /op/del }}
    http-request lua.pat swap if {{ path /op/swap }}
    http-request lua.pat giveup if {{ path /op/giveup }}
    http-request return status 200 content-type text/plain lf-string "%[var(txn.r)]" if {{ path_beg /op/ }}
    http-request return status 200 content-type text/plain lf-string "%[lua.patinfo]" if {{ path /info }}
    http-request deny if {{ path_beg -f blocked.acl }}
    http-request return status 200 content-type text/plain lf-string "%[path,map_beg(virt@routes,none)]"
"""
    files = {"api.lua": API_LUA, "blocked.acl": "/secret\n"}
    with run_hapx(cfg, files=files, ready_ports=[port, sock]):
        base = f"http://127.0.0.1:{port}"
        info = httpx.get(f"{base}/info").text
        assert info.startswith("virt@routes true blocked.acl false nil  nil")
        assert httpx.get(f"{base}/api/x").text == "none"
        assert httpx.get(f"{base}/admin").status_code == 200
        httpx.get(f"{base}/op/add")
        assert httpx.get(f"{base}/api/x").text == "be_api"
        assert httpx.get(f"{base}/static/a.css").text == "be_static"
        assert httpx.get(f"{base}/admin").status_code == 403
        assert httpx.get(f"{base}/secret").status_code == 403
        assert "/private" in cli(sock, "show acl blocked.acl")
        assert httpx.get(f"{base}/op/set").text == "truefalsetrue"
        assert httpx.get(f"{base}/api/x").text == "be_v2"
        assert httpx.get(f"{base}/new").text == "be_new"
        assert "/new be_new" in cli(sock, "show map virt@routes")
        assert httpx.get(f"{base}/op/del").text == "truefalse"
        assert httpx.get(f"{base}/private").status_code == 200
        assert httpx.get(f"{base}/op/swap").text == "nil"
        assert httpx.get(f"{base}/only/1").text == "be_only"
        assert httpx.get(f"{base}/api/x").text == "none"  # replaced as a whole
        assert httpx.get(f"{base}/op/giveup").text == "nil:true"
        assert httpx.get(f"{base}/ghost").text == "none"
        shown = cli(sock, "show map virt@routes")
        assert "/only be_only" in shown and "/api" not in shown
        info = wait_until(lambda: (t := httpx.get(f"{base}/info").text).endswith("COMMIT")
                          and t, 5)
        _, _, _, _, _, keys, api, events = info.split(" ")
        assert (keys, api) == ("/only=be_only", "nil")
        assert events.split(",")[:3] == ["PAT_REF_ADD", "PAT_REF_ADD", "PAT_REF_SET"]
        assert "PAT_REF_COMMIT" in events.split(",")
