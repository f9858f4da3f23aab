local guard = require("guard")
local c = guard.cache { max = 4096, ttl = 3600 }
return { id = "cget", description = "d", event_types = { "connect" },
  filter = { connect = { datagram = false } },
  match = function(ev) local x = c:get(5); return false end }
