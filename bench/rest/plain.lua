-- GET of the URL given to wrk (hello worker, list page): only the report.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
