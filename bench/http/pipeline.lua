-- bench/http/pipeline.lua - wrk script: each write carries DEPTH requests
-- for PATH (16 and "/" unless given: wrk -s pipeline.lua URL -- DEPTH PATH).
-- wrk counts the requests in the string and waits for that many responses
-- before it writes again; its latency figures mean nothing in this mode.
local batch

function init(args)
   local depth = tonumber(args[1]) or 16
   local path = args[2] or "/"
   local reqs = {}
   for i = 1, depth do
      reqs[i] = wrk.format("GET", path)
   end
   batch = table.concat(reqs)
end

function request()
   return batch
end
