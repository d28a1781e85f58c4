-- wrk script of the leadlist benchmark (bench/run.sh): builds each request
-- of one workload, checks each answer, and prints one RESULT line.
--
--   wrk -t T -c C -d D -s bench/wrk/leadlist.lua URL -- threads=T key=value ...
--
-- Request n (n = start + tid + threads * i: unique over the whole run)
-- goes to organization o = org_base + 1 + n % orgs, as "u-bench", whose
-- bearer token the benchmark's auth stand-in maps to X-Org-Id o.  The list
-- ids follow bench/fixtures.sql (o * 1000000 + kind * 100000 + j).
--
-- mode=direct   {"persons": [...]}: `dups` persons already in the list
--               ('x-<list>-<k>', made by the fixtures) then persons - dups
--               new ones ('<prefix>-<n>-<k>'); j = (n / orgs) % lists
-- mode=bulk     {"selection": {"searchId": search, "selectAll": true,
--               "limit": limit}} into a fresh list: j = n / orgs, which
--               must stay below `fresh` (else the run counts "exhausted")
-- mode=cold     the same into the one list of organization 100001 + n,
--               which holds no copies yet (n below `fresh`)
-- path=/x       send to this path instead of the endpoint (the HTTP limit)
--
-- Persons are template (bench/person.json) with "@ID@" replaced by their
-- id.  added=N counts every 2xx answer whose addedCount is not N as
-- "bad" (the field every version of the answer begins with);
-- stop=N makes each thread stop after N answers, and create the file
-- <stopfile><tid> if stopfile is given (wrk's main thread does not notice
-- that its threads stopped: bench/lib.sh then interrupts it).

local threads = {}
local nsetup = 0

function setup(thread)
    thread:set("tid", nsetup)
    nsetup = nsetup + 1
    threads[#threads + 1] = thread
end

local function slurp(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return (s:gsub("%s+$", ""))
end

local cfg = {}
local person, bulk_body, dup_cache
local nthreads, orgs, org_base, lists, kind, persons, dups, fresh, start
local stop_after, added, prefix, mode, path
local headers = { ["Content-Type"] = "application/json" }
local i = 0

-- read by done() through thread:get()
non2xx, bad, exhausted, responses, first_bad = 0, 0, 0, 0, nil

function init(args)
    for _, a in ipairs(args) do
        local k, v = a:match("^([%w_]+)=(.*)$")
        if k then cfg[k] = v end
    end

    mode = cfg.mode or "direct"
    nthreads = tonumber(cfg.threads or 1)
    orgs = tonumber(cfg.orgs or 64)
    org_base = tonumber(cfg.org_base or 0)
    lists = tonumber(cfg.lists or 16)
    kind = tonumber(cfg.kind or 1)
    persons = tonumber(cfg.persons or 1)
    dups = tonumber(cfg.dups or 0)
    fresh = tonumber(cfg.fresh or 0)
    start = tonumber(cfg.start or 0)
    stop_after = tonumber(cfg.stop or 0)
    added = cfg.added
    prefix = cfg.prefix or "n"
    path = cfg.path
    person = slurp(cfg.template or "bench/person.json")
    dup_cache = {}

    bulk_body = string.format(
        '{"selection":{"searchId":"%s","selectAll":true,"limit":%d}}',
        cfg.search or "filter", tonumber(cfg.limit or 1000))
end

local function profile(id)
    return (person:gsub("@ID@", id))
end

local function dup_part(list)
    local s = dup_cache[list]
    if s == nil then
        local t = {}
        for k = 1, dups do
            t[k] = profile(string.format("x-%d-%d", list, k))
        end
        s = table.concat(t, ",")
        dup_cache[list] = s
    end
    return s
end

function request()
    local n = start + tid + nthreads * i
    i = i + 1

    local o = org_base + 1 + n % orgs
    local j = math.floor(n / orgs)
    local list, body

    if mode == "bulk" then
        if j >= fresh then
            exhausted = exhausted + 1
            j = j % fresh
        end
        list = o * 1000000 + kind * 100000 + j
        body = bulk_body

    elseif mode == "cold" then
        if n >= fresh then
            exhausted = exhausted + 1
            n = n % fresh
        end
        o = 100001 + n
        list = o * 1000000 + 7 * 100000
        body = bulk_body

    else
        list = o * 1000000 + kind * 100000 + j % lists
        local t = {}
        if dups > 0 then
            t[1] = dup_part(list)
        end
        for k = 1, persons - dups do
            t[#t + 1] = profile(string.format("%s-%d-%d", prefix, n, k))
        end
        body = '{"persons":[' .. table.concat(t, ",") .. ']}'
    end

    headers["Authorization"] = string.format("Bearer o=%d;u=u-bench", o)

    return wrk.format("POST", path or string.format(
                          "/api/lead-lists/%d/add-prospects", list),
                      headers, body)
end

function response(status, hdrs, body)
    responses = responses + 1

    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        first_bad = first_bad or (status .. " " .. (body or ""))
    elseif added
           and (body or ""):match('^{"addedCount":(%d+)[,}]') ~= added then
        bad = bad + 1
        first_bad = first_bad or (status .. " " .. (body or ""))
    end

    if stop_after > 0 and responses == stop_after then
        if cfg.stopfile then
            local f = io.open(cfg.stopfile .. tid, "w")
            if f then f:close() end
        end
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    local non, bd, ex, fb = 0, 0, 0, nil
    for _, t in ipairs(threads) do
        non = non + (t:get("non2xx") or 0)
        bd = bd + (t:get("bad") or 0)
        ex = ex + (t:get("exhausted") or 0)
        fb = fb or t:get("first_bad")
    end

    local e = summary.errors
    local secs = summary.duration / 1e6

    io.write(string.format(
        "RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d "
        .. "p99_us=%d max_us=%d sock_errors=%d non2xx=%d bad=%d "
        .. "exhausted=%d bytes=%d\n",
        summary.requests, secs, summary.requests / secs,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max,
        e.connect + e.read + e.write + e.timeout, non, bd, ex,
        summary.bytes))

    if fb then
        io.write("FIRST_BAD " .. fb:sub(1, 400):gsub("\n", " ") .. "\n")
    end
end
