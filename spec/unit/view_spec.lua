local ffi = require("ffi")
local event = require("ebpf_guard.event")
local view_mod = require("ebpf_guard.view")
local H = require("helpers.engine")
local C = require("helpers.cengine")

local D = "spec/fixtures/detections/"

-- The process-context fields of ev.
local CONTEXT = { "exec_id", "cwd", "tty", "loginuid", "context", "setuid", "setgid", "ld_preload",
  "ld_library_path", "parent", "ancestors", "container_id", "container_runtime", "pod_uid",
  "cgroup", "hostname", "host_id" }

-- A view on event o (a JSON-like table). Returns the view, its fresh()
-- function, the event pointer and what keeps the event alive.
local function view_of(o)
  local evs, anchor = H.build_events({ o })
  local v, set, fresh = view_mod.new()
  local e = evs + 0
  set(e)
  return v, fresh, e, { evs, anchor }
end

-- Every context field of v, with parent and ancestors as plain copies.
local function context_of(v)
  local out = {}
  for _, k in ipairs(CONTEXT) do out[k] = v[k] end
  return out
end

-- The user rules that fired ("<event#>:<id>"), built-ins left out.
local function user(fired)
  local out = {}
  for _, f in ipairs(fired) do
    if not f:find(":builtin_", 1, true) then out[#out + 1] = f end
  end
  return out
end

-- Descriptions of the user detections' hits.
local function descs(hits)
  local out = {}
  for _, h in ipairs(hits) do
    if not h.rule:find("^builtin_") then out[#out + 1] = h.desc or h.rule end
  end
  return out
end

local FULL = {
  type = "exec", pid = 31, tgid = 30, ppid = 20, comm = "sh", exe = "/usr/bin/dash",
  args = { "sh", "-c", "id" }, exec_id = "h:30:100", context = "exec", cwd = "/var/www",
  tty = "pts/3", loginuid = 1000, setuid = true, ld_preload = true,
  parent = { tgid = 20, exec_id = "h:20:50", comm = "nginx", exe = "/usr/sbin/nginx", args = { "nginx: worker" } },
  ancestors = { { comm = "nginx", exe = "/usr/sbin/nginx" }, { comm = "systemd", exe = "/sbin/init" } },
  cgroup_id = 77, container_id = "abc", container_runtime = "containerd", pod_uid = "p-1",
  cgroup = "/kubepods.slice/x.scope", hostname = "web1", host_id = "0123",
}

local VIEW_CONTEXT = {
  "type=exec exe=/usr/bin/dash exec_id=aGVsbG8:30:100 context=exec cwd=/var/www tty=pts/3 loginuid=1000"
    .. " setuid=true setgid=false ld_preload=true ld_library_path=false"
    .. " container_id=4f1c0a7e9b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e"
    .. " container_runtime=containerd pod_uid=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    .. " cgroup=/kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-4f1c.scope"
    .. " hostname=web1 host_id=0123456789abcdef0123456789abcdef args=sh,-c,id#3"
    .. " parent=20/aGVsbG8:20:50/nginx//usr/sbin/nginx/nginx: worker process#1"
    .. " ancestors=nginx:/usr/sbin/nginx,systemd:/usr/lib/systemd/systemd#2",
  "type=open exe=/usr/bin/dash exec_id=aGVsbG8:30:100 context=fork cwd=/ tty= loginuid=0"
    .. " setuid=false setgid=true ld_preload=false ld_library_path=true container_id="
    .. " container_runtime=host pod_uid= cgroup=/system.slice/nginx.service hostname=web1 host_id="
    .. " args=sh,-c,id#3 parent=20//nginx//usr/sbin/nginx/#0 ancestors=nginx:/usr/sbin/nginx#1",
  "type=connect exe=/usr/bin/dash exec_id=aGVsbG8:30:101 context=procfs cwd= tty= loginuid=-1"
    .. " setuid=false setgid=false ld_preload=false ld_library_path=false container_id="
    .. " container_runtime= pod_uid= cgroup= hostname= host_id=0123456789abcdef0123456789abcdef"
    .. " args=sh#1 parent=20////#0 ancestors=#0",
  "type=exit exe=/usr/bin/dash exec_id= context=unknown cwd= tty= loginuid=-1"
    .. " setuid=false setgid=false ld_preload=false ld_library_path=false container_id="
    .. " container_runtime= pod_uid= cgroup= hostname= host_id= args=sh#1 parent=20////#0 ancestors=#0",
  "type=open exe= exec_id= context=unknown cwd= tty= loginuid=-1"
    .. " setuid=false setgid=false ld_preload=false ld_library_path=false container_id="
    .. " container_runtime= pod_uid= cgroup= hostname= host_id= args=#0 parent=8////#0 ancestors=#0",
}

describe("ev process context", function()
  describe("on every event type", function()
    it("reads every field in a Lua detection (pure-Lua engine)", function()
      local eng = assert(H.new({ D .. "view_context.lua" }))
      assert.same(VIEW_CONTEXT, descs((H.run(eng, D .. "view_context.jsonl"))))
      assert.equals(0, H.errors(eng, "view_context", 0))
    end)

    it("reads every field in the daemon's engine (src/engine.c)", function()
      local eng = assert(C.new({ D .. "view_context.lua" }))
      assert.same(VIEW_CONTEXT, descs(C.run(eng, D .. "view_context.jsonl")))
      assert.equals(0, C.errors(eng, "view_context", C.RUNTIME))
    end)
  end)

  describe("values", function()
    it("are the event's context", function()
      local v, _, _, keep = view_of(FULL)
      assert.same({
        exec_id = "h:30:100", cwd = "/var/www", tty = "pts/3", loginuid = 1000, context = "exec",
        setuid = true, setgid = false, ld_preload = true, ld_library_path = false,
        parent = { tgid = 20, exec_id = "h:20:50", comm = "nginx", exe = "/usr/sbin/nginx", args = { "nginx: worker" } },
        ancestors = { { comm = "nginx", exe = "/usr/sbin/nginx" }, { comm = "systemd", exe = "/sbin/init" } },
        container_id = "abc", container_runtime = "containerd", pod_uid = "p-1",
        cgroup = "/kubepods.slice/x.scope", hostname = "web1", host_id = "0123",
      }, context_of(v))
      assert.is_table(keep)
    end)

    it("are plain Lua values: no cdata, userdata or function anywhere in them", function()
      local v, _, _, keep = view_of(FULL)
      local bad = {}
      local function walk(path, x)
        local t = type(x)
        if t == "table" then
          for k, y in pairs(x) do walk(path .. "." .. tostring(k), y) end
        elseif t ~= "string" and t ~= "number" and t ~= "boolean" then
          bad[#bad + 1] = path .. ": " .. t
        end
      end
      for _, k in ipairs(CONTEXT) do walk(k, v[k]) end
      walk("ancestors[4]", v.ancestors[4])
      assert.same({}, bad)
      assert.is_nil(getmetatable(v.parent))
      assert.is_nil(getmetatable(v.parent.args))
      assert.is_false(getmetatable(v.ancestors))
      assert.is_table(keep)
    end)

    it("are what ev.exe and ev.args say on open, connect and exit events too", function()
      for _, t in ipairs({ "open", "connect", "exit" }) do
        local o = {}
        for k, x in pairs(FULL) do o[k] = x end
        o.type = t
        local v, _, _, keep = view_of(o)
        assert.same({ t, "/usr/bin/dash", { "sh", "-c", "id" }, "h:30:100", "nginx", "/sbin/init" },
          { v.type, v.exe, v.args, v.exec_id, v.parent.comm, v.ancestors[2].exe })
        assert.is_table(keep)
      end
    end)
  end)

  describe("unknown context (NULL pointers)", function()
    local EMPTY = {
      exec_id = "", cwd = "", tty = "", loginuid = -1, context = "unknown",
      setuid = false, setgid = false, ld_preload = false, ld_library_path = false,
      parent = { tgid = 7, exec_id = "", comm = "", exe = "", args = {} }, ancestors = {},
      container_id = "", container_runtime = "", pod_uid = "", cgroup = "", hostname = "", host_id = "",
    }

    it("reads as empty strings, loginuid -1, no parent but ppid, no ancestors", function()
      local v, _, e, keep = view_of({ type = "exec", ppid = 7, comm = "x" })
      assert.same({ true, true, true }, { e.proc == nil, e.ctr == nil, e.host == nil })
      assert.same(EMPTY, context_of(v))
      assert.is_table(keep)
    end)

    it("reads like the C side's empty process (eg_proc_none: flags UNKNOWN, NULL-free empty strings)", function()
      local empty = ffi.new("char[1]")
      local p = ffi.new("struct eg_proc", { loginuid = -1, flags = event.PF_UNKNOWN })
      for _, f in ipairs({ "exec_id", "comm", "exe", "args", "cwd", "tty", "parent_exec_id", "parent_comm",
        "parent_exe", "parent_args" }) do p[f] = empty end
      local c = ffi.new("struct eg_container", { cgroup = empty, id = empty, runtime = empty, pod_uid = empty })
      local h = ffi.new("struct eg_host", { name = empty, id = empty })
      local v, _, e, keep = view_of({ type = "exec", ppid = 7 })
      e.proc, e.ctr, e.host = p, c, h
      assert.same(EMPTY, context_of(v))
      assert.is_table(keep)
    end)

    it("keeps ev.parent.exe and ev.ancestors[2].exe from raising", function()
      local v, _, _, keep = view_of({ type = "open", ppid = 7 })
      assert.same({ "", "", "" }, { v.parent.exe, v.ancestors[1].comm, v.ancestors[2].exe })
      assert.is_table(keep)
    end)

    it("gives the parent the event's ppid when the process is known but its parent is not", function()
      local v, _, _, keep = view_of({ type = "exec", ppid = 9, exec_id = "h:1:1", parent = { comm = "x" } })
      assert.same({ tgid = 9, exec_id = "", comm = "x", exe = "", args = {} }, v.parent)
      assert.is_table(keep)
    end)

    it("gives the parent its own tgid when known, even when the event's ppid differs (reparented)", function()
      local v, _, _, keep = view_of({ type = "exec", ppid = 1, parent = { tgid = 20, comm = "bash" } })
      assert.equals(20, v.parent.tgid)
      assert.is_table(keep)
    end)
  end)

  describe("context", function()
    local cases = {
      { 0, "exec" },
      { event.PF_SETUID + event.PF_LD_PRELOAD, "exec" },
      { event.PF_FORKED, "fork" },
      { event.PF_SEEDED, "procfs" },
      { event.PF_SEEDED + event.PF_FORKED, "procfs" },
      { event.PF_UNKNOWN, "unknown" },
      { event.PF_UNKNOWN + event.PF_SEEDED + event.PF_FORKED, "unknown" },
    }
    for _, c in ipairs(cases) do
      it(("is %s for flags %d (UNKNOWN, then SEEDED, then FORKED)"):format(c[2], c[1]), function()
        local v, _, e, keep = view_of({ type = "exec", exec_id = "x" })
        ffi.cast("struct eg_proc *", e.proc).flags = c[1]
        assert.equals(c[2], v.context)
        assert.is_table(keep)
      end)
    end

    it("maps the JSON names back", function()
      for _, name in ipairs({ "exec", "fork", "procfs", "unknown" }) do
        local v, _, _, keep = view_of({ type = "exec", context = name })
        assert.equals(name, v.context)
        assert.is_table(keep)
      end
    end)
  end)

  describe("flags", function()
    for _, f in ipairs({ { "setuid", "PF_SETUID" }, { "setgid", "PF_SETGID" }, { "ld_preload", "PF_LD_PRELOAD" },
      { "ld_library_path", "PF_LD_LIBRARY_PATH" } }) do
      it(f[1] .. " is the process flag " .. f[2] .. " alone", function()
        local v, _, e, keep = view_of({ type = "exec", exec_id = "x" })
        local p = ffi.cast("struct eg_proc *", e.proc)
        p.flags = event[f[2]]
        local on = {}
        for _, g in ipairs({ "setuid", "setgid", "ld_preload", "ld_library_path" }) do
          if v[g] then on[#on + 1] = g end
        end
        assert.same({ f[1] }, on)
        assert.is_table(keep)
      end)
    end
  end)

  describe("ancestors", function()
    it("are nearest first: [1] the parent, [2] the grandparent", function()
      local v, _, _, keep = view_of(FULL)
      assert.same({ "nginx", "systemd", 2 }, { v.ancestors[1].comm, v.ancestors[2].comm, #v.ancestors })
      assert.is_table(keep)
    end)

    it("read past the known chain as an empty ancestor; # and ipairs count the known ones", function()
      local v, _, _, keep = view_of(FULL)
      local a = v.ancestors
      local n = 0
      for _ in ipairs(a) do n = n + 1 end
      assert.same({ { comm = "", exe = "" }, { comm = "", exe = "" }, 2, 2 }, { a[3], a[100], #a, n })
      assert.is_nil(rawget(a, 3))
      assert.are_not.equal(a[3], a[3]) -- a new table each time: nothing shared
      assert.same({ nil, nil, nil, nil }, { a[0], a[-1], a[1.5], a.comm })
      assert.is_table(keep)
    end)

    it("are at most five, whatever nancestors says", function()
      local anc = {}
      for i = 1, 5 do anc[i] = { comm = "a" .. i, exe = "/a" .. i } end
      local v, _, e, keep = view_of({ type = "exec", ancestors = anc })
      ffi.cast("struct eg_proc *", e.proc).nancestors = 1000
      assert.same({ 5, "a5", "" }, { #v.ancestors, v.ancestors[5].comm, v.ancestors[6].comm })
      assert.is_table(keep)
    end)
  end)

  describe("errors", function()
    it("an unknown field still raises", function()
      local v, _, _, keep = view_of(FULL)
      local ok, err = pcall(function() return v.parent_comm end)
      assert.is_false(ok)
      assert.matches('ev has no field "parent_comm"$', err)
      assert.is_table(keep)
    end)

    it("the new fields are read-only on ev", function()
      local v, _, _, keep = view_of(FULL)
      local ok, err = pcall(function() v.parent = {} end)
      assert.is_false(ok)
      assert.matches('ev is read%-only %(cannot set "parent"%)$', err)
      assert.is_table(keep)
    end)
  end)

  describe("laziness", function()
    local G = view_mod.GETTERS
    local spies
    before_each(function()
      spies = {}
      for _, k in ipairs(CONTEXT) do spies[k] = spy.on(G, k) end
    end)
    after_each(function()
      for _, k in ipairs(CONTEXT) do G[k]:revert() end
    end)

    local function calls()
      local out = {}
      for _, k in ipairs(CONTEXT) do
        local n = #spies[k].calls
        if n > 0 then out[k] = n end
      end
      return out
    end

    local function detection(id, body)
      return H.tmpfile(".lua", ("return { id = %q, description = 'd', event_types = { 'exec', 'open' },"
        .. " match = function(ev) %s end }"):format(id, body))
    end

    it("reads no context (no table, no string) for a detection that does not touch it", function()
      local path = detection("comm_only", "return ev.comm == 'sh' and ev.exe ~= ''")
      local eng = assert(H.new({ path }))
      os.remove(path)
      local hits = H.run(eng, { FULL, FULL, { type = "open", comm = "sh", exe = "/x", exec_id = "e" } })
      assert.same({ "1:comm_only", "2:comm_only", "3:comm_only" }, user(H.fired(hits)))
      assert.same({}, calls())
    end)

    it("builds ev.parent once per call that touches it, whatever it reads from it", function()
      local path = detection("parent", "return ev.parent.comm == 'nginx' and ev.parent.exe ~= '' and #ev.parent.args == 1")
      local eng = assert(H.new({ path }))
      os.remove(path)
      local hits = H.run(eng, { FULL, FULL })
      assert.same({ "1:parent", "2:parent" }, user(H.fired(hits)))
      assert.same({ parent = 2 }, calls())
    end)

    it("builds ev.parent and ev.ancestors for each detection that touches them (each its own copy)", function()
      local a = detection("a", "return ev.parent.comm == 'nginx' and ev.ancestors[2].comm == 'systemd'")
      local b = detection("b", "return ev.cwd == '/var/www' and ev.ancestors[1].comm == 'nginx'")
      local eng = assert(H.new({ a, b }))
      os.remove(a)
      os.remove(b)
      assert.same({ "1:a", "1:b" }, user(H.fired((H.run(eng, { FULL })))))
      assert.same({ parent = 1, ancestors = 2, cwd = 1 }, calls())
    end)

    it("reads a string field once per event, however many detections read it", function()
      local a = detection("a", "return ev.container_id == 'abc'")
      local b = detection("b", "return ev.container_id ~= '' and ev.hostname == 'web1'")
      local eng = assert(H.new({ a, b }))
      os.remove(a)
      os.remove(b)
      assert.same({ "1:a", "1:b", "2:a", "2:b" }, user(H.fired((H.run(eng, { FULL, FULL })))))
      assert.same({ container_id = 2, hostname = 2 }, calls())
    end)
  end)

  describe("the cache between events", function()
    it("gives each event its own values: nothing read on one event is kept for the next", function()
      local path = H.tmpfile(".lua", [[
return { id = "echo", description = "d", event_types = { "exec", "open", "connect" },
  match = function(ev)
    return ("%s %d %s %s %s %s"):format(ev.type, ev.tgid, ev.comm, ev.filename, ev.dest_ip, #ev.args)
  end }
]])
      local eng = assert(H.new({ path }))
      os.remove(path)
      local evs = {
        { type = "exec", pid = 1, tgid = 1, comm = "a", filename = "/bin/a", args = { "a", "x" } },
        { type = "open", pid = 2, tgid = 2, comm = "b", filename = "/etc/b" },
        { type = "connect", pid = 3, tgid = 3, comm = "c", dest_ip = "10.0.0.3", dest_port = 3 },
        { type = "exec", pid = 4, tgid = 4, comm = "d", filename = "/bin/d", args = { "d" } },
      }
      local got = {}
      for _, h in ipairs(H.run(eng, evs)) do got[#got + 1] = h.desc or h.description end
      assert.same({ "exec 1 a /bin/a  2", "open 2 b /etc/b  0", "connect 3 c  10.0.0.3 0", "exec 4 d /bin/d  1" },
        got)
    end)
  end)

  describe("isolation between detections", function()
    it("one detection's changes to ev.parent and ev.ancestors never reach the next", function()
      local a = H.tmpfile(".lua", [[return { id = "a", description = "d", event_types = { "exec" },
        match = function(ev)
          local p, an = ev.parent, ev.ancestors
          p.comm, p.tgid, p.args[1], p.args[5] = "evil", 0, "x", "y"
          an[1].exe, an[2] = "/evil", nil
          an[9] = { comm = "z", exe = "z" }
          setmetatable(p, { __index = function() return "planted" end })
          return false
        end }]])
      local b = H.tmpfile(".lua", [[return { id = "b", description = "d", event_types = { "exec" },
        match = function(ev)
          local p, an = ev.parent, ev.ancestors
          return { description = ("%s %d %s %d %s %s %s %s"):format(p.comm, p.tgid, p.args[1], #p.args,
            an[1].exe, an[2].comm, an[9].comm, tostring(p.nothing)) }
        end }]])
      local eng = assert(H.new({ a, b }))
      os.remove(a)
      os.remove(b)
      local hits = H.run(eng, { FULL, FULL })
      assert.same({ "nginx 20 nginx: worker 1 /usr/sbin/nginx systemd  nil",
        "nginx 20 nginx: worker 1 /usr/sbin/nginx systemd  nil" }, descs(hits))
    end)

    it("in one call, ev.parent and ev.ancestors are the same table each time they are read", function()
      local a = H.tmpfile(".lua", [[return { id = "a", description = "d", event_types = { "exec" },
        match = function(ev)
          ev.parent.comm = "changed"
          return { description = tostring(rawequal(ev.parent, ev.parent)) .. " "
            .. tostring(rawequal(ev.ancestors, ev.ancestors)) .. " " .. ev.parent.comm }
        end }]])
      local eng = assert(H.new({ a }))
      os.remove(a)
      assert.same({ "true true changed" }, descs((H.run(eng, { FULL }))))
    end)
  end)
end)

describe("docs/lua-detections.md", function()
  it("lists every field of ev, and no other, in its field table", function()
    local f = assert(io.open("docs/lua-detections.md"))
    local section = f:read("*a"):match("\n## The event `ev`\n(.-)\n### ")
    f:close()
    local names = {}
    for first in section:gmatch("\n| ([^|]+) |") do
      for name in first:gmatch("`([%w_]+)`") do names[#names + 1] = name end
    end
    table.sort(names)
    assert.same(view_mod.FIELDS, names)
  end)
end)

describe("conditions over the process context", function()
  local CFG = { "spec/fixtures/context_cond.yaml" }
  local EVENTS = "spec/fixtures/context_cond.jsonl"
  local WANT = { "1:shell_under_nginx", "5:interactive_shadow_read", "9:preloaded_connect", "13:deep_chain" }
  local IDS = { "shell_under_nginx", "interactive_shadow_read", "preloaded_connect", "deep_chain" }

  it("fire on parent, ancestors, loginuid, container and host (pure-Lua engine)", function()
    local eng = assert(H.new(CFG))
    assert.same(WANT, user(H.fired((H.run(eng, EVENTS)))))
    for _, id in ipairs(IDS) do assert.same({ id, 0, 0 }, { id, H.errors(eng, id, 0), H.errors(eng, id, 1) }) end
  end)

  it("fire the same in the daemon's engine, with no errors on short chains or unknown context", function()
    local eng = assert(C.new(CFG))
    assert.same(WANT, user(C.fired(C.run(eng, EVENTS))))
    for _, id in ipairs(IDS) do
      assert.same({ id, 0, 0 }, { id, C.errors(eng, id, C.RUNTIME), C.errors(eng, id, C.BUDGET) })
    end
  end)
end)
