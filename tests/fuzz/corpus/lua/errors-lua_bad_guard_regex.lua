local guard = require("guard")
local re = guard.regex("(unclosed")
return { id = "x", description = "d", event_types = { "exec" }, match = function() end }
