-- Raises an error object whose __tostring never returns.
local evil = setmetatable({}, { __tostring = function() while true do end end })
return {
  id = "error_object",
  description = "raises a table",
  event_types = { "exec" },
  match = function(ev) error(evil) end,
}
