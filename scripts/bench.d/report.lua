-- wrk script: one summary line with p50/p95/p99 (ms), requests/s and non-2xx answers.
-- Optional: set PATHS (a file of URL paths, one per line) to rotate through them.
local paths = {}
local f = os.getenv("PATHS") and io.open(os.getenv("PATHS"), "r")
if f then
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
end
-- Optional: set TOKENS (a file of API tokens, one per line) to send each request as
-- the next user (search allows each user two searches in flight).
local tokens = {}
local t = os.getenv("TOKENS") and io.open(os.getenv("TOKENS"), "r")
if t then
  for line in t:lines() do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  t:close()
end
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
