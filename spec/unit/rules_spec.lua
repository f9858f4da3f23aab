local H = require("helpers.engine")

local S = "spec/fixtures/schema/"

-- Fired "<event>:<id>" strings, built-ins left out.
local function user_fired(name)
  local out = {}
  for _, f in ipairs(H.fire({ S .. name .. ".yaml" }, S .. name .. ".jsonl")) do
    if not f:find(":builtin_", 1, true) then out[#out + 1] = f end
  end
  return out
end

describe("YAML rules", function()
  describe("comm_regex", function()
    it("matches anywhere in comm, case-sensitively, on the listed types only", function()
      assert.same({ "1:comm_bash" }, user_fired("comm_regex"))
    end)
  end)

  describe("filename_regex", function()
    it("matches anywhere in the file name, (?i) making it caseless", function()
      assert.same({ "1:ssh_dir", "2:ssh_dir" }, user_fired("filename_regex"))
    end)
  end)

  describe("min_dest_port and max_dest_port", function()
    it("apply inclusive bounds to dest_port, each on its own or together", function()
      assert.same({
        "1:low_port", "2:low_port", "3:high_port", "4:high_port", "4:pool_range",
        "5:high_port", "5:pool_range", "6:high_port",
      }, user_fired("ports"))
    end)
  end)

  describe("event_types", function()
    it("fires on every listed type and no other, duplicates ignored", function()
      assert.same({ "1:exec_or_open", "2:exec_or_open" }, user_fired("event_types"))
    end)
  end)

  describe("combined conditions", function()
    it("fire only when every condition that is set holds", function()
      assert.same({ "1:ssh_odd_port" }, user_fired("combined"))
    end)
  end)

  describe("Go regexp syntax", function()
    it("supports named groups, \\d, POSIX classes, end-only $ and UTF-8", function()
      assert.same({ "1:named_group", "1:posix_class", "4:end_only_dollar", "5:utf8_class" },
        user_fired("go_syntax"))
    end)
  end)

  describe("order", function()
    it("fires built-ins first, then every matching rule in file order", function()
      assert.same({ "1:builtin_suspicious_shell", "1:second_in_file", "1:third_in_file" },
        H.fire({ S .. "order.yaml" }, { { type = "exec", comm = "bash" } }))
    end)

    it("loads a directory's .yaml/.yml/.lua files in name order, ignoring others", function()
      assert.same({ "1:from_first_file", "1:from_second_file", "1:from_lua_file" },
        H.fire({ "spec/fixtures/dir" }, { { type = "exec", comm = "x" } }))
    end)

    it("loads -config paths in the order given", function()
      assert.same({ "1:from_second_file", "1:from_first_file" },
        H.fire({ "spec/fixtures/dir/10-second.yaml", "spec/fixtures/dir/02-first.yaml" },
          { { type = "exec", comm = "x" } }))
    end)
  end)

  describe("extensions", function()
    local rules
    setup(function()
      local eng = assert(H.new({ S .. "extensions.yaml" }))
      rules = {}
      for _, r in ipairs(eng.rules) do rules[r.id] = r end
    end)

    it("pass severity and tags (as a JSON array) to the host", function()
      assert.same({ "critical", '["T1059","quote\\"d","ünïcode"]' },
        { rules.with_extensions.severity, rules.with_extensions.tags_json })
    end)

    it("default to severity warning and no tags", function()
      assert.same({ "warning", "[]" }, { rules.defaults.severity, rules.defaults.tags_json })
    end)

    it("skip rules with enabled: false", function()
      assert.is_nil(rules.switched_off)
    end)

    it("keep rules with enabled: true", function()
      assert.equals("explicitly enabled", rules.switched_on.description)
    end)

    it("record the file each rule came from", function()
      assert.equals(S .. "extensions.yaml", rules.defaults.source)
    end)
  end)

  describe("empty configs", function()
    it("accept a file with no rules: only the built-ins run", function()
      local eng = assert(H.new({ "spec/fixtures/empty.yaml" }))
      assert.equals(4, #eng.rules)
    end)
  end)

  describe("types_wanted", function()
    it("has a bit per event type some rule asks for", function()
      local eng = assert(H.new({ S .. "event_types.yaml" }, {}))
      assert.equals(2 + 4 + 8, eng.res.types_wanted)
    end)
  end)

end)
