return {
  {
    id = "raises",
    description = "errors on comm bad",
    event_types = { "exec" },
    match = function(ev)
      if ev.comm == "bad" then error("boom") end
      return true
    end,
  },
  {
    id = "bad_return",
    description = "returns a number",
    event_types = { "exec" },
    match = function(ev) return 42 end,
  },
  {
    id = "bad_field",
    description = "reads a field the view does not have",
    event_types = { "open" },
    match = function(ev) return ev.no_such_field end,
  },
  {
    id = "writes_ev",
    description = "tries to change the event",
    event_types = { "connect" },
    match = function(ev) ev.comm = "x" end,
  },
}
