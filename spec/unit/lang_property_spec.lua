-- Property: the compiled matchers of the rule language (lang.lua, config.lua)
-- agree with a plain interpreter. Random rules (matcher trees rendered to
-- YAML) run over random events through the engine; the interpreter below
-- decides the same from the Lua tables, with Lua string functions, numbers
-- and, for regexes, ebpf_guard.regex on the whole string. The seed is
-- printed; EG_PROP_SEED=<n> replays a run.
local H = require("helpers.engine")
local regex = require("ebpf_guard.regex")
local lang = require("ebpf_guard.lang")
local evtypes = require("ebpf_guard.evtypes")
local bit = require("bit")

local floor = math.floor
local concat = table.concat
local fmt = string.format

local SEED = tonumber(os.getenv("EG_PROP_SEED")) or 20240611
local UNROLL = lang.UNROLL

-- ------------------------------------------------------------ randomness

local function rnd(a, b) return math.random(a, b) end
local function chance(p) return math.random() < p end
local function pick(t) return t[math.random(#t)] end

-- list lengths: half around the unrolled/alternation threshold, half up to 60
local function list_len()
  if chance(0.5) then return rnd(1, UNROLL + 1) end
  return rnd(1, 60)
end

-- ------------------------------------------------------ 64-bit-safe bits

local TWO32 = 2 ^ 32
local function band64(a, b)
  local ah, al = floor(a / TWO32), a % TWO32
  local bh, bl = floor(b / TWO32), b % TWO32
  return (bit.band(ah, bh) % TWO32) * TWO32 + bit.band(al, bl) % TWO32
end
local function bor64(a, b)
  local ah, al = floor(a / TWO32), a % TWO32
  local bh, bl = floor(b / TWO32), b % TWO32
  return (bit.bor(ah, bh) % TWO32) * TWO32 + bit.bor(al, bl) % TWO32
end
-- the single bits of a non-negative integer
local function bits_of(n)
  local out, place = {}, 1
  while n > 0 do
    if n % 2 == 1 then out[#out + 1] = place end
    n, place = floor(n / 2), place * 2
  end
  return out
end

-- ------------------------------------------------------------ the fields

local TYPES = { "exec", "open", "connect", "chmod", "setid" }

local PROC_KEYS = H.PROC_KEYS
local function has_proc(o)
  for _, k in ipairs(PROC_KEYS) do
    if o[k] ~= nil then return true end
  end
  return false
end

local CALL_NAMES = {}
for v, n in pairs(evtypes.FIELDS.call.names) do CALL_NAMES[n] = v end
local CAP_NAMES = {}
for v, n in pairs(evtypes.FIELDS.cap_effective.names) do CAP_NAMES[n] = v end
local CONTEXT_NAMES = { exec = 1, fork = 2, procfs = 3, unknown = 4 }

local function by_value(names)
  local t = {}
  for n, v in pairs(names) do t[v] = n end
  return t
end

local function str_of(k) return function(o) return o[k] or "" end end
local function num_of(k, default) return function(o) return o[k] or default end end
local function bool_of(k) return function(o) return o[k] == true end end
local function ancestors_of(k)
  return function(o)
    local t = {}
    for i, a in ipairs(o.ancestors or {}) do t[i] = a[k] or "" end
    return t
  end
end

-- name -> { kind, types (nil: all of TYPES), get(event table) -> value,
-- names for flags and enums }. Unknown strings read as "" (as the
-- documented "unknown context reads as empty").
local F = {
  comm = { kind = "str", get = str_of("comm") },
  exe = { kind = "str", get = str_of("exe") },
  filename = { kind = "str", get = str_of("filename") },
  cwd = { kind = "str", get = str_of("cwd") },
  cmdline = { kind = "str", get = function(o) return concat(o.args or {}, " ") end },
  ["parent.comm"] = { kind = "str", get = function(o) return o.parent and o.parent.comm or "" end },
  args = { kind = "strlist", get = function(o) return o.args or {} end },
  ["ancestors.comm"] = { kind = "strlist", get = ancestors_of("comm") },
  ["ancestors.exe"] = { kind = "strlist", get = ancestors_of("exe") },
  uid = { kind = "num", get = num_of("uid", 0), bits = true },
  pid = { kind = "num", get = num_of("pid", 0), bits = true },
  loginuid = { kind = "num", get = function(o) return has_proc(o) and o.loginuid or -1 end },
  context = { kind = "enum", names = CONTEXT_NAMES,
    get = function(o) return has_proc(o) and CONTEXT_NAMES[o.context or "exec"] or 4 end },
  truncated = { kind = "bool", get = bool_of("truncated") },
  setuid = { kind = "bool", get = function(o) return has_proc(o) and o.setuid == true end },
  memfd = { kind = "bool", types = { exec = true }, get = bool_of("memfd") },
  interpreted = { kind = "bool", types = { exec = true }, get = bool_of("interpreted") },
  requested = { kind = "str", types = { open = true }, get = str_of("requested") },
  open_flags = { kind = "flags", types = { open = true }, names = lang.OPEN_FLAGS, rdonly = "O_RDONLY",
    get = num_of("open_flags", 0) },
  io_uring = { kind = "bool", types = { open = true }, get = bool_of("io_uring") },
  ret = { kind = "num", types = { open = true, connect = true, chmod = true, setid = true },
    get = num_of("ret", 0) },
  dest_port = { kind = "num", types = { connect = true }, get = num_of("dest_port", 0), bits = true },
  dest_ip = { kind = "str", types = { connect = true }, get = str_of("dest_ip") },
  mode = { kind = "flags", types = { chmod = true }, names = lang.MODE_BITS, get = num_of("mode", 0) },
  mode_setuid = { kind = "bool", types = { chmod = true }, get = bool_of("mode_setuid") },
  call = { kind = "enum", types = { chmod = true, setid = true }, names = CALL_NAMES,
    get = function(o) return o.call and CALL_NAMES[o.call] or 0 end },
  cap_effective = { kind = "flags", types = { setid = true }, names = CAP_NAMES,
    get = function(o)
      local n = 0
      for w in (o.cap_effective or ""):gmatch("[^|]+") do n = bor64(n, CAP_NAMES[w]) end
      return n
    end },
  id_real = { kind = "num", types = { setid = true }, get = num_of("id_real", 0), bits = true },
}
local FIELD_NAMES = {}
for name, f in pairs(F) do
  f.name = name
  if f.names then f.by_value = by_value(f.names) end
  FIELD_NAMES[#FIELD_NAMES + 1] = name
end
table.sort(FIELD_NAMES)

-- type -> the fields it carries, by kind (drawn kind first, so that the few
-- flags and enum fields are tested as often as the many strings)
local KINDS_OF = {}
for _, t in ipairs(TYPES) do
  local by_kind = {}
  for _, name in ipairs(FIELD_NAMES) do
    local f = F[name]
    if f.types == nil or f.types[t] then
      if not by_kind[f.kind] then
        by_kind[f.kind] = {}
        by_kind[#by_kind + 1] = by_kind[f.kind]
      end
      table.insert(by_kind[f.kind], name)
    end
  end
  KINDS_OF[t] = by_kind
end

-- ----------------------------------------------------------- the interpreter

local rx_cache = {}
local function rx_find(pat, s)
  local re = rx_cache[pat]
  if not re then
    re = assert(regex.new(pat))
    rx_cache[pat] = re
  end
  return re:find(s) ~= nil
end

local function any_of(vals, test)
  for _, v in ipairs(vals) do
    if test(v) then return true end
  end
  return false
end

local function str_test(op, v, s)
  if op == "eq" or op == "in" then return s == v end
  if op == "prefix" then return s:sub(1, #v) == v end
  if op == "suffix" then return v == "" or s:sub(-#v) == v end
  if op == "contains" then return s:find(v, 1, true) ~= nil end
  if op == "regex" then return rx_find(v, s) end
  error("str op " .. op)
end

-- the units of a flags matcher: a name is all of its bits, a number each of its bits
local function units(f, vals)
  local out, rdonly = {}, false
  for _, v in ipairs(vals) do
    if type(v) == "number" then
      for _, b in ipairs(bits_of(v)) do out[#out + 1] = b end
    elseif v == f.rdonly then
      rdonly = true
    else
      out[#out + 1] = f.names[v]
    end
  end
  return out, rdonly
end

local function has_all(x, u) return band64(x, u) == u end
local function access_rdonly(x) return x % 4 == 0 end

-- One matcher on a scalar value x of field f.
local eval_m
local function eval_scalar(f, m, x)
  local op, k = m.op, f.kind
  if op == "not" then return not eval_m(f, m.m, x) end
  if op == "and" then
    for _, s in ipairs(m.list) do
      if not eval_m(f, s, x) then return false end
    end
    return true
  end
  if k == "str" then
    return any_of(m.vals, function(v) return str_test(op, v, x) end)
  elseif k == "bool" then
    return x == m.vals[1]
  elseif k == "enum" then
    if op == "eq" or op == "in" then
      return any_of(m.vals, function(v)
        if type(v) == "number" then return x == v end
        return f.names[v] == x
      end)
    end
    local name = f.by_value[x]
    return name ~= nil and any_of(m.vals, function(v) return str_test(op, v, name) end)
  elseif k == "num" and op ~= "any" and op ~= "all" then
    local v = m.vals[1]
    if op == "eq" or op == "in" then return any_of(m.vals, function(n) return x == n end) end
    if op == "lt" then return x < v end
    if op == "le" then return x <= v end
    if op == "gt" then return x > v end
    if op == "ge" then return x >= v end
    error("num op " .. op)
  end
  -- flags (and num any/all)
  local us, rdonly = units(f, m.vals)
  if op == "eq" then
    local mask = 0
    for _, u in ipairs(us) do mask = bor64(mask, u) end
    return x == mask
  elseif op == "any" then
    return (rdonly and access_rdonly(x)) or any_of(us, function(u) return has_all(x, u) end)
  elseif op == "all" then
    if rdonly and not access_rdonly(x) then return false end
    return not any_of(us, function(u) return not has_all(x, u) end)
  end
  error("flags op " .. op)
end

-- A list field: not and several matchers distribute; a plain matcher holds
-- when one element does.
function eval_m(f, m, x)
  if f.kind ~= "strlist" then return eval_scalar(f, m, x) end
  if m.op == "not" then return not eval_m(f, m.m, x) end
  if m.op == "and" then
    for _, s in ipairs(m.list) do
      if not eval_m(f, s, x) then return false end
    end
    return true
  end
  return any_of(x, function(s)
    return any_of(m.vals, function(v) return str_test(m.op, v, s) end)
  end)
end

-- A node: { items = { { key = field, m = matcher } | { key = "all"|"any", list }
-- | { key = "not", node } } }, all items hold.
local function eval_node(node, o)
  for _, it in ipairs(node.items) do
    local ok
    if it.key == "all" then
      ok = true
      for _, n in ipairs(it.list) do
        if not eval_node(n, o) then ok = false; break end
      end
    elseif it.key == "any" then
      ok = false
      for _, n in ipairs(it.list) do
        if eval_node(n, o) then ok = true; break end
      end
    elseif it.key == "not" then
      ok = not eval_node(it.node, o)
    else
      local f = F[it.key]
      ok = eval_m(f, it.m, f.get(o))
    end
    if not ok then return false end
  end
  return true
end

-- exceptions: { { fields = {names}, comps = {ops}, tuples = { { matcher per field } } } }
local function excepted(excs, o)
  for _, x in ipairs(excs or {}) do
    for _, tuple in ipairs(x.tuples) do
      local all = true
      for i, name in ipairs(x.fields) do
        local f = F[name]
        if not eval_m(f, tuple[i], f.get(o)) then all = false; break end
      end
      if all then return true end
    end
  end
  return false
end

local function fires(rule, o)
  return o.type == rule.type and eval_node(rule.node, o) and not excepted(rule.excs, o)
end

-- ----------------------------------------------------------------- values

-- strings are lists of tokens (so substrings keep "é" whole); "\xff" only in
-- events (YAML text must be UTF-8)
local TOKENS = { "a", "b", "c", ".", "(", "+", "$", "/", "é", " ", "a", "b" }
local function pick_field(etype) return pick(pick(KINDS_OF[etype])) end
local function rand_tokens(n)
  local t = {}
  for i = 1, n do t[i] = pick(TOKENS) end
  return t
end
-- (drawn again for each seed, in property())
local POOL
local function new_pool()
  POOL = { {} }
  for i = 2, 25 do POOL[i] = rand_tokens(rnd(1, 5)) end
end

local function sub_tokens(t, i, j) return concat(t, "", i, j) end

-- a rule's string: pooled, a piece of a pooled one, or fresh
local function rule_string(op)
  local t = pick(POOL)
  local r = math.random()
  if r < 0.4 then return concat(t) end
  if r < 0.8 and #t > 0 then
    local i, j = rnd(1, #t), rnd(1, #t)
    if op == "prefix" then i = 1 elseif op == "suffix" then j = #t end
    if i > j then i, j = j, i end
    return sub_tokens(t, i, j)
  end
  return concat(rand_tokens(rnd(0, 4)))
end

-- s with one inner single-byte token changed: the same length, first and
-- last byte (one bucket of the engine's string set), or nil
local function collide(t)
  if #t < 3 then return nil end
  local i = rnd(2, #t - 1)
  if #t[i] ~= 1 then return nil end
  local c = { unpack(t) }
  repeat c[i] = pick(TOKENS) until #c[i] == 1 and c[i] ~= t[i]
  return concat(c)
end

-- an event's string: pooled, with a stray "\xff", fresh, or absent
local function event_string()
  local r = math.random()
  if r < 0.6 then return concat(pick(POOL)) end
  if r < 0.75 then
    local t = { unpack(pick(POOL)) }
    table.insert(t, rnd(1, #t + 1), "\xff")
    return concat(t)
  end
  if r < 0.9 then return concat(rand_tokens(rnd(0, 5))) end
  return nil
end

-- patterns: plain, anchored, with metacharacters, backreferences, \Q, (?x)
local RX = { "^a", "a$", "b", "a.b", "^$", "\\.", "\\(", "\\+", "\\$", "^/", "(a|b)c", "[ab]+$",
  "é", "^.$", "^..$", "a*", "(?i)A", "^[^/]*$", "é.", ".é", "\\$$", "a+b", "^\\(", "[$+]",
  "(a|b)\\1", "(.)\\1", "\\Qa.", "^\\Q(+\\E", " ", "\\s", "(?x) a b # spaced", "^(?:a|é)+$",
  "(?<x>a)b", "\\z", "ab|/c", "^(/a|b/)(c|\\.b)$", "x(a|b)+|ba", "a\\.|\\(b", "(?i)(ab|c)x", "(?i)B|/A" }
local ENUM_RX = {
  call = { "^set", "uid$", "res", "^cap", "chmod", "^f", "gid", "at2?$", "^(setuid|capset)$" },
  context = { "^e", "o", "n$", "^(fork|exec)$" },
}

local NUM_POOL = {
  uid = { 0, 1, 1000, 65534 }, pid = { 1, 2, 7, 42, 300 }, loginuid = { -1, 0, 1000 },
  ret = { -13, -2, 0, 3 }, dest_port = { 0, 22, 80, 443, 1023, 1024, 4444, 65535 },
  id_real = { 0, 33, 1000 },
}
local function num_value(name)
  if chance(0.7) then return pick(NUM_POOL[name]) end
  return pick(NUM_POOL[name]) + rnd(-3, 3)
end

local OPEN_NAMES, MODE_NAMES, CAP_SOME = {}, {}, { "chown", "kill", "setuid", "sys_admin", "bpf",
  "perfmon", "setfcap", "mac_override", "checkpoint_restore" }
for n in pairs(lang.OPEN_FLAGS) do OPEN_NAMES[#OPEN_NAMES + 1] = n end
for n in pairs(lang.MODE_BITS) do MODE_NAMES[#MODE_NAMES + 1] = n end
table.sort(OPEN_NAMES)
table.sort(MODE_NAMES)
local FLAG_POOL = { open_flags = OPEN_NAMES, mode = MODE_NAMES, cap_effective = CAP_SOME }
local SORTED_NAMES = {}
for name, f in pairs(F) do
  if f.kind == "enum" then
    local l = {}
    for n in pairs(f.names) do l[#l + 1] = n end
    table.sort(l)
    SORTED_NAMES[name] = l
  end
end

-- ------------------------------------------------------------- matchers

-- Matcher: { op, vals = {...} } | { op = "not", m } | { op = "and", list },
-- form = "scalar" | "list" | "map" for rendering.
local gen_m

local function gen_str_prim(op)
  if op == "regex" then
    local vals = {}
    for i = 1, (chance(0.6) and 1 or rnd(2, 4)) do vals[i] = pick(RX) end
    return { op = op, vals = vals, form = #vals == 1 and chance(0.5) and "scalar" or "list" }
  end
  if op == "eq" then return { op = op, vals = { rule_string(op) }, form = chance(0.5) and "scalar" or "map" } end
  local n = (op == "contains" and chance(0.3)) and 1 or list_len()
  local vals = {}
  for i = 1, n do
    if op == "in" and chance(0.4) then
      -- strings sharing length, first and last byte with a pooled one, maybe
      -- before it in the list
      local t = pick(POOL)
      vals[#vals + 1] = collide(t) or concat(rand_tokens(rnd(1, 3)))
      if chance(0.5) then vals[#vals + 1] = concat(t) end
    else
      vals[#vals + 1] = rule_string(op)
    end
  end
  local form = "list"
  if op == "in" then form = chance(0.5) and "bare" or "list"
  elseif n == 1 and chance(0.5) then form = "scalar" end
  return { op = op, vals = vals, form = form }
end

local function gen_num_prim(f, op)
  if op == "eq" then return { op = op, vals = { num_value(f.name) }, form = chance(0.5) and "scalar" or "map" } end
  if op == "in" then
    local vals = {}
    for i = 1, (chance(0.5) and rnd(1, 5) or rnd(1, 60)) do
      vals[i] = chance(0.6) and num_value(f.name) or rnd(-5, 70000)
    end
    return { op = op, vals = vals, form = chance(0.5) and "bare" or "list" }
  end
  if op == "any" or op == "all" then
    local vals = {}
    for i = 1, rnd(1, 3) do vals[i] = chance(0.2) and 0 or bit.lshift(1, rnd(0, 12)) + (chance(0.3) and rnd(0, 7) or 0) end
    return { op = op, vals = vals, form = #vals == 1 and chance(0.5) and "scalar" or "list" }
  end
  return { op = op, vals = { num_value(f.name) }, form = "scalar" }
end

local function gen_flags_prim(f, op)
  local vals = {}
  for i = 1, rnd(1, 3) do
    if f.name ~= "cap_effective" and chance(0.2) then
      vals[i] = chance(0.3) and 0 or rnd(1, f.name == "mode" and 4095 or 0x3ff)
    elseif f.rdonly and chance(0.3) then
      vals[i] = f.rdonly
    else
      vals[i] = pick(FLAG_POOL[f.name])
    end
  end
  return { op = op, vals = vals, form = #vals == 1 and chance(0.5) and "scalar" or "list" }
end

local function gen_enum_prim(f, op)
  local names = SORTED_NAMES[f.name]
  if op == "eq" or op == "in" then
    local vals = {}
    for i = 1, (op == "eq" and 1 or rnd(1, 8)) do
      if chance(0.15) then
        vals[i] = chance(0.5) and f.names[pick(names)] or 9999
      else
        vals[i] = pick(names)
      end
    end
    local form = op == "eq" and (chance(0.5) and "scalar" or "map") or (chance(0.5) and "bare" or "list")
    return { op = op, vals = vals, form = form }
  end
  local vals = {}
  for i = 1, rnd(1, 3) do
    if op == "regex" then
      vals[i] = pick(ENUM_RX[f.name])
    else
      local n = pick(names)
      local a, b = rnd(1, #n), rnd(1, #n)
      if a > b then a, b = b, a end
      if op == "prefix" then a = 1 elseif op == "suffix" then b = #n end
      vals[i] = n:sub(a, b)
    end
  end
  return { op = op, vals = vals, form = #vals == 1 and chance(0.5) and "scalar" or "list" }
end

local PRIM_OPS = {
  str = { "eq", "in", "prefix", "suffix", "contains", "regex" },
  num = { "eq", "in", "lt", "le", "gt", "ge" },
  flags = { "any", "all", "eq" },
  enum = { "eq", "in", "prefix", "suffix", "contains", "regex" },
  bool = { "eq" },
}

local function gen_prim(f, op)
  local k = f.kind == "strlist" and "str" or f.kind
  if k == "str" then return gen_str_prim(op) end
  if k == "num" then return gen_num_prim(f, op) end
  if k == "flags" then return gen_flags_prim(f, op) end
  if k == "enum" then return gen_enum_prim(f, op) end
  return { op = "eq", vals = { chance(0.5) }, form = chance(0.7) and "scalar" or "map" }
end

local function prim_ops(f)
  local ops = PRIM_OPS[f.kind == "strlist" and "str" or f.kind]
  if f.kind == "num" and f.bits then
    ops = { "eq", "in", "lt", "le", "gt", "ge", "any", "all" }
  end
  return ops
end

function gen_m(f, depth)
  local r = math.random()
  if depth < 2 and r < 0.12 then
    return { op = "not", m = gen_m(f, depth + 1) }
  end
  if depth < 2 and r < 0.25 and f.kind ~= "bool" then
    -- several matchers on the field: distinct keys of one mapping
    local ops = { unpack(prim_ops(f)) }
    ops[#ops + 1] = "not"
    local list = {}
    for _ = 1, rnd(2, 3) do
      local op = table.remove(ops, rnd(1, #ops))
      if op == "not" then
        list[#list + 1] = { op = "not", m = gen_m(f, 2) }
      else
        list[#list + 1] = gen_prim(f, op)
      end
    end
    return { op = "and", list = list }
  end
  return gen_prim(f, pick(prim_ops(f)))
end

local function gen_node(etype, depth)
  local items, used = {}, {}
  for _ = 1, rnd(1, depth == 0 and 3 or 2) do
    local r = math.random()
    local key
    if depth < 2 and r < 0.1 and not used.all then
      key = "all"
    elseif depth < 2 and r < 0.2 and not used.any then
      key = "any"
    elseif depth < 2 and r < 0.28 and not used["not"] then
      key = "not"
    else
      key = pick_field(etype)
    end
    if not used[key] then
      used[key] = true
      if key == "all" or key == "any" then
        local list = {}
        for i = 1, rnd(1, 3) do list[i] = gen_node(etype, depth + 1) end
        items[#items + 1] = { key = key, list = list }
      elseif key == "not" then
        items[#items + 1] = { key = key, node = gen_node(etype, depth + 1) }
      else
        items[#items + 1] = { key = key, m = gen_m(F[key], 0) }
      end
    end
  end
  return { items = items }
end

-- ------------------------------------------------------------- rendering

local function qstr(s)
  if s:sub(1, 1) == "$" then s = "$" .. s end
  return '"' .. s:gsub('[\\"]', "\\%0") .. '"'
end

local function val(v)
  if type(v) == "string" then return qstr(v) end
  if type(v) == "number" then return fmt("%d", v) end
  return tostring(v)
end

-- A list of values; with ctx.lists, a part of it may go to a named list
-- (itself maybe referring to another one), referred to as $name.
local function render_list(vals, ctx, in_list)
  local items = {}
  for i, v in ipairs(vals) do items[i] = val(v) end
  if ctx and ctx.lists and #items > 0 and chance(0.5) then
    local k = rnd(1, #items)
    local head = {}
    for i = 1, k do head[i] = vals[i] end
    local rest = {}
    for i = k + 1, #items do rest[#rest + 1] = items[i] end
    ctx.n = ctx.n + 1
    local name = fmt("%s_l%d", ctx.prefix, ctx.n)
    local text = render_list(head, ctx, true)
    ctx.lists[#ctx.lists + 1] = fmt("  %s: %s", name, text)
    -- a matcher's scalar $name is the list (a list's own items are a list)
    if #rest == 0 and not in_list and chance(0.5) then return "$" .. name end
    table.insert(rest, rnd(1, #rest + 1), "$" .. name)
    return "[" .. concat(rest, ", ") .. "]"
  end
  return "[" .. concat(items, ", ") .. "]"
end

local render_m
-- the value under a matcher key ("in: <this>")
local function render_inner(m, ctx)
  if m.op == "not" then return render_m(m.m, ctx) end
  if m.form == "scalar" or (m.op == "eq" and #m.vals == 1) then return val(m.vals[1]) end
  return render_list(m.vals, ctx)
end

function render_m(m, ctx)
  if m.op == "and" then
    local t = {}
    for i, s in ipairs(m.list) do t[i] = s.op .. ": " .. render_inner(s, ctx) end
    return "{" .. concat(t, ", ") .. "}"
  end
  if m.op == "eq" and m.form == "scalar" then return val(m.vals[1]) end
  if m.op == "in" and m.form == "bare" then return render_list(m.vals, ctx) end
  return "{" .. m.op .. ": " .. render_inner(m, ctx) .. "}"
end

local function render_node(node, ctx)
  local t = {}
  for i, it in ipairs(node.items) do
    local v
    if it.key == "all" or it.key == "any" then
      local l = {}
      for j, n in ipairs(it.list) do l[j] = render_node(n, ctx) end
      v = "[" .. concat(l, ", ") .. "]"
    elseif it.key == "not" then
      v = render_node(it.node, ctx)
    else
      v = render_m(it.m, ctx)
    end
    t[i] = it.key .. ": " .. v
  end
  return "{" .. concat(t, ", ") .. "}"
end

-- ---------------------------------------------------------------- events

local OPEN_BITS = { 0x40, 0x80, 0x200, 0x400, 0x800, 0x1000, 0x4000, 0x10000, 0x20000, 0x80000,
  0x100000, 0x101000, 0x200000, 0x410000 }
local CHMOD_CALLS = { "chmod", "fchmod", "fchmodat", "fchmodat2" }
local SETID_CALLS = { "setuid", "setgid", "setreuid", "setresuid", "setresgid", "setfsuid", "capset" }

local function gen_event(etype)
  local o = { type = etype }
  o.comm, o.exe, o.filename = event_string(), event_string(), event_string()
  if chance(0.8) then
    o.args = {}
    for i = 1, rnd(0, 4) do o.args[i] = event_string() or "" end
  end
  o.uid = pick(NUM_POOL.uid)
  o.pid = pick(NUM_POOL.pid)
  if chance(0.2) then o.truncated = true end
  if chance(0.7) then
    if chance(0.7) then o.parent = { comm = event_string() } end
    if chance(0.7) then
      o.ancestors = {}
      for i = 1, rnd(0, 5) do o.ancestors[i] = { comm = event_string(), exe = event_string() } end
    end
    if chance(0.5) then o.context = pick({ "exec", "fork", "procfs", "unknown" }) end
    if chance(0.5) then o.loginuid = pick(NUM_POOL.loginuid) end
    if chance(0.3) then o.setuid = chance(0.5) end
    if chance(0.5) then o.cwd = event_string() end
  end
  if etype == "exec" then
    o.memfd = chance(0.3) or nil
    o.interpreted = chance(0.3) or nil
  elseif etype == "open" then
    local fl = rnd(0, 3)
    for _ = 1, rnd(0, 3) do fl = bit.bor(fl, pick(OPEN_BITS)) end
    o.open_flags = fl
    o.requested = event_string()
    o.io_uring = chance(0.3) or nil
    o.ret = pick(NUM_POOL.ret)
  elseif etype == "connect" then
    o.dest_port = chance(0.8) and pick(NUM_POOL.dest_port) or rnd(0, 65535)
    o.dest_ip = event_string()
    o.ret = pick(NUM_POOL.ret)
  elseif etype == "chmod" then
    o.call = chance(0.9) and pick(CHMOD_CALLS) or nil
    o.mode = chance(0.3) and pick({ 0, 493, 420, 2541, 3583, 4095 }) or rnd(0, 4095)
    o.mode_setuid = chance(0.3)
    o.ret = pick(NUM_POOL.ret)
  elseif etype == "setid" then
    o.call = chance(0.9) and pick(SETID_CALLS) or nil
    local caps = {}
    for _, c in ipairs(CAP_SOME) do
      if chance(0.25) then caps[#caps + 1] = c end
    end
    if #caps > 0 or chance(0.5) then o.cap_effective = concat(caps, "|") end
    o.id_real = pick(NUM_POOL.id_real)
    o.ret = pick(NUM_POOL.ret)
  end
  return o
end

-- an event as a Lua literal (bytes past ASCII escaped), for failure messages
local function dump(v)
  if type(v) == "string" then
    return '"' .. v:gsub('[%c"\\\128-\255]', function(c) return fmt("\\%d", c:byte()) end) .. '"'
  end
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local t = {}
  for _, k in ipairs(keys) do
    t[#t + 1] = (type(k) == "number" and "" or (k .. " = ")) .. dump(v[k])
  end
  return "{ " .. concat(t, ", ") .. " }"
end

-- ------------------------------------------------------------ the engine

local function rules_text(rules)
  local lists, out = {}, {}
  for _, r in ipairs(rules) do
    for _, l in ipairs(r.lists or {}) do lists[#lists + 1] = l end
    out[#out + 1] = r.yaml
  end
  local text = ""
  if #lists > 0 then text = "lists:\n" .. concat(lists, "\n") .. "\n" end
  return text .. "rules:\n" .. concat(out, "\n") .. "\n"
end

-- the engine the rules run in: the pure-Lua one (plain LuaJIT) or the C
-- host's (helpers.cengine: its C text tests, FINDANY, in the compiled code)
local ENGINE = H
local function c_fire(configs, events)
  local C = require("helpers.cengine")
  local eng, err = C.new(configs)
  if not eng then error(err, 0) end
  return C.fired((C.run(eng, events)))
end

local function run(rules, events)
  local p = H.tmpfile(".yaml", rules_text(rules))
  local ok, res = pcall(ENGINE == H and H.fire or c_fire, { p }, events)
  os.remove(p)
  os.remove(p:sub(1, -#".yaml" - 1)) -- (the empty file os.tmpname made)
  return ok, res
end

-- Runs rules over events in one engine and compares with the interpreter;
-- returns the problems as text (empty when they agree) and the number of
-- (rule, event of its type) pairs that fired and did not.
local function check(rules, events)
  local ok, res = run(rules, events)
  if not ok then
    -- name the rules the engine refuses, one by one
    local bad = {}
    for _, r in ipairs(rules) do
      local ok1, err = run({ r }, {})
      if not ok1 and #bad < 5 then
        bad[#bad + 1] = fmt("engine refused:\n%s\n%s", rules_text({ r }), tostring(err))
      end
    end
    if #bad == 0 then bad[1] = "engine failed on the batch: " .. tostring(res) end
    return bad, 0, 0
  end
  local got = {}
  for _, s in ipairs(res) do
    if not s:find(":builtin_", 1, true) then got[s] = true end
  end
  local bad, yes, no = {}, 0, 0
  for _, r in ipairs(rules) do
    for j, o in ipairs(events) do
      if o.type == r.type then
        local want = fires(r, o)
        local key = j .. ":" .. r.id
        if want then yes = yes + 1 else no = no + 1 end
        if want ~= (got[key] == true) and #bad < 5 then
          bad[#bad + 1] = fmt("%s on event %d: interpreter says %s, engine says %s\n%s\nevent: %s",
            r.id, j, tostring(want), tostring(got[key] == true), rules_text({ r }), dump(o))
        end
        got[key] = nil
      end
    end
  end
  for key in pairs(got) do
    if #bad < 5 then bad[#bad + 1] = "engine fired on an event of another type: " .. key end
  end
  return bad, yes, no
end

local function gen_events(m)
  local events = {}
  for j = 1, m do events[j] = gen_event(TYPES[(j - 1) % #TYPES + 1]) end
  return events
end

local function gen_rule(i, opts)
  local etype = pick(TYPES)
  local r = { id = "r" .. i, type = etype, node = gen_node(etype, 0) }
  local ctx = opts.lists and { lists = {}, n = 0, prefix = r.id } or nil
  local parts = { fmt("  - id: %s\n    description: d\n    event_types: [%s]\n    match: %s",
    r.id, etype, render_node(r.node, ctx)) }
  if opts.exceptions then
    r.excs = {}
    local ex = {}
    for k = 1, rnd(1, 2) do
      local fields = {}
      for fi = 1, (chance(0.7) and 1 or 2) do
        local name = pick_field(etype)
        if fi == 1 or name ~= fields[1] then fields[#fields + 1] = name end
      end
      local comps = {}
      for fi, name in ipairs(fields) do comps[fi] = pick(prim_ops(F[name])) end
      local x = { fields = fields, comps = comps, tuples = {} }
      local vtexts = {}
      for t = 1, rnd(1, 3) do
        local tuple, vt = {}, {}
        for fi, name in ipairs(fields) do
          local m = gen_prim(F[name], comps[fi])
          -- an exception's eq with a list is in: one value
          if m.op == "eq" then m.vals = { m.vals[1] } end
          tuple[fi] = m
          vt[fi] = render_inner(m, ctx)
        end
        x.tuples[t] = tuple
        vtexts[t] = #fields == 1 and vt[1] or "[" .. concat(vt, ", ") .. "]"
      end
      r.excs[k] = x
      local ftext = #fields == 1 and fields[1] or "[" .. concat(fields, ", ") .. "]"
      local ctext = (chance(0.3) and #fields == 1 and comps[1] == "eq") and ""
        or (", comps: " .. (#fields == 1 and comps[1] or "[" .. concat(comps, ", ") .. "]"))
      ex[k] = fmt("      - {name: e%d, fields: %s%s, values: [%s]}", k, ftext, ctext, concat(vtexts, ", "))
    end
    parts[#parts + 1] = "    exceptions:\n" .. concat(ex, "\n")
  end
  r.yaml = concat(parts, "\n")
  r.lists = ctx and ctx.lists or nil
  return r
end

local function property(n, m, opts, seed)
  math.randomseed(seed)
  local t0 = os.clock()
  new_pool()
  local events = gen_events(m)
  local rules = {}
  for i = 1, n do rules[i] = gen_rule(i, opts) end
  local bad, yes, no = check(rules, events)
  print(fmt("lang_property_spec: seed %d: %d rules x %d events: %d pairs fired, %d did not (%.2f s)",
    seed, n, m, yes, no, os.clock() - t0))
  assert.is_true(#bad == 0, fmt("seed %d (EG_PROP_SEED=%d replays it):\n%s", SEED, SEED, concat(bad, "\n\n")))
  -- not vacuous: both outcomes are common
  assert.is_true(yes > (yes + no) / 20, "too few pairs fired: " .. yes)
  assert.is_true(no > (yes + no) / 20, "too few pairs did not fire: " .. no)
end

describe("the compiled rule language agrees with a plain interpreter", function()
  print(fmt("lang_property_spec: seed %d", SEED))
  it("on random matchers over random events", function()
    property(300, 200, {}, SEED)
  end)
  it("on random matchers over random events, in the C host's engine", function()
    ENGINE = "C"
    local ok, err = pcall(property, 300, 200, {}, SEED + 4)
    ENGINE = H
    assert(ok, err)
  end)
  it("with exceptions", function()
    property(150, 200, { exceptions = true }, SEED + 1)
  end)
  it("with values from lists ($name)", function()
    property(150, 200, { lists = true }, SEED + 2)
  end)
  it("with exceptions and lists together", function()
    property(100, 200, { exceptions = true, lists = true }, SEED + 3)
  end)
end)
