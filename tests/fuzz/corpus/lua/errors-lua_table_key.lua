local evil = setmetatable({}, { __tostring = function() while true do end end })
return { id = "x", description = "d", event_types = { "exec" }, match = function() end, [evil] = 1 }
