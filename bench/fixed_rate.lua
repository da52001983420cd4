-- wrk script: a fixed request rate (wrk 4.1 has no rate option; wrk2's -R is not in Debian).
--
--   wrk -t1 -c50 -d5s --latency -s bench/fixed_rate.lua URL -- RATE THREADS
--
-- RATE is the total requests per second over all of wrk's THREADS.  Each wrk thread keeps
-- one absolute schedule (one request every THREADS * 1000 / RATE ms); wrk calls delay()
-- before each request of each connection, and the call takes the schedule's next slot and
-- waits until it (0 when the slot has passed: a late request is sent at once, so the
-- offered count is kept while the proxy keeps up).  The rate holds as long as a
-- connection is free when its slot comes, i.e. while latency < connections / rate.  wrk
-- waits in whole milliseconds, so requests leave within about 1 ms of their slot.
-- wrk measures each request's latency from its write, not from its slot.
--
-- done() prints one line parsed by bench/run.py (parse_fixed_rate):
--   fixed-rate: requests <n> duration_us <d> p50_us <..> p90_us <..> p99_us <..>
--   p999_us <..> max_us <..>
-- (done() runs in wrk's main Lua state, which init() never saw: the rate is not in it.)

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } hapx_bench_timespec;
int clock_gettime(int clk, hapx_bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("hapx_bench_timespec")

local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local rate = 0
local interval = 0
local next_slot = nil

function init(args)
    rate = tonumber(args[1])
    local threads = tonumber(args[2] or "1")
    if rate == nil or rate <= 0 then
        error("fixed_rate.lua: give the total rate: -- RATE [THREADS]")
    end
    interval = 1000 * threads / rate
end

function delay()
    local t = now_ms()
    if next_slot == nil then
        next_slot = t
    end
    local slot = next_slot
    next_slot = next_slot + interval
    local wait = slot - t
    if wait <= 0 then
        return 0
    end
    return math.floor(wait + 0.5)
end

function done(summary, latency, requests)
    io.write(string.format(
        "fixed-rate: requests %d duration_us %d p50_us %d p90_us %d p99_us %d " ..
        "p999_us %d max_us %d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max))
end
