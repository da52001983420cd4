-- core.proxies / core.backends / core.frontends: the Proxy and Server classes over the
-- running configuration (plugins/lua/proxies.py).  The tables are read when used, so a
-- server added at run time is there.
local H, MARK = ...

local Server = {}
Server.__index = Server
for _, m in ipairs({ "get_name", "get_puid", "get_addr", "get_weight", "set_weight",
                     "set_maint", "set_drain", "set_ready", "get_stats", "is_draining",
                     "is_backup", "get_maxconn", "get_pend_conn", "get_cur_sess",
                     "check_force_up", "check_force_down", "set_addr" }) do
    Server[m] = function(self, ...) return H.server(m, self.__s, ...) end
end

local Proxy = {}
Proxy.__index = Proxy
for _, m in ipairs({ "get_cap", "get_mode", "get_stats", "get_srv_act", "get_srv_bck" }) do
    Proxy[m] = function(self, ...) return H.proxy(m, self.__p, ...) end
end

local function wrap_servers(list)
    local out = {}
    for _, entry in ipairs(list) do
        out[entry[1]] = setmetatable({ __s = entry[2], name = entry[1] }, Server)
    end
    return out
end

local function snapshot(kind)
    local out = {}
    for _, entry in ipairs(H.list(kind)) do
        local p = setmetatable({ __p = entry[2], name = entry[1], uuid = entry[3] }, Proxy)
        p.servers = wrap_servers(H.servers(entry[2]))
        out[entry[1]] = p
    end
    return out
end

local function live(kind)
    return setmetatable({}, {
        __index = function(_, name) return snapshot(kind)[name] end,
        __pairs = function() return next, snapshot(kind), nil end,
    })
end

core.proxies = live("proxies")
core.backends = live("backends")
core.frontends = live("frontends")

core.get_info = function() return H.info() end
