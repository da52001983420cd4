-- Lua filters (core.register_filter): the filter table, HTTPMessage and Channel over the
-- Python side (plugins/lua/filters.py).  Run once per Lua state with (H, MARK).
local H, MARK = ...

filter = { CONTINUE = 1, WAIT = 0, ERROR = -1, FLT_CFG_FL_HTX = 1 }
function filter.register_data_filter(flt, chn) H.data_filter(chn.__m, true) end
function filter.unregister_data_filter(flt, chn) H.data_filter(chn.__m, false) end
function filter.wake_time(ms) end   -- callbacks never wait for time in hapx

-- ------------------------------------------------------------------ Channel
local Channel = {}
Channel.__index = Channel
function Channel:data(off, len) return H.body(self.__m, off, len) end
function Channel:line(off, len) return H.line(self.__m, off, len) end
function Channel:input() return H.input(self.__m) end
function Channel:output() return 0 end
function Channel:append(s) return H.insert(self.__m, s, -1) end
function Channel:prepend(s) return H.insert(self.__m, s, 0) end
function Channel:insert(s, off) return H.insert(self.__m, s, off or 0) end
function Channel:remove(off, len) return H.remove(self.__m, off, len) end
function Channel:set(s, off, len) return H.set(self.__m, s, off, len) end
function Channel:send(s) return H.send(self.__m, s) end
function Channel:forward(n) return H.forward(self.__m, n) end
function Channel:is_full() return false end
function Channel:is_resp() return H.is_resp(self.__m) end
function Channel:may_recv() return not H.eom(self.__m) end

-- ------------------------------------------------------------------ HTTPMessage
local HTTPMessage = {}
HTTPMessage.__index = HTTPMessage
for k, v in pairs(Channel) do if k ~= "__index" then HTTPMessage[k] = v end end
function HTTPMessage:body(off, len) return H.body(self.__m, off, len) end
function HTTPMessage:eom() return H.eom(self.__m) end
function HTTPMessage:set_eom() H.set_eom(self.__m, true) end
function HTTPMessage:unset_eom() H.set_eom(self.__m, false) end
function HTTPMessage:get_stline() return H.stline(self.__m) end
function HTTPMessage:get_headers() return H.headers(self.__m) end
function HTTPMessage:add_header(n, v) H.hdr(self.__m, "add", n, v) end
function HTTPMessage:set_header(n, v) H.hdr(self.__m, "set", n, v) end
function HTTPMessage:del_header(n) H.hdr(self.__m, "del", n) end
function HTTPMessage:rep_header(n, re, r) H.hdr(self.__m, "rep", n, re, r) end
function HTTPMessage:rep_value(n, re, r) H.hdr(self.__m, "repv", n, re, r) end
function HTTPMessage:set_method(v) return H.set_line(self.__m, "method", v) end
function HTTPMessage:set_path(v) return H.set_line(self.__m, "path", v) end
function HTTPMessage:set_query(v) return H.set_line(self.__m, "query", v) end
function HTTPMessage:set_uri(v) return H.set_line(self.__m, "uri", v) end
function HTTPMessage:set_status(code, reason) return H.set_status(self.__m, code, reason) end
function HTTPMessage:set_body_len(len) return H.set_body_len(self.__m, len) end

-- ------------------------------------------------------------------ calls from hapx
local function call(inst, name, ...)
    local fn = inst[name]
    if type(fn) ~= "function" then return filter.CONTINUE end
    local r = fn(inst, ...)
    if r == nil then return filter.CONTINUE end
    return r
end

return {
    configure = function(class, fn, args)
        local conf = fn(class, args)
        if conf == nil then return nil end
        if type(conf.new) ~= "function" then error("the filter class has no new() method") end
        return conf
    end,
    new = function(conf)
        local inst = conf:new()
        if type(inst) ~= "table" then error("new() did not return a filter instance") end
        return inst
    end,
    call = call,
    channel = function(m, http)
        return setmetatable({ __m = m }, http and HTTPMessage or Channel)
    end,
}
