local guard = require("guard")
local RE = guard.regex([[^/(tmp|var/tmp)/]])
return { id = "regex", description = "d", event_types = { "connect" },
  filter = { connect = { datagram = false } },
  match = function(ev) local x = RE:test("/usr/lib/x"); return false end }
