-- The loop of user calls: in the host it is C (src/usercall.c) with a C
-- view; in plain LuaJIT it is Lua (compile.lua's lua_user_run, view.lua).
-- Both must make the same calls, in event order, with the same results,
-- descriptions and error lines, whatever loops the rules' filters are
-- filed in (the index, the declarative groups).
local H = require("helpers.engine")
local C = require("helpers.cengine")

local D = "spec/fixtures/detections/"
local U = "spec/fixtures/usercall/"

local ENGINES = { { "the pure-Lua engine", H }, { "the C engine", C } }

local ORDER_EVENTS = {
  { type = "exec", filename = "/usr/bin/step", comm = "sh" },
  { type = "open", filename = "/tmp/a.txt", comm = "x" },
  { type = "connect", dest_ip = "10.0.0.1", dest_port = 80, comm = "x" },
  { type = "open", filename = "/etc/hosts", comm = "x" },
  { type = "open", filename = "/tmp/b", comm = "x" },
  { type = "exec", filename = "/usr/bin/step", comm = "sh" },
  { type = "connect", dest_ip = "10.0.0.2", dest_port = 443, comm = "x" },
  { type = "exec", filename = "/usr/bin/report", comm = "sh" },
}

for _, E in ipairs(ENGINES) do
  local name, X = E[1], E[2]
  describe("user calls in " .. name, function()
    it("are made in event order, then rule order, across the loops their filters are in", function()
      local eng = assert(X.new({ U .. "order.lua", U .. "order.yaml" }))
      local hits = X.run(eng, ORDER_EVENTS)
      local got = {}
      for _, h in ipairs(hits) do
        if not h.rule:find("^builtin_") then got[#got + 1] = ("%d:%s:%s"):format(h.ev, h.rule, h.desc or "") end
      end
      assert.same({
        "2:second_rule:second /tmp/a.txt",
        "2:cond_rule:",
        "8:call_order:exec step, open /tmp/a.txt, connect port 80, open /tmp/b, exec step, connect port 443, exec report",
        "8:second_rule:second saw report",
      }, got)
    end)

    it("give the same fields, results and error lines as the other engine", function()
      -- view_fields: every plain field through the view; dyn_desc: every kind
      -- of result; errors: runtime errors, bad results, their log lines
      local ref = {}
      for _, case in ipairs({
        { { D .. "view_fields.lua" }, D .. "view_fields.jsonl" },
        { { D .. "view_context.lua" }, D .. "view_context.jsonl" },
        { { D .. "dyn_desc.lua" }, { { type = "exec", comm = "a" }, { type = "exec", comm = "b" } } },
        { { D .. "errors.lua" }, { { type = "exec", comm = "a" }, { type = "open", filename = "/x" } } },
        { { D .. "bad_returns.lua" }, { { type = "exec", comm = "a" } } },
        { { U .. "odd_keys.lua" }, { { type = "exec", comm = "a" } } },
      }) do
        local a = assert(H.new(case[1]))
        local b = assert(C.new(case[1]))
        local ha, hb = H.run(a, case[2]), C.run(b, case[2])
        assert.same(ha, hb)
        assert.same(a.logs, b.logs)
        ref[#ref + 1] = #ha
      end
      assert.is_true(ref[1] > 0 and ref[3] > 0)
    end)

    it("names a key that is no field as the Lua view does, at the reader's line", function()
      local eng = assert(X.new({ U .. "odd_keys.lua" }))
      local hits = X.run(eng, { { type = "exec", comm = "a" } })
      local d
      for _, h in ipairs(hits) do if h.rule == "odd_keys" then d = h.desc end end
      local at = U .. "odd_keys.lua:10: "
      assert.equals(table.concat({
        "false " .. at .. 'ev has no field "comn"', "false " .. at .. 'ev has no field "7"',
        "false " .. at .. 'ev has no field "true"', "false " .. at .. 'ev has no field "false"',
        "false " .. U .. 'odd_keys.lua:13: ev has no field "nil"',
      }, " | "), d)
    end)
  end)
end
