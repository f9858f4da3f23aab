local guard = require("ebpf_guard.guard")
local H = require("helpers.engine")

-- The message without the "file:line: " of the caller.
local function bare(err) return (err:gsub("^[^:]+:%d+: ", "")) end

describe("guard", function()
  describe("regex", function()
    local g = guard.instance("test")

    it("tests for a match anywhere", function()
      assert.is_true(g.regex("(?i)mine"):test("/opt/XMRig/MINER"))
    end)

    it("finds the 1-based start and end of the match", function()
      assert.same({ 3, 5 }, { g.regex("b+"):find("aabbbcc") })
    end)

    it("returns the match and its captures", function()
      assert.same({ "user=root", "root" }, { g.regex("user=(\\w+)"):match("x user=root y") })
    end)

    it("returns nil when nothing matches", function()
      assert.is_nil(g.regex("z"):find("abc"))
    end)

    it("raises a clear error for a bad pattern", function()
      local ok, err = pcall(g.regex, "a(")
      assert.is_false(ok)
      assert.equals('guard.regex: invalid pattern "a(": missing closing parenthesis at offset 2', bare(err))
    end)

    it("rejects a subject that is not a string", function()
      local ok, err = pcall(function() return g.regex("a"):test(5) end)
      assert.is_false(ok)
      assert.truthy(err:find("regex: subject must be a string, got number", 1, true))
    end)
  end)

  describe("state", function()
    before_each(function() guard.now_ns = 0 end)

    it("stores, reads and deletes values by tgid", function()
      local s = guard.instance("t").state { max = 10 }
      s:set(1, "a")
      s:set(2, "b")
      s:delete(1)
      assert.same({ nil, "b", 1 }, { s:get(1), s:get(2), s:size() })
    end)

    it("drops the least recently used process when over max", function()
      local s = guard.instance("t").state { max = 2 }
      guard.now_ns = 1; s:set(1, "a")
      guard.now_ns = 2; s:set(2, "b")
      guard.now_ns = 3; s:get(1)
      guard.now_ns = 4; s:set(3, "c")
      assert.same({ "a", nil, "c", 2 }, { s:get(1), s:get(2), s:get(3), s:size() })
    end)

    it("forgets processes idle for longer than ttl, by event time", function()
      local s = guard.instance("t").state { max = 10, ttl = 5 }
      guard.now_ns = 1e9; s:set(1, "old")
      guard.now_ns = 4e9; s:set(2, "new")
      guard.now_ns = 7e9
      assert.same({ nil, "new" }, { s:get(1), s:get(2) })
    end)

    it("forgets a process on forget(tgid)", function()
      local s = guard.instance("t").state {}
      s:set(7, true)
      guard.forget(7)
      assert.is_nil(s:get(7))
    end)

    it("forgets a process in every store, also after another store went away", function()
      local g = guard.instance("t")
      local a, b = g.state {}, g.state {}
      a:set(7, true)
      b = nil -- luacheck: ignore (collected: its entry in the store list is a hole)
      collectgarbage()
      collectgarbage()
      local c = g.state {}
      c:set(7, true)
      c:set(8, true)
      guard.forget(7)
      assert.same({ nil, nil, true }, { a:get(7), c:get(7), c:get(8) })
    end)

    for _, E in ipairs({ { "pure-Lua", H }, { "C", require("helpers.cengine") } }) do
      it("forgets a process on its exit event (the " .. E[1] .. " engine)", function()
        local X = E[2]
        local eng = assert(X.new({ "examples/shell_then_connect.lua" }))
        local hits = X.run(eng, {
          { type = "exec", pid = 5, tgid = 5, filename = "/bin/sh" },
          { type = "exit", pid = 6, tgid = 5 },
          { type = "connect", pid = 5, tgid = 5, dest_ip = "1.1.1.1", dest_port = 1 },
          { type = "exit", pid = 5, tgid = 5 },
          { type = "connect", pid = 5, tgid = 5, dest_ip = "1.1.1.1", dest_port = 2 },
        })
        local fired = {}
        for _, h in ipairs(hits) do if h.rule == "shell_then_connect" then fired[#fired + 1] = h.ev end end
        -- a thread's exit (pid ~= tgid) keeps the process; the process's exit forgets it
        assert.same({ 3 }, fired)
      end)
    end

    it("rejects bad options", function()
      local ok, err = pcall(guard.instance("t").state, { max = 0 })
      assert.is_false(ok)
      assert.equals("guard.state: max must be a positive integer, got 0", bare(err))
    end)

    it("rejects unknown options", function()
      local ok, err = pcall(guard.instance("t").state, { size = 3 })
      assert.is_false(ok)
      assert.equals('guard.state: unknown option "size" (expected max, ttl)', bare(err))
    end)

    it("rejects a key that is not a number", function()
      local s = guard.instance("t").state {}
      local ok, err = pcall(function() s:get("x") end)
      assert.is_false(ok)
      assert.truthy(err:find("state:get: tgid must be a number, got string", 1, true))
    end)
  end)

  describe("cache", function()
    before_each(function() guard.now_ns = 0 end)

    it("stores values by string or number key, bounded by max, least recently used out first", function()
      local c = guard.instance("t").cache { max = 2 }
      guard.now_ns = 1; c:set("/tmp/a", "curl")
      guard.now_ns = 2; c:set(42, "n")
      guard.now_ns = 3; c:get("/tmp/a")
      guard.now_ns = 4; c:set("/tmp/b", "wget")
      assert.same({ "curl", nil, "wget", 2 }, { c:get("/tmp/a"), c:get(42), c:get("/tmp/b"), c:size() })
    end)

    it("expires by event time and keeps its entries at a process exit", function()
      local c = guard.instance("t").cache { ttl = 5 }
      guard.now_ns = 1e9; c:set(7, "seven")
      guard.forget(7)
      assert.equals("seven", c:get(7))
      guard.now_ns = 7e9
      assert.is_nil(c:get(7))
    end)

    it("names itself in its errors", function()
      local ok, err = pcall(guard.instance("t").cache, { max = -1 })
      assert.equals("guard.cache: max must be a positive integer, got -1", bare(err))
      local c = guard.instance("t").cache {}
      ok, err = pcall(function() c:set({}, 1) end)
      assert.is_false(ok)
      assert.truthy(err:find("cache:set: key must be a string or a number, got table", 1, true))
      ok, err = pcall(c.get, 5, "x")
      assert.truthy(err:find("guard.cache:get: called on a number, not a guard.cache", 1, true), err)
    end)
  end)

  describe("stores against a model", function()
    -- the obvious implementation: a list in recency order, most recent first
    local function model(max, ttl_ns)
      local m = { list = {} }
      local function find(k)
        for i, e in ipairs(m.list) do if e.k == k then return i end end
      end
      local function expire(now)
        if not ttl_ns then return end
        for i = #m.list, 1, -1 do
          if m.list[i].t < now - ttl_ns then table.remove(m.list, i) end
        end
      end
      function m.get(k, now)
        expire(now)
        local i = find(k)
        if not i then return nil end
        local e = table.remove(m.list, i)
        e.t = now
        table.insert(m.list, 1, e)
        return e.v
      end
      function m.set(k, v, now)
        if v == nil then return m.delete(k) end
        expire(now)
        local i = find(k)
        if i then table.remove(m.list, i) end
        table.insert(m.list, 1, { k = k, v = v, t = now })
        while #m.list > max do table.remove(m.list) end
      end
      function m.delete(k)
        local i = find(k)
        if i then table.remove(m.list, i) end
      end
      function m.size(now) expire(now) return #m.list end
      return m
    end

    for _, case in ipairs({ { max = 5 }, { max = 8, ttl = 3 }, { max = 1 }, { max = 50, ttl = 20 } }) do
      it(("behave as an LRU list with max %d%s"):format(case.max, case.ttl and (", ttl " .. case.ttl) or ""),
        function()
          math.randomseed(case.max * 7 + (case.ttl or 0))
          local g = guard.instance("t")
          local st = g.cache { max = case.max, ttl = case.ttl }
          local m = model(case.max, case.ttl and case.ttl * 1e9)
          local now = 0
          for step = 1, 5000 do
            if math.random(4) == 1 then now = now + math.random(0, 2) * 1e9 end
            guard.now_ns = now
            local k = math.random(12)
            local op = math.random(10)
            if op <= 4 then
              assert.equal(m.get(k, now), st:get(k), "get at step " .. step)
            elseif op <= 8 then
              local v = math.random(3) == 1 and nil or step
              m.set(k, v, now)
              st:set(k, v)
            elseif op == 9 then
              m.delete(k)
              st:delete(k)
            else
              assert.equal(m.size(now), st:size(), "size at step " .. step)
            end
          end
        end)
    end
  end)

  describe("log", function()
    local lines, now, saved
    before_each(function()
      lines, now = {}, 100
      saved = { guard.sink, guard.clock, guard.now_ns }
      guard.sink = function(l) lines[#lines + 1] = l end
      guard.clock = function() return now end
      guard.now_ns = 0
    end)
    after_each(function() guard.sink, guard.clock, guard.now_ns = saved[1], saved[2], saved[3] end)

    it("writes a line naming the detection file", function()
      guard.instance("x.lua").log("hello", 42)
      assert.same({ "ebpf-guard: x.lua: hello 42" }, lines)
    end)

    it("is rate-limited, and reports what it dropped", function()
      local g = guard.instance("x.lua")
      for i = 1, 8 do g.log("m" .. i) end
      now = now + 1
      g.log("later")
      assert.same({
        "ebpf-guard: x.lua: m1", "ebpf-guard: x.lua: m2", "ebpf-guard: x.lua: m3",
        "ebpf-guard: x.lua: m4", "ebpf-guard: x.lua: m5",
        "ebpf-guard: x.lua: (3 log messages dropped)", "ebpf-guard: x.lua: later",
      }, lines)
    end)

    it("counts seconds of event time once events flow, not wall time", function()
      local g = guard.instance("e.lua")
      guard.now_ns = 1700000000.2e9
      for i = 1, 7 do g.log("a" .. i) end
      -- the wall clock moves, the event second does not: still dropped
      now = now + 5
      g.log("a8")
      guard.now_ns = 1700000001.1e9
      g.log("b1")
      assert.same({
        "ebpf-guard: e.lua: a1", "ebpf-guard: e.lua: a2", "ebpf-guard: e.lua: a3",
        "ebpf-guard: e.lua: a4", "ebpf-guard: e.lua: a5",
        "ebpf-guard: e.lua: (3 log messages dropped)", "ebpf-guard: e.lua: b1",
      }, lines)
    end)

    it("reports what it dropped when the engine is done (flush)", function()
      local g = guard.instance("f.lua")
      guard.now_ns = 1700000000e9
      for i = 1, 6 do g.log("m" .. i) end
      guard.flush()
      guard.flush()
      assert.equals("ebpf-guard: f.lua: (1 log messages dropped)", lines[#lines])
      assert.equals(6, #lines)
    end)
  end)

  describe("module", function()
    it("raises on unknown functions", function()
      local ok, err = pcall(function() return guard.instance("t").nothing end)
      assert.is_false(ok)
      assert.truthy(err:find('guard has no function "nothing"', 1, true))
    end)
  end)
end)
