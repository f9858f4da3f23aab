-- The kernel's filter of open events (lua/ebpf_guard/compile.lua,
-- kernel_filter; bpf/ebpf_guard.bpf.c, kf_open_drop): what it is derived
-- from, and that an open it keeps in the kernel changes no alert: the rules
-- fire the same on a stream with and without the events it drops.
local ffi = require("ffi")
local H = require("helpers.engine")
local compile = require("ebpf_guard.compile")

local function word(s, at)
  local w = 0
  for k = 3, 0, -1 do w = w * 256 + (s:byte((at or 1) + k) or 0) end
  return w
end

local function kfilter(configs)
  local eng = assert(H.new(configs))
  return eng.res.kfilter.open
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
local function drops(kf, ev)
  if kf.off or ev.type ~= "open" or (ev.ret or 0) < 0 then return false end
  local fn, comm = ev.filename or "", (ev.comm or ""):sub(1, 15)
  if fn == "" or fn:sub(1, 1) ~= "/" then return false end
  local cw = comm:match("^[^%z]*"):sub(1, 4)
  for _, w in ipairs(kf.comm) do if w == word(cw) then return false end end
  if #fn >= 4 then
    local sw = word(fn, #fn - 3)
    for _, w in ipairs(kf.filename_suffixes) do if w == sw then return false end end
  end
  local n = math.min(#fn, PREFIX_MAX)
  for _, p in ipairs(kf.filename_prefixes) do
    if #p <= n and fn:sub(1, #p) == p then return false end
  end
  return true
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
local function both(configs, kf, events)
  local kept, map = {}, {}
  for i, e in ipairs(events) do
    if not drops(kf, e) then
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

describe("the kernel filter of open events", function()
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
      assert.is_true(drops(kf, { type = "open", comm = "storm_open", filename = "/etc/hostname", ret = 3 }))
      assert.is_false(drops(kf, { type = "open", comm = "storm_open", filename = "/etc/shadow", ret = 3 }))
      assert.is_false(drops(kf, { type = "open", comm = "curl", filename = "/etc/hostname", ret = 3 }))
      assert.is_false(drops(kf, { type = "open", comm = "cat", filename = "/etc/hostname", ret = -2 }))
    end)
  end)

  describe("property: a dropped open changes no alert", function()
    local corpus
    setup(function()
      corpus = os.tmpname()
      assert(os.execute("build/eg_bench_engine -n 20000 --write " .. corpus .. " >/dev/null 2>&1") == 0)
    end)
    teardown(function() os.remove(corpus) end)

    local sets = {
      { "the stock set", { "rules" } },
      { "the reference's example rules", { "examples/rules.example.yaml" } },
      { "the built-ins only", {} },
    }
    for _, s in ipairs(sets) do
      it(s[1], function()
        math.randomseed(15)
        local kf = kfilter(s[2])
        assert.is_nil(kf.off)
        local events = {}
        local function add(list) for _, e in ipairs(list) do events[#events + 1] = e end end
        add(stock_cases())
        add(random_events(20000, kf.filename_prefixes))
        add(H.read_jsonl(corpus))
        add(jsonl("tests/noise/workload.jsonl.gz", 30000, true))
        local a, b, dropped = both(s[2], kf, events)
        assert.is_true(dropped > 1000)
        if s[2][1] == "rules" then assert.is_true(#a > 200) end
        assert.same(a, b)
      end)
    end

    it("catches a filter that lacks one prefix", function()
      local kf = kfilter({ "rules" })
      local broken = { comm = kf.comm, filename_suffixes = kf.filename_suffixes, filename_prefixes = {} }
      for _, p in ipairs(kf.filename_prefixes) do
        if p ~= "/etc/shadow" then broken.filename_prefixes[#broken.filename_prefixes + 1] = p end
      end
      local a, b = both({ "rules" }, broken, { { type = "open", comm = "cat", filename = "/etc/shadow", ret = 3 } })
      assert.same({ "1:credential_file_read" }, a)
      assert.same({}, b)
    end)
  end)

  it("matches the host's prefix bound", function()
    assert.equals(PREFIX_MAX, compile.KF_PREFIX_MAX)
  end)
end)
