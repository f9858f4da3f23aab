-- Entry point for the C host (src/engine.c): loads the configuration,
-- compiles the rules and returns the batch runner. See docs/architecture.md.
local ffi = require("ffi")
local event = require("ebpf_guard.event")
local evtypes = require("ebpf_guard.evtypes")
local config = require("ebpf_guard.config")
local builtins = require("ebpf_guard.builtins")
local compile = require("ebpf_guard.compile")
local kkill = require("ebpf_guard.kkill")
local sandbox = require("ebpf_guard.sandbox")
local guard = require("ebpf_guard.guard")
local view_mod = require("ebpf_guard.view")
local disable = require("ebpf_guard.disable")

local type = type
local rawget = rawget
local tostring = tostring
local tonumber = tonumber
local bor = bit.bor
local band = bit.band
local lshift = bit.lshift

local _M = {}

_M.SUMMARY_EVERY = 60 -- seconds between error summaries per rule
-- Whether a detection's stored (lua-detections.md) keeps calls from match;
-- specs turn it off to compare
_M.STORED = true
-- The processes a detection's once remembers per detection (more: the
-- least recently seen is forgotten, and its next event is a first again).
local ONCE_MAX = 16384
-- { [type] = the processes seen } for a detection's once (config.lua)
local function once_stores(types)
  local out = {}
  for t in pairs(types) do out[t] = guard.internal_state(ONCE_MAX) end
  return out
end
local holds = guard.holds
-- A detection's once_per: the processes remembered per detection and type
-- (the least recently seen forgotten past that), and the values remembered
-- per process (past that, the process's memory starts over: a repeat may
-- reach match again, as after a window).
local ONCE_PER_PROCS, ONCE_PER_VALUES = 4096, 256
local NONE = {} -- the key of a field without a value
-- compiled: decided in the compiled loop, whose exits are its own (below)
local function once_per_store(o, compiled)
  return { fields = o.fields, ns = o.ns,
    procs = compiled and guard.internal_cache(ONCE_PER_PROCS) or guard.internal_state(ONCE_PER_PROCS) }
end

-- The process exits of one engine's compiled loop, for the once_per it
-- decides: the loop decides a window's events before the window's exits
-- reach the loop of calls, so its memory is not a state store (an exit
-- there would drop what a process that came after it in the window was
-- given) and tells exits apart itself. window() at each window's start
-- applies the last window's exits to every store (a process whose last
-- decision came before its exit is forgotten) and files this window's;
-- exited(mem, tgid, i): whether the process exited in this window before
-- event i, after mem's last decision.
local function once_per_exits()
  -- the last window's exits, in window order: process tg[k] at index ix[k]
  -- (reused arrays and numeric loops: this runs at every window, in the
  -- compiled run(), where pairs() and a table per exit would not compile)
  local ow = { stores = {}, gen = 0, n = 0, tg = {}, ix = {} }
  function ow.window(evs, ti, a, z)
    local n, tg, ix, stores = ow.n, ow.tg, ow.ix, ow.stores
    -- (a process that exited twice there is forgotten when its memory
    -- predates either exit: that is, its last)
    for k = 1, n do
      local tgid, at = tg[k], ix[k]
      for s = 1, #stores do
        local st = stores[s]
        local mem = guard.recall(st, tgid)
        if mem and not (mem.gen == ow.gen and mem.i > at) then guard.remember(st, tgid, nil) end
      end
    end
    ow.gen = ow.gen + 1
    n = 0
    for j = a, z - 1 do
      local i = ti[j]
      local e = evs[i]
      if e.pid == e.tgid then
        n = n + 1
        tg[n] = tonumber(e.tgid)
        ix[n] = tonumber(i)
      end
    end
    ow.n = n
  end
  function ow.exited(mem, tgid, i)
    local after = mem.gen == ow.gen and mem.i or -1
    local tg, ix = ow.tg, ow.ix
    for k = 1, ow.n do
      if tg[k] == tgid then
        local j = ix[k]
        if j < i and j > after then return true end
      end
    end
    return false
  end
  return ow
end

-- The node of a process's once_per memory mem that holds the last of n
-- values k1..k4 (nil: none yet), and the same made where missing. Written
-- out for 1 to 4 values: called from the compiled loop's traces, where an
-- inner loop would leave the trace for one of its own.
local function node_of(mem, n, k1, k2, k3)
  if n == 1 then return mem end
  local a = mem[k1]
  if a == nil or n == 2 then return a end
  local b = a[k2]
  if b == nil or n == 3 then return b end
  return b[k3]
end
local function node_make(mem, n, k1, k2, k3)
  if n == 1 then return mem end
  local a = mem[k1]
  if a == nil then a = {}; mem[k1] = a end
  if n == 2 then return a end
  local b = a[k2]
  if b == nil then b = {}; a[k2] = b end
  if n == 3 then return b end
  local c = b[k3]
  if c == nil then c = {}; b[k3] = c end
  return c
end

-- Whether the process tgid's n values k1..k4 are new for once_per o at
-- time now: no call for them within o.ns (then the time is set). kfresh:
-- the kernel's verdict was "new" (it keeps the repeats and made this
-- call's decision): only remembered then. image: what the process runs
-- (its exec id): a new program starts over. ow and i: the compiled loop's
-- exits and the event's index in its window (nil in the loop of calls,
-- where exits come in order).
local function once_per_new(o, tgid, image, now, n, k1, k2, k3, k4, kfresh, ow, i)
  local procs = o.procs
  -- (not refreshed: the processes are forgotten first in, first out; an
  -- LRU move per event was three more cache misses with many processes)
  local mem = guard.peek(procs, tgid)
  if not mem or mem.image ~= image or (ow and ow.exited(mem, tgid, i)) then
    mem = { n = 0, image = image }
    guard.remember(procs, tgid, mem)
  end
  if ow then mem.gen, mem.i = ow.gen, i end
  local last = n == 1 and k1 or n == 2 and k2 or n == 3 and k3 or k4
  local node = node_of(mem, n, k1, k2, k3)
  local at = node and node[last]
  if at and not kfresh and (not o.ns or now - at < o.ns) then return false end
  if not at then
    if mem.n >= ONCE_PER_VALUES then
      -- full: the process's memory starts over with this value
      mem = { n = 0, image = image, gen = mem.gen, i = mem.i }
      guard.remember(procs, tgid, mem)
    end
    mem.n = mem.n + 1
    node = node_make(mem, n, k1, k2, k3)
  end
  node[last] = now
  return true
end

-- A field's value as a key (a field without one: NONE).
local function key(x)
  if x == nil then return NONE end
  return x
end

-- The same through a view v (the loop of user calls, where stored or once
-- of the same type come first).
local function once_per_view(o, v)
  local f = o.fields
  local n = #f
  return once_per_new(o, v.tgid, v.exec_id, guard.now_ns, n, key(v[f[1]]), n >= 2 and key(v[f[2]]) or nil,
    n >= 3 and key(v[f[3]]) or nil, n >= 4 and key(v[f[4]]) or nil, false)
end

-- A once_per decided in the compiled loop (compile.lua, the detection's
-- call behind its filter): gate(e, i) for the event struct e at index i of
-- the window; with follow (its memory is the one the kernel keeps), the
-- kernel's verdict on the event (F_ONCE_*) decides when there is one.
local F_FRESH, F_REPEAT = event.F_ONCE_FRESH, event.F_ONCE_REPEAT
local exec_id = view_mod.GETTERS.exec_id
local function no_value() return NONE end
local function once_per_gate(o, ow, follow)
  ow.stores[#ow.stores + 1] = o.procs
  -- the kernel's verdicts are about this memory only when it keeps this
  -- detection's repeats (compile.kernel_keeps_once_per)
  local repeat_bit, fresh_bit = follow and F_REPEAT or 0, follow and F_FRESH or 0
  local f = o.fields
  local n = #f
  local g1, g2, g3, g4 = view_mod.GETTERS[f[1]], view_mod.GETTERS[f[2]] or no_value,
    view_mod.GETTERS[f[3]] or no_value, view_mod.GETTERS[f[4]] or no_value
  return function(e, i)
    local fl = e.flags
    if band(fl, repeat_bit) ~= 0 then return false end
    -- (no helper per value: each would be a trace of its own)
    local k1, k2, k3, k4 = g1(e), g2(e), g3(e), g4(e)
    if k1 == nil then k1 = NONE end
    if k2 == nil then k2 = NONE end
    if k3 == nil then k3 = NONE end
    if k4 == nil then k4 = NONE end
    return once_per_new(o, tonumber(e.tgid), exec_id(e), tonumber(e.ts_ns), n, k1, k2, k3, k4,
      band(fl, fresh_bit) ~= 0, ow, tonumber(i))
  end
end

-- Whether user[k]'s call for an event of type t (read through view v, not
-- charged to the detection) is wanted: its stored holds the event's values
-- (lua-detections.md, stored), for a type of its once, the process has had
-- no such call yet (then it is marked), and for a type of its once_per
-- (one with stored or once: the kernel keeps none of its repeats), the
-- values are new for the process.
local function gate(u, t, v)
  local list = u.stored and u.stored[t]
  if list then
    for j = 1, #list do
      local c = list[j]
      if not holds(c.store, v[c.field]) then return false end
    end
  end
  local seen = u.once and u.once[t]
  if seen then
    local tgid = v.tgid
    if holds(seen, tgid) then return false end
    guard.mark(seen, tgid)
  end
  local op = u.once_per and u.once_per[t]
  if op and not once_per_view(op, v) then return false end
  return true
end

local function json_string(s)
  s = s:gsub('[%c"\\\128-\255]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    local byte = c:byte()
    if byte >= 128 then return c end
    return ("\\u%04x"):format(byte)
  end)
  return '"' .. s .. '"'
end

local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len
    if c < 0x80 then len = 1
    elseif c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then len = 3
    elseif c >= 0xF0 and c <= 0xF4 then len = 4
    else return false end
    for j = i + 1, i + len - 1 do
      local cc = s:byte(j)
      if not cc or cc < 0x80 or cc > 0xBF then return false end
    end
    i = i + len
  end
  return true
end

local function tags_json(tags)
  local parts = {}
  for i, t in ipairs(tags) do
    if not valid_utf8(t) then t = t:gsub("[\128-\255]", "?") end
    parts[i] = json_string(t)
  end
  return "[" .. table.concat(parts, ",") .. "]"
end
_M.tags_json = tags_json
_M.json_string = json_string
_M.valid_utf8 = valid_utf8

-- opts: { batch = lightuserdata struct eg_batch *, configs = { paths },
--         layout = { size, <field> = offset, eg_proc = { size, <field> = offset }, ... },
--         log = function(line)?, clock = function()?,
--         disable_rules = { ids }?, disable_tags = { tags }? (-disable-rule, -disable-tag),
--         list = "table" | "json" | "summary" | nil (-list-rules, -validate) }
-- Returns { rules, types_wanted, kfilter = the kernel's filters
-- (compile.kernel_filter), kkill and kprotect = the kills the kernel makes
-- and its view of protect: (kkill.derive, kkill.protect), run, desc, records, report = the listing or
-- summary text when opts.list asked for one, protect = the protect:
-- entries } or nil, message. A rule of rules has action = "kill" or nil.
local function init(opts)
  -- room for the trace trees of a large rule set: each rule group is a loop
  -- with its own root trace and side traces (compile.lua); LuaJIT's
  -- defaults (1000 traces, 100 side traces per root, 512 KiB of machine
  -- code) flushed and recompiled them all the time past ~30 rules.
  -- hotexit=4 (LuaJIT's default: 10): a side exit is compiled into a
  -- side trace once taken 4 times. A host's rarer paths (one event of a
  -- kind per minute) then stop going back to the interpreter sooner: on the
  -- recorded build workload the engine reaches the steady state it reached
  -- before in about a third of the events, with no loss there
  -- (docs/performance.md)
  jit.opt.start("maxtrace=10000", "maxside=1000", "maxsnap=1000", "maxmcode=65536", "hotexit=4")
  local ok, err = event.check_layout(opts.layout or {})
  if not ok then return nil, err end
  if opts.registry ~= nil then
    ok, err = evtypes.check(opts.registry)
    if not ok then return nil, err end
  end
  local b = ffi.cast("struct eg_batch *", opts.batch)
  local MEM_MSG = ("memory limit exceeded (more than %d MiB allocated in one call)")
    :format(tonumber(b.mem_limit) / 1048576)
  local log = opts.log or function(line) io.stderr:write(line, "\n") end
  local clock = opts.clock or os.time
  guard.sink = log

  -- Error handler for user calls: gives budget errors raised by the C count
  -- hook (which carry no position) the user code's file and line.
  local user_sources = { ["=condition"] = true }
  local getinfo = debug.getinfo
  local function handler(m)
    -- the user call is over: stop charging, or the hook could fire in here
    b.in_user = 0
    -- never tostring() a user's error object: its __tostring would run unbounded
    if type(m) ~= "string" then return "(error object is a " .. type(m) .. " value)" end
    -- LuaJIT's message when an allocation failed: here, the memory limit
    if m == "not enough memory" then m = MEM_MSG end
    if m:find("^[^\n]-:%d+: ") then return m end
    for lvl = 2, 30 do
      local info = getinfo(lvl, "Sl")
      if not info then break end
      if user_sources[info.source] and info.currentline and info.currentline > 0 then
        return info.short_src .. ":" .. info.currentline .. ": " .. m
      end
    end
    return m
  end

  -- Inside the daemon the handler runs behind a C function that stops the
  -- charging first (src/engine.c user_errh); plain LuaJIT (the pure-Lua
  -- spec helper) calls it directly.
  -- The count hook is on around the loop of run-time user calls only (in
  -- the host: src/usercall.c; here opts.hook_on and hook_off, called by
  -- compile.lua's Lua loop): the compiled rule loops run without it.
  local hook_on, hook_off = opts.hook_on or function() end, opts.hook_off or function() end
  -- enter(k) / leave(): around one run-time call of rule k's user code in
  -- the Lua loop (the C loop does the same in src/engine.c)
  local function enter(k)
    local calls = b.rule_calls
    if calls ~= nil then calls[k] = calls[k] + 1 end
    b.in_user = 1
    b.ticks = 0
    b.user_mapped = 0
    b.call_start_ns = 0
  end
  local function leave()
    b.in_user = 0
    b.ticks = 0
    b.user_mapped = 0
    b.call_start_ns = 0
  end
  local ok_ce, cengine = pcall(require, "ebpf_guard.cengine")
  if not ok_ce then cengine = nil end
  if cengine then handler = cengine.wrap_handler(handler) end

  local function run_user(fn, ...)
    local info = getinfo(fn, "S")
    user_sources[info.source] = true
    b.in_user = 1
    b.ticks = 0
    b.user_mapped = 0
    b.call_start_ns = 0
    local res = { xpcall(fn, handler, ...) }
    if res[2] == "not enough memory" then res[2] = MEM_MSG end
    b.in_user = 0
    b.ticks = 0
    b.user_mapped = 0
    b.call_start_ns = 0
    return res[1], res[2]
  end

  local cfg, cerr = config.load(opts.configs, {
    builtin_ids = builtins.IDS, builtin_list = builtins.ID_LIST, builtins = builtins.LIST,
    run_user = run_user,
  })
  if not cfg then return nil, cerr end

  -- Every rule of the configuration, disabled ones too, for -list-rules:
  -- { id, kind = "builtin" | "yaml" | "lua", types = { names }, severity,
  --   tags, source = file or "builtin", line = n or nil, enabled,
  --   why = why it is off (nil when enabled), overrides = { "file:line" },
  --   action = "kill" or nil, kill_in = "kernel" | "userspace" (enabled
  --   rules with action kill: where -enforce kills; kkill.lua) }
  local records = {}
  local function record(r, why)
    local names = {}
    for i, t in ipairs(r.types) do names[i] = event.TYPE_NAMES[t] end
    records[#records + 1] = {
      id = r.id, kind = r.kind, types = names, severity = r.severity, tags = r.tags,
      source = r.source, line = r.line, enabled = why == nil, why = why,
      overrides = r.overrides or {}, action = r.action, params = r.params,
    }
  end
  for _, b in ipairs(cfg.builtins) do
    record(b, (not b.enabled) and (b.why or "disabled") or nil)
  end
  for _, r in ipairs(cfg.all) do
    record(r, (not r.enabled) and (r.why or "disabled") or nil)
  end
  -- -disable-rule, -disable-tag: every value must name a rule of the records
  local off, derr = disable.check(records, opts.disable_rules, opts.disable_tags)
  if not off then return nil, derr end
  for _, rec in ipairs(records) do
    local why = rec.enabled and off(rec)
    if why then rec.enabled, rec.why = false, why end
  end

  local rules = {}
  for _, b in ipairs(cfg.builtins) do
    if b.enabled and not off(b) then rules[#rules + 1] = b end
  end
  for _, r in ipairs(cfg.rules) do
    if not off(r) then rules[#rules + 1] = r end
  end
  if #rules > 65535 then
    return nil, ("too many rules (%d, at most 65535)"):format(#rules)
  end

  local out, types_wanted = {}, 0
  local user = {}
  local ow -- the compiled loop's exits, when it decides a once_per
  local kfilter = compile.kernel_filter(rules)
  for k, r in ipairs(rules) do
    out[k] = {
      id = r.id, description = r.description, severity = r.severity,
      tags_json = tags_json(r.tags), source = r.source, kind = r.kind, action = r.action,
    }
    for _, t in ipairs(r.types) do types_wanted = bor(types_wanted, lshift(1, t)) end
    if r.kind == "lua" then
      local info = getinfo(r.match, "S")
      local at = info.what == "C" and "built-in" or (info.short_src .. ":" .. info.linedefined)
      user[k - 1] = { fn = r.match, rule = r, detection = true, where = "match (" .. at .. ")",
        stored = _M.STORED and r.stored or nil,
        once = r.once and once_stores(r.once) or nil }
      -- once_per: decided in the compiled loop, unless stored or once of
      -- the type must come first (then in the gate of the loop of calls)
      r.once_per_gate = nil
      for t, o in pairs(r.once_per or {}) do
        if (r.stored and r.stored[t]) or (r.once and r.once[t]) then
          user[k - 1].once_per = user[k - 1].once_per or {}
          user[k - 1].once_per[t] = once_per_store(o, false)
        else
          r.once_per_gate = r.once_per_gate or {}
          ow = ow or once_per_exits()
          r.once_per_gate[t] = once_per_gate(once_per_store(o, true), ow,
            compile.kernel_keeps_once_per(kfilter, r, t))
        end
      end
    elseif r.condition then
      user[k - 1] = { fn = r.condition, rule = r, detection = false }
    end
  end
  -- exit events end a process's state in Lua detections: only wanted by
  -- enabled ones
  local want_exit = false
  for _, r in ipairs(rules) do
    if r.kind == "lua" then want_exit = true end
  end
  if want_exit then types_wanted = bor(types_wanted, lshift(1, event.TYPES.exit)) end

  -- Error accounting and rate-limited logging. A rule whose user code fails
  -- max_errors times in a row is taken out of service until the next reload.
  local max_errors = opts.max_errors or 100
  if max_errors < 0 then max_errors = math.huge end
  local in_a_row = {}
  local errstate = {}
  local last_errors = {} -- rule index -> its last error, for src/engine.c
  -- row: the rule's errors in a row, this one included, when the caller
  -- counts them (src/usercall.c); nil: counted here
  local function user_error(k, msg, kind, row)
    local re = b.rule_errors
    if re ~= nil then re[k * 2 + kind] = re[k * 2 + kind] + 1 end
    b.nerrors = b.nerrors + 1
    local r = rules[k + 1]
    local what = ('%s "%s" (%s)'):format(r.kind == "lua" and "detection" or "rule", r.id, r.source)
    local kname = kind == 1 and "budget" or "runtime"
    last_errors[k] = kname .. " error: " .. tostring(msg)
    if row == nil then
      row = (in_a_row[k] or 0) + 1
      in_a_row[k] = row
    end
    if row >= max_errors then
      user[k].disabled = true
      if b.rule_disabled ~= nil then b.rule_disabled[k] = 1 end
      log(("ebpf-guard: %s: disabled after %d errors in a row (last: %s error: %s); it stays off until the next reload")
        :format(what, row, kname, tostring(msg)))
      return
    end
    local st = errstate[k]
    if not st then
      st = { first = {}, suppressed = 0, last = clock() }
      errstate[k] = st
    end
    if not st.first[kind] then
      st.first[kind] = true
      log(("ebpf-guard: %s: %s error: %s"):format(what, kname, tostring(msg)))
      return
    end
    st.suppressed = st.suppressed + 1
    st.lastmsg = tostring(msg)
    local now = clock()
    if now - st.last >= _M.SUMMARY_EVERY then
      log(("ebpf-guard: %s: %d more errors in the last %ds (last: %s)")
        :format(what, st.suppressed, now - st.last, st.lastmsg))
      st.suppressed = 0
      st.last = now
    end
  end

  local view, set_view, fresh_view = view_mod.new()
  local desc = {}
  local dirty_gen, gen = -1, 0
  local last_gen, last_i = -1, -1

  local function begin()
    gen = gen + 1
    -- desc.dirty: written by the C loop of user calls
    if dirty_gen >= 0 or desc.dirty then
      for k in pairs(desc) do desc[k] = nil end
      dirty_gen = -1
    end
  end

  local function call_user(k, i)
    local u = user[k]
    if u.disabled then return false end
    local e = b.ev + i
    if gen ~= last_gen or i ~= last_i then
      set_view(e)
      last_gen, last_i = gen, i
    else
      fresh_view()
    end
    guard.now_ns = tonumber(e.ts_ns)
    -- the detection's stored, once and once_per (of a type with stored
    -- or once: the others are decided in the compiled loop)
    if (u.stored or u.once or u.once_per) and not gate(u, tonumber(e.type), view) then return false end
    enter(k)
    local ok, r = xpcall(u.fn, handler, view)
    leave()
    if r == "not enough memory" then r = MEM_MSG end
    if not ok then
      user_error(k, r, sandbox.is_budget(r) and 1 or 0)
      return false
    end
    if not u.detection then
      if in_a_row[k] then in_a_row[k] = nil end
      return r ~= nil and r ~= false
    end
    if r == true or r == nil or r == false then
      if in_a_row[k] then in_a_row[k] = nil end
      return r == true
    end
    local d = r
    if type(r) == "table" then
      d = rawget(r, "description")
      if d == nil then
        if in_a_row[k] then in_a_row[k] = nil end
        return true
      end
      if type(d) ~= "string" then
        user_error(k, ("%s returned a table whose description is a %s (expected a string)")
          :format(u.where, type(d)), 0)
        return false
      end
    end
    if type(d) == "string" then
      if in_a_row[k] then in_a_row[k] = nil end
      dirty_gen = gen
      return d
    end
    user_error(k, ("%s returned a %s (expected true, false, nil, a string or a table)")
      :format(u.where, type(r)), 0)
    return false
  end

  local function on_exit(i)
    local e = b.ev[i]
    if e.pid == e.tgid then guard.forget(tonumber(e.tgid)) end
  end

  -- the kills the kernel makes (with -enforce): the listing says which
  local kk = kkill.derive(rules)
  local in_kernel = {}
  for _, id in ipairs(kk.rules) do in_kernel[id] = true end
  for _, rec in ipairs(records) do
    if rec.enabled and rec.action == "kill" then rec.kill_in = in_kernel[rec.id] and "kernel" or "userspace" end
  end

  -- In the host, the loop of user calls is C (src/usercall.c): the same
  -- calls, results and errors as call_user, without the FFI accesses that
  -- made most of a call's cost in the interpreter. Its view reads the
  -- event's plain fields in C and asks a Lua view for the others.
  local user_run
  if cengine and cengine.user_loop then
    local st = cengine.user_state(#rules)
    local fns, kinds, gated = {}, {}, {}
    for k, u in pairs(user) do
      fns[k], kinds[k] = u.fn, u.detection and "detection" or "condition"
      if u.stored or u.once or u.once_per then
        gated[k] = {}
        for t in pairs(u.stored or {}) do gated[k][t] = true end
        for t in pairs(u.once or {}) do gated[k][t] = true end
        for t in pairs(u.once_per or {}) do gated[k][t] = true end
      end
    end
    local lview, lset = view_mod.new()
    local seen = -1
    local function fallback(key, i, seq)
      if seq ~= seen then
        lset(b.ev + i)
        seen = seq
      end
      return lview[key]
    end
    local cview = view_mod.new_c(cengine, st, fallback)
    user_run = cengine.user_loop {
      state = st, batch = opts.batch, pending = compile.PENDING, exit_rule = compile.EXIT_RULE,
      fns = fns, kinds = kinds, gated = gated, errh = handler, view = cview,
      exit = guard.forget, desc = desc, guard = guard,
      stored = function(k, t) return gate(user[k], t, cview) end,
      fail = function(k, r, row)
        if r == "not enough memory" then r = MEM_MSG end
        user_error(k, r, sandbox.is_budget(r) and 1 or 0, row)
      end,
      bad = function(k, r, row)
        local u = user[k]
        if type(r) == "table" then
          user_error(k, ("%s returned a table whose description is a %s (expected a string)")
            :format(u.where, type(rawget(r, "description"))), 0, row)
        else
          user_error(k, ("%s returned a %s (expected true, false, nil, a string or a table)")
            :format(u.where, type(r)), 0, row)
        end
      end,
    }
  end

  local run, src, most = compile.build(rules, {
    b = b, user = call_user, on_exit = on_exit, begin = begin, desc = desc, want_exit = want_exit,
    user_on = hook_on, user_off = hook_off, user_run = user_run,
    once_window = ow and ow.window or nil,
  })
  local report
  if opts.list == "summary" then
    report = require("ebpf_guard.listing").summary(records, #cfg.files)
  elseif opts.list then
    report = require("ebpf_guard.listing").render(records, opts.list)
  end
  return {
    rules = out, types_wanted = types_wanted, kfilter = kfilter, run = run,
    kkill = kk, kprotect = kkill.protect(cfg.protect), desc = desc, source = src, most_hits = most,
    records = records, report = report, last_errors = last_errors,
    finish = guard.flush, protect = cfg.protect,
  }
end

-- init with the JIT off: loading runs each piece of its code once or a few
-- times (the YAML, the rule language, the generated source), where compiling
-- traces costs more than it saves. On this project's machines each trace
-- also paid two mprotect calls of ~250 us (LuaJIT makes its machine code
-- writable, then executable again): loading the stock set took ~0.5 s with
-- 4,243 of them, ~0.25 s with the JIT off (docs/performance.md). The rules'
-- run function is compiled as before once events flow. An error raised
-- while loading is raised again, its message unchanged.
function _M.init(opts)
  local was_on = jit.status()
  jit.off()
  local ok, r, err = pcall(init, opts)
  if was_on then jit.on() end
  if not ok then error(r, 0) end
  return r, err
end

return _M
