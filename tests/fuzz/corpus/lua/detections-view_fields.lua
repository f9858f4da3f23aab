-- Describes every field of the event view.
return {
  id = "view_fields",
  description = "static",
  event_types = { "exec", "open", "connect", "exit" },
  match = function(ev)
    local parts = {}
    for _, k in ipairs({ "ts_ns", "timestamp", "pid", "tgid", "ppid", "uid", "gid", "type",
      "comm", "filename", "exe", "dest_ip", "dest_port", "cgroup_id", "open_flags", "memfd", "truncated" }) do
      parts[#parts + 1] = k .. "=" .. tostring(ev[k])
    end
    parts[#parts + 1] = "args=" .. table.concat(ev.args, ",") .. "#" .. #ev.args
    return { description = table.concat(parts, " ") }
  end,
}
