local d = {  { "exec" } ,match = function() end }
return { setmetatable(d, { __index = function() while true do end end }) }
