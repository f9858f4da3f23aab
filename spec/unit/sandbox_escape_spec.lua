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

    local CTX = {
      { type = "exec", ppid = 1, exec_id = "h:1", parent = { tgid = 20, comm = "nginx", exe = "/usr/sbin/nginx", args = { "nginx" } },
        ancestors = { { comm = "nginx", exe = "/usr/sbin/nginx" }, { comm = "systemd", exe = "/sbin/init" } } },
      { type = "exec", ppid = 7 },
    }

    it("ev.parent and ev.ancestors are each call's own tables (one detection's writes never reach the next)", function()
      local out = detections({
        [[ local p, a = ev.parent, ev.ancestors
           p.comm, p.args[1], p.tgid = "evil", "evil", 0
           a[1].exe, a[2], a[7] = "/evil", nil, { comm = "evil" }
           setmetatable(p, { __index = function() return "planted" end })
           return false ]],
        [[ local p, a = ev.parent, ev.ancestors
           return { description = ("%d %s %s %s %s %s %s"):format(p.tgid, p.comm, tostring(p.args[1]),
             a[1].exe, a[2].comm, a[7].comm, tostring(p.planted)) } ]],
      }, CTX)
      assert.same({ d2 = { "20 nginx nginx /usr/sbin/nginx systemd  nil", "7  nil    nil" } }, out)
    end)

    it("the context fields are plain values: no engine object, function or metatable to reach", function()
      local out = detections({ [[
        local t = {}
        for _, k in ipairs({ "exec_id", "cwd", "tty", "loginuid", "context", "setuid", "ld_preload",
          "container_id", "container_runtime", "pod_uid", "cgroup", "hostname", "host_id" }) do
          t[#t + 1] = type(ev[k])
        end
        local p, a = ev.parent, ev.ancestors
        t[#t + 1] = type(p) .. "/" .. type(p.tgid) .. "/" .. type(p.args) .. "/" .. tostring(getmetatable(p))
        t[#t + 1] = type(a) .. "/" .. type(a[1]) .. "/" .. type(a[1].exe) .. "/" .. tostring(getmetatable(a))
        t[#t + 1] = tostring(pcall(setmetatable, a, nil))
        return { description = table.concat(t, " ") } ]] }, { CTX[1] })
      assert.same({ d1 = { "string string string number string boolean boolean string string string string"
        .. " string string table/number/table/nil table/table/string/false false" } }, out)
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

  describe("C functions that ran outside the budget", function()
    local BOMB = [[("a"):rep(40):find(("a*"):rep(20) .. "b")]]

    local function budget_stopped(body)
      local t0 = os.clock()
      local r = probe(body, { budget = 100000 })
      return { canary = r.canary, budget = r.budget, runtime = r.runtime, fast = os.clock() - t0 < 2, log = r.runtime > 0 and r.log or nil }
    end

    for _, body in ipairs({
      "return " .. BOMB,
      [[return string.find(("a"):rep(40), ("a*"):rep(20) .. "b")]],
      [[return string.match(("a"):rep(40), ("a*"):rep(20) .. "b")]],
      [[for x in string.gmatch(("a"):rep(40), ("a*"):rep(20) .. "b") do end]],
      [[return (string.gsub(("a"):rep(40), ("a*"):rep(20) .. "b", "x"))]],
      [[local t = {} for i = 1, 200000 do t[i] = -i end table.sort(t) return false]],
    }) do
      it("a pattern or sort stuck in C is stopped by the budget: " .. body, function()
        assert.same({ canary = 2, budget = 2, runtime = 0, fast = true }, budget_stopped(body))
      end)
    end

    it("a YAML condition with the pattern is stopped by the budget", function()
      local path = H.tmpfile(".yaml", ("rules:\n  - id: c\n    description: d\n    event_types: [exec]\n"
        .. "    condition: '%s ~= nil'\n"):format(BOMB:gsub("'", "''")))
      local eng = assert(C.new({ path, CANARY }, { budget = 100000 }))
      os.remove(path)
      local fired = C.fired(C.run(eng, { { type = "exec" } }))
      assert.same({ { "1:after_loop" }, 1 }, { fired, C.errors(eng, "c", C.BUDGET) })
    end)

    it("the pattern at the top of a file fails start-up with the budget error", function()
      local path = H.tmpfile(".lua", "local x = " .. BOMB .. "\nreturn {}\n")
      local eng, err = C.new({ path }, { budget = 100000 })
      os.remove(path)
      assert.same({ nil, path .. ": error while loading: " .. path .. ":1: instruction budget exceeded" }, { eng, err })
    end)

    it("gsub callbacks that call gsub again are cut at 8 levels (was a C stack overflow)", function()
      refused([[ local function f(s) return (s:gsub(".", f)) end return f("ab") ]],
        "string.gsub: replacements nested more than 8 levels")
    end)

    it("a sort comparator may not sort again", function()
      refused([[ local t = { 3, 1, 2 }
        table.sort(t, function(a, b) table.sort({ 2, 1 }) return a < b end) ]],
        "table.sort: a comparator may not call table.sort")
      -- and the next sort works: the nesting flag was cleared
      local r = probe([[ local t = { 3, 1, 2 } pcall(table.sort, t, function(a, b) table.sort({}) return a < b end)
        table.sort(t) return { description = table.concat(t, ",") } ]])
      assert.same({ "1,2,3", "1,2,3" }, r.descs)
    end)

    it("table.foreach and table.foreachi are not offered", function()
      local r = probe([[ return { description = type(table.foreach) .. type(table.foreachi) } ]])
      assert.same({ "nilnil", "nilnil" }, r.descs)
    end)

    it("gsub results are bounded to 1 MiB", function()
      refused([[ return (string.gsub(("x"):rep(1000), "x", ("y"):rep(2000))) ]],
        "string.gsub: result too large (limit 1048576 bytes)")
    end)
  end)

  describe("the bounded pattern functions", function()
    -- The same calls inside the sandbox and with LuaJIT's own functions here.
    local CASES = {
      { "find", "hello world", "o w" }, { "find", "hello world", "o", 6 }, { "find", "hello", "l+" },
      { "find", "a.b", ".", 1, true }, { "find", "abc", "" }, { "find", "abc", "", 10 }, { "find", "abc", "c", -1 },
      { "find", "key=val", "(%w+)=(%w+)" }, { "find", "  x", "^%s*()" }, { "find", "f(a(b)c)", "%b()" },
      { "find", "THE (quick) fox", "%f[%a]%a+" }, { "find", "aaa", "a-b" }, { "find", "aaab", "a-b" },
      { "match", "2024-01-02", "(%d+)-(%d+)-(%d+)" }, { "match", "hello", "(h)(e)(l)" }, { "match", "abc", "^(a?)(b*)c$" },
      { "match", "x=1, y=2", "y=(%d)" }, { "match", "[test]", "%[(.-)%]" }, { "match", "abcabc", "(abc)%1" },
      { "match", "\0a\0", "%z(a)" }, { "match", "tab\there", "%c" }, { "match", "ABCdef", "%u+" }, { "match", "a1_b", "[%w_]+" },
      { "match", "a-z", "[a%-z]+" }, { "match", "]x", "[]x]+" }, { "match", "^caret", "[%^c]+" }, { "match", "0x1F", "%x+$" },
      { "gsub", "hello world", "o", "0" }, { "gsub", "hello world", "(o)", "<%1>" }, { "gsub", "abc", "%w", "%0%0" },
      { "gsub", "hello world", "l", "L", 2 }, { "gsub", "abc", "", "-" }, { "gsub", "abc", "^a", "A" }, { "gsub", "a b c", "%s", "%%" },
      { "gsub", "$name is $age", "%$(%w+)", { name = "bob", age = 42 } }, { "gsub", "abc", "%w", { a = false } },
      { "gsub", "abc", "(%w)", "upper" },
      { "gmatch", "one two  three", "%a+" }, { "gmatch", "k1=v1;k2=v2", "(%w+)=(%w+)" }, { "gmatch", "abc", "" },
    }
    -- One serialiser and one runner, as source: compiled here for LuaJIT's
    -- own functions and sent inside the detection for the sandbox's.
    local SER_SRC = [[local t = { select("#", ...) }
      for i = 1, select("#", ...) do t[#t + 1] = type((select(i, ...))) .. ":" .. tostring((select(i, ...))) end
      return table.concat(t, "|")]]
    local RUN_SRC = [[local f, args = c[1], { unpack(c, 2) }
      if f == "gmatch" then
        local out = {}
        for a, b in fns.gmatch(args[1], args[2]) do out[#out + 1] = ser(a, b) end
        return table.concat(out, ";")
      end
      if f == "gsub" and args[3] == "upper" then args[3] = string.upper end
      return ser(fns[f](unpack(args, 1, #c - 1)))]]
    local run = assert(loadstring("local function ser(...) " .. SER_SRC .. " end\n"
      .. "return function(fns, c) " .. RUN_SRC .. " end"))()

    it("give Lua 5.1's results (" .. #CASES .. " cases)", function()
      local want = {}
      for i, c in ipairs(CASES) do want[i] = run(string, c) end
      -- the detection runs the same cases with the sandbox's functions
      local body = ([[
        local CASES = %s
        local function ser(...) %s end
        local function run(fns, c) %s end
        local out = {}
        for i, c in ipairs(CASES) do out[i] = run(string, c) end
        return { description = table.concat(out, "\n") } ]]):format(
        "{" .. (function()
          local parts = {}
          for _, c in ipairs(CASES) do
            local items = {}
            for _, v in ipairs({ unpack(c, 1, table.maxn(c)) }) do
              if type(v) == "table" then
                local kv = {}
                for k, x in pairs(v) do kv[#kv + 1] = ("[%q] = %s"):format(k, type(x) == "string" and ("%q"):format(x) or tostring(x)) end
                items[#items + 1] = "{" .. table.concat(kv, ", ") .. "}"
              elseif type(v) == "string" then
                items[#items + 1] = ("%q"):format(v)
              else
                items[#items + 1] = tostring(v)
              end
            end
            parts[#parts + 1] = "{" .. table.concat(items, ", ") .. "}"
          end
          return table.concat(parts, ",\n")
        end)() .. "}",
        SER_SRC, RUN_SRC)
      local r = probe(body)
      assert.equals(0, r.runtime, r.log)
      assert.same(want, H.split_lines and H.split_lines(r.descs[1]) or (function()
        local t = {}
        for l in (r.descs[1] .. "\n"):gmatch("(.-)\n") do t[#t + 1] = l end
        return t
      end)())
    end)
  end)

  describe("the wall-clock limit of one call (50 ms)", function()
    local SLOW = [[local s = ("x"):rep(1048576) for i = 1, 1e6 do local u = s:upper() end return true]]

    it("stops a call whose few instructions are slow, as a budget error", function()
      local t0 = os.time()
      local r = probe(SLOW, { budget = 1000000000 })
      assert.same({ canary = 2, budget = 2, runtime = 0 }, { canary = r.canary, budget = r.budget, runtime = r.runtime })
      assert.matches("budget error: /tmp/[^:]+:%d+: time limit exceeded %(50 ms%)$", r.log)
      assert.is_true(os.time() - t0 < 5)
    end)

    it("cannot be swallowed by pcall", function()
      local r = probe("pcall(function() " .. SLOW .. " end) return true", { budget = 1000000000 })
      assert.same({ 2, 0, {} }, { r.budget, r.runtime, r.descs })
    end)
  end)

  describe("engine objects reachable through values", function()
    it("no metatable of a string, number, boolean, function or ev is handed out", function()
      local r = probe([[ return { description = table.concat({ tostring(getmetatable("")),
        tostring(getmetatable(1)), tostring(getmetatable(true)), tostring(getmetatable(pairs)),
        tostring(getmetatable(ev)), tostring(getmetatable(guard)) }, ",") } ]])
      assert.same({ "nil,nil,nil,nil,false,false", "nil,nil,nil,nil,false,false" }, r.descs)
    end)

    it("the string methods table cannot be reached or changed through a string", function()
      local r = probe([[ local ok = pcall(function() ("").rep = nil end)
        return { description = tostring(("").__index) .. tostring(ok) .. type(("x").rep) } ]])
      assert.same({ "nilfalsefunction", "nilfalsefunction" }, r.descs)
    end)

    it("debug, jit, ffi and package are not reachable from require, ev or guard", function()
      for _, body in ipairs({
        [[ return require("debug") ]], [[ return require("jit") ]], [[ return require("ffi") ]],
        -- ev["debug"] is refused at load (lint.lua): name it at run time
        [[ local k = "debug" return ev[k] ]], [[ return guard.ffi ]],
      }) do
        local r = probe(body)
        assert.same({ 2, 2 }, { r.canary, r.runtime })
      end
    end)
  end)

  describe("budget dodges", function()
    it("an xpcall error handler that never returns is stopped", function()
      local r = probe([[ xpcall(function() error("x") end, function() while true do end end) return true ]],
        { budget = 100000 })
      assert.same({ 2, 2, {} }, { r.canary, r.budget, r.descs })
    end)

    it("an error object whose __tostring loops is never run by the engine", function()
      local r = probe([[ error(setmetatable({}, { __tostring = function() while true do end end })) ]])
      assert.same({ 2, 2, "(error object is a table value)" }, { r.canary, r.runtime, r.log })
    end)

    it("endless recursion is a runtime error, not a crash", function()
      local r = probe([[ local function f(n) return 1 + f(n + 1) end return f(1) ]], { budget = 100000000 })
      assert.same({ 2, 2 }, { r.canary, r.runtime + r.budget })
    end)

    it("__tostring recursion through tostring is stopped", function()
      local r = probe([[ local t = setmetatable({}, {}) getmetatable(t).__tostring = function(o) return tostring(o) end
        return { description = tostring(t) } ]], { budget = 100000000 })
      assert.same({ 2, 2 }, { r.canary, r.runtime + r.budget })
    end)
  end)
end)
