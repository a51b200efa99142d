-- GET /snippets?q=symN: full-text search for a term that occurs in ~1 % of
-- the seeded rows (see seed.sql), first page (20 newest matches).
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local reqs = {}

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
  for n = 1, 5000 do
    reqs[n] = wrk.format("GET", "/snippets?q=sym" .. (n - 1))
  end
end

function request()
  return reqs[math.random(1, #reqs)]
end
