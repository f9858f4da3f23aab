local ffi = require("ffi")
local host = require("ebpf_guard.host")
local event = require("ebpf_guard.event")
local H = require("helpers.engine")

describe("host", function()
  describe("layout check", function()
    it("accepts the host's layout", function()
      assert.is_true(event.check_layout(H.layout()))
    end)

    it("refuses a different struct size", function()
      local l = H.layout()
      l.size = l.size + 8
      local eng, err = H.new({}, { layout = l })
      assert.is_nil(eng)
      assert.equals(("event layout mismatch: C struct is %d bytes, Lua cdef %d"):format(l.size, l.size - 8), err)
    end)

    it("refuses a field at another offset", function()
      local l = H.layout()
      l.exe = l.exe + 8
      local eng, err = H.new({}, { layout = l })
      assert.is_nil(eng)
      assert.equals(("event layout mismatch: field exe at %d in C, %d in Lua"):format(l.exe, l.exe - 8), err)
    end)

    it("matches the field list of src/engine.c", function()
      local f = assert(io.open("src/engine.c"))
      local src = f:read("*a")
      f:close()
      local fields = {}
      for name in src:match("#define EVENT_FIELDS%(X%)(.-)\n\n"):gmatch("X%(([%w_]+)%)") do
        fields[#fields + 1] = name
      end
      assert.same(event.FIELDS, fields)
    end)

    it("names IP protocols as src/event.h's eg_proto_name does", function()
      local f = assert(io.open("src/event.h"))
      local src = f:read("*a")
      f:close()
      local names = {}
      for num, name in src:match("eg_proto_name%(.-\n}"):gmatch('case (%d+): return "([%w]*)";') do
        names[tonumber(num)] = name
      end
      assert.is_true(next(names) ~= nil)
      assert.same(names, event.PROTO_NAMES)
    end)
  end)

  describe("init", function()
    it("returns rules, types_wanted, run and desc", function()
      local eng = assert(H.new({ "examples/rules.example.yaml" }))
      assert.same({ "table", "number", "function", "table" },
        { type(eng.res.rules), type(eng.res.types_wanted), type(eng.res.run), type(eng.res.desc) })
    end)

    it("describes each rule with id, description, severity, tags_json and source", function()
      local eng = assert(H.new({ "examples/rules.example.yaml" }))
      assert.same({
        id = "crypto_miner_port",
        description = "Outgoing connection to common mining pool ports (rough heuristic)",
        severity = "warning", tags_json = "[]", source = "examples/rules.example.yaml",
      }, eng.rules[7])
    end)
  end)

  describe("run", function()
    local events = {
      { type = "exec", comm = "bash", filename = "/dev/shm/xmrig" },
      { type = "open", comm = "cat", filename = "/etc/passwd" },
      { type = "exec", comm = "sh", filename = "/bin/sh" },
      { type = "connect", comm = "x", dest_port = 4444 },
      { type = "exec", comm = "zsh", filename = "/tmp/.x/cpuminer" },
    }

    it("resumes where it stopped when the hit array is nearly full", function()
      local big = assert(H.new({ "examples/rules.example.yaml" }))
      local all = H.fired((H.run(big, events)))
      local small = assert(H.new({ "examples/rules.example.yaml" }, { hits_cap = 8 }))
      local hits, calls = H.run(small, events)
      assert.same(all, H.fired(hits))
      assert.is_true(calls > 1)
    end)

    it("never leaves fewer than nrules free slots before an event", function()
      local eng = assert(H.new({ "examples/rules.example.yaml" }, { hits_cap = 7 }))
      local _, calls = H.run(eng, events)
      -- 7 rules, 7 slots: a call stops after each event that fired (4 of the
      -- 5; the open event fires nothing and shares a call)
      assert.equals(4, calls)
    end)

    it("keeps dynamic descriptions right across resumed calls", function()
      local eng = assert(H.new({ "spec/fixtures/detections/dyn_desc.lua" }, { hits_cap = 7 }))
      local hits = H.run(eng, { { type = "exec", comm = "a" }, { type = "exec", comm = "b" } })
      local descs = {}
      for _, h in ipairs(hits) do if h.desc then descs[#descs + 1] = h.desc end end
      assert.same({ "dynamic for a", "dynamic for b" }, descs)
    end)

    it("clears desc at the start of each call", function()
      local eng = assert(H.new({ "spec/fixtures/detections/dyn_desc.lua" }))
      H.run(eng, { { type = "exec", comm = "a" } })
      H.run(eng, { { type = "open" } })
      assert.is_nil(next(eng.res.desc))
    end)

    it("skips events of unknown type", function()
      assert.same({}, H.fire({}, { { type = "bogus", comm = "bash" } }))
    end)

    it("handles NULL strings", function()
      assert.same({}, H.fire({ "examples/rules.example.yaml" }, { { type = "exec" } }))
    end)

    it("processes an empty batch", function()
      local eng = assert(H.new({}))
      assert.same({}, (H.run(eng, {})))
    end)
  end)

  describe("generated code", function()
    it("is one loop that LuaJIT compiles, without NYI aborts, for the reference rules", function()
      local jutil = require("jit.util")
      local vmdef = require("jit.vmdef")
      local eng = assert(H.new({ "examples/rules.example.yaml" }))
      local paths = { "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.cache", "/proc/self/status", "/home/u/.cache/x" }
      local evs = {}
      for i = 1, 256 do
        local r = i % 20
        if r < 14 then
          evs[i] = { type = "open", comm = "cat", filename = paths[i % 4 + 1] }
        elseif r < 19 then
          evs[i] = { type = "exec", comm = (i % 3 == 0) and "bash" or "ls", filename = "/usr/bin/ls" }
        else
          evs[i] = { type = "connect", comm = "curl", dest_port = 3000 + i, dest_ip = "1.2.3.4" }
        end
      end
      local loops, nyi = 0, {}
      jit.flush()
      jit.attach(function(what, tr, func, pc, otr, oex)
        local info = jutil.funcinfo(func, pc)
        if info.source ~= "=ebpf_guard.rules" then return end
        if what == "stop" then
          local ti = jutil.traceinfo(tr)
          if ti.linktype == "loop" then loops = loops + 1 end
        elseif what == "abort" then
          local msg = (vmdef.traceerr[otr] or "?"):format(oex)
          -- leaving run() for the C caller is expected; anything else NYI is not
          if msg:find("NYI") and not msg:find("return to lower frame") then nyi[#nyi + 1] = msg end
        end
      end, "trace")
      for _ = 1, 100 do H.run(eng, evs) end
      jit.attach(function() end)
      assert.same({}, nyi)
      assert.is_true(loops >= 1)
    end)
  end)

  describe("tags_json", function()
    it("escapes quotes, backslashes and control characters", function()
      assert.equals('["a\\"b","c\\\\d","e\\u000af"]', host.tags_json({ 'a"b', "c\\d", "e\nf" }))
    end)
  end)

  it("the batch struct is what the C host expects", function()
    assert.same({ 0, 8, 12, 16, 24, 28, 32, 36, 40, 44, 48, 56 }, {
      ffi.offsetof("struct eg_batch", "ev"), ffi.offsetof("struct eg_batch", "n"),
      ffi.offsetof("struct eg_batch", "next"), ffi.offsetof("struct eg_batch", "hits"),
      ffi.offsetof("struct eg_batch", "nhits"), ffi.offsetof("struct eg_batch", "hits_cap"),
      ffi.offsetof("struct eg_batch", "in_user"), ffi.offsetof("struct eg_batch", "ticks"),
      ffi.offsetof("struct eg_batch", "budget_ticks"), ffi.offsetof("struct eg_batch", "nrules"),
      ffi.offsetof("struct eg_batch", "rule_errors"), ffi.offsetof("struct eg_batch", "nerrors"),
    })
  end)
end)
