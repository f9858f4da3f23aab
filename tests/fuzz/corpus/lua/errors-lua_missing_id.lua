return {
  { id = "a", description = "d", event_types = { "exec" }, match = function() end },
  { description = "d", event_types = { "exec" }, match = function() end },
}
