-- wrk script: GETs the paths listed in a file (one a line), cycling.
-- Usage: wrk ... -s paths.lua URL -- FILE
local reqs = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    reqs[#reqs + 1] = wrk.format("GET", line)
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
