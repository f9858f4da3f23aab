local guard = require("guard")
local st = guard.state { max = 4096 }
return { id = "state", description = "d", event_types = { "connect" },
  filter = { connect = { datagram = false } },
  match = function(ev) local s = st:get(ev.tgid); if not s then st:set(ev.tgid, {}) end; return false end }
