-- core.tcp(): HAProxy's Socket class (a LuaSocket-like cosocket); every call that waits
-- yields to hapx (plugins/lua/sockets.py), so it never blocks the process.
local H, MARK = ...
local yield = coroutine.yield

local Socket = {}
Socket.__index = Socket

core.tcp = function() return setmetatable({ __k = H.new() }, Socket) end

function Socket:connect(addr, port) return yield(MARK, "sock_connect", self.__k, addr, port, false) end
function Socket:connect_ssl(addr, port) return yield(MARK, "sock_connect", self.__k, addr, port, true) end
function Socket:send(data, i, j)
    data = tostring(data)
    i = i or 1
    j = j or #data
    local r, err = yield(MARK, "sock_send", self.__k, data:sub(i, j))
    if r == nil then return nil, err, i - 1 end
    return i + r - 1
end
function Socket:receive(pattern, prefix)
    pattern = pattern or "*l"
    local data, err, partial = yield(MARK, "sock_receive", self.__k, pattern)
    if prefix ~= nil then
        if data ~= nil then data = prefix .. data end
        if partial ~= nil then partial = prefix .. partial end
    end
    return data, err, partial
end
function Socket:settimeout(t) H.settimeout(self.__k, t) return 1 end
function Socket:close() H.close(self.__k) return 1 end
function Socket:getpeername() return H.name(self.__k, true) end
function Socket:getsockname() return H.name(self.__k, false) end
function Socket:setoption() return true end
