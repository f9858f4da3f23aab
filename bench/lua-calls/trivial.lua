return { id = "trivial", description = "d", event_types = { "connect" },
  filter = { connect = { datagram = false } },
  match = function(ev) return false end }
