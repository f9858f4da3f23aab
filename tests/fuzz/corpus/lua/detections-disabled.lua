return {
  id = "disabled_detection",
  description = "never runs",
  event_types = { "exec" },
  enabled = false,
  match = function(ev) error("must not run") end,
}
