-- POST create spread over BENCH_COLLECTIONS (64) collections, round robin
-- per connection: with 3 masters the collections' slots fall on all three.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local n, reqs, i = 64, {}, 0

function init(args)
   n = tonumber(os.getenv("BENCH_COLLECTIONS") or "64")
   for k = 0, n - 1 do
      reqs[k] = wrk.format("POST", string.format("/api/v1/c%02d", k),
         {["Content-Type"] = "application/json"},
         '{"title":"Buy milk","done":false,"priority":3,"tags":["home","shop"]}')
   end
end

function request()
   i = (i + 1) % n
   return reqs[i]
end
