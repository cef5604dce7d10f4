-- Shared by every wrk script of the REST benchmark: done() prints one
-- machine-readable line that bench/rest/run.sh parses:
--   RESULT <req/s> <p50 ms> <p99 ms> <requests> <errors> <non-2xx/3xx>
-- errors = connect + read + write + timeout; status errors counted apart.
function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format("RESULT %.1f %.3f %.3f %d %d %d\n",
      summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
