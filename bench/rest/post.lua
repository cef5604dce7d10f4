-- POST create: a small JSON document with Content-Type, a new server id
-- each time, in collection BENCH_POST_COLLECTION.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local req

function init(args)
   local col = os.getenv("BENCH_POST_COLLECTION") or "benchpost"
   req = wrk.format("POST", "/api/v1/" .. col,
      {["Content-Type"] = "application/json"},
      '{"title":"Buy milk","done":false,"priority":3,"tags":["home","shop"],' ..
      '"note":"created by the REST benchmark (bench/rest/run.sh)"}')
end

function request()
   return req
end
