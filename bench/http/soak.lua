-- bench/http/soak.lua - wrk script for `make soak`: a mix of the demo's
-- routes, in a fixed rotation so every connection sends all of them:
-- GET / , GET /json, POST /echo with a small body, GET /users/:id with a
-- changing id. Counts the responses by status class; done() prints them as
-- one line: soak_status 2xx=N 3xx=N 4xx=N 5xx=N
local counter = 0
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   classes = { 0, 0, 0, 0, 0 }
end

function request()
   counter = counter + 1
   local k = counter % 4
   if k == 0 then
      return wrk.format("GET", "/")
   elseif k == 1 then
      return wrk.format("GET", "/json")
   elseif k == 2 then
      local body = "soak body " .. counter
      return wrk.format("POST", "/echo", { ["Content-Type"] = "text/plain" }, body)
   else
      return wrk.format("GET", "/users/" .. (counter % 1000))
   end
end

function response(status, headers, body)
   local c = math.floor(status / 100)
   if c >= 1 and c <= 5 then
      classes[c] = classes[c] + 1
   end
end

function done(summary, latency, requests)
   local t = { 0, 0, 0, 0, 0 }
   for _, thread in ipairs(threads) do
      local c = thread:get("classes")
      for i = 1, 5 do
         t[i] = t[i] + c[i]
      end
   end
   io.write(string.format("soak_status 2xx=%d 3xx=%d 4xx=%d 5xx=%d\n", t[2], t[3], t[4], t[5]))
end
