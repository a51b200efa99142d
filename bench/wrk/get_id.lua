-- GET /snippets/{id} for random seeded ids. The requests are formatted once
-- per thread in init(), so the per-request Lua cost is one table lookup.
-- BENCH_GET_PATH (a format with one %x) and BENCH_GET_ROWS pick other
-- rows or another route: json100 and page100 (bench/seed-pages.sql).
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local rows = tonumber(os.getenv("BENCH_GET_ROWS") or os.getenv("BENCH_ROWS") or "10000")
local path = os.getenv("BENCH_GET_PATH") or "/snippets/00000000-0000-4000-8000-%012x"
local reqs = {}

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
  for n = 1, rows do
    -- Authenticated when BENCH_AUTH_GET=1: the token check's cost on reads.
    local headers = nil
    if os.getenv("BENCH_AUTH_GET") == "1" and os.getenv("BENCH_TOKEN") then
      headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
    end
    reqs[n] = wrk.format("GET", string.format(path, n), headers)
  end
end

function request()
  return reqs[math.random(1, rows)]
end
