local ffi = require("ffi")
local regex = require("ebpf_guard.regex")

describe("regex", function()
  describe("new", function()
    it("compiles with JIT", function()
      assert.is_true(regex.new("a+b").jitted)
    end)

    it("reports PCRE2's message and the offset of a syntax error", function()
      assert.same({ nil, "quantifier does not follow a repeatable item at offset 0" }, { regex.new("*a") })
    end)

    it("rejects a pattern that is not a string", function()
      assert.same({ nil, "pattern must be a string, got number" }, { regex.new(5) })
    end)

    it("frees its handles with the garbage collector", function()
      local before = collectgarbage("count")
      for _ = 1, 2000 do regex.new("(?i)(bash|sh|zsh|ksh|dash)") end
      collectgarbage()
      collectgarbage()
      assert.is_true(collectgarbage("count") < before + 200)
    end)
  end)

  describe("test", function()
    it("searches anywhere in the subject", function()
      assert.is_true(regex.new("miner"):test("/opt/xminerd"))
    end)

    it("supports (?i)", function()
      assert.is_true(regex.new("(?i)XMRIG"):test("xmrig"))
    end)

    it("matches subjects with invalid UTF-8", function()
      assert.is_true(regex.new("evil"):test("\255\254/evil\192"))
    end)

    it("anchors $ at the very end only, like Go", function()
      assert.same({ true, false }, { regex.new("a$"):test("a"), regex.new("a$"):test("a\n") })
    end)
  end)

  describe("test_ptr", function()
    it("matches a (pointer, length) subject without a terminating NUL", function()
      local buf = ffi.new("char[8]", "abcXYZ")
      local re = regex.new("^abc$")
      assert.same({ true, false }, { re:test_ptr(buf, 3), re:test_ptr(buf, 6) })
    end)

    it("sees bytes after an embedded NUL", function()
      assert.is_true(regex.new("b"):test_ptr("a\0b", 3))
    end)

    it("treats a NULL pointer as the empty string", function()
      assert.same({ true, false }, { regex.new("^$"):test_ptr(nil, 0), regex.new("x"):test_ptr(nil, 0) })
    end)
  end)

  describe("match limit", function()
    it("gives up on catastrophic backtracking instead of hanging", function()
      local re = regex.new("^(a+)+$")
      local t0 = os.clock()
      assert.is_false(re:test(("a"):rep(40) .. "b"))
      assert.is_true(os.clock() - t0 < 1)
    end)
  end)
end)
