local sandbox = require("ebpf_guard.sandbox")
local H = require("helpers.engine")

-- Runs src as user code in a fresh sandbox; returns pcall's results.
local function run(src, guard)
  local f = assert(loadstring(src, "=user"))
  setfenv(f, sandbox.env(guard))
  return pcall(f)
end

local function err_of(src)
  local ok, err = run(src)
  assert.is_false(ok)
  return err
end

describe("sandbox", function()
  describe("blocked names", function()
    for _, name in ipairs({ "os", "io", "debug", "load", "loadstring", "dofile", "loadfile", "ffi", "jit",
      "package", "module", "collectgarbage", "setfenv", "getfenv", "newproxy", "coroutine", "print" }) do
      it("raises an error naming " .. name, function()
        local hint = (name == "print" or name == "io")
          and ": write with guard.log(...) (stderr, rate-limited)" or ""
        assert.equals("user:1: " .. name .. " is not available in the sandbox" .. hint, err_of("return " .. name))
      end)
    end

    it("raises on string.dump", function()
      assert.equals("user:1: string.dump is not available in the sandbox", err_of("local s = string.dump(function() end) return s"))
    end)

    it("raises on s:dump() through the string metatable", function()
      assert.equals("user:1: string.dump is not available in the sandbox", err_of("local s = ('x'):dump() return s"))
    end)

    it("lets require load guard only", function()
      assert.equals('user:1: require: module "ffi" is not available in the sandbox (only "guard")',
        err_of("local m = require('ffi') return m"))
    end)

    it("returns the guard module from require", function()
      local g = {}
      local ok, got = run("return require('guard')", g)
      assert.is_true(ok)
      assert.equals(g, got)
    end)
  end)

  describe("globals", function()
    it("raise on reading an unknown global", function()
      assert.equals('user:1: unknown global "nope"', err_of("return nope"))
    end)

    it("raise on writing a global", function()
      assert.equals('user:1: cannot set global "x" (declare it local)', err_of("x = 1"))
    end)

    it("offer the allowed base library", function()
      local ok, v = run("return type(pairs) .. tostring(math.max(1, 2)) .. string.upper('a') .. table.concat({1, 2}) .. bit.band(3, 1)")
      assert.is_true(ok)
      assert.equals("function2A121", v)
    end)

    it("do not leak between environments", function()
      local e1, e2 = sandbox.env(), sandbox.env()
      e1.string.upper = nil
      assert.is_function(e2.string.upper)
    end)
  end)

  describe("getmetatable", function()
    it("does not expose the string metatable", function()
      local ok, v = run("return getmetatable('')")
      assert.is_true(ok)
      assert.is_nil(v)
    end)

    it("does not expose the environment's metatable", function()
      local ok, v = run("return getmetatable(require)")
      assert.is_true(ok)
      assert.is_nil(v)
    end)
  end)

  describe("string.rep", function()
    it("is bounded", function()
      assert.equals("user:1: string.rep: result too large (2000000 bytes, limit 1048576)",
        err_of("local s = string.rep('ab', 1000000) return s"))
    end)

    it("is bounded through the string metatable", function()
      assert.equals("user:1: string.rep: result too large (10000000 bytes, limit 1048576)",
        err_of("local s = ('x'):rep(1e7) return s"))
    end)

    it("still works below the bound", function()
      local ok, v = run("return ('ab'):rep(3, '-')")
      assert.is_true(ok)
      assert.equals("ab-ab-ab", v)
    end)
  end)

  describe("pcall and xpcall", function()
    it("still catch ordinary errors", function()
      local ok, v = run("local ok, e = pcall(error, 'x', 0) return tostring(ok) .. e")
      assert.is_true(ok)
      assert.equals("falsex", v)
    end)

    it("rethrow the budget error from pcall", function()
      assert.equals("instruction budget exceeded",
        err_of("pcall(error, 'instruction budget exceeded', 0) return 1"))
    end)

    it("rethrow the budget error from xpcall, bypassing the handler", function()
      assert.equals("instruction budget exceeded",
        err_of("xpcall(function() error('instruction budget exceeded', 0) end, function() return 'h' end) return 1"))
    end)
  end)

  describe("the ev view", function()
    it("cannot be changed with rawset, for this or any other detection", function()
      local eng = assert(H.new({ "spec/fixtures/detections/rawset_ev.lua", "spec/fixtures/detections/read_comm.lua" }))
      local hits = H.run(eng, { { type = "exec", comm = "real" } })
      local got = {}
      for _, h in ipairs(hits) do if not h.rule:find("^builtin") then got[#got + 1] = h.rule .. "=" .. tostring(h.desc) end end
      assert.same({ { "read_comm=real" }, 1 }, { got, H.errors(eng, "rawset_ev", 0) })
    end)
  end)

  describe("in Lua detection files", function()
    it("stops a blocked name at load time with the file and line", function()
      local eng, err = H.new({ "spec/fixtures/detections/blocked_at_load.lua" })
      assert.is_nil(eng)
      assert.equals("spec/fixtures/detections/blocked_at_load.lua: error while loading: "
        .. "spec/fixtures/detections/blocked_at_load.lua:1: io is not available in the sandbox: write with guard.log(...) (stderr, rate-limited)", err)
    end)
  end)
end)
