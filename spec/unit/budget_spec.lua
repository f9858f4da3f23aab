local H = require("helpers.engine")

local D = "spec/fixtures/detections/"

describe("instruction budget", function()
  describe("an endless loop in a detection", function()
    local eng, fired
    setup(function()
      eng = assert(H.new({ D .. "loop.lua", D .. "after_loop.yaml" }))
      fired = H.fired((H.run(eng, { { type = "exec", comm = "a" }, { type = "exec", comm = "b" } })))
    end)

    it("is cut, and the next rules still fire on every event", function()
      assert.same({ "1:after_loop", "2:after_loop" }, fired)
    end)

    it("counts a budget error per event", function()
      assert.same({ 2, 0 }, { H.errors(eng, "endless", 1), H.errors(eng, "endless", 0) })
    end)

    it("is logged once, with the file and line of the loop", function()
      assert.same({
        'ebpf-guard: detection "endless" (spec/fixtures/detections/loop.lua): budget error: spec/fixtures/detections/loop.lua:7: instruction budget exceeded',
      }, eng.logs)
    end)

    it("leaves in_user and ticks reset", function()
      assert.same({ 0, 0 }, { eng.b.in_user, eng.b.ticks })
    end)
  end)

  it("cannot be swallowed by pcall inside the detection", function()
    local eng = assert(H.new({ D .. "budget_pcall.lua" }))
    local fired = H.fired((H.run(eng, { { type = "exec", comm = "a" } })))
    assert.same({ {}, 1 }, { fired, H.errors(eng, "swallow_pcall", 1) })
  end)

  it("cannot be swallowed by xpcall inside the detection", function()
    local eng = assert(H.new({ D .. "budget_xpcall.lua" }))
    local fired = H.fired((H.run(eng, { { type = "exec", comm = "a" } })))
    assert.same({ {}, 1 }, { fired, H.errors(eng, "swallow_xpcall", 1) })
  end)

  it("stops an endless loop at the top of a file at start-up", function()
    local eng, err = H.new({ "spec/fixtures/errors/lua_top_loop.lua" })
    assert.is_nil(eng)
    assert.equals("spec/fixtures/errors/lua_top_loop.lua: error while loading: "
      .. "spec/fixtures/errors/lua_top_loop.lua:2: instruction budget exceeded", err)
  end)

  it("is a fresh budget for each call", function()
    -- 150 calls of ~1000 instructions each: over the budget in total, never per call
    local eng = assert(H.new({ D .. "busy.lua" }, { budget_ticks = 10 }))
    local evs = {}
    for i = 1, 150 do evs[i] = { type = "open" } end
    local fired = H.fired((H.run(eng, evs)))
    assert.same({ 150, 0 }, { #fired, H.errors(eng, "busy", 1) })
  end)
end)
