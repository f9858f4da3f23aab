-- Sandbox escapes tried against the daemon's real engine (src/engine.c via
-- spec/helpers/cengine.lua): each hostile detection must fail on its own,
-- be counted, and leave the daemon alive and the other rules firing.
local C = require("helpers.cengine")
local H = require("helpers.engine")
local compile = require("ebpf_guard.compile")

local CANARY = "spec/fixtures/detections/after_loop.yaml" -- fires on every exec

-- Loads a detection whose match runs body (with `guard` in scope) next to the
-- canary, runs two exec events. Returns { fired, runtime errors, budget
-- errors, first log line, descriptions }.
local function probe(body, opts)
  local path = H.tmpfile(".lua", ([[
local guard = require("guard")
return {
  id = "probe",
  description = "probe",
  event_types = { "exec" },
  match = function(ev)
%s
  end,
}
]]):format(body))
  local eng, err = C.new({ path, CANARY }, opts)
  os.remove(path)
  assert(eng, err)
  local hits = C.run(eng, { { type = "exec", comm = "a" }, { type = "exec", comm = "b" } })
  local descs = {}
  for _, h in ipairs(hits) do
    if h.rule == "probe" then descs[#descs + 1] = h.desc or true end
  end
  local canary = 0
  for _, h in ipairs(hits) do
    if h.rule == "after_loop" then canary = canary + 1 end
  end
  -- the message without the log line's prefix and the error's position
  local log = eng.logs[1] and eng.logs[1]:gsub("^.-: runtime error: ", ""):gsub("^/tmp/[^:]*:%d+: ", "")
  return { canary = canary, runtime = C.errors(eng, "probe", C.RUNTIME),
    budget = C.errors(eng, "probe", C.BUDGET), log = log, descs = descs }
end

-- The probe raised on both events with message msg; the canary still fired.
local function refused(body, msg)
  local r = probe(body)
  assert.same({ canary = 2, runtime = 2, budget = 0, log = msg, descs = {} }, r)
end

-- Loads one file per body (detection "d<i>", match = body, guard in scope),
-- runs events; returns the descriptions per detection id and the engine.
local function detections(bodies, events)
  local paths = {}
  for i, body in ipairs(bodies) do
    paths[i] = H.tmpfile(".lua", ([[
local guard = require("guard")
return { id = "d%d", description = "d", event_types = { "exec" },
  match = function(ev)
%s
  end }
]]):format(i, body))
  end
  local eng, err = C.new(paths)
  for _, p in ipairs(paths) do os.remove(p) end
  assert(eng, err)
  local out = {}
  for _, h in ipairs(C.run(eng, events)) do
    out[h.rule] = out[h.rule] or {}
    table.insert(out[h.rule], h.desc or true)
  end
  return out, eng
end

describe("sandbox escapes", function()
  describe("compiled bytecode as a detection file", function()
    local src = "spec/fixtures/detections/read_comm.lua"
    local function bytecode_file()
      local out = os.tmpname() .. ".lua"
      assert(os.execute(("luajit -b %s %s"):format(src, out)) == 0)
      return out
    end

    it("is refused at load with a clear message", function()
      local bc = bytecode_file()
      local eng, err = C.new({ bc })
      os.remove(bc)
      assert.same({ nil, bc .. ": is precompiled Lua bytecode; detections are loaded from source text only" },
        { eng, err })
    end)

    it("is refused after any mutation of its bytes (no crash)", function()
      local bc = bytecode_file()
      local f = assert(io.open(bc, "rb"))
      local bytes = f:read("*a")
      f:close()
      math.randomseed(7)
      local refusals = 0
      for _ = 1, 50 do
        local t = { bytes:byte(1, -1) }
        for _ = 1, math.random(1, 3) do
          local at = math.random(2, #t)
          t[at] = math.random(0, 255)
        end
        local g = assert(io.open(bc, "wb"))
        g:write(string.char(unpack(t)))
        g:close()
        local eng, err = C.new({ bc })
        if eng == nil and err == bc .. ": is precompiled Lua bytecode; detections are loaded from source text only" then
          refusals = refusals + 1
        end
      end
      os.remove(bc)
      assert.equals(50, refusals)
    end)

    it("is refused when it hides behind a mode-less load in a condition", function()
      -- conditions are compiled as text too: a chunk cannot start with ESC there
      local eng, err = C.new({ H.tmpfile(".yaml", 'rules:\n  - id: c\n    description: d\n    event_types: [exec]\n    condition: "\\eLJ"\n') })
      assert.is_nil(eng)
      assert.matches('condition: Lua syntax error in "\\x1bLJ"', err, 1, true)
    end)
  end)

  describe("guard.regex objects", function()
    it("expose no internal field", function()
      refused([[ local re = guard.regex("a") return { description = tostring(re.code) } ]],
        'guard.regex has no method "code"')
      refused([[ local re = guard.regex("a") return { description = tostring(re.re) } ]],
        'guard.regex has no method "re"')
      refused([[ local re = guard.regex("a") return re:test_ptr("abc", 2^40) ]],
        'guard.regex has no method "test_ptr"')
      refused([[ local re = guard.regex("a") return { description = tostring(re.md) } ]],
        'guard.regex has no method "md"')
    end)

    it("have a locked metatable and print no address", function()
      local r = probe([[ local re = guard.regex("a")
        return { description = tostring(getmetatable(re)) .. " " .. tostring(re) .. " " .. type(re) } ]])
      assert.same({ "false guard.regex userdata", "false guard.regex userdata" }, r.descs)
    end)

    it("cannot be written, even with rawset", function()
      refused([[ local re = guard.regex("a") re.test = function() return true end ]],
        'guard.regex is read-only (cannot set "test")')
      local r = probe([[ local re = guard.regex("a") return { description = tostring(pcall(rawset, re, "x", 1)) } ]])
      assert.same({ "false", "false" }, r.descs)
    end)

    it("refuse a forged self", function()
      refused([[ local re = guard.regex("a") return re.test({ code = 0 }, "a") ]],
        "guard.regex:test: called on a table, not a guard.regex (use x:test(...))")
      refused([[ local re = guard.regex("a") return re.test(guard.state(), "a") ]],
        "guard.regex:test: called on a userdata, not a guard.regex (use x:test(...))")
    end)

    it("bound the start position (no read past the subject)", function()
      local r = probe([[ local re = guard.regex("x")
        return { description = tostring(re:test("x", 2^40)) .. tostring(re:test("x", 65536)) .. tostring(re:find("ax", 2)) } ]])
      assert.same({ "falsefalse2", "falsefalse2" }, r.descs)
      refused([[ return guard.regex("x"):test("x", 0/0) ]], "regex:test: init must be an integer, got nan")
      refused([[ return guard.regex("x"):test("x", 1.5) ]], "regex:test: init must be an integer, got 1.5")
    end)
  end)

  describe("guard.state objects", function()
    it("expose no internal field and cannot be written", function()
      refused([[ local s = guard.state() return { description = tostring(s.nodes) } ]],
        'guard.state has no method "nodes"')
      refused([[ local s = guard.state() s.delete = function() while true do end end ]],
        'guard.state is read-only (cannot set "delete")')
    end)

    it("refuse a forged self", function()
      refused([[ local s = guard.state() return s.get({ nodes = {} }, 1) ]],
        "guard.state:get: called on a table, not a guard.state (use x:get(...))")
    end)
  end)

  describe("a rule id", function()
    it("with a newline is refused before any code is generated", function()
      os.remove("/tmp/ebpf-guard-pwned")
      local eng, err = C.new({ "spec/fixtures/errors/id_newline.yaml" })
      assert.same({ nil, [[spec/fixtures/errors/id_newline.yaml: rule "x\nio.open('/tmp/ebpf-guard-pwned', 'w'):write('root') --": id: must not contain control characters (newline, tab, DEL, ...)]] },
        { eng, err })
      assert.is_nil(io.open("/tmp/ebpf-guard-pwned"))
    end)

    it("never reaches the generated code as anything but a comment", function()
      local ffi = require("ffi")
      local b = ffi.new("struct eg_batch")
      local _, src = compile.build({
        { kind = "yaml", id = "a\nerror('injected')\r--", types = { 1 } },
      }, { b = b, user = function() end, on_exit = function() end, begin = function() end, desc = {} })
      assert.truthy(src:find("-- rule a?error('injected')?--", 1, true))
      assert.falsy(src:find("\nerror('injected')", 1, true))
    end)
  end)

  describe("state shared between detections", function()
    local ARGS = { { type = "exec", args = { "sh", "-c", "id" } }, { type = "exec", args = { "ls" } } }

    it("ev.args is a table of each call's own (one detection's writes never reach the next)", function()
      local out = detections({
        [[ ev.args[1] = "rewritten"; ev.args[9] = "x"; return false ]],
        [[ return { description = table.concat(ev.args, " ") .. "|" .. tostring(ev.args[9]) } ]],
      }, ARGS)
      assert.same({ d2 = { "sh -c id|nil", "ls|nil" } }, out)
    end)

    it("ev.args read twice in one call is the same table", function()
      local out = detections({ [[ return { description = tostring(rawequal(ev.args, ev.args)) } ]] }, ARGS)
      assert.same({ d1 = { "true", "true" } }, out)
    end)

    it("math.randomseed in one detection does not change another's math.random", function()
      local draw = [[ return { description = tostring(math.random(1000000)) } ]]
      local alone = detections({ draw }, ARGS)
      local beside = detections({ [[ math.randomseed(42); math.random(); return false ]], draw }, ARGS)
      assert.same(alone.d1, beside.d2)
      assert.are_not.same(alone.d1[1], alone.d1[2])
    end)

    it("math.random keeps Lua's interface", function()
      local out = detections({ [[
        local a, b, c = math.random(), math.random(3), math.random(5, 6)
        local ok = a >= 0 and a < 1 and b >= 1 and b <= 3 and c >= 5 and c <= 6
        local e1 = select(2, pcall(math.random, 2, 1))
        return { description = tostring(ok) .. " " .. e1 } ]] }, { { type = "exec" } })
      assert.same({ d1 = { "true bad argument to 'random' (interval is empty)" } }, out)
    end)

    it("guard cannot be rewritten, by assignment or rawset", function()
      refused([[ guard.regex = nil ]], 'guard is read-only (cannot set "regex")')
      local r = probe([[ return { description = tostring(pcall(rawset, guard, "regex", 1)) .. type(guard.regex) } ]])
      assert.same({ "falsefunction", "falsefunction" }, r.descs)
    end)
  end)
end)
