return {
  id = "swallow_xpcall",
  description = "must not fire",
  event_types = { "exec" },
  match = function(ev)
    xpcall(function() local x = 0 while true do x = x + 1 end end, function(m) return "swallowed" end)
    return true
  end,
}
