return {
  id = "from_lua_file",
  description = "loaded third",
  event_types = { "exec" },
  match = function(ev) return true end,
}
