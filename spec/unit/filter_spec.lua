-- filter: a Lua detection's per-type condition in the rule language, tested
-- inline before match is called (lua/ebpf_guard/config.lua check_filter,
-- compile.lua).
local T = require("ebpf_guard.testing")

local function det(filter_src)
  return ([[
local calls = 0
return { id = "f", description = "d", event_types = { "exec", "open" },
  filter = %s,
  match = function(ev) calls = calls + 1; return ("call %%d"):format(calls) end }
]]):format(filter_src)
end

local function load_error(lua)
  local ok, err = pcall(T.engine, { lua = lua })
  assert.is_false(ok)
  return (tostring(err):gsub("^[^\n]-:%d+: ", ""):gsub("/[^ ]-/inline1%.lua", "X.lua"))
end

describe("a Lua detection's filter", function()
  it("calls match only for the events of a type that pass its filter; other types unfiltered", function()
    local eng = T.engine { lua = det('{ open = { filename = { prefix = "/etc/" }, ret = { ge = 0 } } }') }
    local alerts = eng:run {
      { type = "open", filename = "/etc/shadow", ret = 3 },
      { type = "open", filename = "/tmp/x", ret = 3 },
      { type = "open", filename = "/etc/missing", ret = -2 },
      { type = "exec", filename = "/usr/bin/id" },
    }
    local got = {}
    for _, a in ipairs(alerts) do
      if a.rule_id == "f" then got[#got + 1] = a.event.filename .. " " .. a.description end
    end
    -- match ran twice: the filtered-out events never reached it
    assert.same({ "/etc/shadow call 1", "/usr/bin/id call 2" }, got)
  end)

  it("takes names, lists and macros of the rule files, and not/any", function()
    local eng = T.engine {
      yaml = "lists:\n  progs: [curl, wget]\n",
      lua = det('{ exec = { name = "$progs", ["not"] = { exe = { prefix = "/usr/" } } } }'),
    }
    assert.same({ "f" }, T.ids(eng:run { type = "exec", filename = "/opt/curl" }))
    assert.same({}, T.ids(eng:run { type = "exec", filename = "/usr/bin/curl" }))
  end)

  it("names what is wrong, as match: does", function()
    assert.equals('ebpf-guard: X.lua: detection "f": filter: "opn" is not one of the detection\'s event types (exec, open)',
      load_error(det('{ opn = { filename = "/x" } }')))
    assert.equals('ebpf-guard: X.lua: detection "f": filter.exec: dest_port: not carried by exec events (only by connect, dup, accept)',
      load_error(det('{ exec = { dest_port = 4444 } }')))
    assert.equals('ebpf-guard: X.lua: detection "f": filter.open: must be a plain table (no metatable)',
      load_error(det('{ open = setmetatable({}, {}) }')))
    assert.equals('ebpf-guard: X.lua: detection "f": filter.open: expected tables, strings, numbers and booleans, got a function',
      load_error(det('{ open = { filename = function() end } }')))
  end)
end)
