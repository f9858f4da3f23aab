return {
  id = "endless",
  description = "never returns",
  event_types = { "exec" },
  match = function(ev)
    local x = 0
    while true do x = x + 1 end
  end,
}
