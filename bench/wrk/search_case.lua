-- bench/search.sh: one GET /snippets filter combination, the URL's own query.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
