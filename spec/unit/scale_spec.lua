-- Rule sets far larger than one generated Lua function can hold (LuaJIT caps
-- a function's jumps and constants: one function held ~465 rules), through
-- the daemon's real engine.
local C = require("helpers.cengine")
local H = require("helpers.engine")

local function yaml_rules(n)
  local t = { "rules:" }
  for i = 0, n - 1 do
    t[#t + 1] = ("  - {id: r%d, description: d, event_types: [exec, open], comm_regex: '^x%d$'}"):format(i, i)
  end
  return H.tmpfile(".yaml", table.concat(t, "\n") .. "\n")
end

describe("rule set size", function()
  it("10,000 YAML rules load and each fires on its own event, in rule order", function()
    local path = yaml_rules(10000)
    local eng, err = C.new({ path })
    os.remove(path)
    assert(eng, err)
    local fired = C.fired(C.run(eng, {
      { type = "exec", comm = "x0" }, { type = "open", comm = "x5000" }, { type = "exec", comm = "x9999" },
      { type = "exec", comm = "x10000" }, { type = "connect", comm = "x1" },
    }))
    assert.same({ "1:r0", "2:r5000", "3:r9999" }, fired)
  end)

  it("600 Lua detections in one file load and run in order", function()
    local t = { "local out = {}" }
    for i = 1, 600 do
      t[#t + 1] = ("out[%d] = { id = 'l%d', description = 'd', event_types = { 'exec' }, "
        .. "match = function(ev) return ev.comm == 'c%d' or ev.comm == 'all' end }"):format(i, i, i)
    end
    t[#t + 1] = "return out"
    local path = H.tmpfile(".lua", table.concat(t, "\n"))
    local eng, err = C.new({ path })
    os.remove(path)
    assert(eng, err)
    local hits = C.run(eng, { { type = "exec", comm = "c600" }, { type = "exec", comm = "all" } })
    assert.same({ "1:l600", "2:l1" }, { C.fired(hits)[1], C.fired(hits)[2] })
    assert.equals(601, #hits)
  end)
end)
