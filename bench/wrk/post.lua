-- POST /snippets with a ~1 KB snippet (static request: no per-request Lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
-- Writes need a token (bench/run.sh mints an admin token for owner `bench`).
if os.getenv("BENCH_TOKEN") then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end
