-- wrk script: POSTs a document read from a file to a path, with an optional bearer token.
-- Each request's bytes differ (a first line names the thread and request number), because
-- the registry refuses a version identical to the current one.
-- Usage: wrk ... -s upload.lua URL -- FILE PATH [TOKEN]
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local body, path, headers
local n = 0
function init(args)
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  path = args[2]
  headers = { ["Content-Type"] = "text/plain; charset=utf-8" }
  if args[3] then headers["Authorization"] = "Bearer " .. args[3] end
end

function request()
  n = n + 1
  local first = "upload " .. tid .. "-" .. n .. "\n"
  -- Same length every time: the first line replaces the document's first bytes.
  return wrk.format("POST", path, headers, first .. body:sub(#first + 1))
end
