-- wrk script: POSTs signature submissions from a file written by `examples/loadprep.rs`
-- (lines `<mou id>\t<office token>\t<JSON body>`), in file order. Each wrk thread takes every
-- n-th line so the chain order of the file is kept across threads.
-- Usage: WRK_THREADS=N wrk -tN ... -s signatures.lua URL -- FILE
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local reqs = {}
local i = 0
function init(args)
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  local k = 0
  -- wrk calls request() once on thread 0 before the run to inspect it, and never sends that
  -- request: give it a throwaway so the first signature of the file is not skipped (which
  -- would leave its whole chain stale).
  if tid == 0 then reqs[1] = wrk.format("GET", "/healthz") end
  for line in io.lines(args[1]) do
    if k % n == tid then
      local mou, token, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", "/api/v1/mous/" .. mou .. "/signatures",
        { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
    end
    k = k + 1
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
