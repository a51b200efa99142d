-- PUT (or PATCH, BENCH_METHOD=PATCH: the same body as a merge patch)
-- /snippets/{id} with If-Match, tracking ETags: every thread owns a
-- disjoint set of 2 x (its connections) seeded snippets, starting at ordinal
-- BENCH_PUT_BASE. An id is handed to a connection only when no request for
-- it is in flight (a free list), and response() records the ETag the server
-- returned, so every PUT carries the current version: no 412 is expected.
-- The X-Request-Id header carries the ordinal so that response() knows which
-- snippet answered (the server echoes it). A 412 (counted as an error) makes
-- the next PUT of that snippet use If-Match: * to resynchronise.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local per_thread = 2 * tonumber(os.getenv("BENCH_CONNS_PER_THREAD") or "32")
local base = tonumber(os.getenv("BENCH_PUT_BASE") or "1")
local next_tid = 0
local free, etag, body
local method = os.getenv("BENCH_METHOD") or "PUT"
local content_type = method == "PATCH" and "application/merge-patch+json" or "application/json"

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
  body = f:read("*a")
  f:close()
  free, etag = {}, {}
  for k = 1, per_thread do
    local n = base + tid * per_thread + k - 1
    free[#free + 1] = n
    etag[n] = '"1"'
  end
end

function request()
  local n = table.remove(free)
  if not n then -- only after lost responses (socket errors)
    n = base + tid * per_thread
    etag[n] = "*"
  end
  return wrk.format(method, string.format("/snippets/00000000-0000-4000-8000-%012x", n), {
    ["Content-Type"] = content_type,
    ["If-Match"] = etag[n],
    ["X-Request-Id"] = "put-" .. n,
    -- admin (the seeded rows are unowned), or their owner (BENCH_OWNER=1).
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
  }, body)
end

function response(status, headers, _)
  local rid = headers["x-request-id"] or headers["X-Request-Id"]
  local n = rid and tonumber(rid:sub(5))
  if not n then return end
  if status == 200 then
    etag[n] = headers["etag"] or headers["ETag"] or "*"
  else
    etag[n] = "*"
  end
  free[#free + 1] = n
end
