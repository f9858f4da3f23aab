return {
  id = "on_exit",
  description = "process exited",
  event_types = { "exit" },
  match = function(ev) return ev.type == "exit" end,
}
