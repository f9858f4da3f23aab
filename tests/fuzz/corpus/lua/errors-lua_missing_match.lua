return { id = "x", description = "d", event_types = { "exec" } }
