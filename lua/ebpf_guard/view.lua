-- The `ev` object user code sees: a read-only view of the current event.
-- Fields are read from the struct in place; strings are materialized on first
-- access and cached until the view moves to another event. The view is only
-- valid during the call it was passed to.
local ffi = require("ffi")
local bit = require("bit")
local event = require("ebpf_guard.event")
local evtypes = require("ebpf_guard.evtypes")

local band = bit.band
local ffi_string = ffi.string
local tonumber = tonumber
local tostring = tostring
local error = error
local pairs = pairs
local type = type
local floor = math.floor
local setmetatable = setmetatable

local _M = {}

local TYPE_NAMES = event.TYPE_NAMES
local PF_SEEDED, PF_FORKED, PF_UNKNOWN = event.PF_SEEDED, event.PF_FORKED, event.PF_UNKNOWN
local ANCESTORS_MAX = event.ANCESTORS_MAX

local function str(p, n)
  if p == nil or n == 0 then return "" end
  return ffi_string(p, n)
end

-- argc NUL-terminated strings, len bytes in all, as a new array.
local function split_args(p, len, argc)
  local t = {}
  argc = tonumber(argc)
  if p == nil or argc == 0 then return t end
  local s = ffi_string(p, len)
  local pos = 1
  for i = 1, argc do
    if pos > #s then break end
    local z = s:find("\0", pos, true)
    if not z then
      t[i] = s:sub(pos)
      break
    end
    t[i] = s:sub(pos, z - 1)
    pos = z + 1
  end
  return t
end

local function args_of(e)
  return split_args(e.args, e.args_len, e.argc)
end

-- Getters of a string field of the event's process, container or host
-- (a NULL pointer: the empty context, "").
local function ctx_str(ptr, field)
  local len = field .. "_len"
  return function(e)
    local c = e[ptr]
    if c == nil then return "" end
    return str(c[field], c[len])
  end
end

local function proc_flag(f)
  return function(e)
    local p = e.proc
    return p ~= nil and band(p.flags, f) ~= 0
  end
end

local function context_of(e)
  local p = e.proc
  if p == nil then return "unknown" end
  local f = p.flags
  if band(f, PF_UNKNOWN) ~= 0 then return "unknown" end
  if band(f, PF_SEEDED) ~= 0 then return "procfs" end
  if band(f, PF_FORKED) ~= 0 then return "fork" end
  return "exec"
end

-- The parent snapshot as a new table; an unknown parent is the event's
-- ppid with empty strings and no arguments.
local function parent_of(e)
  local p = e.proc
  if p == nil then
    return { tgid = tonumber(e.ppid), exec_id = "", comm = "", exe = "", args = {} }
  end
  local tgid = tonumber(p.parent_tgid)
  if tgid == 0 then tgid = tonumber(e.ppid) end
  return {
    tgid = tgid,
    exec_id = str(p.parent_exec_id, p.parent_exec_id_len),
    comm = str(p.parent_comm, p.parent_comm_len),
    exe = str(p.parent_exe, p.parent_exe_len),
    args = split_args(p.parent_args, p.parent_args_len, p.parent_argc),
  }
end

-- ev.ancestors past the known chain reads as an empty ancestor (a new table
-- each time), so ev.ancestors[3].exe never raises; # and ipairs see the
-- known ones only.
local ANCESTORS_MT = {
  __index = function(_, k)
    if type(k) == "number" and k >= 1 and k == floor(k) then return { comm = "", exe = "" } end
    return nil
  end,
  __metatable = false,
}

local function ancestors_of(e)
  local t = setmetatable({}, ANCESTORS_MT)
  local p = e.proc
  if p == nil then return t end
  local n = tonumber(p.nancestors)
  if n > ANCESTORS_MAX then n = ANCESTORS_MAX end
  for i = 1, n do
    local a = p.ancestors[i - 1]
    t[i] = { comm = str(a.comm, a.comm_len), exe = str(a.exe, a.exe_len) }
  end
  return t
end

local getters = {
  ts_ns = function(e) return tonumber(e.ts_ns) end,
  timestamp = function(e) return tonumber(e.ts_ns) / 1e9 end,
  pid = function(e) return tonumber(e.pid) end,
  tgid = function(e) return tonumber(e.tgid) end,
  ppid = function(e) return tonumber(e.ppid) end,
  uid = function(e) return tonumber(e.uid) end,
  gid = function(e) return tonumber(e.gid) end,
  type = function(e) return TYPE_NAMES[tonumber(e.type)] or "unknown" end,
  comm = function(e) return str(e.comm, e.comm_len) end,
  -- the program: an exec's new one (filename's last part; its comm is the
  -- caller's), else comm (lang.lua's field name)
  name = function(e)
    if TYPE_NAMES[tonumber(e.type)] == "exec" then
      return (str(e.filename, e.filename_len):match("[^/]*$"))
    end
    return str(e.comm, e.comm_len)
  end,
  filename = function(e) return str(e.filename, e.filename_len) end,
  exe = function(e) return str(e.exe, e.exe_len) end,
  dest_ip = function(e) return str(e.dest_ip, e.dest_ip_len) end,
  dest_port = function(e) return tonumber(e.dest_port) end,
  cgroup_id = function(e) return tonumber(e.cgroup_id) end,
  open_flags = function(e) return tonumber(e.open_flags) end,
  args = args_of,
  memfd = function(e) return band(e.flags, event.F_MEMFD) ~= 0 end,
  truncated = function(e) return band(e.flags, event.F_TRUNCATED) ~= 0 end,
  requested = function(e) return str(e.requested, e.requested_len) end,
  ret = function(e) return tonumber(e.ret) end,
  requested_differs = function(e) return band(e.flags, event.F_REQ_DIFFERS) ~= 0 end,
  io_uring = function(e) return band(e.flags, event.F_IO_URING) ~= 0 end,
  compat = function(e) return band(e.flags, event.F_COMPAT) ~= 0 end,
  interpreted = function(e) return band(e.flags, event.F_INTERPRETED) ~= 0 end,
  datagram = function(e) return band(e.flags, event.F_DATAGRAM) ~= 0 end,
  protocol = function(e)
    local p = tonumber(e.proto)
    return event.PROTO_NAMES[p] or tostring(p)
  end,
  -- process context (struct eg_proc, eg_container, eg_host)
  exec_id = ctx_str("proc", "exec_id"),
  cwd = ctx_str("proc", "cwd"),
  tty = ctx_str("proc", "tty"),
  loginuid = function(e)
    local p = e.proc
    if p == nil then return -1 end
    return tonumber(p.loginuid)
  end,
  context = context_of,
  setuid = proc_flag(event.PF_SETUID),
  setgid = proc_flag(event.PF_SETGID),
  ld_preload = proc_flag(event.PF_LD_PRELOAD),
  ld_library_path = proc_flag(event.PF_LD_LIBRARY_PATH),
  parent = parent_of,
  ancestors = ancestors_of,
  container_id = ctx_str("ctr", "id"),
  container_runtime = ctx_str("ctr", "runtime"),
  pod_uid = ctx_str("ctr", "pod_uid"),
  cgroup = ctx_str("ctr", "cgroup"),
  hostname = ctx_str("host", "name"),
  host_id = ctx_str("host", "id"),
}
-- The newer types' fields (ebpf_guard.evtypes): read from their slot on the
-- types that carry them, the kind's default on the others.
for key, f in pairs(evtypes.FIELDS) do
  local has = {}
  for t, keys in pairs(evtypes.TYPES) do
    for _, k in ipairs(keys) do if k == key then has[t] = true end end
  end
  local slot = f.slot
  if f.kind == "flags" then
    getters[key] = function(e)
      if not has[tonumber(e.type)] then return "" end
      return evtypes.format_flags(f, tonumber(e.num[slot]))
    end
  elseif f.kind == "enum" then
    getters[key] = function(e)
      if not has[tonumber(e.type)] then return "" end
      return evtypes.format_enum(f, tonumber(e.num[slot]))
    end
  elseif f.kind == "bool" then
    getters[key] = function(e)
      if not has[tonumber(e.type)] then return false end
      return e.num[slot] ~= 0
    end
  elseif f.kind == "num" then
    getters[key] = function(e)
      if not has[tonumber(e.type)] then return 0 end
      return tonumber(e.num[slot])
    end
  else
    getters[key] = function(e)
      if not has[tonumber(e.type)] then return "" end
      return str(e.aux[slot], e.aux_len[slot])
    end
  end
end

-- Specs replace entries with spies to see which fields a call read.
_M.GETTERS = getters
_M.FIELDS = {}
for k in pairs(getters) do _M.FIELDS[#_M.FIELDS + 1] = k end
table.sort(_M.FIELDS)

-- Fields whose values are tables: user code can modify them, so they are
-- never shared between two user calls (each call builds its own).
local MUTABLE = { args = true, parent = true, ancestors = true }

local function read_only(_, k)
  error('ev is read-only (cannot set "' .. tostring(k) .. '")', 2)
end

-- Returns a view, a function set(ptr) that points it at an event
-- (struct eg_event *) and forgets cached values, and a function fresh() that
-- forgets the cached tables only (call it before each user call on the same
-- event, so one detection's changes to ev.args never reach the next).
function _M.new()
  local cur
  local cache = {}
  -- the keys cache holds, so that set() clears them with a numeric loop
  -- (pairs() there cost ~185 ns a call in the engine: the JIT cannot
  -- compile next, and the loop is hot)
  local filled, nfilled = {}, 0
  local has_mutable = false
  -- a userdata, so that rawset cannot plant fields in it
  local view = newproxy(true)
  local mt = getmetatable(view)
  local fields = {
    __index = function(_, k)
      local v = cache[k]
      if v ~= nil then return v end
      local g = getters[k]
      if not g then error('ev has no field "' .. tostring(k) .. '"', 2) end
      if cur == nil then error("ev used outside of the call it was passed to", 2) end
      v = g(cur)
      cache[k] = v
      nfilled = nfilled + 1
      filled[nfilled] = k
      if MUTABLE[k] then has_mutable = true end
      return v
    end,
    __newindex = read_only,
    __tostring = function() return "ev" end,
    __metatable = false,
  }
  for k, v in pairs(fields) do mt[k] = v end
  local function set(p)
    cur = p
    for j = 1, nfilled do cache[filled[j]] = nil end
    nfilled = 0
    has_mutable = false
  end
  local function fresh()
    if not has_mutable then return end
    cache.args, cache.parent, cache.ancestors = nil, nil, nil -- MUTABLE's keys
    has_mutable = false
  end
  return view, set, fresh
end

-- The view of the host's C loop of user calls (src/usercall.c): its
-- __index is C (cengine.view_index), reading the event the loop points it
-- at; fallback(key, index, seq) serves the fields C leaves to this file's
-- getters (a view of new()).
function _M.new_c(cengine, state, fallback)
  local codes = cengine.view_fields()
  for k in pairs(codes) do
    assert(getters[k], "view: C reads a field the Lua view lacks: " .. k)
  end
  for k in pairs(getters) do
    if not codes[k] then codes[k] = 0 end
  end
  local view = newproxy(true)
  local mt = getmetatable(view)
  mt.__index = cengine.view_index(state, codes, TYPE_NAMES, fallback, ANCESTORS_MT)
  mt.__newindex = read_only
  mt.__tostring = function() return "ev" end
  mt.__metatable = false
  return view
end

return _M
