-- Drives the Lua engine the way src/engine.c does, without the C host:
-- builds struct eg_event arrays from JSON event objects, calls host.init and
-- run() under a count hook identical to engine.c's count_hook.
local ffi = require("ffi")
local cjson = require("cjson")
local event = require("ebpf_guard.event")
local evtypes = require("ebpf_guard.evtypes")
local host = require("ebpf_guard.host")

local _M = {}

_M.HOOK_EVERY = 1000
_M.DEFAULT_BUDGET_TICKS = 100 -- 100k instructions: fast specs

local function layout()
  local l = { size = ffi.sizeof("struct eg_event") }
  for _, f in ipairs(event.FIELDS) do l[f] = ffi.offsetof("struct eg_event", f) end
  for name, fields in pairs(event.CONTEXT_FIELDS) do
    local s = { size = ffi.sizeof("struct " .. name) }
    for _, f in ipairs(fields) do s[f] = ffi.offsetof("struct " .. name, f) end
    l[name] = s
  end
  return l
end
_M.layout = layout

local function days_from_civil(y, m, d)
  y = (m <= 2) and y - 1 or y
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- RFC 3339 text to ns since the epoch (int64 cdata).
function _M.parse_ts(s)
  local y, mo, d, h, mi, se, rest = s:match("^(%d+)-(%d+)-(%d+)[Tt ](%d+):(%d+):(%d+)(.*)$")
  assert(y, "bad timestamp " .. s)
  local frac, tz = rest:match("^%.(%d+)(.*)$")
  if not frac then frac, tz = "", rest end
  local ns = tonumber((frac .. "000000000"):sub(1, 9))
  local off = 0
  if tz ~= "Z" and tz ~= "z" and tz ~= "" then
    local sign, oh, om = tz:match("^([+-])(%d+):(%d+)$")
    off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  local secs = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - off
  return ffi.cast("int64_t", secs) * 1000000000 + ns
end

function _M.read_jsonl(path)
  local f = assert(io.open(path, "rb"))
  local out = {}
  for line in f:lines() do
    if line:match("%S") then out[#out + 1] = cjson.decode(line) end
  end
  f:close()
  return out
end

local function present(v)
  return v ~= nil and v ~= cjson.null
end

-- The JSON keys of the process context, and which struct each lives in.
_M.PROC_KEYS = { "exec_id", "context", "cwd", "tty", "loginuid", "parent", "ancestors",
  "setuid", "setgid", "ld_preload", "ld_library_path" }
_M.CTR_KEYS = { "container_id", "container_runtime", "pod_uid", "cgroup" }
_M.HOST_KEYS = { "hostname", "host_id" }

local CONTEXT_FLAGS = {
  exec = 0, fork = event.PF_FORKED, procfs = event.PF_SEEDED, unknown = event.PF_UNKNOWN,
}
local PROC_BOOL_FLAGS = {
  setuid = event.PF_SETUID, setgid = event.PF_SETGID, ld_preload = event.PF_LD_PRELOAD,
  ld_library_path = event.PF_LD_LIBRARY_PATH,
}

local function any_key(o, keys)
  for _, k in ipairs(keys) do
    if present(o[k]) then return true end
  end
  return false
end

-- Events (JSON objects, as in replay JSONL) into a struct eg_event array.
-- Returns the array and an anchor table that keeps the strings (and the
-- context structs) alive. An event gets a struct eg_proc when it has one of
-- PROC_KEYS (its comm, exe, args, tgid, ppid, uid and gid copied in), a
-- struct eg_container for one of CTR_KEYS and a struct eg_host for one of
-- HOST_KEYS; without them the pointer stays NULL (unknown).
function _M.build_events(objs)
  local n = #objs
  local evs = ffi.new("struct eg_event[?]", math.max(n, 1))
  local anchor = {}
  local function set_str(e, field, s, len_field)
    if s == nil or s == cjson.null then return end
    assert(type(s) == "string", field .. ": expected a string")
    anchor[#anchor + 1] = s
    e[field] = s
    e[len_field or field .. "_len"] = #s
  end
  -- an argument list into its NUL-separated form: sets p, p_len and count
  local function set_args(e, list, p, count)
    if not present(list) then return end
    local s = table.concat(list, "\0") .. (#list > 0 and "\0" or "")
    anchor[#anchor + 1] = s
    e[p] = s
    e[p .. "_len"] = #s
    e[count] = #list
  end
  local function build_proc(o)
    local p = ffi.new("struct eg_proc")
    anchor[#anchor + 1] = p
    for _, f in ipairs({ "tgid", "ppid", "uid", "gid" }) do
      if present(o[f]) then p[f] = o[f] end
    end
    p.loginuid = present(o.loginuid) and o.loginuid or -1
    local flags = 0
    if present(o.context) then
      flags = CONTEXT_FLAGS[o.context]
      assert(flags, "context: expected exec, fork, procfs or unknown, got " .. tostring(o.context))
    end
    for k, f in pairs(PROC_BOOL_FLAGS) do
      if o[k] == true then flags = bit.bor(flags, f) end
    end
    p.flags = flags
    for _, f in ipairs({ "exec_id", "comm", "exe", "cwd", "tty" }) do set_str(p, f, o[f]) end
    set_args(p, o.args, "args", "argc")
    local par = o.parent
    if present(par) then
      if present(par.tgid) then p.parent_tgid = par.tgid end
      for _, f in ipairs({ "exec_id", "comm", "exe" }) do
        set_str(p, "parent_" .. f, par[f])
      end
      set_args(p, par.args, "parent_args", "parent_argc")
    end
    if present(o.ancestors) then
      assert(#o.ancestors <= event.ANCESTORS_MAX, "ancestors: at most 5")
      for i, a in ipairs(o.ancestors) do
        set_str(p.ancestors[i - 1], "comm", a.comm)
        set_str(p.ancestors[i - 1], "exe", a.exe)
      end
      p.nancestors = #o.ancestors
    end
    return p
  end
  local function build_ctr(o)
    local c = ffi.new("struct eg_container")
    anchor[#anchor + 1] = c
    if present(o.cgroup_id) then c.cgroup_id = o.cgroup_id end
    set_str(c, "cgroup", o.cgroup)
    set_str(c, "id", o.container_id)
    set_str(c, "runtime", o.container_runtime)
    set_str(c, "pod_uid", o.pod_uid)
    return c
  end
  local function build_host(o)
    local h = ffi.new("struct eg_host")
    anchor[#anchor + 1] = h
    set_str(h, "name", o.hostname)
    set_str(h, "id", o.host_id)
    return h
  end
  for i, o in ipairs(objs) do
    local e = evs[i - 1]
    if o.timestamp then e.ts_ns = _M.parse_ts(o.timestamp) end
    if o.ts_ns then e.ts_ns = o.ts_ns end
    e.type = event.TYPES[o.type] or 0
    for _, f in ipairs({ "pid", "tgid", "ppid", "uid", "gid", "dest_port", "cgroup_id", "open_flags", "ret" }) do
      if o[f] then e[f] = o[f] end
    end
    for _, f in ipairs({ "comm", "filename", "exe", "dest_ip", "requested" }) do set_str(e, f, o[f]) end
    local flags = o.flags or 0
    if o.memfd then flags = bit.bor(flags, event.F_MEMFD) end
    if o.truncated then flags = bit.bor(flags, event.F_TRUNCATED) end
    if o.requested_differs then flags = bit.bor(flags, event.F_REQ_DIFFERS) end
    if o.io_uring then flags = bit.bor(flags, event.F_IO_URING) end
    if o.compat then flags = bit.bor(flags, event.F_COMPAT) end
    if o.interpreted then flags = bit.bor(flags, event.F_INTERPRETED) end
    e.flags = flags
    set_args(e, o.args, "args", "argc")
    -- the newer types' registry fields, by name as in JSON (flags and
    -- enums by name, as the replay reader takes them)
    for key, f in pairs(evtypes.FIELDS) do
      local v = o[key]
      if v ~= nil and v ~= cjson.null then
        if f.kind == "str" then
          local s = ffi.new("char[?]", #v + 1, v)
          anchor[#anchor + 1] = s
          e.aux[f.slot] = s
          e.aux_len[f.slot] = #v
        elseif f.kind == "bool" then
          e.num[f.slot] = v and 1 or 0
        elseif f.kind == "num" then
          e.num[f.slot] = v
        else
          local n = ffi.new("int64_t", 0)
          local by_name = {}
          for b, name in pairs(f.names) do by_name[name] = b end
          if f.kind == "enum" then
            n = by_name[v] or tonumber(v)
          else
            for w in tostring(v):gmatch("[^|]+") do
              n = n + assert(by_name[w] or tonumber(w), key .. ": unknown flag " .. w)
            end
          end
          e.num[f.slot] = n
        end
      end
    end
    if any_key(o, _M.PROC_KEYS) then e.proc = build_proc(o) end
    if any_key(o, _M.CTR_KEYS) then e.ctr = build_ctr(o) end
    if any_key(o, _M.HOST_KEYS) then e.host = build_host(o) end
  end
  return evs, anchor
end

-- The count hook of src/engine.c, in Lua.
local function hook_for(b)
  return function()
    if b.in_user ~= 0 then
      b.ticks = b.ticks + 1
      -- luaL_error in a count hook carries no position (level 1 is the hook)
      if b.ticks > b.budget_ticks then error("instruction budget exceeded", 0) end
    end
  end
end

-- Creates an engine. configs: list of paths. opts: { budget_ticks, log, clock,
-- disable_rules, disable_tags, list } (the last three: host.init's).
-- Returns an engine table or nil, message.
function _M.new(configs, opts)
  opts = opts or {}
  local b = ffi.new("struct eg_batch")
  b.budget_ticks = opts.budget_ticks or _M.DEFAULT_BUDGET_TICKS
  local logs = {}
  local log = opts.log or function(line) logs[#logs + 1] = line end
  debug.sethook(hook_for(b), "", _M.HOOK_EVERY)
  local ok, res, err = pcall(host.init, {
    batch = ffi.cast("void *", b), configs = configs, layout = opts.layout or layout(),
    log = log, clock = opts.clock, registry = opts.registry,
    disable_rules = opts.disable_rules, disable_tags = opts.disable_tags, list = opts.list,
    -- as src/engine.c: the count hook around run-time user calls only
    hook_on = function() debug.sethook(hook_for(b), "", _M.HOOK_EVERY) end,
    hook_off = function() debug.sethook() end,
  })
  debug.sethook()
  b.in_user = 0
  if not ok then error(res, 0) end
  if not res then return nil, err end
  local nrules = #res.rules
  local eng = { b = b, res = res, logs = logs, rules = res.rules, nrules = nrules }
  eng.rule_errors = ffi.new("uint64_t[?]", nrules * 2 + 1)
  b.rule_errors = eng.rule_errors
  eng.rule_calls = ffi.new("uint64_t[?]", nrules + 1)
  b.rule_calls = eng.rule_calls
  b.nrules = nrules
  eng.hits_cap = opts.hits_cap or math.max(nrules, 8192)
  eng.hits = ffi.new("struct eg_hit[?]", eng.hits_cap)
  b.hits = eng.hits
  b.hits_cap = eng.hits_cap
  eng.index = {}
  for i, r in ipairs(res.rules) do eng.index[r.id] = i - 1 end
  return eng
end

-- Runs events (JSON objects or a .jsonl path) like eg_engine_run. Returns the
-- hits { ev = 1-based event index, rule = id, desc = dynamic description or nil }
-- and the number of run() calls.
function _M.run(eng, objs)
  if type(objs) == "string" then objs = _M.read_jsonl(objs) end
  local evs, anchor = _M.build_events(objs)
  local b = eng.b
  b.ev = evs
  b.n = #objs
  b.next = 0
  local hits, calls = {}, 0
  -- the count hook is on around user calls only (host.lua call_user)
  while b.next < b.n do
    local before = b.next
    b.nhits = 0
    local ok, err = pcall(eng.res.run)
    b.in_user = 0
    calls = calls + 1
    if not ok then
      debug.sethook()
      error("run() failed: " .. tostring(err), 0)
    end
    if b.next <= before and b.nhits == 0 then
      debug.sethook()
      error("run() made no progress", 0)
    end
    -- the rule loop writes hits group by group: in event, then rule order,
    -- as src/engine.c delivers them
    local order = {}
    for i = 0, b.nhits - 1 do order[#order + 1] = i end
    table.sort(order, function(x, y)
      local hx, hy = eng.hits[x], eng.hits[y]
      if hx.ev ~= hy.ev then return hx.ev < hy.ev end
      if hx.rule ~= hy.rule then return hx.rule < hy.rule end
      return x < y
    end)
    for _, i in ipairs(order) do
      local h = eng.hits[i]
      local d
      if bit.band(h.flags, 1) ~= 0 then d = eng.res.desc[i] end
      hits[#hits + 1] = { ev = h.ev + 1, rule = eng.rules[h.rule + 1].id, desc = d }
    end
  end
  debug.sethook()
  anchor[0] = evs
  return hits, calls
end

-- An engine of X (this module or helpers.cengine) from the text of one
-- Lua detection file, or nil and the error without the file's temporary
-- path.
function _M.load_text(X, text)
  local p = _M.tmpfile(".lua", text)
  local eng, err = X.new({ p })
  os.remove(p)
  return eng, err and err:gsub("^/tmp/[^:]*: ", "") or nil
end

-- The hits as "<event#>:<description or rule id>", in order (specs that
-- check what each call returned).
function _M.descs(hits)
  local out = {}
  for _, h in ipairs(hits) do out[#out + 1] = h.ev .. ":" .. (h.desc or h.rule) end
  return out
end

-- Rule ids that fired, in order, as "<event#>:<id>" strings.
function _M.fired(hits)
  local out = {}
  for i, h in ipairs(hits) do out[i] = h.ev .. ":" .. h.rule end
  return out
end

-- Convenience: new + run; raises on config errors.
function _M.fire(configs, events, opts)
  local eng, err = _M.new(configs, opts)
  if not eng then error(err, 0) end
  return _M.fired((_M.run(eng, events))), eng
end

function _M.errors(eng, id, kind)
  return tonumber(eng.rule_errors[eng.index[id] * 2 + kind])
end

-- How many times the user code of rule id was called.
function _M.calls(eng, id)
  return tonumber(eng.rule_calls[eng.index[id]])
end

-- Writes text to a temporary file with the given suffix; returns its path.
function _M.tmpfile(suffix, text)
  local p = os.tmpname() .. suffix
  local f = assert(io.open(p, "wb"))
  f:write(text)
  f:close()
  return p
end

-- The engine benchmark's generated corpus of n events, written to a new
-- temporary file whose path is returned (the caller removes it). The
-- benchmark is the build directory's: EG_BUILD_DIR, as ctest sets it, else
-- build/ of the checkout.
function _M.bench_corpus_file(n)
  local bin = (os.getenv("EG_BUILD_DIR") or "build") .. "/eg_bench_engine"
  local f = io.open(bin, "rb")
  assert(f, bin .. " not found: build the project, or set EG_BUILD_DIR to its build directory")
  f:close()
  local path = os.tmpname()
  assert(os.execute(("'%s' -n %d --write '%s' >/dev/null 2>&1"):format(bin, n, path)) == 0,
    bin .. " -n " .. n .. " --write failed")
  return path
end

return _M
