-- The rule language's fields and matchers: which fields a YAML `match:`,
-- macro or exception can test, on which event types, with which matchers;
-- resolving a node (lists spliced, macros expanded, every value checked);
-- and the Lua code the compiled matcher loop runs for it (compile.lua).
--
-- A node is a mapping whose keys are field names (each with a matcher) or
-- the combinators all, any, not, macro; its keys all hold (AND). A matcher
-- is a scalar (eq), a list (in) or a mapping of matcher names, all of
-- which hold. Resolved nodes (ASTs):
--   { op = "all" | "any", list = { ast... } }   { op = "not", node = ast }
--   { op = "field", field = <FIELDS entry>, m = <matcher ast> }
-- Matcher ASTs: { op = "eq" | "in" | "prefix" | "suffix" | "contains" |
--   "regex" | "lt" | "le" | "gt" | "ge" | "any" | "all" | "and" | "not",
--   values = {...} | value | list = {...} | node = ... }
local ffi = require("ffi")
local bit = require("bit")
local event = require("ebpf_guard.event")
local evtypes = require("ebpf_guard.evtypes")
local regex = require("ebpf_guard.regex")

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local band = bit.band
local fmt = string.format
local concat = table.concat
local floor = math.floor

local _M = {}

pcall(ffi.cdef, "int memcmp(const void *s1, const void *s2, size_t n);")
pcall(ffi.cdef, "void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);")
pcall(ffi.cdef, "void *memchr(const void *s, int c, size_t n);")

local TYPE_NUM = event.TYPES
local TYPE_NAMES = event.TYPE_NAMES

-- ------------------------------------------------------------ the fields

local function set_of(names)
  local s = {}
  for _, n in ipairs(names) do s[TYPE_NUM[n]] = true end
  return s
end

-- open(2) flags by their C names; O_RDONLY (0) is the access mode 0
_M.OPEN_FLAGS = {
  O_WRONLY = 0x1, O_RDWR = 0x2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100,
  O_TRUNC = 0x200, O_APPEND = 0x400, O_NONBLOCK = 0x800, O_DSYNC = 0x1000, O_ASYNC = 0x2000,
  O_DIRECT = 0x4000, O_LARGEFILE = 0x8000, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000,
  O_NOATIME = 0x40000, O_CLOEXEC = 0x80000, O_SYNC = 0x101000, O_PATH = 0x200000,
  O_TMPFILE = 0x410000, O_RDONLY = 0,
}
-- chmod's mode bits by name
_M.MODE_BITS = {
  setuid = 0x800, setgid = 0x400, sticky = 0x200,
  owner_read = 0x100, owner_write = 0x80, owner_exec = 0x40,
  group_read = 0x20, group_write = 0x10, group_exec = 0x8,
  other_read = 0x4, other_write = 0x2, other_exec = 0x1,
}

-- name -> { kind = "str" | "num" | "bool" | "flags" | "enum" | "strlist",
--   types = { [type] = true } (nil: every type), access (Lua source reading
--   the value from the event `e`: "p, l" for strings; for strlist the name
--   of a G iterator), names = { name -> number } for flags and enum,
--   wide = true for flags held in 64 bits }
local FIELDS = {}
_M.FIELDS = FIELDS

local function def(name, kind, types, access, extra)
  local f = { name = name, kind = kind, types = types and set_of(types) or nil, access = access }
  for k, v in pairs(extra or {}) do f[k] = v end
  FIELDS[name] = f
end

local NET_PEER = { "connect", "dup", "accept" }
local NOT_EXEC_EXIT = {}
for _, n in ipairs(TYPE_NAMES) do
  if n ~= "exec" and n ~= "exit" then NOT_EXEC_EXIT[#NOT_EXEC_EXIT + 1] = n end
end

-- the event record
def("comm", "str", nil, "e.comm, e.comm_len")
def("filename", "str", nil, "e.filename, e.filename_len")
def("exe", "str", nil, "e.exe, e.exe_len")
def("requested", "str", { "open" }, "e.requested, e.requested_len")
def("dest_ip", "str", NET_PEER, "e.dest_ip, e.dest_ip_len")
def("dest_port", "num", NET_PEER, "e.dest_port")
def("pid", "num", nil, "e.pid")
def("tgid", "num", nil, "e.tgid")
def("ppid", "num", nil, "e.ppid")
def("uid", "num", nil, "e.uid")
def("gid", "num", nil, "e.gid")
def("cgroup_id", "num", nil, "tonumber(e.cgroup_id)")
def("ret", "num", NOT_EXEC_EXIT, "e.ret")
def("open_flags", "flags", { "open" }, "e.open_flags", { names = _M.OPEN_FLAGS })
def("memfd", "bool", { "exec" }, fmt("band(e.flags, %d) ~= 0", event.F_MEMFD))
def("interpreted", "bool", { "exec" }, fmt("band(e.flags, %d) ~= 0", event.F_INTERPRETED))
def("truncated", "bool", nil, fmt("band(e.flags, %d) ~= 0", event.F_TRUNCATED))
def("requested_differs", "bool", { "open" }, fmt("band(e.flags, %d) ~= 0", event.F_REQ_DIFFERS))
def("io_uring", "bool", { "open", "connect" }, fmt("band(e.flags, %d) ~= 0", event.F_IO_URING))
def("compat", "bool", { "open", "connect" }, fmt("band(e.flags, %d) ~= 0", event.F_COMPAT))
def("datagram", "bool", { "connect" }, fmt("band(e.flags, %d) ~= 0", event.F_DATAGRAM))
do
  local names = {}
  for v, n in pairs(event.PROTO_NAMES) do if n ~= "" then names[n] = v end end
  def("protocol", "enum", { "connect" }, "e.proto", { names = names })
end
def("args", "strlist", nil, "args")
def("cmdline", "str", nil, "G.cmdline(e)")
-- the process context
def("exec_id", "str", nil, "G.exec_id(e)")
def("cwd", "str", nil, "G.cwd(e)")
def("tty", "str", nil, "G.tty(e)")
def("loginuid", "num", nil, "G.loginuid(e)")
def("context", "enum", nil, "G.context(e)",
  { names = { exec = 1, fork = 2, procfs = 3, unknown = 4 } })
def("setuid", "bool", nil, fmt("G.pflag(e, %d)", event.PF_SETUID))
def("setgid", "bool", nil, fmt("G.pflag(e, %d)", event.PF_SETGID))
def("ld_preload", "bool", nil, fmt("G.pflag(e, %d)", event.PF_LD_PRELOAD))
def("ld_library_path", "bool", nil, fmt("G.pflag(e, %d)", event.PF_LD_LIBRARY_PATH))
def("parent.tgid", "num", nil, "G.parent_tgid(e)")
def("parent.exec_id", "str", nil, "G.parent_exec_id(e)")
def("parent.comm", "str", nil, "G.parent_comm(e)")
def("parent.exe", "str", nil, "G.parent_exe(e)")
def("parent.args", "strlist", nil, "parent_args")
def("parent.cmdline", "str", nil, "G.parent_cmdline(e)")
def("ancestors.comm", "strlist", nil, "ancestor_comm")
def("ancestors.exe", "strlist", nil, "ancestor_exe")
def("container_id", "str", nil, "G.container_id(e)")
def("container_runtime", "str", nil, "G.container_runtime(e)")
def("pod_uid", "str", nil, "G.pod_uid(e)")
def("cgroup", "str", nil, "G.cgroup(e)")
def("hostname", "str", nil, "G.hostname(e)")
def("host_id", "str", nil, "G.host_id(e)")
-- the newer types' fields (ebpf_guard.evtypes)
for key, f in pairs(evtypes.FIELDS) do
  local types = {}
  for t, keys in pairs(evtypes.TYPES) do
    for _, k in ipairs(keys) do if k == key then types[#types + 1] = TYPE_NAMES[t] end end
  end
  local s = f.slot
  if key == "mode" then
    def(key, "flags", types, fmt("tonumber(e.num[%d])", s), { names = _M.MODE_BITS })
  elseif f.kind == "num" then
    def(key, "num", types, fmt("tonumber(e.num[%d])", s))
  elseif f.kind == "flags" then
    local names = {}
    for v, n in pairs(f.names) do names[n] = v end
    def(key, "flags", types, fmt("e.num[%d]", s), { names = names, wide = true })
  elseif f.kind == "enum" then
    local names = {}
    for v, n in pairs(f.names) do names[n] = v end
    def(key, "enum", types, fmt("tonumber(e.num[%d])", s), { names = names })
  elseif f.kind == "bool" then
    def(key, "bool", types, fmt("e.num[%d] ~= 0", s))
  else
    def(key, "str", types, fmt("e.aux[%d], e.aux_len[%d]", s, s))
  end
end

_M.FIELD_NAMES = {}
for name in pairs(FIELDS) do _M.FIELD_NAMES[#_M.FIELD_NAMES + 1] = name end
table.sort(_M.FIELD_NAMES)

-- The types that carry a field, by name, in type order.
function _M.carriers(f)
  local out = {}
  for i, n in ipairs(TYPE_NAMES) do
    if n ~= "exit" and (f.types == nil or f.types[i]) then out[#out + 1] = n end
  end
  return out
end

-- ------------------------------------------------------ run-time helpers

-- Getters the generated code calls (as G.<name>): strings as (pointer,
-- length), (nil, 0) when the context is unknown.
local G = {}
_M.G = G
local C = ffi.C
local MEMCHR = C.memchr
local ffi_copy = ffi.copy
local char_p = ffi.typeof("const char *")

local function ctx_str(ptr, field)
  local len = field .. "_len"
  return function(e)
    local c = e[ptr]
    if c == nil then return nil, 0 end
    return c[field], c[len]
  end
end
G.exec_id = ctx_str("proc", "exec_id")
G.cwd = ctx_str("proc", "cwd")
G.tty = ctx_str("proc", "tty")
G.parent_exec_id = ctx_str("proc", "parent_exec_id")
G.parent_comm = ctx_str("proc", "parent_comm")
G.parent_exe = ctx_str("proc", "parent_exe")
G.container_id = ctx_str("ctr", "id")
G.container_runtime = ctx_str("ctr", "runtime")
G.pod_uid = ctx_str("ctr", "pod_uid")
G.cgroup = ctx_str("ctr", "cgroup")
G.hostname = ctx_str("host", "name")
G.host_id = ctx_str("host", "id")

function G.loginuid(e)
  local p = e.proc
  if p == nil then return -1 end
  return p.loginuid
end

function G.pflag(e, f)
  local p = e.proc
  return p ~= nil and band(p.flags, f) ~= 0
end

function G.context(e)
  local p = e.proc
  if p == nil then return 4 end
  local f = p.flags
  if band(f, event.PF_UNKNOWN) ~= 0 then return 4 end
  if band(f, event.PF_SEEDED) ~= 0 then return 3 end
  if band(f, event.PF_FORKED) ~= 0 then return 2 end
  return 1
end

function G.parent_tgid(e)
  local p = e.proc
  if p == nil or p.parent_tgid == 0 then return e.ppid end
  return p.parent_tgid
end

-- Calls test(p, l) on each of argc NUL-terminated strings in (p, len);
-- true when one returns true.
local function each_arg(test, p, len, argc)
  if p == nil then return false end
  local stop = p + len
  for _ = 1, argc do
    local left = stop - p
    if left <= 0 then break end
    local z = MEMCHR(p, 0, left)
    local n = z == nil and left or ffi.cast(char_p, z) - p
    if test(p, n) then return true end
    p = p + n + 1
  end
  return false
end

function G.args(test, e)
  return each_arg(test, e.args, e.args_len, e.argc)
end

function G.parent_args(test, e)
  local c = e.proc
  if c == nil then return false end
  return each_arg(test, c.parent_args, c.parent_args_len, c.parent_argc)
end

local function ancestors(field)
  local len = field .. "_len"
  return function(test, e)
    local c = e.proc
    if c == nil then return false end
    local n = c.nancestors
    if n > event.ANCESTORS_MAX then n = event.ANCESTORS_MAX end
    for i = 0, n - 1 do
      local a = c.ancestors[i]
      if test(a[field], a[len]) then return true end
    end
    return false
  end
end
G.ancestor_comm = ancestors("comm")
G.ancestor_exe = ancestors("exe")

-- The arguments joined by spaces, in a buffer reused from call to call
-- (valid until the next call).
local CMD_MAX = 65536
local cmd_buf = ffi.new("char[?]", CMD_MAX)
local function cmdline(p, len, argc)
  if p == nil or len == 0 or argc == 0 then return nil, 0 end
  if len > CMD_MAX then len = CMD_MAX end
  ffi_copy(cmd_buf, p, len)
  local q, stop = cmd_buf, cmd_buf + len
  while true do
    local z = MEMCHR(q, 0, stop - q)
    if z == nil then break end
    z = ffi.cast("char *", z)
    z[0] = 32
    q = z + 1
    if q >= stop then break end
  end
  if cmd_buf[len - 1] == 32 then len = len - 1 end
  return cmd_buf, len
end
function G.cmdline(e) return cmdline(e.args, e.args_len, e.argc) end
function G.parent_cmdline(e)
  local c = e.proc
  if c == nil then return nil, 0 end
  return cmdline(c.parent_args, c.parent_args_len, c.parent_argc)
end

-- Exact membership of (p, l) in a string set built by strset(): a table
-- keyed by length and first and last byte, holding the candidates.
local MEMCMP = C.memcmp
local function sin(set, p, l)
  if p == nil or l == 0 then return set.empty == true end
  local c = set[l * 65536 + band(p[0], 255) * 256 + band(p[l - 1], 255)]
  if c == nil then return false end
  if MEMCMP(p, c[1], l) == 0 then return true end
  for j = 2, #c do
    if MEMCMP(p, c[j], l) == 0 then return true end
  end
  return false
end
G.sin = sin

local function strset(values)
  local set = {}
  for _, s in ipairs(values) do
    if s == "" then
      set.empty = true
    else
      local k = #s * 65536 + s:byte(1) * 256 + s:byte(-1)
      local c = set[k]
      if not c then c = {}; set[k] = c end
      c[#c + 1] = s
    end
  end
  return set
end
_M.strset = strset

-- ------------------------------------------------------------- matchers

_M.STR_MATCHERS = { "eq", "in", "prefix", "suffix", "contains", "regex", "not" }
_M.NUM_MATCHERS = { "eq", "in", "lt", "le", "gt", "ge", "any", "all", "not" }
_M.FLAG_MATCHERS = { "any", "all", "eq", "not" }
_M.ENUM_MATCHERS = { "eq", "in", "prefix", "suffix", "contains", "regex", "not" }
_M.BOOL_MATCHERS = { "eq", "not" }
_M.ALL_MATCHERS = { "eq", "in", "prefix", "suffix", "contains", "regex", "lt", "le", "gt", "ge",
  "any", "all", "not" }
local MATCHERS_OF = {
  str = _M.STR_MATCHERS, strlist = _M.STR_MATCHERS, num = _M.NUM_MATCHERS,
  flags = _M.FLAG_MATCHERS, enum = _M.ENUM_MATCHERS, bool = _M.BOOL_MATCHERS,
}
_M.COMBINATORS = { "all", "any", "not", "macro" }
local KIND_TEXT = {
  str = "a string field", strlist = "a list of strings (a matcher holds when one element matches)",
  num = "a number field", flags = "a flags field", enum = "a named-value field", bool = "a boolean field",
}
_M.KIND_TEXT = KIND_TEXT

local function in_list(v, list)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

local function sorted_names(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- `P` (the resolver's context) gives: err(path, problem) raising a load
-- error; got(v); quote(s); unknown(key, known, what) -> text with a "did you
-- mean"; list(name, path) -> the resolved values of a list (or raises);
-- macro(name, path) -> the resolved ast of a macro (or raises); types =
-- { [type] = true } of the rule (nil: not checked, for macros alone);
-- is_list(t); is_null(v).

-- A matcher's values as a flat list: a scalar, a list, "$name" list
-- references spliced.
local function values_of(P, v, path, allow_scalar)
  local out = {}
  local function add(x, p)
    if type(x) == "string" and x:sub(1, 1) == "$" and x:sub(2, 2) ~= "$" then
      for _, y in ipairs(P.list(x:sub(2), p)) do out[#out + 1] = y end
    elseif type(x) == "string" and x:sub(1, 2) == "$$" then
      out[#out + 1] = x:sub(2)
    elseif type(x) == "string" or type(x) == "number" or type(x) == "boolean" then
      out[#out + 1] = x
    else
      P.err(p, "expected a string or a number, got " .. P.got(x))
    end
  end
  if type(v) == "table" and not P.is_null(v) and P.is_list(v) and next(v) ~= nil then
    for i, x in ipairs(v) do add(x, path .. "[" .. i .. "]") end
  elseif type(v) == "table" and not P.is_null(v) then
    P.err(path, "expected a value or a list of values, got " .. P.got(v))
  elseif allow_scalar or (type(v) == "string" and v:sub(1, 1) == "$" and v:sub(2, 2) ~= "$") then
    -- (a "$name" scalar is a list, also where only lists are taken)
    add(v, path)
  else
    P.err(path, "expected a list of values, got " .. P.got(v))
  end
  return out
end

local function want_strings(P, f, vals, path)
  for _, v in ipairs(vals) do
    if type(v) ~= "string" then
      P.err(path, fmt("%s is %s: expected a string, got %s", f.name, KIND_TEXT[f.kind], P.got(v)))
    end
  end
  return vals
end

local function want_numbers(P, f, vals, path)
  for _, v in ipairs(vals) do
    if type(v) ~= "number" or v ~= floor(v) then
      P.err(path, fmt("%s is %s: expected an integer, got %s", f.name, KIND_TEXT[f.kind], P.got(v)))
    end
  end
  return vals
end

-- Flag names (or integer masks) to one mask; O_RDONLY is reported apart
-- (it is the access mode 0, not a bit).
local function flag_mask(P, f, vals, path)
  local mask, rdonly = 0, false
  for _, v in ipairs(vals) do
    local n
    if type(v) == "number" then
      if v ~= floor(v) or v < 0 then
        P.err(path, "expected a flag name or a non-negative integer mask, got " .. P.got(v))
      end
      n = v
    elseif type(v) == "string" then
      n = f.names[v]
      if n == nil then
        P.err(path, P.unknown(v, sorted_names(f.names), fmt("unknown %s flag %s", f.name, P.quote(v))))
      end
      if f.name == "open_flags" and v == "O_RDONLY" then rdonly = true end
    else
      P.err(path, "expected a flag name, got " .. P.got(v))
    end
    -- masks past 32 bits: arithmetic OR of distinct bits
    local b, m, out, place = n, mask, 0, 1
    while b > 0 or m > 0 do
      if b % 2 == 1 or m % 2 == 1 then out = out + place end
      b, m, place = floor(b / 2), floor(m / 2), place * 2
    end
    mask = out
  end
  return mask, rdonly
end

local function enum_values(P, f, op, vals, path)
  local out = {}
  if op == "eq" or op == "in" then
    for _, v in ipairs(vals) do
      if type(v) == "number" and v == floor(v) then
        out[#out + 1] = v
      elseif type(v) == "string" and f.names[v] then
        out[#out + 1] = f.names[v]
      else
        P.err(path, P.unknown(tostring(v), sorted_names(f.names),
          fmt("unknown %s %s", f.name, type(v) == "string" and P.quote(v) or P.got(v))))
      end
    end
    return out
  end
  -- string matchers on an enum's names: the set of values whose name matches
  want_strings(P, f, vals, path)
  local names = sorted_names(f.names)
  for _, v in ipairs(vals) do
    local hit = false
    for _, n in ipairs(names) do
      local ok
      if op == "prefix" then ok = n:sub(1, #v) == v
      elseif op == "suffix" then ok = v == "" or n:sub(-#v) == v
      elseif op == "contains" then ok = n:find(v, 1, true) ~= nil
      else
        local re, err = regex.new(v)
        if not re then P.err(path, fmt("invalid regex %s: %s", P.quote(v), err)) end
        ok = re:find(n)
      end
      if ok then
        hit = true
        out[#out + 1] = f.names[n]
      end
    end
    if not hit then
      local known = #names <= 12 and (" (" .. concat(names, ", ") .. ")") or ""
      P.err(path, fmt("%s %s matches no %s name%s", op, P.quote(v), f.name, known))
    end
  end
  return out
end

local parse_matcher

local function parse_op(P, f, op, v, path)
  local kind = f.kind
  if op == "not" then
    return { op = "not", node = parse_matcher(P, f, v, path) }
  end
  if kind == "bool" then
    if type(v) ~= "boolean" then
      P.err(path, fmt("%s is a boolean field: expected true or false, got %s", f.name, P.got(v)))
    end
    return { op = "eq", value = v }
  end
  if kind == "str" or kind == "strlist" then
    if op == "eq" and type(v) == "table" then
      P.err(path, "expected one string, got " .. P.got(v) .. " (use in: for a list)")
    end
    local vals = want_strings(P, f, values_of(P, v, path, op ~= "in"), path)
    if #vals == 0 then P.err(path, "empty list") end
    if op == "regex" then
      for _, s in ipairs(vals) do
        local re, err = regex.new(s)
        if not re then P.err(path, fmt("invalid regex %s: %s", P.quote(s), err)) end
      end
    end
    return { op = op == "eq" and "in" or op, values = vals }
  end
  if kind == "enum" then
    local vals = values_of(P, v, path, op ~= "in")
    if #vals == 0 then P.err(path, "empty list") end
    return { op = "in", values = enum_values(P, f, op, vals, path) }
  end
  if kind == "flags" then
    if op == "eq" then
      local vals = values_of(P, v, path, true)
      return { op = "flags_eq", mask = (flag_mask(P, f, vals, path)) }
    end
    local vals = values_of(P, v, path, true)
    if #vals == 0 then P.err(path, "empty list") end
    -- any: a name of several bits (O_SYNC, O_TMPFILE) holds when all of its
    -- bits are set, not one of them
    local single, multi = {}, {}
    for _, x in ipairs(vals) do
      local n = op == "any" and type(x) == "string" and f.names[x]
      local b = 1
      while n and b < n do b = b * 2 end
      if n and n ~= 0 and b ~= n then multi[#multi + 1] = n else single[#single + 1] = x end
    end
    local mask, rdonly = flag_mask(P, f, single, path)
    return { op = op, mask = mask, rdonly = rdonly, multi = multi }
  end
  -- num
  if op == "any" or op == "all" then
    local vals = want_numbers(P, f, values_of(P, v, path, true), path)
    if #vals == 0 then P.err(path, "empty list") end
    return { op = op, mask = (flag_mask(P, f, vals, path)) }
  end
  local vals = want_numbers(P, f, values_of(P, v, path, op ~= "in"), path)
  if #vals == 0 then P.err(path, "empty list") end
  if op ~= "in" and op ~= "eq" and #vals ~= 1 then
    P.err(path, "expected one number, got " .. P.got(v) .. (op == "eq" and " (use in: for a list)" or ""))
  end
  if op == "in" or op == "eq" then return { op = "in", values = vals } end
  return { op = op, value = vals[1] }
end

-- A field's matcher: a scalar (eq), a list (in), or a mapping of matchers.
function parse_matcher(P, f, v, path)
  if P.is_null(v) or v == nil then
    P.err(path, "missing matcher (a value, a list, or a mapping such as {in: [...]})")
  end
  if type(v) ~= "table" then return parse_op(P, f, "eq", v, path) end
  local allowed = MATCHERS_OF[f.kind]
  if P.is_list(v) and next(v) ~= nil then
    if not in_list("in", allowed) and f.kind ~= "bool" then
      P.err(path, fmt("a list (in) is not a matcher for %s (%s takes %s)", f.name,
        KIND_TEXT[f.kind]:gsub(" %(.*", ""), concat(allowed, ", ")))
    end
    return parse_op(P, f, "in", v, path)
  end
  if next(v) == nil then P.err(path, "empty matcher") end
  local keys = sorted_names(v)
  local out = {}
  for _, k in ipairs(keys) do
    if type(k) ~= "string" or not in_list(k, _M.ALL_MATCHERS) then
      P.err(path, P.unknown(tostring(k), _M.ALL_MATCHERS, "unknown matcher " .. P.quote(tostring(k))))
    end
    if not in_list(k, allowed) then
      P.err(path, fmt("%s: not a matcher for %s (%s takes %s)", k, f.name, KIND_TEXT[f.kind]:gsub(" %(.*", ""),
        concat(allowed, ", ")))
    end
    out[#out + 1] = parse_op(P, f, k, v[k], path .. ": " .. k)
  end
  if #out == 1 then return out[1] end
  return { op = "and", list = out }
end

-- The FIELDS entry of name, checked to be carried by every type of the
-- rule (P.types).
local function field_of(P, name, path, combinators)
  local f = type(name) == "string" and FIELDS[name] or nil
  if not f then
    local known = {}
    for _, n in ipairs(_M.FIELD_NAMES) do known[#known + 1] = n end
    if combinators then
      for _, n in ipairs(_M.COMBINATORS) do known[#known + 1] = n end
    end
    P.err(path, P.unknown(tostring(name), known, "unknown field " .. P.quote(tostring(name)),
      "docs/rules.md lists the fields"))
  end
  if P.types and f.types then
    local missing = {}
    for t in pairs(P.types) do
      if not f.types[t] then missing[#missing + 1] = t end
    end
    table.sort(missing)
    if #missing > 0 then
      local names = {}
      for i, t in ipairs(missing) do names[i] = TYPE_NAMES[t] end
      P.err(path, fmt("not carried by %s events (only by %s)", concat(names, ", "),
        concat(_M.carriers(f), ", ")))
    end
  end
  return f
end

-- One field tested with one matcher (an exception's field and comp).
function _M.field_node(P, name, op, v, path)
  local f = field_of(P, name, path, false)
  if op == "eq" and type(v) == "table" and not P.is_null(v) and P.is_list(v) then op = "in" end
  if not in_list(op, MATCHERS_OF[f.kind]) then
    P.err(path, fmt("%s: not a matcher for %s (%s takes %s)", op, f.name, KIND_TEXT[f.kind]:gsub(" %(.*", ""),
      concat(MATCHERS_OF[f.kind], ", ")))
  end
  return { op = "field", field = f, m = parse_op(P, f, op, v, path) }
end

-- Resolves a node (see the top of this file). path: where it is, for
-- messages ("match", "macro \"x\"", ...).
function _M.resolve(P, node, path)
  path = path ~= "" and path or nil
  if P.is_null(node) or type(node) ~= "table" or (P.is_list(node) and next(node) ~= nil) then
    P.err(path, "expected a mapping of fields to matchers, got " .. (P.is_null(node) and "null" or P.got(node)))
  end
  if next(node) == nil then P.err(path, "empty (name at least one field)") end
  -- (path nil: the node is a macro's own, and its reporter names it)
  local list = {}
  for _, k in ipairs(sorted_names(node)) do
    local v = node[k]
    local here = path and (path .. ": " .. tostring(k)) or tostring(k)
    if k == "all" or k == "any" then
      if type(v) ~= "table" or P.is_null(v) or not P.is_list(v) or next(v) == nil then
        P.err(here, "expected a list of conditions, got " .. (P.is_null(v) and "null" or P.got(v)))
      end
      local sub = {}
      for i, n in ipairs(v) do sub[i] = _M.resolve(P, n, here .. "[" .. i .. "]") end
      list[#list + 1] = { op = k, list = sub }
    elseif k == "not" then
      list[#list + 1] = { op = "not", node = _M.resolve(P, v, here) }
    elseif k == "macro" then
      local names = v
      if type(v) == "string" then names = { v } end
      if type(names) ~= "table" or P.is_null(names) or not P.is_list(names) or next(names) == nil then
        P.err(here, "expected a macro name or a list of them, got " .. P.got(v))
      end
      for i, name in ipairs(names) do
        if type(name) ~= "string" then
          P.err(here .. "[" .. i .. "]", "expected a macro name, got " .. P.got(name))
        end
        list[#list + 1] = P.macro(name, here)
      end
    else
      local f = field_of(P, k, here, true)
      list[#list + 1] = { op = "field", field = f, m = parse_matcher(P, f, v, here) }
    end
  end
  if #list == 1 then return list[1] end
  return { op = "all", list = list }
end

-- The fields an AST tests (for the carried-by check of a macro in a rule).
function _M.fields_of(ast, out)
  out = out or {}
  if ast.op == "field" then
    out[#out + 1] = ast.field
  elseif ast.op == "not" then
    _M.fields_of(ast.node, out)
  elseif ast.list then
    for _, a in ipairs(ast.list) do _M.fields_of(a, out) end
  end
  return out
end

-- ---------------------------------------------------------------- codegen

-- Escapes a literal for a PCRE2 pattern.
local function rx_quote(s)
  return (s:gsub("[^%w\128-\255]", function(c)
    if c:match("%p") or c == " " then return "\\" .. c end
    return fmt("\\x{%02x}", c:byte())
  end))
end
_M.rx_quote = rx_quote

-- Lua source for a signed byte of a literal (p is a const char *).
local function sbyte(s, i)
  local b = s:byte(i)
  if b >= 128 then b = b - 256 end
  return b
end

-- how many literals are tested one by one before a PCRE2 alternation is used
_M.UNROLL = 6

-- A function(p, l) -> bool for a string matcher; E gives rx(obj) -> CODE
-- index and fn(body, arg) -> an expression naming the function the body
-- returns (compiled after FN_HEADER).
local function str_fn(E, m)
  local vals = m.values
  local parts = {}
  local op = m.op
  if op == "in" then
    if #vals <= 2 then
      for i, s in ipairs(vals) do
        if s == "" then parts[i] = "l == 0"
        else parts[i] = fmt("(l == %d and p[0] == %d and MEMCMP(p, %q, %d) == 0)", #s, sbyte(s, 1), s, #s) end
      end
      return E.fn("return function(p, l) return " .. concat(parts, " or ") .. " end")
    end
    return E.fn("return function(p, l) return SIN(ARG, p, l) end", strset(vals))
  end
  if (op == "prefix" or op == "suffix") and #vals <= _M.UNROLL then
    for i, s in ipairs(vals) do
      if s == "" then
        parts[i] = "true"
      elseif op == "prefix" then
        parts[i] = fmt("(l >= %d and p[0] == %d and MEMCMP(p, %q, %d) == 0)", #s, sbyte(s, 1), s, #s)
      else
        parts[i] = fmt("(l >= %d and p[l - 1] == %d and MEMCMP(p + l - %d, %q, %d) == 0)",
          #s, sbyte(s, #s), #s, s, #s)
      end
    end
    return E.fn("return function(p, l) if p == nil then l = 0 end return " .. concat(parts, " or ") .. " end")
  end
  if op == "contains" and #vals == 1 then
    local s = vals[1]
    if s == "" then return E.fn("return function() return true end") end
    return E.fn(fmt("return function(p, l) return p ~= nil and l >= %d and MEMMEM(p, l, %q, %d) ~= nil end",
      #s, s, #s))
  end
  -- a missing string (unknown context) is tested as "", as by the other paths
  local head = 'return function(p, l) if p == nil then p, l = "", 0 end '
  if op == "regex" then
    -- each pattern on its own: in one alternation a backreference would
    -- count the other patterns' groups, and \Q, a (?x) comment or a
    -- duplicate group name would swallow or break the wrapping
    local tests = {}
    for i, s in ipairs(vals) do tests[i] = fmt("M(CODE[%d], p, l)", E.rx(assert(regex.new(s)))) end
    local pre = ""
    if #vals == 1 then
      -- a literal every match contains, tested first (as the legacy regexes)
      local lit, anchored = regex.required_literal(vals[1])
      if lit and anchored then
        pre = fmt("if l < %d or MEMCMP(p, %q, %d) ~= 0 then return false end ", #lit, lit, #lit)
      elseif lit then
        pre = fmt("if l < %d or MEMMEM(p, l, %q, %d) == nil then return false end ", #lit, lit, #lit)
      end
    end
    return E.fn(head .. pre .. "return " .. concat(tests, " or ") .. " end")
  end
  -- one PCRE2 pattern
  local alts = {}
  for i, s in ipairs(vals) do alts[i] = rx_quote(s) end
  local pat = concat(alts, "|")
  if op == "prefix" then pat = "^(?:" .. pat .. ")"
  elseif op == "suffix" then pat = "(?:" .. pat .. ")\\z"
  elseif op == "contains" then pat = "(?:" .. pat .. ")" end
  return E.fn(fmt("%sreturn M(CODE[%d], p, l) end", head, E.rx(assert(regex.new(pat)))))
end

local function mask_lit(f, mask)
  if f.wide or mask >= 0x80000000 then return fmt("0x%xULL", mask) end
  return fmt("0x%x", mask)
end

-- Lua expression for a non-string matcher on the value expression v.
local function val_expr(E, f, m, v)
  local op = m.op
  if op == "not" then return "not " .. E.match(f, m.node, v) end
  if op == "and" then
    local t = {}
    for i, x in ipairs(m.list) do t[i] = E.match(f, x, v) end
    return "(" .. concat(t, " and ") .. ")"
  end
  if f.kind == "bool" then return m.value and "(" .. v .. ")" or "not (" .. v .. ")" end
  if op == "in" then
    if #m.values <= 4 then
      local t = {}
      for i, n in ipairs(m.values) do t[i] = fmt("%s == %d", v, n) end
      return "(" .. concat(t, " or ") .. ")"
    end
    local set = {}
    for _, n in ipairs(m.values) do set[n] = true end
    return fmt("(%s[%s] == true)", E.const(set), v)
  end
  if op == "lt" then return fmt("(%s < %d)", v, m.value) end
  if op == "le" then return fmt("(%s <= %d)", v, m.value) end
  if op == "gt" then return fmt("(%s > %d)", v, m.value) end
  if op == "ge" then return fmt("(%s >= %d)", v, m.value) end
  local lit = mask_lit(f, m.mask)
  local t = {}
  if op == "flags_eq" then return fmt("(%s == %s)", v, lit) end
  if op == "all" then
    t[1] = fmt("band(%s, %s) == %s", v, lit, lit)
  elseif m.mask ~= 0 then
    t[1] = fmt("band(%s, %s) ~= 0", v, lit)
  end
  for _, x in ipairs(m.multi or {}) do
    t[#t + 1] = fmt("band(%s, %s) == %s", v, mask_lit(f, x), mask_lit(f, x))
  end
  if m.rdonly then t[#t + 1] = fmt("band(%s, 3) == 0", v) end
  -- any of no bits (a zero mask)
  if #t == 0 then return "false" end
  return "(" .. concat(t, op == "any" and " or " or " and ") .. ")"
end

-- A rough cost, to test cheap fields first.
local COST = { bool = 1, num = 1, enum = 1, flags = 1, str = 3, strlist = 8 }

-- Returns a Lua expression (over the event `e`) for a resolved ast, and its
-- cost. E: { rx = fn(obj) -> index, const = fn(v) -> expression,
-- fn = fn(src, arg) -> expression naming a compiled function }.
function _M.emit(E, ast)
  local op = ast.op
  if op == "field" then
    local f = ast.field
    local m = ast.m
    local cost = COST[f.kind]
    if f.name == "cmdline" or f.name == "parent.cmdline" then cost = 8 end
    if f.kind == "str" or f.kind == "strlist" then
      local function one(mm)
        if mm.op == "not" then
          local s, _ = one(mm.node)
          return "not " .. s
        end
        if mm.op == "and" then
          local t = {}
          for i, x in ipairs(mm.list) do t[i] = one(x) end
          return "(" .. concat(t, " and ") .. ")"
        end
        if mm.op == "contains" or mm.op == "regex" then cost = cost + 2 end
        local fnx = str_fn(E, mm)
        if f.kind == "strlist" then return fmt("G.%s(%s, e)", f.access, fnx) end
        return fmt("%s(%s)", fnx, f.access)
      end
      return one(m), cost
    end
    local sub = setmetatable({}, { __index = E })
    sub.match = function(ff, mm, v) return val_expr(sub, ff, mm, v) end
    return val_expr(sub, f, m, f.access), cost
  end
  if op == "not" then
    local s, c = _M.emit(E, ast.node)
    return "not " .. s, c
  end
  local parts = {}
  local total = 0
  for i, a in ipairs(ast.list) do
    local s, c = _M.emit(E, a)
    parts[i] = { s = s, c = c, i = i }
    total = total + c
  end
  if op == "all" then
    table.sort(parts, function(a, b)
      if a.c ~= b.c then return a.c < b.c end
      return a.i < b.i
    end)
  end
  local t = {}
  for i, p in ipairs(parts) do t[i] = p.s end
  return "(" .. concat(t, op == "all" and " and " or " or ") .. ")", total
end

-- The upvalues of compiled matcher functions: E.fn's bodies are compiled
-- after this header, called with (sin, memcmp, memmem, M(code, p, l), the
-- CODE array, fn's arg).
_M.FN_HEADER = "local SIN, MEMCMP, MEMMEM, M, CODE, ARG = ... "

return _M
