local d = { id = "x", description = "d", event_types = { "exec" }, match = function() end }
return { setmetatable(d, { __index = function() while true do end end }) }
