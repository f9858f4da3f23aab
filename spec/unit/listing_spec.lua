local cjson = require("cjson")
local listing = require("ebpf_guard.listing")

-- host.init's record shape (lua/ebpf_guard/host.lua)
local function rec(t)
  return {
    id = t.id, kind = t.kind or "yaml", types = t.types or { "exec" },
    severity = t.severity or "warning", tags = t.tags or {}, source = t.source or "r.yaml",
    line = t.line, enabled = t.why == nil, why = t.why, overrides = t.overrides or {},
    action = t.action, kill_in = t.kill_in,
  }
end

describe("listing", function()
  describe("render table", function()
    it("fits every column to its widest cell, two blanks apart, no trailing blanks", function()
      local text = listing.render({
        rec({ id = "builtin_fileless_exec", kind = "builtin", source = "builtin",
          severity = "critical", tags = { "T1620" } }),
        rec({ id = "x", types = { "exec", "connect" }, tags = { "T1059", "T1090.001" },
          source = "rules/a.yaml", line = 12 }),
        rec({ id = "off", source = "rules/a.yaml", line = 30, why = "-disable-tag T1059" }),
        rec({ id = "lua_y", kind = "lua", types = { "exit" }, source = "d/y.lua", line = 3,
          overrides = { "rules/b.yaml:4", "rules/c.yaml:9" } }),
      }, "table")
      assert.equals(table.concat({
        "ID                     EVENT TYPES   SEVERITY  TAGS             SOURCE           STATE",
        "builtin_fileless_exec  exec          critical  T1620            builtin          enabled",
        "x                      exec,connect  warning   T1059,T1090.001  rules/a.yaml:12  enabled",
        "off                    exec          warning   -                rules/a.yaml:30  disabled (-disable-tag T1059)",
        "lua_y                  exit          warning   -                d/y.lua:3        enabled; overridden at rules/b.yaml:4, rules/c.yaml:9",
      }, "\n") .. "\n", text)
    end)

    it("says which rules kill, before the overrides", function()
      local text = listing.render({
        rec({ id = "k", action = "kill", overrides = { "b.yaml:2" } }),
        rec({ id = "off", action = "kill", why = "-disable-rule" }),
      }, "table")
      local lines = {}
      for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.equals("k    exec         warning   -     r.yaml  enabled; action: kill; overridden at b.yaml:2", lines[2])
      assert.equals("off  exec         warning   -     r.yaml  disabled (-disable-rule); action: kill", lines[3])
      text = listing.render({ rec({ id = "k", action = "kill", kill_in = "kernel" }) }, "table")
      assert.truthy(text:find("enabled; action: kill (in the kernel)\n", 1, true), text)
    end)

    it("prints the header alone for no rules", function()
      assert.equals("ID  EVENT TYPES  SEVERITY  TAGS  SOURCE  STATE\n", listing.render({}, "table"))
    end)

    it("counts a UTF-8 character as one column and shows control bytes escaped", function()
      local text = listing.render({
        rec({ id = "règle_é", tags = { "a\tb" } }),
        rec({ id = "plain__" }),
      }, "table")
      local lines = {}
      for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.equals("règle_é  exec         warning   a\\x09b  r.yaml  enabled", lines[2])
      assert.equals("plain__  exec         warning   -       r.yaml  enabled", lines[3])
    end)
  end)

  describe("render json", function()
    it("gives one object per rule with every key, null line and reason when none", function()
      local text = listing.render({
        rec({ id = "builtin_crypto_port", kind = "builtin", source = "builtin",
          types = { "connect" }, tags = { "T1496" }, why = "-disable-rule" }),
        rec({ id = "x", line = 7, overrides = { "b.yaml:2" }, action = "kill" }),
      }, "json")
      assert.equals('[\n'
        .. '  {"id":"builtin_crypto_port","kind":"builtin","event_types":["connect"],'
        .. '"severity":"warning","tags":["T1496"],"source":"builtin","line":null,'
        .. '"enabled":false,"disabled_reason":"-disable-rule","overrides":[],"action":"alert","params":null},\n'
        .. '  {"id":"x","kind":"yaml","event_types":["exec"],"severity":"warning","tags":[],'
        .. '"source":"r.yaml","line":7,"enabled":true,"disabled_reason":null,'
        .. '"overrides":["b.yaml:2"],"action":"kill","params":null}\n'
        .. ']\n', text)
      local t = cjson.decode(text)
      assert.equals(2, #t)
      assert.equals(cjson.null, t[1].line)
      assert.equals(7, t[2].line)
    end)

    it("escapes quotes, backslashes and control bytes, keeps UTF-8, replaces bad bytes", function()
      local odd = 'a"b\\c\1d\127 é 😀'
      local text = listing.render({
        rec({ id = odd, tags = { "bad\255byte" }, source = "dir/we\"ird.yaml", line = 1 }),
      }, "json")
      assert.truthy(text:find('"id":"a\\"b\\\\c\\u0001d\\u007f é 😀"', 1, true))
      local t = cjson.decode(text)[1]
      assert.equals(odd, t.id)
      assert.same({ "bad?byte" }, t.tags)
      assert.equals('dir/we"ird.yaml', t.source)
    end)

    it("prints an empty array for no rules", function()
      assert.equals("[]\n", listing.render({}, "json"))
    end)
  end)

  it("refuses an unknown format", function()
    assert.has_error(function() listing.render({}, "xml") end, "listing.render: unknown format xml")
  end)

  describe("summary", function()
    it("counts files, rules of each kind, enabled and disabled", function()
      assert.equals("configuration OK: 3 files; 2 YAML rules, 1 Lua detection, 1 built-in; 3 enabled, 1 disabled",
        listing.summary({
          rec({ id = "a" }), rec({ id = "b", why = "-disable-rule" }),
          rec({ id = "c", kind = "lua" }), rec({ id = "d", kind = "builtin" }),
        }, 3))
      assert.equals("configuration OK: 1 file; 1 YAML rule, 0 Lua detections, 0 built-ins; 1 enabled, 0 disabled",
        listing.summary({ rec({ id = "a" }) }, 1))
    end)

    it("counts the enabled rules with action kill, when there are some", function()
      assert.equals("configuration OK: 1 file; 3 YAML rules, 0 Lua detections, 0 built-ins; 2 enabled, 1 disabled; "
        .. "1 with action kill",
        listing.summary({
          rec({ id = "a", action = "kill" }), rec({ id = "b", action = "kill", why = "-disable-rule" }),
          rec({ id = "c" }),
        }, 1))
      assert.equals("configuration OK: 1 file; 2 YAML rules, 0 Lua detections, 0 built-ins; 2 enabled, 0 disabled; "
        .. "2 with action kill (1 in the kernel)",
        listing.summary({ rec({ id = "a", action = "kill", kill_in = "kernel" }),
          rec({ id = "b", action = "kill", kill_in = "userspace" }) }, 1))
    end)
  end)
end)
