-- txn:reply(), Regex, core.queue() and the date helpers (plugins/lua/extras.py)
local H, MARK, classes = ...
local yield = coroutine.yield

-- ------------------------------------------------------------------ Reply (txn:reply)
local Reply = {}
Reply.__index = Reply
function Reply:set_status(status, reason) self.status = status; self.reason = reason end
function Reply:add_header(name, value)
    local vals = self.headers[name]
    if vals == nil then vals = {}; self.headers[name] = vals end
    vals[#vals + 1] = tostring(value)
end
function Reply:del_header(name)
    local low = name:lower()
    for k, _ in pairs(self.headers) do
        if k:lower() == low then self.headers[k] = nil end
    end
end
function Reply:set_body(body) self.body = body end

function classes.TXN.reply(_, tbl)
    local r = setmetatable({ status = 200, reason = nil, headers = {}, body = "" }, Reply)
    if type(tbl) == "table" then
        if tbl.status ~= nil then r.status = tbl.status end
        r.reason = tbl.reason
        if type(tbl.headers) == "table" then
            for name, vals in pairs(tbl.headers) do
                if type(vals) == "table" then
                    for _, v in ipairs(vals) do r:add_header(name, v) end
                else
                    r:add_header(name, vals)
                end
            end
        end
        if tbl.body ~= nil then r.body = tbl.body end
    end
    return r
end

-- ------------------------------------------------------------------ Regex
Regex = {}
Regex.__index = Regex
function Regex.new(re, icase)
    return setmetatable({ __r = H.regex(re, icase and true or false) }, Regex)
end
function Regex:exec(s) return H.regex_exec(self.__r, s) end
function Regex:match(s)
    local caps = H.regex_match(self.__r, s)
    if caps == nil then return false, nil end
    return true, caps
end

-- ------------------------------------------------------------------ Queue
local Queue = {}
Queue.__index = Queue
core.queue = function() return setmetatable({ __k = H.queue(), items = {}, first = 1,
                                              last = 0 }, Queue) end
function Queue:size() return self.last - self.first + 1 end
function Queue:push(item)
    if item == nil then error("Queue:push: nil item", 2) end
    self.last = self.last + 1
    self.items[self.last] = item
    H.queue_signal(self.__k)
    return true
end
function Queue:pop()
    if self.last < self.first then return nil end
    local item = self.items[self.first]
    self.items[self.first] = nil
    self.first = self.first + 1
    return item
end
function Queue:pop_wait()
    while self.last < self.first do yield(MARK, "queue_wait", self.__k) end
    return self:pop()
end
function Queue:alarm() H.queue_alarm(self.__k) end

-- ------------------------------------------------------------------ dates
core.http_date = function(s) return H.date(s, "http") end
core.imf_date = function(s) return H.date(s, "imf") end
core.rfc850_date = function(s) return H.date(s, "rfc850") end
core.asctime_date = function(s) return H.date(s, "asctime") end

