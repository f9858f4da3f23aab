-- Kills made in the kernel (lua/ebpf_guard/kkill.lua; bpf/kkill.h): which
-- rules' kills the kernel makes, its view of the protect: list, and the
-- property that makes a kill there safe: every event the kernel's tables
-- would kill is one the rule fires on in the daemon (the kernel kills a
-- subset of the rule's events, never another event).
local H = require("helpers.engine")
local kkill = require("ebpf_guard.kkill")

local function yaml(text)
  return H.tmpfile(".yaml", text)
end

local function rule(id, types, match, extra)
  return ("  - id: %s\n    description: d\n    event_types: [%s]\n%s%s    action: kill\n")
    :format(id, types, match and ("    match:\n" .. match) or "", extra or "")
end

local function engine(text)
  local p = yaml(text)
  local eng = assert(H.new({ p }))
  os.remove(p)
  return eng
end

local function ids(eng)
  local out = {}
  for _, id in ipairs(eng.res.kkill.rules) do out[#out + 1] = id end
  table.sort(out)
  return out
end

-- The kernel's lookup (bpf/kkill.h kk_path_hit), over the entry list: the
-- key is the namespace byte, the path's first 64 bytes and, for a shorter
-- path, its NUL; an entry (prefix, or exact with its NUL) hits when it is a
-- prefix of the key.
local function path_hit(entries, ns, path)
  if path == "" then return false end
  local key = string.char(ns) .. path:sub(1, kkill.PATH_MAX) .. (#path < kkill.PATH_MAX and "\0" or "")
  for _, e in ipairs(entries) do
    if e.ns == ns then
      local ent = string.char(ns) .. e.s .. (e.exact and "\0" or "")
      if #ent <= #key and key:sub(1, #ent) == ent then return true end
    end
  end
  return false
end

-- The kernel's code lookup (bpf/kkill.h kk_code_call): the event's code,
-- then every event of the type.
local CODE_FIELD = { ptrace = "request", bpf = "bpf_cmd", module = "call", mount = "call" }
local function code_hit(kk, ev, codes)
  local t = require("ebpf_guard.event").TYPES[ev.type]
  local c = codes[ev.type][ev[CODE_FIELD[ev.type]]]
  for _, k in ipairs(kk.codes) do
    if k == kkill.code_key(t, kkill.ANY) or (c and k == kkill.code_key(t, c)) then return true end
  end
  return false
end

local function port_hit(ports, p)
  for _, x in ipairs(ports) do if x == p then return true end end
  return false
end

-- Whether the kernel would kill ev (a complete, absolute walk assumed: the
-- kernel's other conditions only take kills away).
local function kernel_kills(kk, ev, codes)
  if CODE_FIELD[ev.type] then return code_hit(kk, ev, codes) end
  if ev.type == "exec" then
    return path_hit(kk.paths, kkill.NS.exec_filename, ev.filename)
      or path_hit(kk.paths, kkill.NS.exec_exe, ev.exe)
  elseif ev.type == "open" then
    return path_hit(kk.paths, kkill.NS.open_filename, ev.filename)
  elseif ev.type == "connect" then
    return port_hit(kk.ports, ev.dest_port)
  end
  return false
end

describe("kills in the kernel", function()
  describe("which rules", function()
    it("takes a rule whose one test is a path prefix or equality, or a port", function()
      local eng = engine("rules:\n"
        .. rule("exec_prefix", "exec", "      filename: {prefix: /dev/shm/}\n")
        .. rule("exec_exe", "exec", "      exe: [/tmp/a, /tmp/b]\n")
        .. rule("open_eq", "open", "      filename: /etc/canary\n")
        .. rule("exec_any", "exec", "      any:\n        - filename: {prefix: /dev/shm/}\n"
          .. "        - exe: {prefix: /run/user/}\n")
        .. rule("conn_port", "connect", "      dest_port: [4444, 5555]\n")
        .. "  - id: conn_range\n    description: d\n    event_types: [connect]\n"
        .. "    min_dest_port: 3333\n    max_dest_port: 3336\n    action: kill\n")
      assert.same({ "conn_port", "conn_range", "exec_any", "exec_exe", "exec_prefix", "open_eq" }, ids(eng))
      local kk = eng.res.kkill
      assert.same({ 4444, 5555, 3333, 3334, 3335, 3336 }, kk.ports)
      assert.same({
        { ns = kkill.NS.exec_filename, s = "/dev/shm/", exact = false },
        { ns = kkill.NS.exec_exe, s = "/tmp/a", exact = true },
        { ns = kkill.NS.exec_exe, s = "/tmp/b", exact = true },
        { ns = kkill.NS.open_filename, s = "/etc/canary", exact = true },
        { ns = kkill.NS.exec_filename, s = "/dev/shm/", exact = false },
        { ns = kkill.NS.exec_exe, s = "/run/user/", exact = false },
      }, kk.paths)
    end)

    it("takes a ptrace, bpf, module or mount rule on its event's code, or on every event of the type", function()
      local eng = engine("rules:\n"
        .. rule("attach", "ptrace", "      request: [attach, seize]\n")
        .. rule("prog_load", "bpf", "      bpf_cmd: prog_load\n")
        .. rule("finit", "module", "      call: finit_module\n")
        .. rule("any_mount", "mount", nil))
      assert.same({ "any_mount", "attach", "finit", "prog_load" }, ids(eng))
      local T = require("ebpf_guard.event").TYPES
      assert.same({
        kkill.code_key(T.ptrace, 16), kkill.code_key(T.ptrace, 0x4206), kkill.code_key(T.bpf, 5),
        kkill.code_key(T.module, 313), kkill.code_key(T.mount, kkill.ANY),
      }, eng.res.kkill.codes)
      -- the layout of EG_KK_CODE (bpf/eg_raw.h): the type in the top byte
      assert.equal(0x06000010, kkill.code_key(T.ptrace, 16))
    end)

    it("leaves every other kill to the daemon", function()
      local eng = engine("rules:\n"
        .. rule("two_tests", "exec", "      filename: {prefix: /dev/shm/}\n      uid: 0\n")
        .. rule("two_types", "exec, open", "      filename: {prefix: /dev/shm/}\n")
        .. rule("any_other", "exec", "      any:\n        - filename: {prefix: /dev/shm/}\n        - comm: nc\n")
        .. rule("all_paths", "exec", "      all:\n        - filename: {prefix: /dev/shm/}\n"
          .. "        - exe: {prefix: /dev/shm/}\n")
        .. rule("suffix", "open", "      filename: {suffix: .key}\n")
        .. rule("regex", "open", "      filename: {regex: '^/etc/x'}\n")
        .. rule("comm", "exec", "      comm: nc\n")
        .. rule("ip_and_port", "connect", "      dest_ip: 127.0.0.1\n      dest_port: 4444\n")
        .. rule("ptrace", "ptrace", "      target_comm: sshd\n")
        .. rule("ptrace_ret", "ptrace", "      request: attach\n      ret: 0\n")
        .. rule("bpf_not", "bpf", "      bpf_cmd: {not: prog_load}\n")
        .. rule("module_name", "module", "      module_name: evil\n")

        .. rule("exceptions", "exec", "      filename: {prefix: /dev/shm/}\n",
          "    exceptions:\n      - name: e\n        fields: comm\n        values: [x]\n")
        .. "  - id: wide_range\n    description: d\n    event_types: [connect]\n"
        .. "    min_dest_port: 1000\n    max_dest_port: 2000\n    action: kill\n"
        .. "  - id: no_action\n    description: d\n    event_types: [exec]\n"
        .. "    match:\n      filename: {prefix: /dev/shm/}\n")
      assert.same({}, ids(eng))
      assert.same({}, eng.res.kkill.paths)
      assert.same({}, eng.res.kkill.ports)
      assert.same({}, eng.res.kkill.codes)
    end)

    it("keeps out a path the kernel's 64 bytes cannot hold, and the rule when none is left", function()
      local p63, p64, p65 = "/" .. ("a"):rep(62), "/" .. ("b"):rep(63), "/" .. ("c"):rep(64)
      local eng = engine("rules:\n"
        .. rule("exact", "open", ("      filename: [%s, %s]\n"):format(p63, p64))
        .. rule("prefix", "open", ("      filename: {prefix: [%s, %s]}\n"):format(p64, p65))
        .. rule("too_long", "open", ("      filename: %s\n"):format(p65)))
      assert.same({ "exact", "prefix" }, ids(eng))
      assert.same({
        { ns = kkill.NS.open_filename, s = p63, exact = true },
        { ns = kkill.NS.open_filename, s = p64, exact = false },
      }, eng.res.kkill.paths)
    end)

    it("takes none of a Lua detection's kills", function()
      local d = H.tmpfile(".lua", [[return { id = "lua_kill", description = "d", event_types = { "exec" },
        action = "kill", match = function(ev) return ev.filename == "/x" end }]])
      local eng = assert(H.new({ d }))
      os.remove(d)
      assert.same({}, ids(eng))
    end)
  end)

  describe("the protect: list", function()
    it("is exact paths, directory prefixes and names cut to 15 bytes", function()
      local long = "/opt/" .. ("x"):rep(70)
      assert.same({
        paths = {
          { ns = kkill.NS.protect, s = "/usr/sbin/sshd", exact = true },
          { ns = kkill.NS.protect, s = "/usr/lib/systemd/", exact = false },
          { ns = kkill.NS.protect, s = long:sub(1, 64), exact = false },
          { ns = kkill.NS.protect, s = "/tmp/gone", exact = true },
        },
        names = { "containerd", "a-very-long-nam" },
      }, kkill.protect({ "/usr/sbin/sshd", "/usr/lib/systemd/", long, "containerd",
        "a-very-long-name-indeed", "/tmp/gone (deleted)" }))
    end)

    it("reaches the engine's result", function()
      local eng = engine("protect: [/usr/sbin/sshd, sshd]\nrules:\n"
        .. rule("a", "exec", "      filename: {prefix: /dev/shm/}\n"))
      assert.same({ { ns = kkill.NS.protect, s = "/usr/sbin/sshd", exact = true } }, eng.res.kprotect.paths)
      assert.same({ "sshd" }, eng.res.kprotect.names)
    end)
  end)

  describe("property", function()
    -- random kill rules over paths of every length around the kernel's 64
    -- bytes, and events on those paths, their prefixes and extensions
    local function rand_path(len)
      local t = { "/" }
      for i = 2, len do t[i] = string.char(math.random(97, 100)) end
      return table.concat(t)
    end

    it("the kernel kills only ptrace, bpf, module and mount events its rule fires on", function()
      local F = require("ebpf_guard.evtypes").FIELDS
      local codes, pools = {}, {}
      for ty, field in pairs(CODE_FIELD) do
        codes[ty] = {}
        for v, n in pairs(F[field].names) do codes[ty][n] = v end
      end
      pools.ptrace = { "attach", "seize", "pokedata", "peekdata", "detach", "traceme" }
      pools.bpf = { "prog_load", "map_create", "link_create", "raw_tracepoint_open" }
      pools.module = { "init_module", "finit_module", "delete_module" }
      pools.mount = { "mount", "umount2", "fsmount", "move_mount" }
      local tys = { "ptrace", "bpf", "module", "mount" }
      math.randomseed(4321)
      local total = 0
      for round = 1, 30 do
        local text = { "rules:\n" }
        for r = 1, 3 do
          local ty = tys[math.random(#tys)]
          local pool = pools[ty]
          if math.random(4) == 1 then
            text[#text + 1] = rule("r" .. r, ty, nil)
          else
            text[#text + 1] = rule("r" .. r, ty, ("      %s: [%s, %s]\n"):format(CODE_FIELD[ty],
              pool[math.random(#pool)], pool[math.random(#pool)]))
          end
        end
        local eng = engine(table.concat(text))
        local events = {}
        for i = 1, 100 do
          local ty = tys[math.random(#tys)]
          local ev = { type = ty, comm = "x", pid = 100 + i, tgid = 100 + i, uid = 0, ret = 0 }
          ev[CODE_FIELD[ty]] = pools[ty][math.random(#pools[ty])]
          events[i] = ev
        end
        local fired = {}
        for _, h in ipairs(H.run(eng, events)) do fired[h.ev] = true end
        local killed = 0
        for i, ev in ipairs(events) do
          if kernel_kills(eng.res.kkill, ev, codes) then
            killed = killed + 1
            assert(fired[i], ("round %d: the kernel would kill event %d (%s %s) which no rule fires on")
              :format(round, i, ev.type, ev[CODE_FIELD[ev.type]]))
          end
        end
        total = total + killed
      end
      -- not vacuous: the kernel's tables killed events in these rounds
      assert.is_true(total > 300, "the kernel killed " .. total .. " events in all")
    end)

    it("the kernel kills only events its rule fires on", function()
      math.randomseed(1234)
      for round = 1, 20 do
        local text, bases = { "rules:\n" }, {}
        for r = 1, 6 do
          local len = ({ 2, 5, 62, 63, 64, 65, 66, 100 })[math.random(8)]
          local p = rand_path(len)
          bases[#bases + 1] = p
          local ty = ({ "exec", "open", "connect" })[math.random(3)]
          if ty == "exec" and math.random(3) == 1 then
            local q = rand_path(({ 3, 63, 64, 65 })[math.random(4)])
            bases[#bases + 1] = q
            text[#text + 1] = rule("r" .. r, ty, ("      any:\n        - filename: {prefix: '%s'}\n"
              .. "        - exe: '%s'\n"):format(p, q))
          elseif ty == "connect" then
            text[#text + 1] = rule("r" .. r, ty, ("      dest_port: [%d, %d]\n"):format(math.random(1, 9), 65535))
          else
            local field = ty == "exec" and ({ "filename", "exe" })[math.random(2)] or "filename"
            local op = math.random(2) == 1 and ("{prefix: '%s'}"):format(p) or ("'%s'"):format(p)
            text[#text + 1] = rule("r" .. r, ty, ("      %s: %s\n"):format(field, op))
          end
        end
        local eng = engine(table.concat(text))
        local kk = eng.res.kkill
        local events = {}
        for i = 1, 300 do
          local b = bases[math.random(#bases)]
          local variants = { b, b:sub(1, math.random(#b)), b .. rand_path(math.random(1, 40)),
            b:sub(1, 64), b:sub(1, 63) .. "z", rand_path(math.random(1, 120)) }
          local path = variants[math.random(#variants)]
          local ty = ({ "exec", "open", "connect" })[math.random(3)]
          local ev = { type = ty, comm = "x", pid = 100 + i, tgid = 100 + i, uid = 1000 }
          if ty == "exec" then
            ev.filename = path
            ev.exe = variants[math.random(#variants)]
            ev.args = { "x" }
          elseif ty == "open" then
            ev.filename = path
            ev.ret = 3
          else
            ev.dest_ip = "10.0.0.1"
            ev.dest_port = math.random(1, 12)
          end
          events[i] = ev
        end
        local fired = {}
        for _, h in ipairs(H.run(eng, events)) do fired[h.ev] = true end
        for i, ev in ipairs(events) do
          if kernel_kills(kk, ev) then
            assert(fired[i], ("round %d: the kernel would kill event %d (%s %s) which no rule fires on")
              :format(round, i, ev.type, tostring(ev.filename or ev.dest_port)))
          end
        end
      end
    end)
  end)
end)
