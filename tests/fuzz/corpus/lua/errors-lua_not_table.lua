return { "oops" }
