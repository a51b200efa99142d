-- bench/search.sh (BENCH_DATA=code): every connection cycles through the
-- paths in BENCH_PATHS (space-separated), each starting at its own place.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local paths = {}
for p in string.gmatch(os.getenv("BENCH_PATHS") or "/snippets", "%S+") do
  paths[#paths + 1] = p
end
local n = 0
function setup(thread)
  n = n + 1
  thread:set("offset", n * 7)
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i + (offset or 0)) % #paths + 1])
end
-- BENCH_DELAY_MS: a pause before each request (a client inside a rate
-- limit: 10 connections at 1,000 ms are 600 requests a minute).
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end
