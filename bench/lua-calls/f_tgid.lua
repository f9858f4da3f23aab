return { id = "f_tgid", description = "d", event_types = { "connect" },
  filter = { connect = { datagram = false } },
  match = function(ev) local a = ev.tgid; return false end }
