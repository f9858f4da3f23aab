return {
  id = "read_comm",
  description = "reports comm",
  event_types = { "exec" },
  match = function(ev) return { description = ev.comm } end,
}
