local H = require("helpers.engine")

local D = "spec/fixtures/detections/"

local function user_hits(cfg, events, opts)
  local eng = assert(H.new(cfg, opts))
  local out = {}
  for _, h in ipairs((H.run(eng, events))) do
    if not h.rule:find("^builtin_") then out[#out + 1] = h end
  end
  return out, eng
end

describe("Lua detections", function()
  describe("the ev view", function()
    local hits
    setup(function() hits = user_hits({ D .. "view_fields.lua" }, D .. "view_fields.jsonl") end)

    it("exposes every field of an exec event", function()
      assert.equals("ts_ns=1.7357328005e+18 timestamp=1735732800.5 pid=11 tgid=10 ppid=1 uid=1000 gid=100"
        .. " type=exec comm=curl filename=/usr/bin/curl exe=/usr/bin/curl dest_ip= dest_port=0"
        .. " cgroup_id=1234 open_flags=0 memfd=true truncated=false args=curl,-s,#3", hits[1].desc)
    end)

    it("exposes dest_ip, dest_port and truncated on a connect", function()
      assert.truthy(hits[2].desc:find("type=connect comm=c filename=connect exe= dest_ip=::1 dest_port=8080", 1, true))
      assert.truthy(hits[2].desc:find("truncated=true args=#0", 1, true))
    end)

    it("exposes open_flags on an open", function()
      assert.truthy(hits[3].desc:find("open_flags=524288", 1, true))
    end)
  end)

  describe("return values", function()
    local hits
    setup(function()
      hits = user_hits({ D .. "dyn_desc.lua" }, { { type = "exec", comm = "a" }, { type = "exec", comm = "b" } })
    end)

    it("true fires with the static description", function()
      assert.same({ ev = 1, rule = "static_true" }, hits[1])
    end)

    it("a table with a description replaces it for this alert", function()
      assert.same({ ev = 1, rule = "dynamic", desc = "dynamic for a" }, hits[2])
    end)

    it("a table without a description fires with the static one", function()
      assert.same({ ev = 1, rule = "table_no_desc" }, hits[3])
    end)

    it("a string fires with that string as the description", function()
      assert.same({ ev = 1, rule = "string", desc = "custom text for a" }, hits[4])
    end)

    it("gives each alert its own dynamic description", function()
      assert.same({ ev = 2, rule = "dynamic", desc = "dynamic for b" }, hits[6])
      assert.same({ ev = 2, rule = "string", desc = "custom text for b" }, hits[8])
    end)

    it("loads every detection of a list, in order", function()
      assert.equals(8, #hits)
    end)
  end)

  describe("bad return values", function()
    local hits, eng
    setup(function()
      hits, eng = user_hits({ D .. "bad_returns.lua" }, { { type = "exec", comm = "a" } })
    end)

    it("do not fire", function()
      assert.same({}, hits)
    end)

    it("are runtime errors naming the detection, its file and where match is defined", function()
      assert.same({
        'ebpf-guard: detection "number" (spec/fixtures/detections/bad_returns.lua): runtime error: match (spec/fixtures/detections/bad_returns.lua:7) returned a number (expected true, false, nil, a string or a table)',
        'ebpf-guard: detection "function" (spec/fixtures/detections/bad_returns.lua): runtime error: match (spec/fixtures/detections/bad_returns.lua:13) returned a function (expected true, false, nil, a string or a table)',
        'ebpf-guard: detection "userdata" (spec/fixtures/detections/bad_returns.lua): runtime error: match (spec/fixtures/detections/bad_returns.lua:19) returned a userdata (expected true, false, nil, a string or a table)',
        'ebpf-guard: detection "description_number" (spec/fixtures/detections/bad_returns.lua): runtime error: match (spec/fixtures/detections/bad_returns.lua:25) returned a table whose description is a number (expected a string)',
        'ebpf-guard: detection "builtin_match" (spec/fixtures/detections/bad_returns.lua): runtime error: match (built-in) returned a userdata (expected true, false, nil, a string or a table)',
      }, eng.logs)
      assert.same({ 1, 1, 1, 1, 1 }, {
        H.errors(eng, "number", 0), H.errors(eng, "function", 0), H.errors(eng, "userdata", 0),
        H.errors(eng, "description_number", 0), H.errors(eng, "builtin_match", 0),
      })
    end)
  end)

  describe("state", function()
    it("keeps file-level locals across events", function()
      local hits = user_hits({ D .. "counter.lua" }, {
        { type = "exec" }, { type = "exec" }, { type = "exec" }, { type = "exec" }, { type = "exec" }, { type = "exec" },
      })
      assert.same({ "3:every_third", "6:every_third" }, H.fired(hits))
    end)

    it("keep their state across run() calls", function()
      local eng = assert(H.new({ D .. "counter.lua" }))
      H.run(eng, { { type = "exec" }, { type = "exec" } })
      assert.same({ "1:every_third" }, H.fired((H.run(eng, { { type = "exec" } }))))
    end)
  end)

  -- examples/shell_then_connect.lua and examples/download_from_ip.lua: their
  -- specs are spec/examples/*_spec.lua (the public module).

  describe("exit events", function()
    it("reach detections that list them", function()
      local hits = user_hits({ D .. "exit_detection.lua" }, { { type = "exec" }, { type = "exit", pid = 3, tgid = 3 } })
      assert.same({ "2:on_exit" }, H.fired(hits))
    end)

    it("are wanted whenever a Lua detection file is loaded", function()
      local eng = assert(H.new({ D .. "counter.lua" }))
      assert.equals(2 + 8 + 16, eng.res.types_wanted)
    end)
  end)

  describe("enabled = false", function()
    it("skips the detection", function()
      local eng = assert(H.new({ D .. "disabled.lua" }))
      assert.equals(4, #eng.rules)
    end)
  end)

  describe("errors", function()
    local hits, eng
    setup(function()
      hits, eng = user_hits({ D .. "errors.lua", D .. "after_errors.yaml" }, {
        { type = "exec", comm = "bad" }, { type = "exec", comm = "good" },
        { type = "open", comm = "good" }, { type = "connect", comm = "good" },
      })
    end)

    it("skip the failing detection for that event only; the other rules still fire", function()
      assert.same({ "1:after_errors", "2:raises", "2:after_errors", "3:after_errors", "4:after_errors" }, H.fired(hits))
    end)

    it("are counted per rule and kind", function()
      assert.same({ 1, 2, 1, 1 }, {
        H.errors(eng, "raises", 0), H.errors(eng, "bad_return", 0),
        H.errors(eng, "bad_field", 0), H.errors(eng, "writes_ev", 0),
      })
    end)

    it("are logged once per rule and kind with file, line and message", function()
      assert.same({
        'ebpf-guard: detection "raises" (spec/fixtures/detections/errors.lua): runtime error: spec/fixtures/detections/errors.lua:7: boom',
        'ebpf-guard: detection "bad_return" (spec/fixtures/detections/errors.lua): runtime error: match (spec/fixtures/detections/errors.lua:15) returned a number (expected true, false, nil, a string or a table)',
        'ebpf-guard: detection "bad_field" (spec/fixtures/detections/errors.lua): runtime error: spec/fixtures/detections/errors.lua:21: ev has no field "no_such_field"',
        'ebpf-guard: detection "writes_ev" (spec/fixtures/detections/errors.lua): runtime error: spec/fixtures/detections/errors.lua:27: ev is read-only (cannot set "comm")',
      }, eng.logs)
    end)

    it("never call a __tostring of the error object (it would run unbounded)", function()
      local e = assert(H.new({ D .. "error_object.lua" }))
      H.run(e, { { type = "exec" } })
      assert.same({
        'ebpf-guard: detection "error_object" (spec/fixtures/detections/error_object.lua): runtime error: (error object is a table value)',
      }, e.logs)
    end)

    it("are summarised at most once a minute per rule after the first", function()
      local now = 1000
      local e = assert(H.new({ D .. "errors.lua" }, { clock = function() return now end }))
      local evs = {}
      for i = 1, 10 do evs[i] = { type = "exec", comm = "bad" } end
      H.run(e, evs)
      now = now + 30
      H.run(e, evs)
      assert.equals(2, #e.logs) -- first "raises", first "bad_return"
      now = now + 31
      H.run(e, { { type = "exec", comm = "bad" } })
      assert.same({
        'ebpf-guard: detection "raises" (spec/fixtures/detections/errors.lua): 20 more errors in the last 61s (last: spec/fixtures/detections/errors.lua:7: boom)',
        'ebpf-guard: detection "bad_return" (spec/fixtures/detections/errors.lua): 20 more errors in the last 61s (last: match (spec/fixtures/detections/errors.lua:15) returned a number (expected true, false, nil, a string or a table))',
      }, { e.logs[3], e.logs[4] })
    end)
  end)
end)
