-- Four detections in one file: static, dynamic, table-without-description and
-- a string (the description).
return {
  {
    id = "static_true",
    description = "static description",
    event_types = { "exec" },
    match = function(ev) return true end,
  },
  {
    id = "dynamic",
    description = "replaced",
    event_types = { "exec" },
    match = function(ev) return { description = "dynamic for " .. ev.comm } end,
  },
  {
    id = "table_no_desc",
    description = "kept static",
    event_types = { "exec" },
    match = function(ev) return {} end,
  },
  {
    id = "string",
    description = "replaced by the string",
    event_types = { "exec" },
    match = function(ev) return "custom text for " .. ev.comm end,
  },
}
