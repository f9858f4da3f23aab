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
--   the value from the event `e`: "p, l" for strings, side-effect free so
--   that it can be repeated; buf = { p, l, count } for argument lists and
--   command lines; anc = the ancestors' field), names = { name -> number }
--   for flags and enum, wide = true for flags held in 64 bits }
local FIELDS = {}
_M.FIELDS = FIELDS

local function def(name, kind, types, access, extra)
  local f = { name = name, kind = kind, types = types and set_of(types) or nil, access = access }
  if kind == "str" then f.p, f.l = access:match("^(.-), (.*)$") end
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
-- the program's name: exec, the last part of filename (the new program: an
-- exec event's comm is its caller's, as in the reference); others, comm.
-- NMP, NML are computed once per event by the generated code (compile.lua)
def("name", "str", nil, "NMP, NML")
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
-- argument lists, as their NUL-separated buffer (pointer, length, count)
def("args", "strlist", nil, "e.args, e.args_len, e.argc", { buf = { "e.args", "e.args_len", "e.argc" } })
def("cmdline", "str", nil, "e.args, e.args_len, e.argc", { buf = { "e.args", "e.args_len", "e.argc" } })
-- the process context: the generated code has P, CT and HO, the event's
-- process, container and host (empty structs when unknown)
def("exec_id", "str", nil, "P.exec_id, P.exec_id_len")
def("cwd", "str", nil, "P.cwd, P.cwd_len")
def("tty", "str", nil, "P.tty, P.tty_len")
def("loginuid", "num", nil, "P.loginuid")
def("context", "enum", nil, fmt("(band(P.flags, %d) ~= 0 and 4 or band(P.flags, %d) ~= 0 and 3"
  .. " or band(P.flags, %d) ~= 0 and 2 or 1)", event.PF_UNKNOWN, event.PF_SEEDED, event.PF_FORKED),
  { names = { exec = 1, fork = 2, procfs = 3, unknown = 4 } })
def("setuid", "bool", nil, fmt("band(P.flags, %d) ~= 0", event.PF_SETUID))
def("setgid", "bool", nil, fmt("band(P.flags, %d) ~= 0", event.PF_SETGID))
def("ld_preload", "bool", nil, fmt("band(P.flags, %d) ~= 0", event.PF_LD_PRELOAD))
def("ld_library_path", "bool", nil, fmt("band(P.flags, %d) ~= 0", event.PF_LD_LIBRARY_PATH))
def("parent.tgid", "num", nil, "(P.parent_tgid ~= 0 and P.parent_tgid or e.ppid)")
def("parent.exec_id", "str", nil, "P.parent_exec_id, P.parent_exec_id_len")
def("parent.comm", "str", nil, "P.parent_comm, P.parent_comm_len")
def("parent.exe", "str", nil, "P.parent_exe, P.parent_exe_len")
def("parent.args", "strlist", nil, "P.parent_args, P.parent_args_len, P.parent_argc",
  { buf = { "P.parent_args", "P.parent_args_len", "P.parent_argc" } })
def("parent.cmdline", "str", nil, "P.parent_args, P.parent_args_len, P.parent_argc",
  { buf = { "P.parent_args", "P.parent_args_len", "P.parent_argc" } })
def("ancestors.comm", "strlist", nil, "comm", { anc = "comm" })
def("ancestors.exe", "strlist", nil, "exe", { anc = "exe" })
-- (mostly_empty: empty for the host's own processes, most of any host's
-- events: `not ""` is a selective test, run first)
def("container_id", "str", nil, "CT.id, CT.id_len", { mostly_empty = true })
def("container_runtime", "str", nil, "CT.runtime, CT.runtime_len")
def("pod_uid", "str", nil, "CT.pod_uid, CT.pod_uid_len", { mostly_empty = true })
def("cgroup", "str", nil, "CT.cgroup, CT.cgroup_len")
def("hostname", "str", nil, "HO.name, HO.name_len")
def("host_id", "str", nil, "HO.id, HO.id_len")
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

-- The generated code tests fields inline, in the matcher loop's own frame:
-- a branch inside a called Lua function would leave LuaJIT's trace for the
-- interpreter whenever it went the other way. Only regexes on argument lists
-- and command lines call these helpers (G.<name>), which loop.
local G = {}
_M.G = G
local C = ffi.C
local MEMCHR = C.memchr
local ffi_copy = ffi.copy
local char_p = ffi.typeof("const char *")

-- Calls test(p, l) on each of argc NUL-terminated strings in (p, len);
-- true when one returns true.
function G.each_arg(test, p, len, argc)
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

-- The arguments joined by spaces, in a buffer reused from call to call
-- (valid until the next call).
local CMD_MAX = 65536
local cmd_buf = ffi.new("char[?]", CMD_MAX)
function G.join(p, len, argc)
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

-- Empty process, container and host records for events without them
-- (P, CT, HO in the generated code): unknown context, loginuid -1.
function _M.empty_context()
  local p = ffi.new("struct eg_proc")
  p.loginuid = -1
  p.flags = event.PF_UNKNOWN
  return p, ffi.new("struct eg_container"), ffi.new("struct eg_host")
end

-- The key of a string in a string set (see set_expr): its length and three
-- of its bytes, at the positions pos names ({ where, offset }: "s" from the
-- start, "e" from the end, "m" the middle one); the default ones are the
-- first, the last and the middle byte.
local DEFAULT_POS = { { "s", 0 }, { "e", 0 }, { "m", 0 } }
local function byte_at(s, n, where, o)
  if where == "s" then return s:byte(o + 1) end
  if where == "e" then return s:byte(n - o) end
  return s:byte(floor(n / 2) + 1)
end
local function set_key(s, pos)
  pos = pos or DEFAULT_POS
  local n = #s
  return n * 16777216 + byte_at(s, n, pos[1][1], pos[1][2]) * 65536 + byte_at(s, n, pos[2][1], pos[2][2]) * 256
    + byte_at(s, n, pos[3][1], pos[3][2])
end
_M.set_key = set_key

-- The positions whose key separates a set's strings best (fewest strings
-- sharing one key: one table per such string), among the first and last 4
-- bytes of its shortest string and the middle one; the default ones on a tie.
local function set_positions(vals, minlen)
  local cands = { { "s", 0 }, { "e", 0 }, { "m", 0 } }
  for o = 1, math.min(minlen, 4) - 1 do
    cands[#cands + 1] = { "s", o }
    cands[#cands + 1] = { "e", o }
  end
  local function worst(pos)
    local seen, most = {}, 0
    for _, v in ipairs(vals) do
      local k = set_key(v, pos)
      local c = (seen[k] or 0) + 1
      seen[k] = c
      if c > most then most = c end
    end
    return most
  end
  local best, best_n = DEFAULT_POS, worst(DEFAULT_POS)
  for a = 1, #cands do
    for b = a + 1, #cands do
      for c = b + 1, #cands do
        if best_n == 1 then return best end
        local pos = { cands[a], cands[b], cands[c] }
        local w = worst(pos)
        if w < best_n then best, best_n = pos, w end
      end
    end
  end
  return best
end
_M.set_positions = set_positions

-- ------------------------------------------------------------- matchers

_M.STR_MATCHERS = { "eq", "in", "prefix", "suffix", "contains", "regex", "same_as", "not" }
_M.NUM_MATCHERS = { "eq", "in", "lt", "le", "gt", "ge", "any", "all", "same_as", "not" }
-- lists of strings and command lines: no same_as (one value against another)
_M.LIST_MATCHERS = { "eq", "in", "prefix", "suffix", "contains", "regex", "not" }
_M.FLAG_MATCHERS = { "any", "all", "eq", "not" }
_M.ENUM_MATCHERS = { "eq", "in", "prefix", "suffix", "contains", "regex", "not" }
_M.BOOL_MATCHERS = { "eq", "not" }
_M.ALL_MATCHERS = { "eq", "in", "prefix", "suffix", "contains", "regex", "lt", "le", "gt", "ge",
  "any", "all", "same_as", "not" }
local MATCHERS_OF = {
  str = _M.STR_MATCHERS, strlist = _M.LIST_MATCHERS, num = _M.NUM_MATCHERS,
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
_M.sorted_names = sorted_names

-- `P` (the resolver's context) gives: err(path, problem) raising a load
-- error; got(v); quote(s); unknown(key, known, what) -> text with a "did you
-- mean"; list(name, path) -> the resolved values of a list (or raises);
-- macro(name, path) -> the resolved ast of a macro (or raises); types =
-- { [type] = true } of the rule (nil: not checked, for macros alone);
-- is_list(t); is_null(v).

-- The list a value names ("$name" -> "name"), or nil.
function _M.list_ref(x)
  if type(x) == "string" and x:sub(1, 1) == "$" and x:sub(2, 2) ~= "$" then return x:sub(2) end
  return nil
end

-- A value as written, "$$" standing for a literal "$".
function _M.unescape(x)
  if type(x) == "string" and x:sub(1, 2) == "$$" then return x:sub(2) end
  return x
end

-- A matcher's values as a flat list: a scalar, a list, "$name" list
-- references spliced.
local function values_of(P, v, path, allow_scalar)
  local out = {}
  local function add(x, p)
    local ref = _M.list_ref(x)
    if ref then
      for _, y in ipairs(P.list(ref, p)) do out[#out + 1] = y end
    elseif type(x) == "string" or type(x) == "number" or type(x) == "boolean" then
      out[#out + 1] = _M.unescape(x)
    else
      P.err(p, "expected a string or a number, got " .. P.got(x))
    end
  end
  if type(v) == "table" and not P.is_null(v) and P.is_list(v) and next(v) ~= nil then
    for i, x in ipairs(v) do add(x, path .. "[" .. i .. "]") end
  elseif type(v) == "table" and not P.is_null(v) then
    P.err(path, "expected a value or a list of values, got " .. P.got(v))
  elseif allow_scalar or _M.list_ref(v) then
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

local field_of

local function parse_op(P, f, op, v, path)
  local kind = f.kind
  if op == "not" then
    return { op = "not", node = parse_matcher(P, f, v, path) }
  end
  if op == "same_as" then
    -- another field of the same event, of the same kind: holds when both
    -- have the same value (filename: {same_as: exe}, uid: {same_as: loginuid})
    if f.buf then
      P.err(path, fmt("not a matcher for %s (a command line: compare a single string or number)", f.name))
    end
    if type(v) ~= "string" then
      P.err(path, "expected the name of another field, got " .. P.got(v))
    end
    local o = field_of(P, v, path, false)
    if o.kind ~= kind or o.buf then
      P.err(path, fmt("%s is %s, %s %s: same_as compares two fields of one kind", f.name,
        KIND_TEXT[kind]:gsub(" %(.*", ""), o.name, KIND_TEXT[o.kind]:gsub(" %(.*", "")))
    end
    return { op = "same_as", other = o }
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
function field_of(P, name, path, combinators)
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
_M.UNROLL = 16
-- and substrings searched one by one (memmem) before one PCRE2 alternation
_M.UNROLL_CONTAINS = 4
-- and an anchored regex's possible prefixes tested before it (required_prefixes)
_M.UNROLL_PREFIXES = 8

-- The "not" and "and" of matchers around an emitter of single ones:
-- emit(m, ...) -> a Lua expression.
local function combined(emit, m, ...)
  if m.op == "not" then return "not (" .. emit(m.node, ...) .. ")" end
  local t = {}
  for i, x in ipairs(m.list) do t[i] = emit(x, ...) end
  return "(" .. concat(t, " and ") .. ")"
end

-- Inline tests of a string (p, l): Lua expressions without side effects, so
-- that they can be repeated (the trace computes them once). A missing string
-- has p nil and l 0, and is tested as "".
--
-- Literals are compared 8 bytes at a time where the string is long enough
-- (one load and one compare: one guard, no call), with memcmp for the rest;
-- an equality with a literal under 8 bytes loads inside it (lit_eq).

-- The 8 bytes from `at` (1-based) of s, padded with zero bytes, as a
-- little-endian 64-bit constant, and the mask of the ones that exist; the
-- bytes sit at the high end when high (for suffixes).
local function word(s, at, high)
  local bytes, mask = {}, {}
  local n = math.min(8, #s - at + 1)
  for k = 1, 8 do
    local i = high and (k - (8 - n)) or k
    if i >= 1 and i <= n then
      bytes[k], mask[k] = s:byte(at + i - 1), 255
    else
      bytes[k], mask[k] = 0, 0
    end
  end
  local hv, hm = {}, {}
  for k = 8, 1, -1 do
    hv[#hv + 1] = fmt("%02x", bytes[k])
    hm[#hm + 1] = fmt("%02x", mask[k])
  end
  return "0x" .. concat(hv) .. "ULL", "0x" .. concat(hm) .. "ULL", n
end

-- s is at p (a pointer expression) and the string has at least 8 bytes there.
local function word_test(p, s, at, high)
  local v, m, n = word(s, at, high)
  if n == 8 then return fmt("CAST(U64, %s)[0] == %s", p, v) end
  return fmt("band(CAST(U64, %s)[0], %s) == %s", p, m, v)
end

-- The 4 bytes of s from at (1-based) as the number a CAST(U32, ...) load
-- gives (little-endian).
local function u32_of(s, at)
  local w = 0
  for k = 3, 0, -1 do w = w * 256 + s:byte(at + k) end
  return fmt("%.0f", w)
end

local function lit_eq(p, l, s)
  local n = #s
  if n == 0 then return fmt("(%s == 0)", l) end
  -- a short literal: loads inside the string's n bytes, no call (4 to 7
  -- bytes: the first and the last 4, overlapping)
  if n < 4 then
    local t = {}
    for k = 1, n do t[k] = fmt("band(%s[%d], 255) == %d", p, k - 1, s:byte(k)) end
    return fmt("(%s == %d and %s)", l, n, concat(t, " and "))
  end
  if n == 4 then return fmt("(%s == 4 and CAST(U32, %s)[0] == %s)", l, p, u32_of(s, 1)) end
  if n < 8 then
    return fmt("(%s == %d and CAST(U32, %s)[0] == %s and CAST(U32, %s + %d)[0] == %s)",
      l, n, p, u32_of(s, 1), p, n - 4, u32_of(s, n - 3))
  end
  local rest = n > 8 and fmt(" and MEMCMP(%s + 8, %q, %d) == 0", p, s:sub(9), n - 8) or ""
  return fmt("(%s == %d and %s%s)", l, n, word_test(p, s, 1), rest)
end

local function lit_prefix(p, l, s)
  local n = #s
  if n == 0 then return "true" end
  if n < 8 then
    return fmt("(%s >= 8 and %s or %s >= %d and %s < 8 and MEMCMP(%s, %q, %d) == 0)",
      l, word_test(p, s, 1), l, n, l, p, s, n)
  end
  local rest = n > 8 and fmt(" and MEMCMP(%s + 8, %q, %d) == 0", p, s:sub(9), n - 8) or ""
  return fmt("(%s >= %d and %s%s)", l, n, word_test(p, s, 1), rest)
end

local function lit_suffix(p, l, s)
  local n = #s
  if n == 0 then return "true" end
  local last8 = fmt("%s + %s - 8", p, l)
  if n < 8 then
    return fmt("(%s >= 8 and %s or %s >= %d and %s < 8 and MEMCMP(%s + %s - %d, %q, %d) == 0)",
      l, word_test(last8, s, 1, true), l, n, l, p, l, n, s, n)
  end
  local rest = n > 8 and fmt(" and MEMCMP(%s + %s - %d, %q, %d) == 0", p, l, n, s:sub(1, n - 8), n - 8) or ""
  return fmt("(%s >= %d and %s%s)", l, n, word_test(last8, s, n - 7), rest)
end

local function rx_call(E, pattern, p, l)
  local obj = assert(regex.new(pattern))
  return fmt("(MATCH(CODE[%d], %s ~= nil and %s or EMPTY, %s, 0, 0, MD, MCTX) >= 0)", E.rx(obj), p, p, l)
end

-- Exact membership in a set of strings: a table lookup by the string's
-- length and three of its bytes (set_key, at the positions that separate
-- the set's strings best), then one memcmp. Strings sharing a key go to
-- further tables, tested in turn.
local function set_expr(E, vals, p, l)
  local empty, subsets, maxlen, minlen, strs = false, {}, 0, math.huge, {}
  for _, v in ipairs(vals) do
    if v == "" then
      empty = true
    else
      if #v > maxlen then maxlen = #v end
      if #v < minlen then minlen = #v end
      strs[#strs + 1] = v
    end
  end
  local pos = #strs > 0 and set_positions(strs, minlen) or DEFAULT_POS
  for _, v in ipairs(strs) do
    local k = set_key(v, pos)
    local placed = false
    for _, t in ipairs(subsets) do
      if t[k] == v or t[k] == nil then
        t[k] = v
        placed = true
        break
      end
    end
    if not placed then subsets[#subsets + 1] = { [k] = v } end
  end
  local function at(x)
    if x[1] == "s" then return fmt("band(%s[%d], 255)", p, x[2]) end
    if x[1] == "e" then return fmt("band(%s[%s - %d], 255)", p, l, x[2] + 1) end
    return fmt("band(%s[rshift(%s, 1)], 255)", p, l)
  end
  local key = fmt("%s * 16777216 + %s * 65536 + %s * 256 + %s", l, at(pos[1]), at(pos[2]), at(pos[3]))
  local parts = {}
  for j, t in ipairs(subsets) do
    local kx = E.const(t)
    parts[j] = fmt("(%s[%s] ~= nil and MEMCMP(%s, %s[%s], %s) == 0)", kx, key, p, kx, key, l)
  end
  local out = {}
  if empty then out[#out + 1] = fmt("%s == 0", l) end
  if #parts > 0 then
    -- (no shorter string is in the set: the key's bytes are all in range)
    out[#out + 1] = fmt("(%s >= %d and %s <= %d and (%s))", l, minlen, l, maxlen, concat(parts, " or "))
  end
  return "(" .. concat(out, " or ") .. ")"
end

local function any_of(parts)
  if #parts == 1 then return parts[1] end
  return "(" .. concat(parts, " or ") .. ")"
end

-- A string matcher on (p, l), inline.
local str_expr
function str_expr(E, m, p, l)
  local op = m.op
  if op == "not" or op == "and" then
    return combined(function(x) return str_expr(E, x, p, l) end, m)
  end
  if op == "same_as" then
    local o = m.other
    return fmt("(%s == %s and (%s == 0 or MEMCMP(%s, %s, %s) == 0))", l, o.l, l, p, o.p, l)
  end
  local vals = m.values
  local parts = {}
  if op == "in" then
    if #vals > 4 then return set_expr(E, vals, p, l) end
    for i, v in ipairs(vals) do parts[i] = lit_eq(p, l, v) end
    return any_of(parts)
  end
  if (op == "prefix" or op == "suffix") and #vals <= _M.UNROLL then
    for i, v in ipairs(vals) do parts[i] = op == "prefix" and lit_prefix(p, l, v) or lit_suffix(p, l, v) end
    return any_of(parts)
  end
  if op == "contains" and #vals <= _M.UNROLL_CONTAINS then
    for _, v in ipairs(vals) do
      if v == "" then return "true" end
    end
    local one = E.find_any and E.find_any(vals, p, l)
    if one then return one end
    for i, v in ipairs(vals) do
      parts[i] = fmt("(%s >= %d and MEMMEM(%s, %s, %q, %d) ~= nil)", l, #v, p, l, v, #v)
    end
    return any_of(parts)
  end
  if op == "regex" then
    -- each pattern on its own: in one alternation a backreference would
    -- count the other patterns' groups, and \Q, a (?x) comment or a
    -- duplicate group name would swallow or break the wrapping
    for i, v in ipairs(vals) do
      local call = rx_call(E, v, p, l)
      -- a pattern ending with $: the suffixes one of which every match ends
      -- with, compared in place before it
      local sufs = regex.required_suffixes(v)
      if sufs and #sufs <= _M.UNROLL_PREFIXES then
        local tests = {}
        for j, x in ipairs(sufs) do tests[j] = lit_suffix(p, l, x) end
        call = fmt("(%s and %s)", any_of(tests), call)
      end
      -- several literals one of which every match contains, when no single
      -- one is as long: one search for any of them (FINDANY) first
      local kind, lit, anchored = regex.pretest(v, E.find_any ~= nil)
      local any = kind == "set" and E.find_any(lit, p, l, anchored)
      if kind == "set" and not any then lit, anchored = regex.required_literal(v) end
      if any then
        call = fmt("(%s and %s)", any, call)
      elseif lit then
        -- a literal every match contains, tested first; anchored: the
        -- prefixes one of which every match starts with, when the pattern
        -- begins with a group of plain alternatives (^/etc/(shadow|sudoers)),
        -- else the literal
        local pres = anchored and regex.required_prefixes(v)
        if pres and #pres > 1 and #pres <= _M.UNROLL_PREFIXES then
          local tests = {}
          for j, x in ipairs(pres) do tests[j] = lit_prefix(p, l, x) end
          call = fmt("(%s and %s)", any_of(tests), call)
        elseif anchored then
          call = fmt("(%s and %s)", lit_prefix(p, l, lit), call)
        else
          call = fmt("(%s >= %d and MEMMEM(%s, %s, %q, %d) ~= nil and %s)", l, #lit, p, l, lit, #lit, call)
        end
      end
      parts[i] = call
    end
    return any_of(parts)
  end
  -- prefix, suffix, contains: one PCRE2 alternation of the literals
  local alts = {}
  for i, v in ipairs(vals) do alts[i] = rx_quote(v) end
  local pat = "(?:" .. concat(alts, "|") .. ")"
  if op == "prefix" then pat = "^" .. pat elseif op == "suffix" then pat = pat .. "\\z" end
  return rx_call(E, pat, p, l)
end

-- A literal of a command line as a pattern on the NUL-separated argument
-- buffer: a space matches a space or the NUL between two arguments.
local function cmd_quote(s)
  local out = {}
  for c in s:gmatch(".") do
    out[#out + 1] = c == " " and "(?: |\\x00(?!\\z))" or rx_quote(c)
  end
  return concat(out)
end

-- A test that the argument buffer holds one of vals somewhere, for a
-- matcher every match of which contains one of them whole (in, prefix,
-- suffix, contains of an element, or of the command line when no value has
-- a space): one search for any of them in the host, memmem for a few
-- elsewhere; nil when a value is empty or holds a NUL, or there are many
-- and no one-pass search.
local function buf_any(E, vals, p, l)
  for _, v in ipairs(vals) do
    if v == "" or v:find("%z") then return nil end
  end
  local one = E.find_any and E.find_any(vals, p, l)
  if one then return one end
  if #vals > _M.UNROLL_CONTAINS then return nil end
  local parts = {}
  for i, v in ipairs(vals) do parts[i] = fmt("(%s >= %d and MEMMEM(%s, %s, %q, %d) ~= nil)", l, #v, p, l, v, #v) end
  return "(" .. concat(parts, " or ") .. ")"
end

-- contains with literals that hold no space and no NUL: the argument
-- buffer itself holds one (such a literal can only match inside one
-- argument, of the joined command line as of the list), or nil.
local function buf_contains(E, vals, p, l)
  for _, v in ipairs(vals) do
    if v:find(" ", 1, true) then return nil end
  end
  return buf_any(E, vals, p, l)
end

-- A matcher on cmdline or parent.cmdline (the arguments joined by spaces),
-- run on the argument buffer itself; a regex runs on the joined copy.
local function cmd_expr(E, f, m)
  local op = m.op
  if op == "not" or op == "and" then
    return combined(function(x) return cmd_expr(E, f, x) end, m)
  end
  local p, l, n = f.buf[1], f.buf[2], f.buf[3]
  if op == "regex" then
    local fnx = E.fn("return function(p, l) return " .. str_expr(E, m, "p", "l") .. " end")
    return fmt("%s(G.join(%s, %s, %s))", fnx, p, l, n)
  end
  if op == "contains" then
    local fast = buf_contains(E, m.values, p, l)
    if fast then return fast end
  end
  if op == "prefix" and #m.values <= _M.UNROLL then
    -- the command line starts with the buffer's first argument: a literal
    -- with no space and no NUL is a prefix of the buffer itself
    local parts = {}
    for i, v in ipairs(m.values) do
      if v:find("[ %z]") then parts = nil break end
      parts[i] = lit_prefix(p, l, v)
    end
    if parts then return any_of(parts) end
  end
  if (op == "in" or op == "eq") and #m.values == 1 and m.values[1] == "" then
    -- the empty command line: no argument, or one empty one
    return fmt("(%s == 0 or (%s == 1 and %s[0] == 0))", l, l, p)
  end
  local alts, spaced = {}, false
  for i, v in ipairs(m.values) do
    alts[i] = cmd_quote(v)
    if v:find(" ", 1, true) then spaced = true end
  end
  local pat = "(?:" .. concat(alts, "|") .. ")"
  if op == "in" then pat = "^" .. pat .. "\\x00?\\z"
  elseif op == "prefix" then pat = "^" .. pat
  elseif op == "suffix" then pat = pat .. "\\x00?\\z" end
  -- a value with no space is a piece of one argument: the buffer holds it
  local pre = not spaced and buf_any(E, m.values, p, l)
  if pre then return fmt("(%s and %s)", pre, rx_call(E, pat, p, l)) end
  return rx_call(E, pat, p, l)
end

-- A matcher on a list of strings: holds when one element satisfies it.
-- Argument lists are matched on their NUL-separated buffer with one PCRE2
-- pattern; the ancestors (at most five) one by one, inline.
local function list_expr(E, f, m)
  local op = m.op
  if op == "not" or op == "and" then
    return combined(function(x) return list_expr(E, f, x) end, m)
  end
  if f.anc then
    local t = {}
    for k = 0, event.ANCESTORS_MAX - 1 do
      local p = fmt("P.ancestors[%d].%s", k, f.anc)
      t[#t + 1] = fmt("(P.nancestors > %d and %s)", k, str_expr(E, m, p, p .. "_len"))
    end
    return "(" .. concat(t, " or ") .. ")"
  end
  local p, l, n = f.buf[1], f.buf[2], f.buf[3]
  if op == "regex" then
    local fnx = E.fn("return function(p, l) return " .. str_expr(E, m, "p", "l") .. " end")
    -- the buffer holds what the matching argument holds: a literal, or one
    -- of a set, of each pattern, searched once in the whole buffer first
    local tests = {}
    for i, v in ipairs(m.values) do
      local kind, lit, caseless = regex.pretest(v, E.find_any ~= nil)
      if kind == "set" then
        tests[i] = E.find_any(lit, p, l, caseless)
      elseif kind == "lit" then
        tests[i] = fmt("(%s >= %d and MEMMEM(%s, %s, %q, %d) ~= nil)", l, #lit, p, l, lit, #lit)
      end
      if not tests[i] then tests = nil break end
    end
    local each = fmt("G.each_arg(%s, %s, %s, %s)", fnx, p, l, n)
    if tests then return fmt("(%s and %s)", any_of(tests), each) end
    return each
  end
  if op == "contains" then
    local fast = buf_contains(E, m.values, p, l)
    if fast then return fast end
  end
  local alts = {}
  for i, v in ipairs(m.values) do alts[i] = rx_quote(v) end
  local a = "(?:" .. concat(alts, "|") .. ")"
  local start = "(?:^|(?<=\\x00))(?!\\z)"
  local pat
  if op == "in" then pat = start .. a .. "(?=\\x00|\\z)"
  elseif op == "prefix" then pat = start .. a
  elseif op == "suffix" then pat = a .. "(?=\\x00|\\z)"
  else pat = a end
  -- the argument that matches holds one of the values whole
  local pre = buf_any(E, m.values, p, l)
  if pre then return fmt("(%s > 0 and %s and %s)", n, pre, rx_call(E, pat, p, l)) end
  return fmt("(%s > 0 and %s)", n, rx_call(E, pat, p, l))
end

local function mask_lit(f, mask)
  if f.wide or mask >= 0x80000000 then return fmt("0x%xULL", mask) end
  return fmt("0x%x", mask)
end

-- Lua expression for a non-string matcher on the value expression v.
local val_expr
function val_expr(E, f, m, v)
  local op = m.op
  if op == "not" or op == "and" then
    return combined(function(x) return val_expr(E, f, x, v) end, m)
  end
  if f.kind == "bool" then return m.value and "(" .. v .. ")" or "not (" .. v .. ")" end
  if op == "same_as" then return fmt("(%s == %s)", v, m.other.access) end
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

-- The order of the tests of an `all`. Each test has an estimated cost (a
-- literal comparison 1, a memmem 4, a PCRE2 call 10, an argument list or
-- command line 12) and an estimated chance of passing (a positive string
-- test 0.05, a long list of prefixes 0.2, a number's equality or set 0.1,
-- a range, flag or boolean 0.5, a negation the rest of its test's). Sorting
-- by cost / (1 - pass) puts first the test that rejects the most events per
-- unit of work (the order that minimises the expected cost of a chain of
-- independent short-circuit tests): a cheap negation such as "in a
-- container" goes before a regex, a cheap but unselective range after a
-- selective string test.
local function matcher_est(f, m)
  local op = m.op
  if op == "same_as" then return 1, 0.05 end
  if op == "not" then
    local c, p = matcher_est(f, m.node)
    return c, 1 - p
  end
  if op == "and" then
    -- the field's tests in their written order
    local cost, pass = 0, 1
    for _, x in ipairs(m.list) do
      local c, p = matcher_est(f, x)
      cost = cost + pass * c
      pass = pass * p
    end
    return cost, pass
  end
  local kind = f.kind
  if kind == "strlist" or f.buf then return 12, 0.1 end
  if kind == "str" then
    if f.mostly_empty and op == "in" and #m.values == 1 and m.values[1] == "" then return 1, 0.95 end
    if op == "regex" then return 10, 0.1 end
    if op == "contains" then return 4, 0.1 end
    if (op == "prefix" or op == "suffix") and #m.values > _M.UNROLL then return 3, 0.2 end
    if (op == "prefix" or op == "suffix") and #m.values > 2 then return 1 + #m.values / 8, 0.1 end
    return 1, 0.05
  end
  if kind == "bool" then return 1, 0.5 end
  if op == "in" or op == "eq" then return 1, 0.1 end
  return 1, 0.5
end

local function rank(c, p)
  if p >= 1 then return math.huge end
  return c / (1 - p)
end

-- Returns a Lua expression (over the event `e` and its context P, CT, HO)
-- for a resolved ast, its estimated cost and its chance of passing
-- (matcher_est). E: { rx = fn(obj) -> index, const = fn(v) -> expression,
-- fn = fn(body) -> expression naming the function the body returns,
-- compiled after FN_HEADER }.
function _M.emit(E, ast)
  -- E.memo: the code of the nodes emitted before (a rule's copies in the
  -- index's buckets share their unchanged parts, and their regexes and
  -- constants are registered once)
  -- (a field's test by its matcher and field: an `all` splits a field's
  -- `and` into new nodes of the same matchers)
  local memo = E.memo
  if memo then
    if ast.op == "field" then
      memo = memo[ast.m] or {}
      E.memo[ast.m] = memo
    end
    local at = ast.op == "field" and ast.field or ast
    local c = memo[at]
    if c then return c[1], c[2], c[3] end
    local s, cost, pass = _M.emit_node(E, ast)
    memo[at] = { s, cost, pass }
    return s, cost, pass
  end
  return _M.emit_node(E, ast)
end

function _M.emit_node(E, ast)
  local op = ast.op
  if op == "const" then return ast.value and "true" or "false", 0, ast.value and 1 or 0 end
  if op == "field" then
    local f = ast.field
    local m = ast.m
    local cost, pass = matcher_est(f, m)
    if f.kind == "strlist" then return list_expr(E, f, m), cost, pass end
    if f.kind == "str" then
      if f.buf then return cmd_expr(E, f, m), cost, pass end
      return str_expr(E, m, f.p, f.l), cost, pass
    end
    return val_expr(E, f, m, f.access), cost, pass
  end
  if op == "not" then
    local s, c, p = _M.emit(E, ast.node)
    return "not (" .. s .. ")", c, 1 - p
  end
  -- the tests of an `all`; a string field's own `and` (a prefix and a
  -- regex on filename) counts as separate tests, so that another field's
  -- cheap test can go between its cheap and its costly one
  local list = ast.list
  if op == "all" then
    list = {}
    for _, a in ipairs(ast.list) do
      local f = a.op == "field" and a.field
      if f and f.kind == "str" and not f.buf and a.m.op == "and" then
        for _, x in ipairs(a.m.list) do list[#list + 1] = { op = "field", field = f, m = x } end
      else
        list[#list + 1] = a
      end
    end
  end
  local parts = {}
  for i, a in ipairs(list) do
    local s, c, p = _M.emit(E, a)
    parts[i] = { s = s, c = c, p = p, r = rank(c, p), i = i }
  end
  if op == "all" then
    table.sort(parts, function(a, b)
      if a.r ~= b.r then return a.r < b.r end
      return a.i < b.i
    end)
  end
  local t = {}
  local cost, pass = 0, op == "all" and 1 or 0
  for i, p in ipairs(parts) do
    t[i] = p.s
    if op == "all" then
      cost = cost + pass * p.c
      pass = pass * p.p
    else
      -- any: stops at the first that holds
      cost = cost + (1 - pass) * p.c
      pass = pass + (1 - pass) * p.p
    end
  end
  return "(" .. concat(t, op == "all" and " and " or " or ") .. ")", cost, pass
end

-- The upvalues of the few compiled helper functions (E.fn: regexes on
-- argument lists and command lines): their bodies are compiled after this
-- header, called with (memcmp, memmem, pcre2_match, match data, match
-- context, an empty string, the CODE array, the constants K).
_M.FN_HEADER = "local MEMCMP, MEMMEM, MATCH, MD, MCTX, EMPTY, CODE, K, CAST, U64, FINDANY, U32 = ... "
  .. "local band, rshift = bit.band, bit.rshift "

return _M
