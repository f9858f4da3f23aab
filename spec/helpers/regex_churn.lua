-- Run as its own process by regex_spec (a quiet heap): compiles and drops
-- 2,000 then 10,000 distinct patterns and prints how much the resident set
-- grew during the second round, in bytes.
local regex = require("ebpf_guard.regex")

local function rss()
  local f = assert(io.open("/proc/self/statm"))
  local _, pages = f:read("*n", "*n")
  f:close()
  return pages * 4096
end

local function churn(n)
  for i = 1, n do
    local re = assert(regex.new("^/usr/(lib|bin)/[a-z]+" .. i .. "\\d{2,4}(foo|bar|baz)$"))
    re:test("x")
  end
  collectgarbage()
  collectgarbage()
end

churn(2000)
local before = rss()
churn(10000)
print(rss() - before)
