-- File-level locals persist across events: fires on every third exec.
local n = 0
return {
  id = "every_third",
  description = "every third exec",
  event_types = { "exec" },
  match = function(ev)
    n = n + 1
    return n % 3 == 0
  end,
}
