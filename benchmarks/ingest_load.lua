-- wrk script for benchmarks/ingest.py: every request carries fresh event ids, so the server
-- stores every event (no duplicates) exactly as under real traffic.
local batch = tonumber(os.getenv("TOLLGATE_BENCH_BATCH") or "1")
local run = os.getenv("TOLLGATE_BENCH_RUN") or "run"
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. (os.getenv("TOLLGATE_BENCH_KEY") or ""),
}
local counter = 0

local function event()
  counter = counter + 1
  return string.format(
    '{"event_id":"%s-%d","customer_id":"cus_%05d","event_type":"ai_tokens",' ..
    '"feature":"ai_tokens","quantity":"%d","unit":"token",' ..
    '"properties":{"model":"gpt-4o-mini","region":"eu-west"}}',
    run, counter, counter % 500, 100 + counter % 900)
end

function request()
  local body
  if batch == 1 then
    body = event()
  else
    local parts = {}
    for i = 1, batch do parts[i] = event() end
    body = "[" .. table.concat(parts, ",") .. "]"
  end
  return wrk.format("POST", "/v1/events", headers, body)
end
