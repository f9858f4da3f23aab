-- Tries to plant a field in ev with rawset.
return {
  id = "rawset_ev",
  description = "must fail",
  event_types = { "exec" },
  match = function(ev) rawset(ev, "comm", "forged") return true end,
}
