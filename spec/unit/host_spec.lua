local ffi = require("ffi")
local host = require("ebpf_guard.host")
local event = require("ebpf_guard.event")
local H = require("helpers.engine")

describe("host", function()
  describe("field registry check", function()
    local evtypes = require("ebpf_guard.evtypes")
    -- the registry as the C host passes it (src/engine.c push_registry)
    local function registry()
      local fields = {}
      for i, key in ipairs(evtypes.ORDER) do
        local f = evtypes.FIELDS[key]
        local names = {}
        for b, n in pairs(f.names or {}) do names[b] = n end
        fields[i] = { key = key, kind = f.kind, slot = f.slot, names = names }
      end
      local types = {}
      for t, keys in pairs(evtypes.TYPES) do
        local k = { ret = keys.ret or false }
        for i, key in ipairs(keys) do k[i] = key end
        types[t] = k
      end
      return { fields = fields, types = types }
    end

    it("accepts the same registry", function()
      assert.is_true(evtypes.check(registry()))
      assert.is_truthy(H.new({}, { registry = registry() }))
    end)

    it("refuses a field of another slot, kind or flag names", function()
      local r = registry()
      r.fields[1].slot = 3
      local eng, err = H.new({}, { registry = r })
      assert.is_nil(eng)
      assert.equals("event field registry mismatch: field flags", err)
      r = registry()
      r.fields[1].names[64] = "new_flag"
      assert.same({ nil, "event field registry mismatch: field flags" }, { evtypes.check(r) })
    end)

    it("refuses a type with other keys, or one the other side lacks", function()
      local r = registry()
      r.types[5].ret = false
      assert.same({ nil, "event field registry mismatch: type 5" }, { evtypes.check(r) })
      r = registry()
      r.types[9] = { "flags", ret = true }
      assert.same({ nil, "event field registry mismatch: type 9" }, { evtypes.check(r) })
      r = registry()
      r.types[5] = nil
      assert.same({ nil, "event field registry mismatch: type 5" }, { evtypes.check(r) })
    end)

    it("formats flags as the C writer does", function()
      local f = evtypes.FIELDS.flags
      assert.equals("", evtypes.format_flags(f, 0))
      assert.equals("cloexec|allow_sealing", evtypes.format_flags(f, 3))
      assert.equals("exec|0x4000", evtypes.format_flags(f, 0x4010))
    end)
  end)

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

    it("refuses a context struct of another size", function()
      local l = H.layout()
      l.eg_proc.size = l.eg_proc.size + 8
      local eng, err = H.new({}, { layout = l })
      assert.is_nil(eng)
      assert.equals(("event layout mismatch: C struct eg_proc is %d bytes, Lua cdef %d")
        :format(l.eg_proc.size, l.eg_proc.size - 8), err)
    end)

    it("refuses a context field at another offset", function()
      local l = H.layout()
      l.eg_host.id = l.eg_host.id + 8
      local eng, err = H.new({}, { layout = l })
      assert.is_nil(eng)
      assert.equals(("event layout mismatch: field eg_host.id at %d in C, %d in Lua")
        :format(l.eg_host.id, l.eg_host.id - 8), err)
    end)

    it("refuses a host that gives no context layout", function()
      local l = H.layout()
      l.eg_ancestor = nil
      local eng, err = H.new({}, { layout = l })
      assert.is_nil(eng)
      assert.equals("event layout mismatch: the host gave no layout of struct eg_ancestor", err)
    end)

    it("lists every member of the context structs of src/event.h, as src/engine.c does", function()
      local f = assert(io.open("src/event.h"))
      local header = f:read("*a")
      f:close()
      f = assert(io.open("src/engine.c"))
      local src = f:read("*a")
      f:close()
      local macro = { eg_proc = "PROC_FIELDS", eg_ancestor = "ANCESTOR_FIELDS",
        eg_container = "CONTAINER_FIELDS", eg_host = "HOST_FIELDS", eg_batch = "BATCH_FIELDS" }
      for _, name in ipairs(event.CONTEXT_STRUCTS) do
        local body = assert(header:match("\nstruct " .. name .. " {\n(.-)\n};"), name)
        local members = {}
        for decl in body:gsub("/%*.-%*/", ""):gmatch("([^;]+);") do
          members[#members + 1] = decl:gsub("%[[%w_]*%]", ""):match("([%w_]+)%s*$")
        end
        assert.same(members, event.CONTEXT_FIELDS[name])
        local list = {}
        local def = assert(src:match("#define " .. macro[name] .. "%(X%)(.-)\n\n"), macro[name])
        for m in def:gmatch("X%(([%w_]+)%)") do list[#list + 1] = m end
        assert.same(members, list)
      end
    end)

    it("declares every struct of src/event.h it shares with the same member types", function()
      local function decls(text, name)
        local body = assert(text:match("\nstruct " .. name .. " {\n(.-)\n};"), name)
        local out = {}
        for d in body:gsub("/%*.-%*/", ""):gmatch("([^;]+);") do
          out[#out + 1] = d:gsub("EG_ANCESTORS_MAX", "5"):gsub("EG_EV_NUMS", "8"):gsub("EG_EV_AUX", "2")
            :gsub("%s+", " "):gsub("^ ", "")
        end
        return out
      end
      local f = assert(io.open("src/event.h"))
      local header = f:read("*a")
      f:close()
      f = assert(io.open("lua/ebpf_guard/event.lua"))
      local cdef = f:read("*a"):match("ffi.cdef %[%[(.-)%]%]")
      f:close()
      for _, name in ipairs({ "eg_event", "eg_proc", "eg_ancestor", "eg_container", "eg_host", "eg_hit", "eg_batch" }) do
        assert.same(decls(header, name), decls(cdef, name))
      end
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

    it("numbers the process flags as src/event.h's enum eg_proc_flags does", function()
      local f = assert(io.open("src/event.h"))
      local src = f:read("*a")
      f:close()
      local flags = {}
      for name, shift in src:match("enum eg_proc_flags {(.-)};"):gmatch("EG_PROCF_([%w_]+) = 1u << (%d+)") do
        flags[name] = 2 ^ tonumber(shift)
      end
      local lua = {}
      for k, v in pairs(event) do
        local name = k:match("^PF_(.+)$")
        if name then lua[name] = v end
      end
      assert.equals(9, #(function() local t = {} for k in pairs(flags) do t[#t + 1] = k end return t end)())
      assert.same(flags, lua)
      assert.equals(tonumber(src:match("#define EG_ANCESTORS_MAX (%d+)")), event.ANCESTORS_MAX)
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

    it("describes each rule with id, description, severity, tags_json, source and kind", function()
      local eng = assert(H.new({ "examples/rules.example.yaml" }))
      assert.same({
        id = "crypto_miner_port",
        description = "Outgoing connection to common mining pool ports (rough heuristic)",
        severity = "warning", tags_json = "[]", source = "examples/rules.example.yaml", kind = "yaml",
      }, eng.rules[7])
      assert.same({ "builtin", "lua" }, { eng.rules[1].kind,
        assert(H.new({ "spec/fixtures/detections/dyn_desc.lua" })).rules[5].kind })
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

    it("takes a window of events whose hits always fit the hit array", function()
      -- at most 5 rules can fire on one exec event (3 built-ins, 2 rules):
      -- 7 slots hold one event's, 10 hold two events'
      local eng = assert(H.new({ "examples/rules.example.yaml" }, { hits_cap = 7 }))
      local _, calls = H.run(eng, events)
      assert.equals(5, calls)
      eng = assert(H.new({ "examples/rules.example.yaml" }, { hits_cap = 10 }))
      _, calls = H.run(eng, events)
      assert.equals(3, calls)
    end)

    it("keeps dynamic descriptions right across resumed calls", function()
      local eng = assert(H.new({ "spec/fixtures/detections/dyn_desc.lua" }, { hits_cap = 8 }))
      local hits, calls = H.run(eng, { { type = "exec", comm = "a" }, { type = "exec", comm = "b" } })
      local descs = {}
      for _, h in ipairs(hits) do if h.desc then descs[#descs + 1] = h.desc end end
      assert.same({ "dynamic for a", "custom text for a", "dynamic for b", "custom text for b" }, descs)
      assert.equals(2, calls)
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
    -- Runs 256 open/exec/connect events through the reference rules 100
    -- times (context(i) adds keys to event i); returns the looping traces of
    -- the rule code and its NYI aborts.
    local function trace_reference(context)
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
        for k, v in pairs(context and context(i) or {}) do evs[i][k] = v end
      end
      local loops, nyi = 0, {}
      jit.flush()
      local function on_trace(what, tr, func, pc, otr, oex)
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
      end
      jit.attach(on_trace, "trace")
      for _ = 1, 100 do H.run(eng, evs) end
      jit.attach(on_trace) -- detaches it
      return loops, nyi
    end

    it("is one loop that LuaJIT compiles, without NYI aborts, for the reference rules", function()
      local loops, nyi = trace_reference()
      assert.same({}, nyi)
      assert.is_true(loops >= 1)
    end)

    it("still compiles when the events carry process, container and host context", function()
      local loops, nyi = trace_reference(function(i)
        return {
          exe = "/usr/bin/x", args = { "x", tostring(i) }, exec_id = "h:" .. i, cwd = "/", loginuid = 1000,
          parent = { tgid = 1, comm = "bash", exe = "/usr/bin/bash" }, ancestors = { { comm = "bash", exe = "/usr/bin/bash" } },
          container_id = "c", container_runtime = "docker", hostname = "h", host_id = "id",
        }
      end)
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
  describe("the JIT", function()
    -- loading runs with the JIT off (each trace compiled there cost more
    -- than it saved); the rules' run function must then get it back
    it("is off while the rules load and on after, whether loading works, fails or raises", function()
      local path = H.tmpfile(".lua", 'local guard = require("guard")\nguard.log("loading")\nreturn {}\n')
      local seen = {}
      local eng = assert(H.new({ path }, { log = function(line) seen[#seen + 1] = { line, (jit.status()) } end }))
      os.remove(path)
      assert.same({ { "ebpf-guard: " .. path .. ": loading", false } }, seen)
      assert.is_true((jit.status()))
      assert.is_truthy(eng.res.run)
      -- a file the engine refuses: nil, message; the JIT on again
      local bad = H.tmpfile(".yaml", "rules: [\n")
      local none, err = H.new({ bad })
      os.remove(bad)
      assert.is_nil(none)
      assert.is_truthy(err)
      assert.is_true((jit.status()))
      -- an error raised inside loading (a batch that is no pointer) is
      -- raised as it was, and the JIT is on again
      local ok, raised = pcall(host.init, { batch = {}, configs = {}, layout = H.layout() })
      assert.is_false(ok)
      assert.matches("cannot convert 'table' to 'struct eg_batch %*'", raised)
      assert.is_true((jit.status()))
    end)
  end)
end)
