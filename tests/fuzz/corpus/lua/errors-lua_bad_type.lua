return { id = "x", description = "d", event_types = { "fork" }, match = function() end }
