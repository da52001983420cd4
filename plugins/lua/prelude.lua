-- hapx's Lua API: the HAProxy classes (core, act, TXN, HTTP, Fetches, Converters,
-- AppletHTTP, AppletTCP, Map, Socket) built over the Python bridge H.  Runs once per Lua
-- state, before any script; the bridge is kept in upvalues only.
local H = ...
local MARK = {}            -- first value of every yield that hapx must serve
local yield = coroutine.yield
local pack, unpack = table.pack, table.unpack

-- ------------------------------------------------------------------ running functions
-- A call is a coroutine with a budget: `limit` ms of Lua run time in total (0: none) and
-- `burst` ms without yielding.  The debug hook checks both every `step` instructions.
local function spawn(fn, limit, burst, step, ...)
    local args = pack(...)
    local co = coroutine.create(function() return fn(unpack(args, 1, args.n)) end)
    local st = { co = co, used = 0, start = 0, limit = limit, burst = burst }
    if limit > 0 or burst > 0 then
        debug.sethook(co, function()
            local now = H.clock()
            if (st.limit > 0 and st.used + now - st.start > st.limit)
                    or (st.burst > 0 and now - st.start > st.burst) then
                local info = debug.getinfo(2, "Sl")
                local where = info and (info.short_src .. ":" .. (info.currentline or 0)) or "?"
                error("execution timeout from " .. where, 0)
            end
        end, "", step)
    end
    return st
end

-- Resume a call made by spawn; answers "done", results... | "yield", op, args... |
-- "error", message | "txndone"
local function resume(st, ...)
    local co = st.co
    st.start = H.clock()
    local r = pack(coroutine.resume(co, ...))
    st.used = st.used + H.clock() - st.start
    if not r[1] then
        if r[2] == MARK then return "txndone" end
        local msg = r[2]
        if type(msg) ~= "string" then msg = tostring(msg) end
        return "error", msg
    end
    if coroutine.status(co) == "dead" then
        return "done", unpack(r, 2, r.n)
    end
    if r[2] ~= MARK then
        return "error", "yield not allowed here (coroutine.yield outside a coroutine)"
    end
    return "yield", unpack(r, 3, r.n)
end

-- ------------------------------------------------------------------ core
core = {
    emerg = 0, alert = 1, crit = 2, err = 3, warning = 4, notice = 5, info = 6, debug = 7,
    silent = -1, thread = 0,
}
core.log = function(level, msg) H.log(nil, level, msg) end
core.Debug = function(msg) H.log(nil, 7, msg) end
core.Info = function(msg) H.log(nil, 6, msg) end
core.Warning = function(msg) H.log(nil, 4, msg) end
core.Alert = function(msg) H.log(nil, 1, msg) end

core.register_action = function(name, actions, fn, nb_args)
    if type(fn) ~= "function" then error("register_action: function expected", 2) end
    H.register("action", name, fn, actions, nb_args or 0)
end
core.register_fetches = function(name, fn)
    if type(fn) ~= "function" then error("register_fetches: function expected", 2) end
    H.register("fetches", name, fn)
end
core.register_converters = function(name, fn)
    if type(fn) ~= "function" then error("register_converters: function expected", 2) end
    H.register("converters", name, fn)
end
core.register_service = function(name, mode, fn)
    if type(fn) ~= "function" then error("register_service: function expected", 2) end
    H.register("service", name, fn, mode)
end
core.register_filter = function(name, class, fn)
    H.register("filter", name, fn, class)
end
core.register_cli = function(path, usage, fn)
    if type(path) ~= "table" then error("register_cli: table of words expected", 2) end
    if type(fn) ~= "function" then error("register_cli: function expected", 2) end
    H.register("cli", table.concat(path, " "), fn, path, usage)
end
core.register_init = function(fn)
    if type(fn) ~= "function" then error("register_init: function expected", 2) end
    H.register("init", "", fn)
end
core.register_task = function(fn, ...)
    if type(fn) ~= "function" then error("register_task: function expected", 2) end
    H.register("task", "", fn, pack(...))
end

core.now = function()
    local sec, usec = H.now()
    return { sec = sec, usec = usec }
end
core.msleep = function(ms) yield(MARK, "sleep", ms) end
core.sleep = function(s) yield(MARK, "sleep", s * 1000) end
core.yield = function() yield(MARK, "sleep", 0) end
core.wait = function(ms) yield(MARK, "sleep", ms or -1) end

core.tokenize = function(str, seps, noblank)
    local out = {}
    local cur = {}
    local n = 0
    for i = 1, #str do
        local c = str:sub(i, i)
        if seps:find(c, 1, true) then
            local word = table.concat(cur)
            if not (noblank and word == "") then n = n + 1; out[n] = word end
            cur = {}
        else
            cur[#cur + 1] = c
        end
    end
    local word = table.concat(cur)
    if not (noblank and word == "") then n = n + 1; out[n] = word end
    return out
end

local Concat = {}
Concat.__index = Concat
function Concat:add(s) self.parts[#self.parts + 1] = tostring(s) end
function Concat:dump() return table.concat(self.parts) end
core.concat = function() return setmetatable({ parts = {} }, Concat) end

act = { CONTINUE = 0, STOP = 1, YIELD = 2, DENY = 3, ABORT = 4, DONE = 5, ERROR = 6,
        INVALID = 7 }
act.wake_time = function(_, ms) H.wake_time(ms) end

-- the filter table, HTTPMessage and Channel: filters.lua

-- ------------------------------------------------------------------ Fetches, Converters
local function methods(call)
    local cache = {}
    return { __index = function(_, name)
        local fn = cache[name]
        if fn == nil then
            fn = function(self, ...) return call(self, name, ...) end
            cache[name] = fn
        end
        return fn
    end }
end
local FetchesMT = methods(function(self, name, ...)
    return H.fetch(self.__s, name, self.__str, ...)
end)
local ConvertersMT = methods(function(self, name, ...)
    return H.conv(self.__s, name, self.__str, ...)
end)

local function samples(obj, s)
    obj.f = setmetatable({ __s = s, __str = false }, FetchesMT)
    obj.sf = setmetatable({ __s = s, __str = true }, FetchesMT)
    obj.c = setmetatable({ __s = s, __str = false }, ConvertersMT)
    obj.sc = setmetatable({ __s = s, __str = true }, ConvertersMT)
end

-- ------------------------------------------------------------------ HTTP
local HTTP = {}
HTTP.__index = HTTP
for _, side in ipairs({ "req", "res" }) do
    HTTP[side .. "_get_headers"] = function(self) return H.hdr_get(self.__s, side) end
    HTTP[side .. "_add_header"] = function(self, n, v) H.hdr_add(self.__s, side, n, v) end
    HTTP[side .. "_set_header"] = function(self, n, v) H.hdr_set(self.__s, side, n, v) end
    HTTP[side .. "_del_header"] = function(self, n) H.hdr_del(self.__s, side, n) end
    HTTP[side .. "_rep_header"] = function(self, n, re, r) H.hdr_rep(self.__s, side, n, re, r, false) end
    HTTP[side .. "_rep_value"] = function(self, n, re, r) H.hdr_rep(self.__s, side, n, re, r, true) end
end
for _, what in ipairs({ "method", "path", "query", "uri" }) do
    HTTP["req_set_" .. what] = function(self, v) return H.req_set(self.__s, what, v) end
end
function HTTP:res_set_status(code, reason) H.res_set_status(self.__s, code, reason) end

-- ------------------------------------------------------------------ TXN
local TXN = {}
TXN.__index = TXN
local function vars(class)
    function class:get_var(name) return H.get_var(self.__s, name) end
    function class:set_var(name, value, ifexist) return H.set_var(self.__s, name, value, ifexist) end
    function class:unset_var(name) return H.unset_var(self.__s, name) end
    function class:get_priv() return H.get_priv(self.__s) end
    function class:set_priv(v) H.set_priv(self.__s, v) end
end
vars(TXN)
function TXN:log(level, msg) H.log(self.__s, level, msg) end
function TXN:deflog(msg) H.log(self.__s, -2, msg) end
function TXN:Debug(msg) H.log(self.__s, 7, msg) end
function TXN:Info(msg) H.log(self.__s, 6, msg) end
function TXN:Warning(msg) H.log(self.__s, 4, msg) end
function TXN:Alert(msg) H.log(self.__s, 1, msg) end
function TXN:set_loglevel(level) H.set_loglevel(self.__s, level) end
function TXN:get_priv() return H.get_priv(self.__s) end
function TXN:done(reply) H.done(self.__s, reply); error(MARK, 0) end

local function new_txn(s, http)
    local txn = setmetatable({ __s = s }, TXN)
    samples(txn, s)
    if http then txn.http = setmetatable({ __s = s }, HTTP) end
    return txn
end

-- ------------------------------------------------------------------ applets
local AppletHTTP = {}
AppletHTTP.__index = AppletHTTP
vars(AppletHTTP)
function AppletHTTP:set_status(code, reason) H.ap_status(self.__a, code, reason) end
function AppletHTTP:add_header(n, v) H.ap_add_header(self.__a, n, tostring(v)) end
function AppletHTTP:start_response() H.ap_start(self.__a) end
function AppletHTTP:send(s) H.ap_send(self.__a, tostring(s)) end
function AppletHTTP:getline() return yield(MARK, "getline", self.__a) end
function AppletHTTP:receive(size) return yield(MARK, "receive", self.__a, size or -1, -1) end

local AppletTCP = {}
AppletTCP.__index = AppletTCP
vars(AppletTCP)
function AppletTCP:send(s) H.ap_send(self.__a, tostring(s)) end
function AppletTCP:getline() return yield(MARK, "getline", self.__a) end
function AppletTCP:receive(size, timeout)
    return yield(MARK, "receive", self.__a, size or -1, timeout or -1)
end
function AppletTCP:try_receive() return H.ap_try_receive(self.__a) end

-- ------------------------------------------------------------------ Map
-- Map.new(file, method) loads the map at once (body context); lookups use the map_<method>
-- converter over it.
Map = { _str = "str", _beg = "beg", _sub = "sub", _dir = "dir", _dom = "dom", _end = "end",
        _reg = "reg", _int = "int", _ip = "ip" }
Map.__index = Map
function Map.new(file, method)
    return setmetatable({ __m = H.map_new(file, method or "str") }, Map)
end
function Map:lookup(key) return H.map_lookup(self.__m, key, false) end
function Map:slookup(key) return H.map_lookup(self.__m, key, true) end

-- ------------------------------------------------------------------ entry points for hapx
local function headers_table(list)
    local t = {}
    for _, nv in ipairs(list) do
        local name = nv[1]:lower()
        local vals = t[name]
        if vals == nil then vals = { n = 0 }; t[name] = vals end
        vals[vals.n] = nv[2]
        vals.n = vals.n + 1
    end
    for _, vals in pairs(t) do vals.n = nil end
    return t
end

return {
    MARK = MARK,
    spawn = spawn,
    resume = resume,
    new_txn = new_txn,
    headers_table = headers_table,
    new_applet = function(kind, s, a, fields)
        local ap = setmetatable({ __s = s, __a = a }, kind == "http" and AppletHTTP or AppletTCP)
        samples(ap, s)
        if fields then for k, v in pairs(fields) do ap[k] = v end end
        return ap
    end,
    is_mark = function(v) return v == MARK end,
    classes = { TXN = TXN, HTTP = HTTP, AppletHTTP = AppletHTTP, AppletTCP = AppletTCP },
}
