-- -disable-rule and -disable-tag (lua/ebpf_guard/disable.lua) as host.init
-- applies them, in the pure-Lua helper and through the C engine.
local H = require("helpers.engine")
local C = require("helpers.cengine")
local event = require("ebpf_guard.event")

local bit_set = function(mask, name) return bit.band(mask, bit.lshift(1, event.TYPES[name])) ~= 0 end

local function record(eng, id)
  for _, r in ipairs(eng.res.records) do
    if r.id == id then return r end
  end
end

local function ids(eng)
  local out = {}
  for i, r in ipairs(eng.rules) do out[i] = r.id end
  return out
end

describe("disable", function()
  describe("unknown names", function()
    it("names an unknown id with the closest one", function()
      assert.same({ nil, '-disable-rule: no rule "builtin_shell" (did you mean "builtin_suspicious_shell"?)' },
        { H.new({ "spec/fixtures/rules_v1" }, { disable_rules = { "builtin_shell" } }) })
      assert.same({ nil, '-disable-rule: no rule "Suspicious_Shell" (did you mean "suspicious_shell"?)' },
        { H.new({ "spec/fixtures/rules_v1" }, { disable_rules = { "Suspicious_Shell" } }) })
      assert.same({ nil, '-disable-rule: no rule "zzzz"' },
        { H.new({ "spec/fixtures/rules_v1" }, { disable_rules = { "zzzz" } }) })
    end)

    it("names a tag no rule has, with the closest one", function()
      assert.same({ nil, '-disable-tag: no rule has tag "T1059" (did you mean "T1059.004"?)' },
        { H.new({}, { disable_tags = { "T1059" } }) })
      assert.same({ nil, '-disable-tag: no rule has tag "t1496" (did you mean "T1496"?)' },
        { H.new({}, { disable_tags = { "t1496" } }) })
      assert.same({ nil, '-disable-tag: no rule has tag "persistence"' },
        { H.new({}, { disable_tags = { "persistence" } }) })
    end)

    it("lists every unknown name, one per line, ids first", function()
      assert.same({ nil, '-disable-rule: no rule "a_b_c"\n'
        .. '-disable-rule: no rule "builtin_filess_exec" (did you mean "builtin_fileless_exec"?)\n'
        .. '-disable-tag: no rule has tag "T9999"' },
        { H.new({}, { disable_rules = { "a_b_c", "builtin_fileless_exec", "builtin_filess_exec" },
          disable_tags = { "T9999", "T1496" } }) })
    end)

    it("accepts the id of a rule the configuration disabled, which keeps its reason", function()
      local eng = assert(H.new({ "spec/fixtures/detections/disabled.lua", "spec/fixtures/disable_builtins.yaml" },
        { disable_rules = { "disabled_detection", "builtin_crypto_port" } }))
      assert.equals("enabled: false in spec/fixtures/detections/disabled.lua",
        record(eng, "disabled_detection").why)
      assert.equals("disable_builtins in spec/fixtures/disable_builtins.yaml",
        record(eng, "builtin_crypto_port").why)
    end)
  end)

  describe("a disabled rule", function()
    it("does not run, built-ins included, and its record says why", function()
      local all = H.fire({ "spec/fixtures/rules_v1" }, "spec/fixtures/reference.jsonl")
      local some, eng = H.fire({ "spec/fixtures/rules_v1" }, "spec/fixtures/reference.jsonl",
        { disable_rules = { "builtin_suspicious_shell", "crypto_miner_port" } })
      local removed = {}
      for _, h in ipairs(all) do
        if h:find(":builtin_suspicious_shell$") or h:find(":crypto_miner_port$") then
          removed[#removed + 1] = h
        end
      end
      assert.same({ "1:builtin_suspicious_shell", "4:crypto_miner_port" }, removed)
      assert.equals(#all - 2, #some)
      for _, h in ipairs(some) do
        assert.is_nil(h:find(":builtin_suspicious_shell$") or h:find(":crypto_miner_port$"))
      end
      local r = record(eng, "builtin_suspicious_shell")
      assert.is_false(r.enabled)
      assert.equals("-disable-rule", r.why)
      assert.equals("-disable-rule", record(eng, "crypto_miner_port").why)
      assert.is_true(record(eng, "crypto_miner_exec").enabled)
    end)

    it("by tag: every rule that carries it", function()
      local eng = assert(H.new({ "spec/fixtures/rules_v1" }, { disable_tags = { "T1496" } }))
      assert.same({ "builtin_fileless_exec", "builtin_suspicious_shell", "suspicious_shell",
        "credential_file_read", "ssh_private_key_read", "exec_from_world_writable_dir",
        "netcat_like_exec", "shell_outbound_connect" }, ids(eng))
      for _, id in ipairs({ "builtin_crypto_exec", "builtin_crypto_port", "crypto_miner_exec",
        "crypto_miner_port" }) do
        assert.equals("-disable-tag T1496", record(eng, id).why)
      end
    end)

    it("wants no event type for itself", function()
      local on = assert(H.new({}))
      local off = assert(H.new({}, { disable_rules = { "builtin_crypto_port" } }))
      assert.is_true(bit_set(on.res.types_wanted, "connect"))
      assert.is_false(bit_set(off.res.types_wanted, "connect"))
      assert.is_true(bit_set(off.res.types_wanted, "exec"))
    end)

    it("as the only Lua detection: exit events are no longer wanted", function()
      local on = assert(H.new({ "examples/download_from_ip.lua" }))
      local off = assert(H.new({ "examples/download_from_ip.lua" }, { disable_tags = { "T1105" } }))
      assert.is_true(bit_set(on.res.types_wanted, "exit"))
      assert.is_false(bit_set(off.res.types_wanted, "exit"))
    end)
  end)

  describe("through the C engine", function()
    it("applies the lists of struct eg_engine_opts", function()
      local eng = assert(C.new({ "spec/fixtures/rules_v1" }, { disable_rules = { "builtin_suspicious_shell" },
        disable_tags = { "T1496" } }))
      local fired = C.fired(C.run(eng, "spec/fixtures/reference.jsonl"))
      assert.same({ "1:builtin_fileless_exec", "1:suspicious_shell", "1:exec_from_world_writable_dir" }, fired)
      assert.is_nil(C.report(eng))
      assert.is_true(bit_set(C.types_wanted(assert(C.new({}))), "connect"))
      eng = assert(C.new({}, { disable_rules = { "builtin_crypto_port" } }))
      assert.is_false(bit_set(C.types_wanted(eng), "connect"))
    end)

    it("renders the report asked for", function()
      local eng = assert(C.new({}, { disable_tags = { "T1496" }, report = "summary" }))
      assert.equals("configuration OK: 0 files; 0 YAML rules, 0 Lua detections, 4 built-ins; 2 enabled, 2 disabled",
        C.report(eng))
      eng = assert(C.new({}, { report = "table" }))
      assert.truthy(C.report(eng):find("^ID  +EVENT TYPES  SEVERITY  TAGS  +SOURCE  +STATE\nbuiltin_fileless_exec "))
    end)

    it("cuts a long list of problems at a line end and counts the rest", function()
      local many = {}
      for i = 1, 200 do many[i] = ("no_such_rule_%03d"):format(i) end
      local _, err = C.new({}, { disable_rules = many, errlen = 1024 })
      local lines = {}
      for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
      local shown = #lines - 1
      assert.truthy(shown > 10 and shown < 200)
      for i = 1, shown do
        assert.equals(('-disable-rule: no rule "no_such_rule_%03d"'):format(i), lines[i])
      end
      assert.equals(("... and %d more problems"):format(200 - shown), lines[#lines])
      assert.truthy(#err < 1024)
      -- with room for all of them, all of them
      _, err = C.new({}, { disable_rules = many, errlen = 65536 })
      local n = select(2, err:gsub("\n", "")) + 1
      assert.equals(200, n)
    end)
  end)
end)
