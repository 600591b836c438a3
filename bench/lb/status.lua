-- wrk script for bench/lb-failover.sh: counts every response by status code, exactly, across
-- all threads, and responses per wall-clock second (to see the dip around a failure).
-- At the end prints "STATUS <code> <count>" lines, an "ERRORS ..." line with wrk's socket
-- errors, "REQUESTS <n>" and "TIMELINE <unix second>:<responses> ...".
-- Stock wrk counts a timeout only when a response arrives later than --timeout: a request
-- that never completes is not counted at all (the script resumes hung origins before wrk
-- stops for that reason).
-- Argument (after --): DELAY_MS, a pause before each request on each connection (0: none);
-- the pause is only active when WRK_DELAY_MS is set in the environment (wrk decides whether
-- a script has delay() when it loads it).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  seconds = {}
  pause = tonumber(args[1] or "0") or 0
end

if tonumber(os.getenv("WRK_DELAY_MS") or "0") > 0 then
  function delay()
    return pause
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local s = os.time()
  seconds[s] = (seconds[s] or 0) + 1
end

function done(summary, latency, requests)
  local total, timeline = {}, {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + n
    end
    for s, n in pairs(thread:get("seconds")) do
      timeline[s] = (timeline[s] or 0) + n
    end
  end
  for code, n in pairs(total) do
    io.write(string.format("STATUS %d %d\n", code, n))
  end
  local e = summary.errors
  io.write(string.format("ERRORS connect=%d read=%d write=%d status=%d timeout=%d\n",
    e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("REQUESTS %d\n", summary.requests))
  local keys = {}
  for s in pairs(timeline) do table.insert(keys, s) end
  table.sort(keys)
  io.write("TIMELINE")
  for _, s in ipairs(keys) do io.write(string.format(" %d:%d", s, timeline[s])) end
  io.write("\n")
end
