-- GET by id, cycling through the BENCH_DOCS documents d0000.. that
-- run.sh preseeded with PUT in collection BENCH_COLLECTION. The requests
-- are formatted once in init(), so wrk does no more work per request
-- than for a static URL.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local reqs, n, i = {}, 0, 0

function init(args)
   local col = os.getenv("BENCH_COLLECTION") or "bench"
   n = tonumber(os.getenv("BENCH_DOCS") or "1000")
   for k = 0, n - 1 do
      reqs[k + 1] = wrk.format("GET", string.format("/api/v1/%s/d%04d", col, k))
   end
   i = math.random(n) - 1
end

function request()
   i = i % n + 1
   return reqs[i]
end
