-- A detection that fails on every event is taken out of service after
-- max_errors errors in a row (default 100), until the next reload; through
-- the daemon's real engine.
local C = require("helpers.cengine")

local D = "spec/fixtures/detections/"

local function execs(comms)
  local t = {}
  for i, c in ipairs(comms) do t[i] = { type = "exec", comm = c } end
  return t
end

local function rep(v, n)
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

describe("runaway detections", function()
  it("are disabled after max_errors errors in a row, with one log line; the rest keep firing", function()
    local eng = assert(C.new({ D .. "errors.lua", D .. "after_errors.yaml" }, { max_errors = 3 }))
    local hits = C.run(eng, execs(rep("bad", 5)))
    local after, raises = 0, 0
    for _, h in ipairs(hits) do
      if h.rule == "after_errors" then after = after + 1 end
      if h.rule == "raises" then raises = raises + 1 end
    end
    assert.same({ 5, 0, 3, true, 3, true }, {
      after, raises, C.errors(eng, "raises", C.RUNTIME), C.disabled(eng, "raises"),
      C.errors(eng, "bad_return", C.RUNTIME), C.disabled(eng, "bad_return"),
    })
    assert.same({
      'ebpf-guard: detection "raises" (spec/fixtures/detections/errors.lua): runtime error: spec/fixtures/detections/errors.lua:7: boom',
      'ebpf-guard: detection "bad_return" (spec/fixtures/detections/errors.lua): runtime error: match (spec/fixtures/detections/errors.lua:15) returned a number (expected true, false, nil, a string or a table)',
      'ebpf-guard: detection "raises" (spec/fixtures/detections/errors.lua): disabled after 3 errors in a row (last: runtime error: spec/fixtures/detections/errors.lua:7: boom); it stays off until the next reload',
      'ebpf-guard: detection "bad_return" (spec/fixtures/detections/errors.lua): disabled after 3 errors in a row (last: runtime error: match (spec/fixtures/detections/errors.lua:15) returned a number (expected true, false, nil, a string or a table)); it stays off until the next reload',
    }, eng.logs)
    -- once off, good events do not bring it back
    assert.same({}, (function()
      local t = {}
      for _, h in ipairs(C.run(eng, execs({ "good" }))) do
        if h.rule == "raises" then t[#t + 1] = h end
      end
      return t
    end)())
  end)

  it("count only errors in a row: a good call starts the count again", function()
    local eng = assert(C.new({ D .. "errors.lua" }, { max_errors = 3 }))
    C.run(eng, execs({ "bad", "bad", "good", "bad", "bad", "good" }))
    assert.same({ 4, false }, { C.errors(eng, "raises", C.RUNTIME), C.disabled(eng, "raises") })
  end)

  it("are disabled after budget errors too (default: 100 in a row)", function()
    local eng = assert(C.new({ D .. "loop.lua" }, { budget = 10000 }))
    C.run(eng, execs(rep("a", 99)))
    assert.is_false(C.disabled(eng, "endless"))
    C.run(eng, execs(rep("a", 5)))
    assert.same({ 100, true }, { C.errors(eng, "endless", C.BUDGET), C.disabled(eng, "endless") })
  end)

  it("stay in service with max_errors = -1 (-lua-max-errors 0)", function()
    local eng = assert(C.new({ D .. "errors.lua" }, { max_errors = -1 }))
    C.run(eng, execs(rep("bad", 150)))
    assert.same({ 150, false }, { C.errors(eng, "raises", C.RUNTIME), C.disabled(eng, "raises") })
  end)
end)
