-- wrk script of the server benchmark (issue 6; scripts/bench_server.py runs it):
--   wrk -t1 -cC -dDs -s scripts/bench_server.lua http://127.0.0.1:PORT -- MODE ARGS...
-- MODE:
--   get N                  GET /v1/facts?key=fact:%06d, a random key of N
--   put N                  PUT /v1/facts {"key":"put:%06d","value":<factValue>}, a random key of N
--   recall QUERIES         POST /v1/memory/recall {"query":q,"limit":10}, a random line of QUERIES
--   mcp QUERIES SESSION VERSION
--                          POST /mcp tools/call recall {"query":q,"limit":10} in the MCP session
--                          SESSION (initialized beforehand by the driver, protocol VERSION), a new
--                          JSON-RPC id each time
-- At the end prints one JSON line: requests, seconds, per second, errors, latency percentiles (µs).
-- factValue(i) is the same text as in Benchmarks/Sources/llmdb-server-bench/main.swift.

local mode, n, queries, session, version
local counter = 0
local thread_id = 0
local threads = {}

local function fact_value(i)
  return string.format('{"n":%d,"name":"fact %d","tags":["alpha","beta"],"text":"%s"}', i, i, string.rep("v", 40))
end

local function read_lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function setup(thread)
  thread:set("thread_id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  mode = args[1]
  if mode == "get" or mode == "put" then
    n = tonumber(args[2])
  elseif mode == "recall" or mode == "mcp" then
    queries = read_lines(args[2])
    session = args[3]
    version = args[4]
  else
    error("unknown mode " .. tostring(mode))
  end
  math.randomseed(42 + thread_id * 7919)
end

local json_headers = { ["Content-Type"] = "application/json" }

function request()
  if mode == "get" then
    return wrk.format("GET", string.format("/v1/facts?key=fact:%06d", math.random(0, n - 1)))
  elseif mode == "put" then
    local i = math.random(0, n - 1)
    return wrk.format("PUT", "/v1/facts", json_headers,
      string.format('{"key":"put:%06d","value":%s}', i, fact_value(i % 1000)))
  elseif mode == "recall" then
    local q = queries[math.random(1, #queries)]
    return wrk.format("POST", "/v1/memory/recall", json_headers, string.format('{"query":"%s","limit":10}', q))
  else
    counter = counter + 1
    local q = queries[math.random(1, #queries)]
    local body = string.format(
      '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"recall","arguments":{"query":"%s","limit":10}}}',
      thread_id * 1000000000 + counter, q)
    return wrk.format("POST", "/mcp", {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
      ["Mcp-Session-Id"] = session,
      ["MCP-Protocol-Version"] = version,
    }, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.6f,"per_s":%.3f,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
