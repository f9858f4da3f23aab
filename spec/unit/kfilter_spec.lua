-- The kernel's filters of open events and of the file families
-- (lua/ebpf_guard/compile.lua, kernel_filter; bpf/ebpf_guard.bpf.c,
-- kf_open_drop; bpf/fam_files.h, kf_path_once): what they are derived
-- from, and that an event they keep in the kernel changes no alert: the
-- rules fire the same on a stream with and without the events they drop.
local ffi = require("ffi")
local bit = require("bit")
local H = require("helpers.engine")
local compile = require("ebpf_guard.compile")

local function word(s, at)
  local w = 0
  for k = 3, 0, -1 do w = w * 256 + (s:byte((at or 1) + k) or 0) end
  return w
end

local function kfilters(configs)
  local eng = assert(H.new(configs))
  return eng.res.kfilter
end

local function kfilter(configs)
  return kfilters(configs).open
end

local function yaml(rules)
  return H.tmpfile(".yaml", "rules:\n" .. rules)
end

local function rule(id, types, match)
  return ("  - id: %s\n    description: d\n    event_types: [%s]\n    match:\n%s"):format(id, types, match)
end

-- The kernel's decision, written from bpf/ebpf_guard.bpf.c kf_open_drop for
-- an open whose filename is the opened file's walked path (ret >= 0, the
-- walk complete): true when the event stays in the kernel.
local PREFIX_MAX = 64

-- whether a prefix or suffix of the sets matches path
local function wanted(prefixes, suffixes, path)
  if #path >= 4 then
    local sw = word(path, #path - 3)
    for _, w in ipairs(suffixes) do if w == sw then return true end end
  end
  local n = math.min(#path, PREFIX_MAX)
  for _, p in ipairs(prefixes) do
    if #p <= n and path:sub(1, #p) == p then return true end
  end
  return false
end

local function comm_wanted(kf, ev)
  local cw = (ev.comm or ""):sub(1, 15):match("^[^%z]*"):sub(1, 4)
  for _, w in ipairs(kf.comm) do if w == word(cw) then return true end end
  return false
end

-- A path argument the kernel cannot vouch for (kf_path_wanted): not
-- absolute, an empty, "." or ".." component (what the daemon's norm_path
-- rewrites), or too long.
local function odd(p)
  if type(p) ~= "string" or #p < 2 or #p >= 4096 or p:sub(1, 1) ~= "/" then return true end
  for comp in (p:sub(2) .. "/"):gmatch("([^/]*)/") do
    if comp == "" or comp == "." or comp == ".." then return true end
  end
  return false
end

local PATH2 = { rename = "new_path", link = "link_target" }

-- kf: the filters by type (kernel_filter); raw: the path arguments as passed
-- ({ first, second }) when they differ from the event's fields.
-- The socket families' port field (bpf/ebpf_guard.bpf.c kf_port_drop).
local SOCK_PORT = { connect = "dest_port", listen = "local_port", accept = "local_port" }

-- st: the stream's state so far (the kernel's memory of the processes
-- whose first success of a type crossed, kf_once), kept by the caller.
local drops
-- connect, while a detection's once_per is kept in the kernel (kf.seen,
-- bpf kf_seen): every connect but an unconnected datagram is looked up by
-- process and destination; a new one crosses (remembered with its time),
-- a repeat within the window stays when nothing else wants it.
local function drops_connect(kfs, ev, raw, st)
  local kf = kfs.connect
  local keep = drops(kfs, ev, raw, st, true)
  local seen = kf.seen
  if not seen or ev.datagram then return keep end
  local key = ("seen:%s:%s:%s"):format(tostring(ev.tgid), seen.ip and ev.dest_ip or "",
    seen.port and tostring(ev.dest_port) or "")
  local at = st and st[key]
  -- the event's time as the engine reads it (helpers.engine build_events)
  local now = ev.ts_ns or (ev.timestamp and H.parse_ts(ev.timestamp)) or 0
  if not at or (seen.ns > 0 and now - at >= seen.ns) then
    if st then st[key] = now end
    return false
  end
  return keep
end

drops = function(kfs, ev, raw, st, plain)
  if ev.type == "exit" and st then
    -- a new process with this pid has another start time: another key
    for k in pairs(st) do
      if k:match(":" .. tostring(ev.tgid) .. "$") or k:match("^seen:" .. tostring(ev.tgid) .. ":") then st[k] = nil end
    end
  end
  local kf = kfs[ev.type]
  if not kf or kf.off then return false end
  if ev.type == "connect" and not plain then return drops_connect(kfs, ev, raw, st) end
  if SOCK_PORT[ev.type] then
    if ev.type == "connect" then
      -- connect's loopback classes (kf_loop_class) and addresses: the
      -- kernel's binary tests, as the texts the daemon writes show them
      local ip = ev.dest_ip or ""
      local class = (ip:match("^127%.%d+%.%d+%.%d+$") and 1) or (ip == "::1" and 2)
        or (ip:match("^::ffff:127%.%d+%.%d+%.%d+$") and 4) or 0
      if kf.loop and bit.band(class, kf.loop) == 0 then return false end
      for _, a in ipairs(kf.addrs or {}) do if a == ip then return false end end
    end
    local p = ev[SOCK_PORT[ev.type]] or 0
    for _, x in ipairs(kf.ports) do if x == p then return false end end
    -- the program: the comm's word, the executable's file name's
    local function has(list, w)
      for _, x in ipairs(list or {}) do if x == w then return true end end
      return false
    end
    if has(kf.comm, word((ev.comm or ""):sub(1, 15) .. "\0", 1)) then return false end
    local leaf = (ev.exe or ""):match("([^/]*)$")
    if leaf ~= "" and has(kf.leaf, word(leaf .. "\0", 1)) then return false end
    if kf.once and (ev.ret or 0) >= 0 then
      local k = ev.type .. ":" .. tostring(ev.tgid)
      if not (st or {})[k] then
        if st then st[k] = true end
        return false
      end
    end
    return true
  end
  if ev.type == "open" then
    if (ev.ret or 0) < 0 then return false end
    local fn = ev.filename or ""
    if fn == "" or fn:sub(1, 1) ~= "/" then return false end
    return not comm_wanted(kf, ev) and not wanted(kf.filename_prefixes, kf.filename_suffixes, fn)
  end
  local r1 = raw and raw[1] or ev.filename
  if kf.mode_mask and bit.band(ev.mode or 0, kf.mode_mask) ~= 0 then return false end
  if comm_wanted(kf, ev) or odd(r1) or wanted(kf.filename_prefixes, kf.filename_suffixes, r1) then
    return false
  end
  if kf.path2_prefixes and (#kf.path2_prefixes > 0 or #kf.path2_suffixes > 0) then
    local r2 = raw and raw[2] or ev[PATH2[ev.type]]
    if odd(r2) or wanted(kf.path2_prefixes, kf.path2_suffixes, r2) then return false end
  end
  return true
end

-- The daemon's lexical normalisation (src/collector.c, norm_path).
local function norm(p)
  local abs, out = p:sub(1, 1) == "/", {}
  for comp in p:gmatch("[^/]+") do
    if comp == ".." then
      if #out > 0 and out[#out] ~= ".." then out[#out] = nil elseif not abs then out[#out + 1] = ".." end
    elseif comp ~= "." then
      out[#out + 1] = comp
    end
  end
  local s = table.concat(out, "/")
  if abs then return "/" .. s end
  return s == "" and "." or s
end

-- Random opens built from the pieces rules name, and from others.
local DIRS = { "/etc/", "/etc/ssh/", "/etc/cron.d/", "/etc/systemd/system/", "/etc/sudoers.d/", "/tmp/",
  "/var/tmp/", "/dev/shm/", "/root/", "/root/.ssh/", "/home/alice/", "/home/alice/.ssh/", "/home/bob/.aws/",
  "/proc/1/", "/proc/self/", "/proc/sys/kernel/", "/sys/fs/cgroup/", "/run/", "/run/secrets/kubernetes.io/",
  "/var/run/", "/var/log/", "/var/lib/kubelet/", "/var/spool/cron/", "/usr/lib/", "/lib/", "/boot/",
  "/usr/lib/systemd/system/", "/opt/app/", "/srv/", "/", "/et", "/e", "/etc", "/ro", "/home" }
local NAMES = { "shadow", "gshadow", "passwd", "group", "sudoers", "hostname", "hosts", "resolv.conf",
  "id_rsa", "id_ed25519", "authorized_keys", ".bash_history", ".zsh_history", ".netrc", ".pgpass",
  ".git-credentials", "credentials", "token", "mem", "maps", "environ", "core_pattern", "release_agent",
  "notify_on_release", "ld.so.preload", "crontab", "x.service", "profile", ".bashrc", ".profile",
  "kubelet.conf", "config", "Cookies", "logins.json", "key4.db", "syslog", "auth.log", "grub",
  "a", "ab", "abc", "abcd", "x.so", "libc.so.6", "" }
local COMMS = { "cat", "sh", "bash", "python3", "curl", "wget", "nc", "ncat", "tar", "sshd", "systemd",
  "cron", "vim", "sed", "grep", "head", "id", "perl", "ruby", "node", "php", "scp", "a", "ab", "",
  "passwd", "useradd", "apt-get", "dpkg", "kubelet", "containerd", "runc", "busybox" }
local FLAGS = { 0, 0, 0, 1, 2, 65, 577, 1089, 524288, 524865, 2097152 }

local function pick(t) return t[math.random(#t)] end

local function random_events(n, prefixes)
  local out = {}
  for i = 1, n do
    local fn
    local r = math.random()
    if r < 0.4 then
      fn = pick(DIRS) .. pick(NAMES)
    elseif r < 0.7 and #prefixes > 0 then
      fn = pick(prefixes) .. pick(NAMES)
    elseif r < 0.85 then
      fn = pick(DIRS) .. pick(NAMES) .. pick({ "", "-", ".bak", "/", "/x", ".d/y", ".lock", "+" })
    else
      local t = {}
      for k = 1, math.random(1, 12) do t[k] = string.char(math.random(32, 126)) end
      fn = "/" .. table.concat(t)
    end
    if fn:sub(1, 1) ~= "/" then fn = "/" .. fn end
    out[i] = { type = "open", comm = pick(COMMS), filename = fn, open_flags = pick(FLAGS),
      ret = math.random(0, 9), uid = pick({ 0, 0, 1000 }), pid = 4000 + i % 50, tgid = 4000 + i % 50,
      parent = { comm = pick({ "bash", "sshd", "systemd", "cron", "nginx" }) } }
  end
  return out
end

-- A path argument as a program may pass it: mostly plain, sometimes with
-- what the daemon normalises away, relative, or long. Returns the raw
-- argument and, when relative, the directory it starts from.
local function raw_path(prefixes)
  local fn
  local r = math.random()
  if r < 0.35 then
    fn = pick(DIRS) .. pick(NAMES)
  elseif r < 0.65 and #prefixes > 0 then
    fn = pick(prefixes) .. pick(NAMES)
  elseif r < 0.8 then
    fn = pick(DIRS) .. pick(NAMES) .. pick({ "", "-", ".bak", "/", "/x", ".d/y", ".lock", "+", "~" })
  else
    local t = {}
    for k = 1, math.random(1, 12) do t[k] = string.char(math.random(32, 126)) end
    fn = "/" .. table.concat(t)
  end
  if fn:sub(1, 1) ~= "/" then fn = "/" .. fn end
  local a = math.random()
  if a < 0.06 then -- a doubled slash
    local i = math.random(1, #fn)
    fn = fn:sub(1, i) .. "/" .. fn:sub(i + 1)
  elseif a < 0.1 then -- "/./"
    local i = fn:find("/", 2, true) or 1
    fn = fn:sub(1, i) .. "./" .. fn:sub(i + 1)
  elseif a < 0.16 then -- "x/../" before a wanted path: the daemon sees the wanted one
    fn = pick({ "/tmp", "/usr", "/var/cache", "/x" }) .. "/.." .. fn
  elseif a < 0.18 then
    fn = fn .. pick({ "/", "/.", "/..", "/../" })
  elseif a < 0.26 then -- relative to a directory
    local dir = pick({ "/etc", "/etc/cron.d", "/root", "/tmp", "/var/log", "/home/alice", "/" })
    return fn:sub(2), dir
  elseif a < 0.28 then
    fn = fn .. ("/a"):rep(math.random(20, 40)) -- past the 64-byte prefix bound
  end
  return fn
end

-- what the daemon makes of a raw path (decode_family): a relative one
-- joined to its directory and normalised, an absolute one normalised when
-- norm is set (the first path), else kept (an absolute second path)
local function decoded(raw, dir, normalise)
  if dir then return norm(dir .. "/" .. raw) end
  return normalise and norm(raw) or raw
end

local FILE_CALLS = { unlink = { "unlink", "unlinkat", "rmdir" }, rename = { "rename", "renameat", "renameat2" },
  link = { "symlink", "symlinkat", "link", "linkat" }, chmod = { "chmod", "fchmodat", "fchmodat2" } }

-- Random events of the file families, with their raw path arguments in
-- raw[event] = { first, second }.
local function random_file_events(n, kfs, raw)
  local out = {}
  local types = { "unlink", "rename", "link", "chmod" }
  for i = 1, n do
    local t = pick(types)
    local kf = kfs[t]
    local pre = {}
    for _, x in ipairs(kf.filename_prefixes or {}) do pre[#pre + 1] = x end
    for _, x in ipairs(kf.path2_prefixes or {}) do pre[#pre + 1] = x end
    local r1, d1 = raw_path(pre)
    local e = { type = t, comm = pick(COMMS), call = pick(FILE_CALLS[t]), filename = decoded(r1, d1, true),
      ret = pick({ 0, 0, 0, -2, -13 }), uid = pick({ 0, 0, 1000 }), pid = 5000 + i % 50, tgid = 5000 + i % 50,
      parent = { comm = pick({ "bash", "sshd", "systemd", "cron", "dpkg" }) } }
    local r2
    if t == "rename" or t == "link" then
      local d2
      r2, d2 = raw_path(pre)
      -- (a symbolic link's text is never joined)
      local sym = e.call == "symlink" or e.call == "symlinkat"
      e[PATH2[t]] = sym and r2 or decoded(r2, d2, false)
    elseif t == "chmod" then
      e.mode = pick({ 420, 493, 2541, 3565, 448, 511 })
    end
    raw[e] = { r1, r2 }
    out[i] = e
  end
  return out
end

-- The stock rules' own positive and near-miss cases, in one stream.
local function stock_cases()
  local out = {}
  for _, c in ipairs(dofile("spec/stock/cases.lua")) do
    local seqs = { c.fires }
    for _, s in ipairs(c.also or {}) do seqs[#seqs + 1] = s end
    for _, s in ipairs(c.misses or {}) do seqs[#seqs + 1] = s end
    for _, s in ipairs(seqs) do
      -- (memfd flags by name are the testing module's: left out)
      -- and a timestamp in seconds as the helper's ts_ns
      for _, e in ipairs(s) do
        if type(e.flags) ~= "string" then
          local c = {}
          for k, v in pairs(e) do c[k] = v end
          if type(c.timestamp) == "number" then
            c.ts_ns = ffi.new("int64_t", c.timestamp * 1e9)
            c.timestamp = nil
          end
          out[#out + 1] = c
        end
      end
    end
  end
  return out
end

local function jsonl(path, max, gz)
  local f = assert(io.popen((gz and "zcat " or "cat ") .. path))
  local cjson = require("cjson")
  local out = {}
  for line in f:lines() do
    if line:match("%S") then out[#out + 1] = cjson.decode(line) end
    if #out >= max then break end
  end
  f:close()
  return out
end

-- The alerts of the whole stream and of the stream without the events kf
-- drops (as "<event#>:<rule>", the event numbered in the whole stream),
-- each on an engine of its own; and how many events were dropped.
local function both(configs, kf, events, raw)
  local kept, map, st = {}, {}, {}
  for i, e in ipairs(events) do
    if not drops(kf, e, raw and raw[e], st) then
      kept[#kept + 1] = e
      map[#kept] = i
    end
  end
  local all = H.run(assert(H.new(configs)), events)
  local part = H.run(assert(H.new(configs)), kept)
  local a, b = {}, {}
  for _, h in ipairs(all) do a[#a + 1] = h.ev .. ":" .. h.rule end
  for _, h in ipairs(part) do b[#b + 1] = map[h.ev] .. ":" .. h.rule end
  return a, b, #events - #kept
end

-- The engine benchmark's generated corpus (20,000 events) in a temporary
-- file, for the describe block this is called in: { path = ... }.
local function bench_corpus()
  local c = {}
  setup(function() c.path = H.bench_corpus_file(20000) end)
  teardown(function() os.remove(c.path) end)
  return c
end

describe("the kernel filters", function()
  describe("derivation", function()
    it("unites the rules' prefixes, suffixes and comm words", function()
      local p = yaml(rule("a", "open", "      filename: {prefix: [/etc/cron.d/, /var/spool/cron/]}\n")
        .. rule("b", "open", "      filename: {suffix: /token}\n")
        .. rule("c", "open", "      comm: [nc, curl]\n      open_flags: {any: [O_WRONLY]}\n")
        .. rule("d", "exec", "      args: -c\n"))
      local kf = kfilter({ p })
      os.remove(p)
      assert.is_nil(kf.off)
      assert.same({ "/etc/cron.d/", "/var/spool/cron/" }, kf.filename_prefixes)
      assert.same({ word("oken") }, kf.filename_suffixes)
      local c = { word("curl"), word("nc") }
      table.sort(c)
      assert.same(c, kf.comm)
    end)

    it("takes an anchored regex's literal prefixes, alternatives expanded", function()
      local p = yaml(rule("a", "open", "      filename: {regex: '^/etc/(shadow|gshadow|sudoers)(\\.d/|$|-)'}\n"))
      local kf = kfilter({ p })
      os.remove(p)
      assert.same({ "/etc/gshadow", "/etc/shadow", "/etc/sudoers" }, kf.filename_prefixes)
    end)

    it("finds a regex's literal prefixes conservatively (regex.required_prefixes)", function()
      local rp = require("ebpf_guard.regex").required_prefixes
      assert.same({ "/etc/passwd", "/etc/group" }, rp("^/etc/(passwd|group)(\\+|-)?$"))
      assert.same({ "/etc/a", "/etc/b" }, rp("^/etc/(?:a|b)+x"))
      assert.same({ "/etc/ld.so.preload" }, rp("^/etc/ld\\.so\\.preload$"))
      assert.same({ "/proc/" }, rp("^/proc/[0-9]+/mem$"))
      assert.same({ "/a" }, rp("^/ab?c"))            -- a quantified character is left out
      assert.same({ "/x" }, rp("^/x(a|b)?"))         -- an optional group too
      assert.same({ "/x" }, rp("^/x(a|b*)"))         -- and a group with a quantifier inside
      assert.is_nil(rp("^a|b"))                      -- a top-level alternation
      assert.is_nil(rp("(?i)^/etc/"))                -- inline options
      assert.is_nil(rp("/etc/"))                     -- not anchored
    end)

    it("cuts a prefix to 64 bytes", function()
      local long = "/" .. ("x"):rep(100)
      local p = yaml(rule("a", "open", "      filename: {prefix: " .. long .. "}\n"))
      local kf = kfilter({ p })
      os.remove(p)
      assert.same({ long:sub(1, 64) }, kf.filename_prefixes)
    end)

    it("ignores exceptions", function()
      local p = yaml(rule("a", "open", "      filename: {prefix: /etc/ssh/}\n")
        .. "    exceptions:\n      - name: e\n        fields: comm\n        values: [sshd]\n")
      local kf = kfilter({ p })
      os.remove(p)
      assert.same({ "/etc/ssh/" }, kf.filename_prefixes)
    end)

    it("is off when a rule on opens names no filename or comm", function()
      local p = yaml(rule("writes", "open", "      open_flags: {any: [O_WRONLY]}\n"))
      local kf = kfilter({ p })
      assert.equals(('rule "writes" (%s) wants open events and names no filename or comm the kernel can test'):format(p),
        kf.off)
      os.remove(p)
    end)

    it("is off when a rule's only key is one the kernel does not test (exe, requested)", function()
      local p = yaml(rule("x", "open", "      exe: {prefix: /tmp/}\n"))
      local kf = kfilter({ p })
      os.remove(p)
      assert.is_string(kf.off)
    end)

    it("uses a Lua detection's open filter, and is off without one", function()
      local with = H.tmpfile(".lua", [[
return { { id = "d", description = "d", event_types = { "open", "exec" },
  filter = { open = { filename = { prefix = { "/srv/data/" } } } },
  match = function(ev) return true end } }
]])
      local without = H.tmpfile(".lua", [[
return { { id = "d2", description = "d", event_types = { "open", "exec" },
  filter = { exec = { name = "sh" } },
  match = function(ev) return true end } }
]])
      local kf = kfilter({ with })
      assert.same({ "/srv/data/" }, kf.filename_prefixes)
      kf = kfilter({ without })
      assert.equals(('detection "d2" (%s) wants open events and names no filename or comm the kernel can test')
        :format(without), kf.off)
      os.remove(with)
      os.remove(without)
    end)

    it("drops every open when no rule wants opens (the built-ins only)", function()
      local kf = kfilter({})
      assert.is_nil(kf.off)
      assert.same({}, kf.filename_prefixes)
      assert.same({}, kf.filename_suffixes)
      assert.same({}, kf.comm)
    end)

    it("keeps /etc/hostname in the kernel with the stock set and lets /etc/shadow through", function()
      local kf = kfilter({ "rules" })
      assert.is_nil(kf.off)
      kf = { open = kf }
      assert.is_true(drops(kf, { type = "open", comm = "storm_open", filename = "/etc/hostname", ret = 3 }))
      assert.is_false(drops(kf, { type = "open", comm = "storm_open", filename = "/etc/shadow", ret = 3 }))
      assert.is_false(drops(kf, { type = "open", comm = "curl", filename = "/etc/hostname", ret = 3 }))
      assert.is_false(drops(kf, { type = "open", comm = "cat", filename = "/etc/hostname", ret = -2 }))
    end)
  end)

  describe("property: a dropped event changes no alert", function()
    local corpus = bench_corpus()

    local sets = {
      { "the stock set", { "rules" } },
      { "the reference's example rules", { "examples/rules.example.yaml" } },
      { "the reference's rules as benchmarked", { "bench/rules.reference.yaml" } },
      { "the built-ins only", {} },
    }
    for _, s in ipairs(sets) do
      it(s[1], function()
        math.randomseed(15)
        local kfs = kfilters(s[2])
        local kf = kfs.open
        assert.is_nil(kf.off)
        local events, raw = {}, {}
        local function add(list) for _, e in ipairs(list) do events[#events + 1] = e end end
        add(stock_cases())
        add(random_events(20000, kf.filename_prefixes))
        add(random_file_events(20000, kfs, raw))
        add(H.read_jsonl(corpus.path))
        add(jsonl("tests/noise/workload.jsonl.gz", 30000, true))
        local a, b, dropped = both(s[2], kfs, events, raw)
        assert.is_true(dropped > 1000)
        if s[2][1] == "rules" then
          assert.is_true(#a > 200)
          -- and the file families' rules fire on the random stream too
          local files = 0
          for _, x in ipairs(a) do
            local t = events[tonumber(x:match("^(%d+)"))].type
            if PATH2[t] or t == "unlink" or t == "chmod" then files = files + 1 end
          end
          assert.is_true(files > 50)
        end
        assert.same(a, b)
      end)
    end

    it("the socket families, with rules that all name ports", function()
      math.randomseed(16)
      local p = yaml(rule("a", "connect", "      dest_port: [22, 80]\n")
        .. rule("b", "connect", "      all:\n        - dest_port: {ge: 1000, le: 1003}\n        - comm: nc\n")
        .. rule("c", "connect", "      any:\n        - dest_port: 443\n        - dest_port: 8443\n")
        .. rule("d", "listen", "      local_port: {in: [4444, 31337]}\n")
        .. rule("e", "accept", "      local_port: 4444\n      dest_ip: {prefix: '10.'}\n")
        .. "  - id: f\n    description: d\n    event_types: [connect]\n"
        .. "    min_dest_port: 6000\n    max_dest_port: 6010\n")
      local configs = { "bench/rules.reference.yaml", p }
      local kfs = kfilters(configs)
      assert.is_nil(kfs.connect.off)
      assert.is_nil(kfs.listen.off)
      assert.is_nil(kfs.accept.off)
      local ports = { 21, 22, 23, 79, 80, 81, 443, 999, 1000, 1002, 1003, 1004, 3332, 3333, 4444, 5555, 5556,
        5999, 6000, 6005, 6010, 6011, 7777, 8443, 31337, 0, 65535 }
      local events = {}
      for i = 1, 6000 do
        local t = pick({ "connect", "listen", "accept" })
        local ev = { type = t, comm = pick({ "nc", "curl", "sshd", "python3" }), pid = 1000 + i % 50,
          tgid = 1000 + i % 50, uid = 0, ret = pick({ 0, 0, -111 }) }
        if t == "connect" then
          ev.dest_ip, ev.dest_port = pick({ "10.0.0.1", "127.0.0.1", "::1" }), pick(ports)
        else
          ev.local_ip, ev.local_port = pick({ "0.0.0.0", "127.0.0.1" }), pick(ports)
          ev.call = t == "listen" and pick({ "bind", "listen" }) or pick({ "accept", "accept4" })
          if t == "accept" then ev.dest_ip, ev.dest_port = pick({ "10.1.2.3", "192.168.0.9" }), 50000 end
        end
        events[i] = ev
      end
      local a, b, dropped = both(configs, kfs, events)
      os.remove(p)
      assert.is_true(dropped > 1000, "dropped " .. dropped)
      assert.is_true(#a > 500, #a .. " alerts")
      assert.same(a, b)
    end)

    it("the socket families with the stock set: programs and first successes", function()
      math.randomseed(17)
      local kfs = kfilters({ "rules" })
      assert.is_nil(kfs.accept.off)
      assert.is_true(kfs.accept.once)
      assert.is_true(#kfs.accept.comm > 0 and #kfs.accept.leaf > 0)
      -- servers, shells (some renamed: their comm says nothing, their
      -- executable does), others; listens, accepts (most successes),
      -- connects out; processes that exit and whose pid comes back
      local progs = { { "nginx", "/usr/sbin/nginx" }, { "bash", "/usr/bin/bash" }, { "kworkr", "/usr/bin/bash" },
        { "sh", "/bin/dash" }, { "python3", "/usr/bin/python3.11" }, { "app", "/opt/app/app" },
        { "zsh", "/usr/bin/zsh" }, { "node", "/usr/bin/node" }, { "x", "/tmp/sh" } }
      local events, ts = {}, 1735689600
      local running = {}
      for i = 1, 8000 do
        local tgid = 2000 + math.random(40)
        local pr = running[tgid]
        if not pr then pr = pick(progs); running[tgid] = pr end
        ts = ts + math.random() * 2
        local r = math.random(100)
        local ev = { comm = pr[1], exe = pr[2], pid = tgid, tgid = tgid, uid = 33, ts_ns = math.floor(ts * 1e9) }
        if r <= 3 then
          ev.type = "exit"
          running[tgid] = nil
        elseif r <= 10 then
          ev.type, ev.call = "listen", pick({ "bind", "listen" })
          ev.local_ip, ev.local_port, ev.ret = "0.0.0.0", 8000 + math.random(3), pick({ 0, 0, -98 })
        elseif r <= 70 then
          ev.type, ev.call = "accept", pick({ "accept", "accept4" })
          ev.local_ip, ev.local_port, ev.ret = "0.0.0.0", 8000 + math.random(3), pick({ 5, 6, 7, -24 })
          if ev.ret >= 0 then ev.dest_ip, ev.dest_port = "10.1.2." .. math.random(9), 40000 + i end
        else
          ev.type = "connect"
          ev.dest_ip, ev.dest_port, ev.ret = pick({ "203.0.113.9", "127.0.0.1", "10.0.0.1" }), pick({ 443, 80 }), 0
        end
        events[i] = ev
      end
      local a, b, dropped = both({ "rules" }, kfs, events)
      assert.is_true(dropped > 1000, "dropped " .. dropped)
      local ids = {}
      for _, x in ipairs(a) do ids[x:match(":(.*)$")] = true end
      assert.is_true(ids.server_starts_connecting_out, "server_starts_connecting_out fires")
      assert.is_true(ids.shell_accepted_connection, "shell_accepted_connection fires")
      assert.same(a, b)
    end)

    it("connect: addresses, and the loopback destinations a rule leaves out", function()
      local p = yaml(rule("a", "connect", "      dest_ip: [169.254.169.254, \"fd00:ec2::254\"]\n")
        .. rule("b", "connect", "      any:\n        - dest_ip: 10.0.0.7\n        - dest_ip: [\"::1\"]\n")
        -- a port range too wide for the port key; loopback left out by not:
        .. rule("c", "connect", "      dest_port: {ge: 1000}\n      not: {dest_ip: {prefix: [\"127.\", \"::1\"]}}\n")
        -- in the test's own matcher: all three classes
        .. rule("d", "connect", "      dest_ip: {not: {prefix: [\"127.\", \"::1\", \"::ffff:127.\"]}}\n")
        .. rule("e", "connect", "      dest_port: 22\n"))
      local kfs = kfilters({ p })
      os.remove(p)
      assert.is_nil(kfs.connect.off)
      assert.same({ "10.0.0.7", "169.254.169.254", "::1", "fd00:ec2::254" }, kfs.connect.addrs)
      -- c leaves out 127/8 and ::1, d all three: only what both leave out
      assert.equals(3, kfs.connect.loop)
      -- (and the built-in's miner ports)
      assert.same({ 22, 3333, 4444, 5555, 7777 }, kfs.connect.ports)
      -- the masks of single conditions (compile.lua's ast_loop)
      local function loop(match)
        local q = yaml(rule("x", "connect", match))
        local k = kfilters({ q })
        os.remove(q)
        return k.connect.loop, k.connect.off
      end
      assert.equals(1, loop("      not: {dest_ip: {prefix: \"127.\"}}\n"))
      assert.equals(1, loop("      not: {dest_ip: {prefix: \"12\"}}\n"))
      -- "::" starts ::1's text and ::ffff:127.'s
      assert.equals(6, loop("      not: {dest_ip: {prefix: \"::\"}}\n"))
      assert.equals(2, loop("      not: {dest_ip: \"::1\"}\n"))
      -- a prefix some loopback text has (127.0.) does not leave out the class,
      -- as a not: around the test or in it
      local l, off = loop("      not: {dest_ip: {prefix: \"127.0.\"}}\n")
      assert.is_nil(l)
      assert.matches("names no dest_port, dest_ip or program", off)
      l, off = loop("      dest_ip: {not: {prefix: \"127.0.\"}}\n")
      assert.is_nil(l)
      assert.matches("names no dest_port, dest_ip or program", off)
      assert.equals(2, loop("      dest_ip: {not: {prefix: [\"127.0.\", \"::1\"]}}\n"))
      -- a positive prefix leaves out the classes none of whose texts has it
      assert.equals(7, loop("      dest_ip: {prefix: \"10.\"}\n"))
      assert.equals(5, loop("      dest_ip: {prefix: \"::1\"}\n"))
      assert.equals(3, loop("      dest_ip: {prefix: \"::ffff:127.0.0.\"}\n"))
      -- any: what every branch leaves out; all: what one does
      assert.equals(1, loop("      any:\n        - not: {dest_ip: {prefix: \"127.\"}}\n"
        .. "        - all:\n            - not: {dest_ip: {prefix: \"127.\"}}\n"
        .. "            - not: {dest_ip: \"::1\"}\n"))
      assert.equals(3, loop("      all:\n        - not: {dest_ip: {prefix: \"127.\"}}\n"
        .. "        - not: {dest_ip: \"::1\"}\n"))
      -- a regex tells nothing
      l, off = loop("      dest_ip: {regex: \"^10\\\\.\"}\n")
      assert.is_nil(l)
      assert.is_string(off)
      -- rules that leave out no loopback class in common
      local q = yaml(rule("x", "connect", "      not: {dest_ip: {prefix: \"127.\"}}\n")
        .. rule("y", "connect", "      not: {dest_ip: \"::1\"}\n"))
      assert.equals("the rules that want connects to all but some loopback destinations exclude none in common",
        kfilters({ q }).connect.off)
      os.remove(q)
    end)

    it("connect, with addresses and loopback left out: the same alerts", function()
      math.randomseed(18)
      local p = yaml(rule("a", "connect", "      dest_ip: [169.254.169.254, \"fd00:ec2::254\", 127.0.0.5]\n")
        .. rule("b", "connect", "      any:\n        - dest_ip: 10.0.0.7\n        - dest_ip: [\"::1\"]\n")
        .. rule("c", "connect", "      dest_port: {ge: 1000}\n      not: {dest_ip: {prefix: [\"127.\", \"::1\"]}}\n")
        .. rule("d", "connect", "      dest_ip: {not: {prefix: [\"127.\", \"::1\", \"::ffff:127.\"]}}\n      ret: 0\n")
        .. rule("e", "connect", "      dest_port: 22\n"))
      local kfs = kfilters({ p })
      assert.is_nil(kfs.connect.off)
      local ips = { "127.0.0.1", "127.0.0.5", "127.9.9.9", "::1", "::1:2", "::ffff:127.0.0.1", "::ffff:10.0.0.7",
        "10.0.0.7", "169.254.169.254", "fd00:ec2::254", "192.0.2.1", "2001:db8::1", "::127.0.0.1" }
      local events = {}
      for i = 1, 6000 do
        events[i] = { type = "connect", comm = pick({ "nc", "curl", "python3" }), pid = 1000 + i % 50,
          tgid = 1000 + i % 50, uid = 0, ret = pick({ 0, 0, -111 }), dest_ip = pick(ips),
          dest_port = pick({ 22, 80, 999, 1000, 5000, 53 }) }
      end
      local a, b, dropped = both({ p }, kfs, events)
      os.remove(p)
      assert.is_true(dropped > 500, "dropped " .. dropped)
      assert.is_true(#a > 2000, #a .. " alerts")
      assert.same(a, b)
    end)

    it("connect, a prefix only some loopback texts have: the same alerts", function()
      math.randomseed(20)
      -- 127.0.0. is no class's every text, but some of 127/8's: that class
      -- crosses, the two others stay in the kernel
      local p = yaml(rule("f", "connect", "      dest_ip: {prefix: \"127.0.0.\"}\n      dest_port: {ge: 1000}\n")
        .. rule("g", "connect", "      dest_ip: {prefix: [\"::ffff:127.0.\"]}\n      dest_port: {ge: 2000}\n"))
      local kfs = kfilters({ p })
      assert.is_nil(kfs.connect.off)
      assert.equals(2, kfs.connect.loop)
      local events = {}
      for i = 1, 3000 do
        events[i] = { type = "connect", comm = "nc", pid = 5000, tgid = 5000, uid = 0, ret = 0,
          dest_ip = pick({ "127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.9", "10.1.1.1" }),
          dest_port = pick({ 80, 1000, 5000 }) }
      end
      local a, b, dropped = both({ p }, kfs, events)
      os.remove(p)
      assert.is_true(dropped > 300, "dropped " .. dropped)
      assert.is_true(#a > 500, #a .. " alerts")
      assert.same(a, b)
    end)

    it("connect with the stock set, connect_fanout_scan off: on, the same alerts", function()
      math.randomseed(19)
      local off = yaml("")
      local fh = assert(io.open(off, "w"))
      fh:write("overrides:\n  - rule: connect_fanout_scan\n    replace: {enabled: false}\n")
      fh:close()
      local configs = { "rules", off }
      local kfs = kfilters(configs)
      assert.is_nil(kfs.connect.off)
      assert.same({ "100.100.100.200", "169.254.169.254", "169.254.170.2", "fd00:ec2::254" }, kfs.connect.addrs)
      assert.equals(7, kfs.connect.loop)
      local progs = { { "nginx", "/usr/sbin/nginx" }, { "bash", "/usr/bin/bash" }, { "python3", "/usr/bin/python3" },
        { "app", "/opt/app/app" }, { "x", "/tmp/x" }, { "tor", "/usr/bin/tor" } }
      local ips = { "127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.7", "169.254.169.254", "203.0.113.9" }
      local events, ts = {}, 1735689600
      for i = 1, 6000 do
        local pr = pick(progs)
        ts = ts + math.random()
        local tgid = 3000 + math.random(30)
        local ev = { comm = pr[1], exe = pr[2], pid = tgid, tgid = tgid, uid = 33, ts_ns = math.floor(ts * 1e9) }
        if math.random(10) == 1 then
          ev.type, ev.call = "listen", "listen"
          ev.local_ip, ev.local_port, ev.ret = "0.0.0.0", 8080, 0
        else
          ev.type = "connect"
          ev.dest_ip, ev.dest_port, ev.ret = pick(ips), pick({ 443, 80, 9050, 3333, 6379 }), pick({ 0, -111 })
        end
        events[i] = ev
      end
      local a, b, dropped = both(configs, kfs, events)
      os.remove(off)
      assert.is_true(dropped > 500, "dropped " .. dropped)
      assert.is_true(#a > 100, #a .. " alerts")
      assert.same(a, b)
    end)

    it("take programs from name, comm and exe, and a detection's once with a filter of successes", function()
      local p = yaml(rule("a", "accept", "      any:\n        - name: [sh, bash]\n        - exe: {suffix: [/dash]}\n")
        .. rule("b", "accept", "      exe: [/usr/local/bin/srv]\n      ret: {ge: 0}\n"))
      local kfs = kfilters({ p })
      assert.is_nil(kfs.accept.off)
      local comm = { word("bash"), word("sh") }
      table.sort(comm)
      assert.same(comm, kfs.accept.comm)
      local leaf = { word("dash"), word("srv") }
      table.sort(leaf)
      assert.same(leaf, kfs.accept.leaf)
      assert.is_false(kfs.accept.once)
      os.remove(p)
      -- an exe suffix that is not a whole file name names no program
      p = yaml(rule("c", "accept", "      exe: {suffix: [bash]}\n"))
      kfs = kfilters({ p })
      assert.equals(('rule "c" (%s) wants accept events and names no local_port or program the kernel can test')
        :format(p), kfs.accept.off)
      os.remove(p)
      local function det(filter, once)
        local q = H.tmpfile(".lua", ([[
return { id = "d", description = "d", event_types = { "accept", "connect" }, filter = %s, once = %s,
  match = function(ev) return false end }]]):format(filter, once))
        local k = kfilters({ q })
        return k, q
      end
      local q
      kfs, q = det("{ accept = { ret = { ge = 0 } }, connect = { dest_port = 22 } }", '{ "accept" }')
      assert.is_nil(kfs.accept.off)
      assert.is_true(kfs.accept.once)
      os.remove(q)
      kfs, q = det("{ connect = { dest_port = 22 } }", '{ "accept" }')
      assert.equals(('detection "d" (%s) wants accept events and names no local_port or program the kernel can'
        .. " test (its once needs a filter that wants successes only: ret: {ge: 0})"):format(q), kfs.accept.off)
      os.remove(q)
      kfs, q = det("{ accept = { ret = { ge = 0 } }, connect = { ret = { ge = 0 } } }", '{ "accept", "connect" }')
      assert.equals(('detection "d" (%s) wants connect events and names no dest_port, dest_ip or program the'
        .. " kernel can test (nor leaves out loopback destinations) (the kernel remembers first successes of"
        .. " listen and accept only)"):format(q), kfs.connect.off)
      os.remove(q)
    end)

    it("remember a detection's connect destinations (once_per) when nothing else gates its calls", function()
      local function det(body, id)
        local q = H.tmpfile(".lua", ([[
local guard = require("guard")
return { id = "%s", description = "d", event_types = { "connect" }, %s
  match = function(ev) return false end }]]):format(id or "d", body))
        return q
      end
      local function kf(...)
        local qs = { ... }
        local k = kfilters(qs)
        for _, q in ipairs(qs) do os.remove(q) end
        return k.connect, qs
      end
      local k = kf(det('filter = { connect = { datagram = false } }, once_per = { connect = { "dest_ip", "dest_port", seconds = 10 } },'))
      assert.is_nil(k.off)
      assert.same({ ns = 10e9, ip = true, port = true }, k.seen)
      -- (the built-ins' miner ports)
      assert.same({ 3333, 4444, 5555, 7777 }, k.ports)
      k = kf(det('filter = { connect = { datagram = false } }, once_per = { connect = { "dest_port" } },'))
      assert.same({ ns = 0, port = true }, k.seen)
      -- the same memory wanted twice; another rule's ports beside it
      k = kf(det('filter = { connect = { datagram = false } }, once_per = { connect = { "dest_ip", seconds = 5 } },'),
        det('filter = { connect = { datagram = false } }, once_per = { connect = { "dest_ip", seconds = 5 } },', "e"),
        yaml(rule("a", "connect", "      dest_port: [22]\n")))
      assert.same({ ns = 5e9, ip = true }, k.seen)
      assert.same({ 22, 3333, 4444, 5555, 7777 }, k.ports)
      -- off: anything else gating the calls, a field the kernel does not
      -- key by, two different memories
      local why = " wants connect events and names no dest_port, dest_ip or program the kernel can test (nor leaves"
        .. " out loopback destinations) (the kernel remembers destinations for a once_per of dest_ip and dest_port"
        .. " whose filter is exactly datagram = false, without stored, once or exceptions)"
      local bodies = {
        'filter = { connect = { datagram = false, ret = 0 } }, once_per = { connect = { "dest_ip" } },',
        'once_per = { connect = { "dest_ip" } },',
        'filter = { connect = { datagram = true } }, once_per = { connect = { "dest_ip" } },',
        'filter = { connect = { datagram = false } }, once_per = { connect = { "dest_ip", "comm" } },',
        'filter = { connect = { datagram = false } }, once_per = { connect = { "dest_ip" } }, '
          .. 'stored = { connect = { dest_ip = guard.cache({}) } },',
      }
      for _, b in ipairs(bodies) do
        local q = det(b)
        local k2 = kf(q)
        assert.equals(('detection "d" (%s)'):format(q) .. why, k2.off, b)
      end
      local q1 = det('filter = { connect = { datagram = false } }, once_per = { connect = { "dest_ip", seconds = 5 } },')
      local q2 = det('filter = { connect = { datagram = false } }, once_per = { connect = { "dest_ip", seconds = 6 } },', "e")
      k = kf(q1, q2)
      assert.equals('detections "d" and "e" want connects once per destination in different ways (the kernel'
        .. " remembers one)", k.off)
    end)

    it("connect with the stock set: connect_fanout_scan's repeats kept, the same alerts", function()
      math.randomseed(23)
      local kfs = kfilters({ "rules" })
      assert.is_nil(kfs.connect.off)
      assert.same({ ns = 10e9, ip = true, port = true }, kfs.connect.seen)
      -- services talking to a few destinations all day, scanners (many
      -- ports of a host, a port of many hosts), datagrams, exits and
      -- pids used again, seconds apart so windows end
      local progs = { { "nginx", "/usr/sbin/nginx" }, { "app", "/opt/app/app" }, { "nmap", "/usr/bin/nmap" },
        { "python3", "/usr/bin/python3" }, { "x", "/tmp/x" }, { "bash", "/usr/bin/bash" } }
      local events, ts = {}, 1735689600
      local running = {}
      for i = 1, 12000 do
        local tgid = 4000 + math.random(25)
        local pr = running[tgid]
        if not pr then pr = pick(progs); running[tgid] = pr end
        ts = ts + math.random() * 0.01
        local ev = { comm = pr[1], exe = pr[2], pid = tgid, tgid = tgid, uid = 33, ts_ns = math.floor(ts * 1e9) }
        local r = math.random(100)
        if r == 1 then
          ev.type = "exit"
          running[tgid] = nil
        else
          ev.type = "connect"
          if pr[1] == "nmap" and r <= 40 then
            ev.dest_ip, ev.dest_port = "10.9.0." .. math.random(40), pick({ 22, 80, 443 })
          elseif pr[1] == "nmap" then
            ev.dest_ip, ev.dest_port = "10.9.0.1", math.random(1, 40)
          else
            ev.dest_ip = pick({ "10.0.0.5", "127.0.0.1", "127.0.0.1", "::1", "::ffff:127.0.0.1", "203.0.113.9",
              "169.254.169.254" })
            ev.dest_port = pick({ 5432, 443, 6379, 53 })
          end
          ev.ret = pick({ 0, 0, 0, -111 })
          if math.random(8) == 1 then ev.flags = require("ebpf_guard.event").F_DATAGRAM end
        end
        events[i] = ev
      end
      local a, b, dropped = both({ "rules" }, kfs, events)
      assert.is_true(dropped > 1000, "dropped " .. dropped)
      local fan = 0
      for _, x in ipairs(a) do if x:match(":connect_fanout_scan$") then fan = fan + 1 end end
      assert.is_true(fan >= 5, fan .. " connect_fanout_scan alerts")
      assert.same(a, b)
    end)

    it("catches a port filter that lacks one port", function()
      local p = yaml(rule("a", "connect", "      dest_port: [22, 80]\n"))
      local kfs = kfilters({ p })
      local broken = { connect = { ports = { 22 } } }
      local ev = { type = "connect", comm = "ssh", dest_ip = "10.0.0.1", dest_port = 80, ret = 0 }
      local a, b = both({ p }, broken, { ev })
      assert.same({ "1:a" }, a)
      assert.same({}, b)
      a, b = both({ p }, kfs, { ev })
      os.remove(p)
      assert.same(a, b)
    end)

    it("catches a rename filter that leaves the new path untested", function()
      local kfs = kfilters({ "rules" })
      assert.is_true(#kfs.rename.path2_prefixes > 0)
      local broken = { rename = { filename_prefixes = {}, filename_suffixes = {}, comm = {} } }
      local ev = { type = "rename", comm = "mv", call = "rename", filename = "/tmp/x", new_path = "/etc/cron.d/x", ret = 0 }
      local a, b = both({ "rules" }, broken, { ev })
      assert.same({ "1:persistence_file_renamed_into_place" }, a)
      assert.same({}, b)
      a, b = both({ "rules" }, kfs, { ev })
      assert.same(a, b)
    end)

    it("catches a filter that lacks one prefix", function()
      local kf = kfilter({ "rules" })
      local broken = { comm = kf.comm, filename_suffixes = kf.filename_suffixes, filename_prefixes = {} }
      for _, p in ipairs(kf.filename_prefixes) do
        if p ~= "/etc/shadow" then broken.filename_prefixes[#broken.filename_prefixes + 1] = p end
      end
      local a, b = both({ "rules" }, { open = broken }, { { type = "open", comm = "cat", filename = "/etc/shadow", ret = 3 } })
      assert.same({ "1:credential_file_read" }, a)
      assert.same({}, b)
    end)
  end)

  describe("the file families", function()
    it("derive per type: filename, the second path, comm", function()
      local p = yaml(rule("u", "unlink", "      filename: {prefix: /var/log/}\n")
        .. rule("r", "rename", "      new_path: {prefix: [/etc/cron.d/, /etc/systemd/]}\n")
        .. rule("l", "link", "      link_target: {suffix: /dev/null}\n")
        .. rule("c", "chmod", "      comm: [chmod, install]\n      mode_setuid: true\n"))
      local kfs = kfilters({ p })
      os.remove(p)
      assert.same({ filename_prefixes = { "/var/log/" }, filename_suffixes = {}, comm = {}, rules = 1 }, kfs.unlink)
      assert.equals(0, kfs.chmod.mode_mask)
      assert.same({ filename_prefixes = {}, filename_suffixes = {}, comm = {},
        path2_prefixes = { "/etc/cron.d/", "/etc/systemd/" }, path2_suffixes = {}, rules = 1 }, kfs.rename)
      assert.same({ filename_prefixes = {}, filename_suffixes = {}, comm = {}, path2_prefixes = {},
        path2_suffixes = { word("null") }, rules = 1 }, kfs.link)
      local c = { word("chmo"), word("inst") }
      table.sort(c)
      assert.same(c, kfs.chmod.comm)
      assert.same({}, kfs.open.filename_prefixes) -- no rule wants opens: all may stay
    end)

    it("let a chmod through by the mode bits a rule needs (setuid_bit_set)", function()
      local kfs = kfilters({ "rules" })
      assert.is_nil(kfs.chmod.off)
      assert.equals(3072, kfs.chmod.mode_mask) -- 06000
      local function c(mode, fn)
        return drops(kfs, { type = "chmod", comm = "chmod", filename = fn or "/var/cache/x", mode = mode, ret = 0 })
      end
      assert.is_true(c(420))           -- 0644
      assert.is_false(c(2541))         -- 04755
      assert.is_false(c(1517))         -- 02755
      assert.is_false(c(420, "/tmp/x")) -- drop_chmod_execute's directories
      local p = yaml(rule("x", "chmod", "      mode: {any: [owner_exec, group_exec]}\n"))
      assert.equals(72, kfilters({ p }).chmod.mode_mask)
      os.remove(p)
      p = yaml(rule("x", "chmod", "      mode: {not: {any: [setuid]}}\n"))
      assert.equals(('rule "x" (%s) wants chmod events and names no filename, comm or mode bits the kernel can'
        .. " test"):format(p), kfilters({ p }).chmod.off)
      os.remove(p)
    end)

    it("are off per type, with the reason", function()
      local kfs = kfilters({ "rules" })
      assert.is_nil(kfs.unlink.off)
      assert.is_nil(kfs.rename.off)
      assert.is_nil(kfs.link.off)
      local p = yaml(rule("r", "rename", "      rename_flags: {any: [exchange]}\n"))
      kfs = kfilters({ p })
      assert.equals(('rule "r" (%s) wants rename events and names no filename, new_path or comm the kernel can test')
        :format(p), kfs.rename.off)
      assert.is_nil(kfs.unlink.off)
      os.remove(p)
    end)

    it("keep what no stock rule names, and let odd paths through", function()
      local kfs = kfilters({ "rules" })
      local function u(fn, raw, comm)
        return drops(kfs, { type = "unlink", comm = comm or "storm_unlink", filename = fn, ret = 0 }, raw and { raw })
      end
      assert.is_true(u("/var/cache/x"))
      assert.is_false(u("/var/log/auth.log"))
      assert.is_false(u("/root/.bash_history", nil, "rm"))
      assert.is_false(u("/var/log/auth.log", "/var//log/auth.log"))
      assert.is_false(u("/var/log/auth.log", "/var/cache/../log/auth.log"))
      assert.is_false(u("/var/log/auth.log", "/var/./log/auth.log"))
      assert.is_false(u("/var/log/auth.log", "auth.log"))
      assert.is_false(u("/var/cache", "/var/cache/"))
      local function r(a, b) return drops(kfs, { type = "rename", comm = "mv", filename = a, new_path = b, ret = 0 }) end
      assert.is_true(r("/var/cache/a", "/var/cache/b"))
      assert.is_false(r("/var/cache/a", "/etc/cron.d/b"))
      assert.is_false(r("/var/cache/a", "cron.d/b"))
      assert.is_false(r("/var/cache/a", "/etc//cron.d/b"))
    end)
  end)

  describe("the socket families", function()
    it("are off, naming the first rule without a port or program key", function()
      local kfs = kfilters({ "rules" })
      -- connect: on, connect_fanout_scan's destinations remembered (its once_per)
      assert.is_nil(kfs.connect.off)
      assert.same({ ns = 10e9, ip = true, port = true }, kfs.connect.seen)
      assert.equals('rule "shell_listening" (rules/70-command-and-control.yaml) wants listen events and names no'
        .. " local_port or program the kernel can test", kfs.listen.off)
      -- accept: shell_accepted_connection's shells, server_starts_connecting_out's once
      assert.is_nil(kfs.accept.off)
    end)

    it("are the ports rules name: lists, bounded ranges, min/max_dest_port, the built-ins'", function()
      local kfs = kfilters({ "bench/rules.reference.yaml" })
      -- 3333..5555 and the built-in's 3333, 4444, 5555, 7777
      assert.is_nil(kfs.connect.off)
      assert.equals(2224, #kfs.connect.ports)
      assert.equals(3333, kfs.connect.ports[1])
      assert.equals(7777, kfs.connect.ports[#kfs.connect.ports])
      local p = yaml(rule("a", "connect", "      dest_port: [22, 80]\n")
        .. rule("b", "connect", "      dest_port: {ge: 1000, le: 1003}\n")
        .. rule("c", "connect", "      any:\n        - dest_port: 443\n        - dest_port: 8443\n")
        .. rule("d", "listen", "      local_port: {in: [4444]}\n")
        .. rule("e", "connect", "      all:\n        - dest_port: [9001, 9002]\n        - comm: nc\n"))
      kfs = kfilters({ p })
      -- the built-ins' 3333, 4444, 5555, 7777 too
      assert.same({ 22, 80, 443, 1000, 1001, 1002, 1003, 3333, 4444, 5555, 7777, 8443, 9001, 9002 }, kfs.connect.ports)
      assert.same({ 4444 }, kfs.listen.ports)
      os.remove(p)
      -- more than the kernel holds per type
      p = yaml(rule("w1", "connect", "      dest_port: {ge: 10000, le: 14000}\n")
        .. rule("w2", "connect", "      dest_port: {ge: 20000, le: 24000}\n"))
      kfs = kfilters({ p })
      assert.equals("the rules name 8006 dest_port values (the kernel holds 4096)", kfs.connect.off)
      os.remove(p)
      p = yaml(rule("n", "connect", "      any:\n        - dest_port: 8080\n        - comm: nc\n"))
      kfs = kfilters({ p })
      assert.equals(('rule "n" (%s) wants connect events and names no dest_port, dest_ip or program the kernel can'
        .. " test (nor leaves out loopback destinations)"):format(p), kfs.connect.off)
      os.remove(p)
      p = yaml(rule("e", "connect", "      dest_port: {ge: 1024}\n"))
      kfs = kfilters({ p })
      assert.equals(('rule "e" (%s) wants connect events and names no dest_port, dest_ip or program the kernel can'
        .. " test (nor leaves out loopback destinations)"):format(p), kfs.connect.off)
      os.remove(p)
    end)
  end)

  it("matches the host's prefix bound", function()
    assert.equals(PREFIX_MAX, compile.KF_PREFIX_MAX)
  end)
end)

-- The engine's own use of the open filter (src/prefilter.c): before the
-- rules run over a batch, an open the filter does not want is kept from
-- them, whatever its result or path (the kernel tests only the opens whose
-- path it knows). The C engine with and without it: the same alerts, and
-- exactly the opens the model above does not want are kept from the rules.
describe("the engine's prefilter", function()
  local C = require("helpers.cengine")
  local corpus = bench_corpus()

  -- the opens no rule can want, by the filter kf (off, or too few rules
  -- on opens for the filter to pay: none)
  local MIN_RULES = 8 -- src/prefilter.h EG_PREFILTER_MIN_RULES
  local function unwanted(kf, events)
    local n = 0
    if kf.off or kf.rules < MIN_RULES then return 0 end
    for _, e in ipairs(events) do
      if e.type == "open" and not comm_wanted(kf, e)
        and not wanted(kf.filename_prefixes, kf.filename_suffixes, e.filename or "") then
        n = n + 1
      end
    end
    return n
  end

  local function run_both(configs, events)
    local on, off = assert(C.new(configs)), assert(C.new(configs, { no_prefilter = true }))
    local a, b = C.fired(C.run(on, events)), C.fired(C.run(off, events))
    assert.equals(0, C.prefiltered(off))
    return a, b, C.prefiltered(on)
  end

  for _, s in ipairs({ { "the stock set", { "rules" } }, { "the reference's example rules (no rule on opens)", { "examples/rules.example.yaml" } },
    { "the built-ins only (likewise)", {} } }) do
    it("changes no alert: " .. s[1], function()
      math.randomseed(16)
      local kfs = kfilters(s[2])
      local events = {}
      local function add(list) for _, e in ipairs(list) do events[#events + 1] = e end end
      add(stock_cases())
      add(random_events(20000, kfs.open.filename_prefixes))
      add(random_file_events(5000, kfs, {}))
      add(H.read_jsonl(corpus.path))
      add(jsonl("tests/noise/workload.jsonl.gz", 30000, true))
      local a, b, kept = run_both(s[2], events)
      assert.equals(unwanted(kfs.open, events), kept)
      if s[2][1] == "rules" then
        assert.is_true(kfs.open.rules >= MIN_RULES)
        assert.is_true(kept > 5000)
        assert.is_true(#a > 200)
      else
        assert.equals(0, kfs.open.rules)
        assert.equals(0, kept)
      end
      assert.same(b, a)
    end)
  end

  it("keeps an open by its comm's word, its filename's last word or a prefix, up to 64 bytes", function()
    local long = "/" .. ("x"):rep(100)
    local pad = ""
    for k = 1, MIN_RULES - 3 do pad = pad .. rule("pad" .. k, "open", "      filename: /nowhere/" .. k .. "\n") end
    local p = yaml(rule("pre", "open", "      filename: {prefix: [/etc/cron.d/, " .. long .. "]}\n")
      .. rule("suf", "open", "      filename: {suffix: /token}\n")
      .. rule("prog", "open", "      comm: [nc, curl]\n") .. pad)
    local function op(comm, fn, ret) return { type = "open", comm = comm, filename = fn, ret = ret or 3 } end
    local events = {
      op("cat", "/etc/cron.d/x"), op("cat", "/etc/cron.d/x", -2), op("cat", "/etc/cron.d"),
      op("cat", "/etc/cron.dx"), op("cat", "/run/secrets/token"), op("cat", "/run/token/x"),
      op("curl", "/usr/lib/x"), op("nc", "/usr/lib/x"), op("ncat", "/usr/lib/x"), op("cu", "/usr/lib/x"),
      op("", "/a"), op("cat", ""), op("cat", long), op("cat", long:sub(1, 64) .. "y"), op("cat", long:sub(1, 63)),
    }
    local a, b, kept = run_both({ p }, events)
    os.remove(p)
    assert.same({ "1:pre", "2:pre", "5:suf", "7:prog", "8:prog", "13:pre" }, a)
    assert.same(b, a)
    -- kept from the rules: /etc/cron.d, /etc/cron.dx, /run/token/x, ncat's and cu's,
    -- the empty comm's, the empty path, 63 bytes of the long prefix (64 and more go through)
    assert.equals(8, kept)
  end)

  it("keeps nothing from the rules when the filter is off", function()
    local pad = ""
    for k = 1, MIN_RULES do pad = pad .. rule("pad" .. k, "open", "      filename: /nowhere/" .. k .. "\n") end
    local p = yaml(rule("uid", "open", "      uid: 0\n") .. pad)
    local a, b, kept = run_both({ p }, { { type = "open", comm = "cat", filename = "/x", uid = 0, ret = 3 } })
    os.remove(p)
    assert.same({ "1:uid" }, a)
    assert.same(b, a)
    assert.equals(0, kept)
  end)

  it("keeps nothing from the rules when fewer than 8 rules want opens", function()
    local pad = ""
    for k = 1, MIN_RULES - 2 do pad = pad .. rule("pad" .. k, "open", "      filename: /nowhere/" .. k .. "\n") end
    local p = yaml(rule("pre", "open", "      filename: {prefix: /etc/cron.d/}\n") .. pad)
    local events = { { type = "open", comm = "cat", filename = "/etc/cron.d/x", ret = 3 },
      { type = "open", comm = "cat", filename = "/usr/lib/x", ret = 3 } }
    local a, b, kept = run_both({ p }, events)
    assert.same({ "1:pre" }, a)
    assert.same(b, a)
    assert.equals(0, kept)
    -- one more, and the filter runs
    local p2 = yaml(rule("pre", "open", "      filename: {prefix: /etc/cron.d/}\n") .. pad
      .. rule("pad0", "open", "      filename: /nowhere/0\n"))
    a, b, kept = run_both({ p2 }, events)
    os.remove(p)
    os.remove(p2)
    assert.same({ "1:pre" }, a)
    assert.same(b, a)
    assert.equals(1, kept)
  end)
end)
