-- wrk script: 16 GET / requests per write (server-bound pipelining).
local depth = 16
init = function(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format("GET", "/") end
  req = table.concat(r)
end
request = function() return req end
