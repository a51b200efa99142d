-- A fixed request (the URL's path), no per-request Lua: GET /health,
-- GET /snippets?limit=20.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
