-- Tries to swallow the budget error with pcall and fire anyway.
return {
  id = "swallow_pcall",
  description = "must not fire",
  event_types = { "exec" },
  match = function(ev)
    pcall(function() local x = 0 while true do x = x + 1 end end)
    return true
  end,
}
