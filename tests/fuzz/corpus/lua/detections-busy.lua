-- Does a little work per call, well within the budget.
return {
  id = "busy",
  description = "busy but bounded",
  event_types = { "open" },
  match = function(ev)
    local x = 0
    for i = 1, 300 do x = x + i end
    return x > 0
  end,
}
