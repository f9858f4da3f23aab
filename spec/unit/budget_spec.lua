-- The instruction budget, enforced by the real C count hook: these specs run
-- the daemon's engine (src/engine.c) through spec/helpers/cengine.lua.
local C = require("helpers.cengine")
local H = require("helpers.engine")

local D = "spec/fixtures/detections/"

-- A detection file whose match runs `for i = 1, n do end` (one FORL
-- instruction per iteration) and fires when it finishes.
local function loop_detection(n)
  return H.tmpfile(".lua", ([[
return {
  id = "loop_%d",
  description = "counts to %d",
  event_types = { "exec" },
  match = function(ev)
    for i = 1, %d do end
    return true
  end,
}
]]):format(n, n, n))
end

local function run_loop(n, budget)
  local path = loop_detection(n)
  local eng = assert(C.new({ path }, { budget = budget }))
  os.remove(path)
  local fired = C.fired(C.run(eng, { { type = "exec", comm = "a" } }))
  return fired, C.errors(eng, "loop_" .. n, C.BUDGET), eng
end

describe("instruction budget", function()
  describe("the daemon's default of 100,000 instructions per call", function()
    it("lets a detection run 95,000 instructions", function()
      local fired, budget_errors = run_loop(95000)
      assert.same({ { "1:loop_95000" }, 0 }, { fired, budget_errors })
    end)

    it("stops a detection at 105,000 instructions", function()
      local fired, budget_errors = run_loop(105000)
      assert.same({ {}, 1 }, { fired, budget_errors })
    end)
  end)

  describe("a file's top level", function()
    local function top_level(n, budget)
      local path = H.tmpfile(".lua", ("for i = 1, %d do end\nreturn {}\n"):format(n))
      local eng, err = C.new({ path }, { budget = budget })
      os.remove(path)
      return eng ~= nil, err and err:gsub("^.-: ", "")
    end

    it("gets ten times the budget: 950,000 instructions load, 1,050,000 do not", function()
      assert.same({ true, nil }, { top_level(950000) })
      local ok, err = top_level(1050000)
      assert.is_false(ok)
      assert.matches("instruction budget exceeded$", err)
    end)

    it("gets ten times -lua-budget too", function()
      assert.same({ true, false }, { (top_level(95000, 10000)), (top_level(105000, 10000)) })
    end)
  end)

  describe("-lua-budget N", function()
    it("lets a detection run 0.9 N instructions and stops it at 1.1 N", function()
      local f1, e1 = run_loop(90000, 100000)
      local f2, e2 = run_loop(110000, 100000)
      assert.same({ { "1:loop_90000" }, 0, {}, 1 }, { f1, e1, f2, e2 })
    end)
  end)

  describe("an endless loop in a detection", function()
    local eng, fired
    setup(function()
      eng = assert(C.new({ D .. "loop.lua", D .. "after_loop.yaml" }, { budget = 100000 }))
      fired = C.fired(C.run(eng, { { type = "exec", comm = "a" }, { type = "exec", comm = "b" } }))
    end)

    it("is cut, and the next rules still fire on every event", function()
      assert.same({ "1:after_loop", "2:after_loop" }, fired)
    end)

    it("counts a budget error per event", function()
      assert.same({ 2, 0, 2 }, { C.errors(eng, "endless", C.BUDGET), C.errors(eng, "endless", C.RUNTIME),
        C.total_errors(eng) })
    end)

    it("is logged once, with the file and line of the loop", function()
      assert.same({
        'ebpf-guard: detection "endless" (spec/fixtures/detections/loop.lua): budget error: spec/fixtures/detections/loop.lua:7: instruction budget exceeded',
      }, eng.logs)
    end)
  end)

  it("gives the next call its whole budget after one ran out", function()
    local loop = loop_detection(90000)
    local eng = assert(C.new({ D .. "loop.lua", loop }, { budget = 100000 }))
    os.remove(loop)
    local fired = C.fired(C.run(eng, { { type = "exec" }, { type = "exec" }, { type = "exec" } }))
    assert.same({ { "1:loop_90000", "2:loop_90000", "3:loop_90000" }, 3 },
      { fired, C.errors(eng, "endless", C.BUDGET) })
  end)

  it("cannot be swallowed by pcall inside the detection", function()
    local eng = assert(C.new({ D .. "budget_pcall.lua" }))
    local fired = C.fired(C.run(eng, { { type = "exec", comm = "a" } }))
    assert.same({ {}, 1 }, { fired, C.errors(eng, "swallow_pcall", C.BUDGET) })
  end)

  it("cannot be swallowed by xpcall inside the detection", function()
    local eng = assert(C.new({ D .. "budget_xpcall.lua" }))
    local fired = C.fired(C.run(eng, { { type = "exec", comm = "a" } }))
    assert.same({ {}, 1 }, { fired, C.errors(eng, "swallow_xpcall", C.BUDGET) })
  end)

  it("stops an endless loop at the top of a file at start-up", function()
    local eng, err = C.new({ "spec/fixtures/errors/lua_top_loop.lua" }, { budget = 100000 })
    assert.is_nil(eng)
    assert.equals("spec/fixtures/errors/lua_top_loop.lua: error while loading: "
      .. "spec/fixtures/errors/lua_top_loop.lua:2: instruction budget exceeded", err)
  end)

  it("is a fresh budget for each call", function()
    -- 150 calls of ~1000 instructions each: over the budget in total, never per call
    local eng = assert(C.new({ D .. "busy.lua" }, { budget = 10000 }))
    local evs = {}
    for i = 1, 150 do evs[i] = { type = "open" } end
    local fired = C.fired(C.run(eng, evs))
    assert.same({ 150, 0 }, { #fired, C.errors(eng, "busy", C.BUDGET) })
  end)
end)
