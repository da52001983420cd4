-- core.httpclient(): HAProxy's HTTPClient class; each request yields to hapx
-- (plugins/lua/httpclient.py) until the whole response is there.
local H, MARK = ...
local yield = coroutine.yield

local HTTPClient = {}
HTTPClient.__index = HTTPClient

core.httpclient = function() return setmetatable({}, HTTPClient) end

local function request(method)
    return function(self, t)
        if type(t) ~= "table" then error("httpclient: table argument expected", 2) end
        local hdrs = {}
        if type(t.headers) == "table" then
            for name, vals in pairs(t.headers) do
                if type(vals) == "table" then
                    for _, v in pairs(vals) do hdrs[#hdrs + 1] = { name, tostring(v) } end
                else
                    hdrs[#hdrs + 1] = { name, tostring(vals) }
                end
            end
        end
        local r, err = yield(MARK, "http_request", method, t.url, hdrs, t.body, t.timeout,
                             t.dst)
        if r == nil then return nil, err end
        local headers = {}
        for _, nv in ipairs(r.headers) do
            local name = nv[1]:lower()
            local vals = headers[name]
            if vals == nil then vals = { n = 0 }; headers[name] = vals end
            vals[vals.n] = nv[2]      -- zero-based, as HAProxy's header tables
            vals.n = vals.n + 1
        end
        for _, vals in pairs(headers) do vals.n = nil end
        return { status = r.status, reason = r.reason, headers = headers, body = r.body }
    end
end

HTTPClient.get = request("GET")
HTTPClient.head = request("HEAD")
HTTPClient.put = request("PUT")
HTTPClient.post = request("POST")
HTTPClient.delete = request("DELETE")
