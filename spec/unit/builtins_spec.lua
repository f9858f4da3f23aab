local H = require("helpers.engine")

-- Event numbers (1-based) on which rule id fired.
local function events_for(fired, id)
  local out = {}
  for _, f in ipairs(fired) do
    local ev, rule = f:match("^(%d+):(.*)$")
    if rule == id then out[#out + 1] = tonumber(ev) end
  end
  return out
end

-- true when rule id fired on each of the given events.
local function fired_on(fired, id, ...)
  local set = {}
  for _, n in ipairs(events_for(fired, id)) do set[n] = true end
  for _, n in ipairs({ ... }) do
    if not set[n] then return false end
  end
  return true
end

describe("builtins", function()
  describe("rule table", function()
    it("lists the four built-ins first, with the reference's ids and descriptions", function()
      local eng = assert(H.new({}))
      local got = {}
      for i, r in ipairs(eng.rules) do got[i] = { r.id, r.description, r.source } end
      assert.same({
        { "builtin_fileless_exec", "Fileless or memory-backed executable", "builtin" },
        { "builtin_suspicious_shell", "Suspicious shell execution", "builtin" },
        { "builtin_crypto_exec", "Executable name looks like a crypto miner", "builtin" },
        { "builtin_crypto_port", "Outgoing connection on common crypto-miner port", "builtin" },
      }, got)
    end)

    it("wants exec and connect events only", function()
      local eng = assert(H.new({}))
      assert.equals(2 ^ 1 + 2 ^ 3, eng.res.types_wanted)
    end)
  end)

  describe("builtin_fileless_exec", function()
    local fired
    setup(function() fired = H.fire({}, "spec/fixtures/builtin_fileless.jsonl") end)

    it("fires on memfd:, /dev/shm/, /tmp/. and /proc/self/fd/ file names", function()
      assert.is_true(fired_on(fired, "builtin_fileless_exec", 1, 2, 3, 4))
    end)

    it("fires when the event carries the memfd flag", function()
      assert.is_true(fired_on(fired, "builtin_fileless_exec", 5))
    end)

    it("fires when the resolved executable is memory-backed", function()
      assert.is_true(fired_on(fired, "builtin_fileless_exec", 6, 7))
    end)

    it("fires on each executable prefix: /tmp/., /proc/self/fd/ and memfd:", function()
      assert.is_true(fired_on(fired, "builtin_fileless_exec", 13, 14, 15))
    end)

    it("does not fire on other paths, other event types or other case", function()
      assert.same({ 1, 2, 3, 4, 5, 6, 7, 13, 14, 15 }, events_for(fired, "builtin_fileless_exec"))
    end)
  end)

  describe("builtin_suspicious_shell", function()
    local fired
    setup(function() fired = H.fire({}, "spec/fixtures/builtin_shell.jsonl") end)

    it("fires on a comm containing a shell name, case-insensitively", function()
      assert.is_true(fired_on(fired, "builtin_suspicious_shell", 1, 2))
    end)

    it("fires on the last path component of the file name", function()
      assert.is_true(fired_on(fired, "builtin_suspicious_shell", 3, 4, 5, 6))
    end)

    it("fires on the executable itself (a link with another name to a shell)", function()
      assert.is_true(fired_on(fired, "builtin_suspicious_shell", 12))
    end)

    it("does not fire on sshd, ssh, shx, a shell name in a directory, open events, or a script's interpreter", function()
      assert.same({ 1, 2, 3, 4, 5, 6, 12 }, events_for(fired, "builtin_suspicious_shell"))
    end)
  end)

  describe("builtin_crypto_exec", function()
    local fired
    setup(function() fired = H.fire({}, "spec/fixtures/builtin_crypto_exec.jsonl") end)

    it("fires on xmrig, minerd and cpuminer in comm or file name, any case", function()
      assert.is_true(fired_on(fired, "builtin_crypto_exec", 1, 2, 3, 4))
    end)

    it("fires on the added well-known miner names", function()
      assert.is_true(fired_on(fired, "builtin_crypto_exec", 5, 6))
    end)

    it("fires on the executable itself (a link named innocent to a miner)", function()
      assert.is_true(fired_on(fired, "builtin_crypto_exec", 10))
    end)

    it("does not fire on other names or on open events", function()
      assert.same({ 1, 2, 3, 4, 5, 6, 10 }, events_for(fired, "builtin_crypto_exec"))
    end)
  end)

  describe("builtin_crypto_port", function()
    local fired
    setup(function() fired = H.fire({}, "spec/fixtures/builtin_crypto_port.jsonl") end)

    it("fires on connects to 3333, 4444, 5555 and 7777 only", function()
      assert.same({ 1, 2, 3, 4 }, events_for(fired, "builtin_crypto_port"))
    end)
  end)

  describe("disable_builtins", function()
    it("removes the listed built-ins from the rule table", function()
      local eng = assert(H.new({ "spec/fixtures/disable_builtins.yaml" }))
      local ids = {}
      for i, r in ipairs(eng.rules) do ids[i] = r.id end
      assert.same({ "builtin_fileless_exec", "builtin_crypto_exec" }, ids)
    end)

    it("stops them from firing", function()
      local fired = H.fire({ "spec/fixtures/disable_builtins.yaml" }, "spec/fixtures/builtin_crypto_port.jsonl")
      assert.same({}, fired)
    end)

    it("lets a rule take over a disabled built-in's id", function()
      local fired = H.fire({ "spec/fixtures/replace_builtin.yaml" }, "spec/fixtures/builtin_crypto_port.jsonl")
      assert.same({ "1:builtin_crypto_port" }, fired)
    end)
  end)
end)
