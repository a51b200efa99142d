-- Shared by every scenario: one machine-readable line at the end.
-- BENCH <req/s> <p50 ms> <p99 ms> <mean ms> <socket errors> <HTTP >= 400> <requests>
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("BENCH\t%.1f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    e.connect + e.read + e.write + e.timeout, e.status, summary.requests))
end
