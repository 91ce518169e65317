-- wrk script: one summary line with p50/p95/p99 (ms), requests/s and non-2xx answers.
-- The non-empty lines of the file named by environment variable `name` (none if unset).
local function lines_of(name)
  local out = {}
  local f = os.getenv(name) and io.open(os.getenv(name), "r")
  if f then
    for line in f:lines() do
      if #line > 0 then out[#out + 1] = line end
    end
    f:close()
  end
  return out
end
-- Optional: set PATHS (a file of URL paths, one per line) to rotate through them.
local paths = lines_of("PATHS")
-- Optional: set TOKENS (a file of API tokens, one per line) to send each request as
-- the next user (search allows each user two searches in flight).
local tokens = lines_of("TOKENS")
local n = 0
if #paths > 0 or #tokens > 0 then
  request = function()
    n = n + 1
    local path = nil
    if #paths > 0 then path = paths[(n % #paths) + 1] end
    local headers = nil
    if #tokens > 0 then
      headers = { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] }
    end
    return wrk.format(nil, path, headers)
  end
end
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT p50=%.2f p95=%.2f p99=%.2f rps=%.0f errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests / secs, bad))
end
