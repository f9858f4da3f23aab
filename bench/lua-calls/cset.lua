local guard = require("guard")
local c = guard.cache { max = 4096, ttl = 3600 }
local n = 0
return { id = "cset", description = "d", event_types = { "connect" },
  filter = { connect = { datagram = false } },
  match = function(ev) n = n + 1; c:set(n, "x"); return false end }
