-- A reduced HTTP/2 frame tracer: the shape of dev/h2/h2-tracer.lua.
local H2Tracer = {}
H2Tracer.id = "h2-tracer"
H2Tracer.flags = filter.FLT_CFG_FL_HTX

function H2Tracer:new()
    local tracer = {}
    setmetatable(tracer, self)
    self.__index = self
    return tracer
end

function H2Tracer:start_analyze(txn, chn)
    filter.register_data_filter(self, chn)
end

function H2Tracer:tcp_payload(txn, chn, offset, len)
    core.Debug(string.format("[%03d] %d bytes", 1, len))
end

core.register_filter("h2-tracer", H2Tracer, function(trc, args)
    return trc
end)
