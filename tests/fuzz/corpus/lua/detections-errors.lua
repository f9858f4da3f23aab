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
    description = "reads a field the view does not have, named at run time",
    event_types = { "open" },
    match = function(ev) local k = "no_such_field" return ev[k] end,
  },
  {
    id = "writes_ev",
    description = "tries to change the event, through a key named at run time",
    event_types = { "connect" },
    match = function(ev) local k = "comm" ev[k] = "x" end,
  },
}
