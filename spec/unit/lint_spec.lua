local H = require("helpers.engine")
local lint = require("ebpf_guard.lint")
local view = require("ebpf_guard.view")

local ERR = "spec/fixtures/errors/"

-- The message of a config that must not load.
local function refused(...)
  local eng, err = H.new({ ... })
  assert.is_nil(eng)
  return err
end

-- A Lua detection file holding src (the body of `return { ... }`), loaded.
local function load_detection(match_src)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "wb"))
  f:write('return { id = "d", description = "d", event_types = { "exec" },\n  match = ', match_src, ",\n}\n")
  f:close()
  local eng, err = H.new({ path })
  os.remove(path)
  if err then err = err:gsub(path:gsub("%p", "%%%0"), "det.lua", 1) end
  return eng, err
end

-- lint.check on the condition chunk config.lua compiles for src.
local function check_condition(src)
  return lint.check(assert(load("local ev = ... return (" .. src .. "\n)", "=condition", "t")), "ev")
end

describe("lint", function()
  it("is active: the opcode probes match this LuaJIT's bytecode", function()
    assert.is_true(lint.ACTIVE)
  end)

  describe("conditions", function()
    it("refuse an unknown field, suggesting the closest", function()
      assert.equals('spec/fixtures/errors/condition_unknown_field.yaml: rule "r": condition: ev has no field "comn" (did you mean "comm"?)',
        refused(ERR .. "condition_unknown_field.yaml"))
    end)

    it("refuse an unknown field without a suggestion when none is close", function()
      assert.same({ line = 1, msg = 'ev has no field "zzz"' }, check_condition('ev.zzz == 1'))
    end)

    it("refuse ev[\"name\"] with a constant name like ev.name", function()
      assert.equals('ev has no field "exx" (did you mean "exe"?)', check_condition('ev["exx"] == ""').msg)
    end)

    it("refuse an unknown field of ev.parent and of an ancestor", function()
      assert.equals('ev.parent has no field "comn" (did you mean "comm"?)', check_condition('ev.parent.comn == "x"').msg)
      assert.equals('ev.ancestors[2] has no field "exx" (did you mean "exe"?)',
        check_condition('ev.ancestors[2].exx == "x"').msg)
      assert.equals('ev.ancestors[...] has no field "pid"',
        lint.check(function(ev) for i = 1, 5 do if ev.ancestors[i].pid == 1 then return true end end end).msg)
    end)

    it("accept every field of the view", function()
      local reads = {}
      for i, k in ipairs(view.FIELDS) do reads[i] = "ev." .. k .. " ~= 0" end
      assert.is_nil(check_condition(table.concat(reads, " and ")))
    end)

    it("accept the conditions of a file using many fields, parent and ancestors", function()
      assert.truthy(H.new({ "spec/fixtures/lint_ok.yaml" }))
    end)

    it("leave names built at run time to the run-time check", function()
      assert.is_nil(check_condition('ev["co" .. "mn"] == "x"'))
    end)
  end)

  describe("Lua detections", function()
    it("refuse an unknown field with the line, suggesting the closest", function()
      assert.equals('spec/fixtures/errors/lua_unknown_field.lua: detection "d": match: line 12: ev has no field "dest_prot" (did you mean "dest_port"?)',
        refused(ERR .. "lua_unknown_field.lua"))
    end)

    it("refuse a write to ev", function()
      assert.equals('spec/fixtures/errors/lua_writes_ev.lua: detection "w": match: line 6: ev is read-only (cannot set "comm")',
        refused(ERR .. "lua_writes_ev.lua"))
    end)

    it("refuse a method call on ev (it has no methods)", function()
      local _, err = load_detection("function(ev) return ev:match('x') end")
      assert.equals('det.lua: detection "d": match: line 2: ev has no field "match"', err)
    end)

    it("follow a local alias of ev (local e = ev)", function()
      local _, err = load_detection("function(ev)\n local e = ev\n return e.comn == 'x'\n end")
      assert.equals('det.lua: detection "d": match: line 4: ev has no field "comn" (did you mean "comm"?)', err)
    end)

    it("do not follow an alias that is assigned anything else", function()
      assert.truthy(load_detection("function(ev)\n local e = ev\n if e.uid == 0 then e = { comn = 1 } end\n return e.comn end"))
    end)

    it("accept a detection that reassigns ev (not checked at all)", function()
      assert.truthy(load_detection("function(ev) ev = { comn = 1 } return ev.comn end"))
      assert.truthy(load_detection("function(ev) local function f() ev = { comn = 1 } end f() return ev.comn end"))
    end)

    it("do not look into nested functions (their reads fail at run time)", function()
      assert.truthy(load_detection("function(ev) local function f() return ev.comn end return f() end"))
    end)

    it("accept fields a detection stores on ev.parent itself", function()
      assert.is_nil(lint.check(function(ev) ev.parent.seen = true return ev.parent.seen end))
    end)

    it("accept aliases, nested helpers, parent, ancestors and a reassigned ev", function()
      assert.truthy(H.new({ "spec/fixtures/detections/lint_ok.lua" }))
    end)

    it("skip a C function as match", function()
      assert.truthy(load_detection("type"))
      assert.is_nil(lint.check(type))
    end)

    it("check a vararg match that starts with local ev = ...", function()
      assert.same({ line = 1, msg = 'ev has no field "tgdi" (did you mean "tgid"?)' },
        lint.check(load("return function(...) local ev = ... return ev.tgdi end", "=x")()))
    end)
  end)

  describe("the examples and stock rules", function()
    it("load", function()
      for _, p in ipairs({ "examples/conditions.yaml", "examples/rules.example.yaml",
        "examples/download_from_ip.lua", "examples/shell_then_connect.lua", "rules" }) do
        local eng, err = H.new({ p })
        assert.truthy(eng, err)
      end
    end)
  end)
end)
