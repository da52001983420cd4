-- HAProxy 3.2's Patref class over hapx's pattern lists (bridge H, see __init__.py)
local H, MARK = ...

local Patref = {}
local methods = {}

Patref.__index = function(self, key)
    local m = methods[key]
    if m ~= nil then return m end
    if type(key) ~= "string" then return nil end
    return H.lookup(rawget(self, "__h"), key)       -- patref[key]: first duplicate wins
end
Patref.__pairs = function(self)
    local list = H.items(rawget(self, "__h"))
    local i = 0
    return function()
        i = i + 1
        local kv = list[i]
        if kv == nil then return nil end
        return kv[1], kv[2]
    end, self, nil
end

function methods:get_name() return H.name(self.__h) end
function methods:is_map() return H.is_map(self.__h) end
function methods:add(key, value) return H.add(self.__h, key, value) end
function methods:del(key) return H.delete(self.__h, key) end
function methods:set(key, value, force) return H.set(self.__h, key, value, force) end
function methods:purge() H.purge(self.__h) end
function methods:prepare() H.prepare(self.__h) end
function methods:commit() return H.commit(self.__h) end
function methods:giveup() H.giveup(self.__h) end
function methods:add_bulk(tbl)
    if type(tbl) ~= "table" then error("add_bulk: table expected", 2) end
    local h = self.__h
    if H.is_map(h) then
        for k, v in pairs(tbl) do H.add(h, k, v) end
    else
        for _, k in ipairs(tbl) do H.add(h, k) end
    end
    return true
end

local EventSub = {}
EventSub.__index = EventSub
function EventSub:unsub() H.unsubscribe(self.__id) end
function methods:event_sub(types, fn)
    if type(fn) ~= "function" then error("event_sub: function expected", 2) end
    local sub = setmetatable({}, EventSub)
    sub.__id = H.subscribe(self.__h, types, fn, sub)
    return sub
end

core.get_patref = function(name)
    local h = H.get(name)
    if h == nil then return nil end
    return setmetatable({ __h = h }, Patref)
end

-- the pre-3.2 helpers, over the same lists
local function ref(name)
    local h = H.get(name)
    if h == nil then error("'" .. tostring(name) .. "': unknown pattern reference", 3) end
    return h
end
core.add_acl = function(name, key) H.add(ref(name), key) end
core.del_acl = function(name, key) H.delete(ref(name), key) end
core.set_map = function(name, key, value) H.set(ref(name), key, value, true) end
core.del_map = function(name, key) H.delete(ref(name), key) end
