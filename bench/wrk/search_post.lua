-- bench/search.sh, mixed case: POST /snippets (open mode: no token) while
-- searches run.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"bench","language":"lang07","code":"fn main() {}","tags":["tag123"]}'
