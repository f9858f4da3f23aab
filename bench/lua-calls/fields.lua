return { id = "fields", description = "d", event_types = { "connect" },
  filter = { connect = { datagram = false } },
  match = function(ev) local a, b, c, d = ev.tgid, ev.dest_ip, ev.dest_port, ev.comm; return false end }
