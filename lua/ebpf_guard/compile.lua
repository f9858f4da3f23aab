-- Turns the loaded rules into one Lua function that LuaJIT can trace: a loop
-- over the batch's events, dispatching on the event type, then per rule the
-- cheap checks (ports, flags) before the regexes, and user code (conditions,
-- Lua detections) last. Hits are written straight into b.hits.
local ffi = require("ffi")
local bit = require("bit")
local regex = require("ebpf_guard.regex")
local builtins = require("ebpf_guard.builtins")
local event = require("ebpf_guard.event")
local lang = require("ebpf_guard.lang")

local concat = table.concat
local fmt = string.format

local function NOOP() end
local _M = {}

-- Rule ids appear in the generated source as comments only, with every byte
-- outside printable ASCII replaced: a newline in an id must never end the
-- comment and start code.
local function comment_text(s)
  return (tostring(s):gsub("[^\32-\126]", "?"))
end

pcall(ffi.cdef, "void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);")
pcall(ffi.cdef, "void *memchr(const void *s, int c, size_t n);")
pcall(ffi.cdef, "void *memrchr(const void *s, int c, size_t n);")

local U64 = ffi.typeof("const uint64_t *")
local U32 = ffi.typeof("const uint32_t *")
local CCP = ffi.typeof("const char *")
local TYPES = {}
for i = 1, #event.TYPE_NAMES do TYPES[i] = i end
-- the highest event type; run() files the others (0, unknown) under 0
local NT = #TYPES
local U32ARR = ffi.typeof("uint32_t[?]")
local function TINEW(n) return U32ARR(n) end

-- The host's C text tests (src/textmatch.c), when this state runs in the
-- host (the cengine module); a built-in's fast_expr uses them, its expr
-- (PCRE2 only) serves elsewhere (plain LuaJIT).
pcall(ffi.cdef, [[
struct eg_lits {
  uint32_t n;
  uint32_t off[33];
  uint32_t mask[256];
  uint8_t at[32];
  uint32_t caseless;
  uint32_t nanchor;
  uint8_t anchor[16];
  char bytes[1024];
};
]])
local LITS_MAX, LITS_BYTES, LITS_ANCHORS = 32, 1024, 16
local TEXT
do
  local ok, ce = pcall(require, "ebpf_guard.cengine")
  if ok and type(ce) == "table" and type(ce.text) == "table" then
    assert(ce.text.lits_size == ffi.sizeof("struct eg_lits"), "struct eg_lits: C and Lua sizes differ")
    TEXT = {
      shellish = ffi.cast("int (*)(const char *, uint32_t, int)", ce.text.shellish),
      miner_hint = ffi.cast("int (*)(const char *, uint32_t)", ce.text.miner_hint),
      find_any = ffi.cast("int (*)(const char *, uint32_t, const struct eg_lits *)", ce.text.find_any),
    }
  end
end
_M.HAVE_TEXT = TEXT ~= nil

-- How common a byte is in paths and command lines (lower: rarer), for the
-- anchors of eg_lits: the bytes of COMMON, most common first, then other
-- lower-case letters and digits, then the rest (upper case, punctuation).
local COMMON = "/etrsaoinlc.ubpmdh-_gf0123456789"
local function byte_rank(b)
  local c = string.char(b)
  local at = COMMON:find(c, 1, true)
  if at then return 100 - at end
  if c:match("%l") then return 50 end
  return 10
end

-- The struct eg_lits of a list of literals (at most LITS_MAX, none empty,
-- LITS_BYTES in all), or nil. Each literal is anchored on its rarest byte.
-- caseless: found in either ASCII case (src/textmatch.h).
function _M.lits(vals, caseless)
  if #vals < 1 or #vals > LITS_MAX then return nil end
  local total = 0
  for _, v in ipairs(vals) do
    if type(v) ~= "string" or v == "" then return nil end
    total = total + #v
  end
  if total > LITS_BYTES then return nil end
  local set = ffi.new("struct eg_lits")
  set.n = #vals
  set.caseless = caseless and 1 or 0
  local at = 0
  for k, v in ipairs(vals) do
    if caseless then v = v:lower() end
    set.off[k - 1] = at
    ffi.copy(set.bytes + at, v, #v)
    local best, rank = 1, math.huge
    for j = 1, #v do
      local r = byte_rank(v:byte(j))
      if r < rank then best, rank = j, r end
    end
    set.at[k - 1] = best - 1
    local b = v:byte(best)
    set.mask[b] = bit.bor(set.mask[b], bit.lshift(1, k - 1))
    local u = caseless and string.byte(string.char(b):upper())
    if u and u ~= b then set.mask[u] = bit.bor(set.mask[u], bit.lshift(1, k - 1)) end
    at = at + #v
  end
  set.off[#vals] = at
  -- the distinct anchor bytes, for the 16-bytes-at-a-time search (more
  -- than LITS_ANCHORS: nanchor stays 0, the search goes byte by byte)
  local na = 0
  for c = 0, 255 do
    if set.mask[c] ~= 0 then
      if na < LITS_ANCHORS then set.anchor[na] = c end
      na = na + 1
    end
  end
  set.nanchor = na <= LITS_ANCHORS and na or 0
  return set
end

-- Generated lines (one or two per rule) per function before a type's rules
-- are split into several functions.
_M.CHUNK_LINES = 256
-- and bytes of generated source per function (LuaJIT refuses a jump that is
-- too long: "control structure too long")
_M.CHUNK_CHARS = 24000
-- declarative rules of one type per group loop
_M.GROUP_RULES = 8
-- a hit whose user code is still to be called (see the loop of user calls)
_M.PENDING = 2
-- the rule index of a pending exit (not a rule: at most 65,535 rules, 0..65534)
_M.EXIT_RULE = 65535

-- The rule index. A declarative rule whose conditions include, at the top
-- level, a prefix, equality or suffix test of one of the event's own
-- strings (filename, comm, exe, ...) against literals of 4 bytes or more
-- (equality: any length) is not tested on every event of its types: it is
-- filed under the first (suffix: last) 4 bytes of each literal, and an event
-- runs only the rules filed under its own string's 4 bytes, found by a
-- binary search in the generated code per index. With a hundred rules of
-- which most name paths or programs, an event meets a handful of them.
_M.INDEX = true

-- The 4 bytes of s from `at` as a little-endian number (missing bytes 0).
local function word4(s, at)
  local w = 0
  for k = 3, 0, -1 do w = w * 256 + (s:byte(at + k) or 0) end
  return w
end

local KEY_FIELDS = { filename = true, comm = true, name = true, exe = true, requested = true, new_path = true,
  link_target = true, source = true, fstype = true, dest_ip = true, target_comm = true,
  target_exe = true, module_name = true, bpf_name = true, local_ip = true }

-- Index keys of a matcher m on field f: { ["pre:comm"] = key, ... } with
-- key = { field, p, l, side = "pre" | "suf", words = { w, ... },
-- lits = { s, ... } }: the field starts (suffix: ends) with one of lits,
-- whose first (last) 4 bytes are the words (an equality's value counts as
-- a prefix of itself; a short one's word is padded with zeros, as W is).
-- aux: also the newer types' strings (new_path, link_target: e.aux[i]),
-- which the kernel filter tests and the index does not.
local function matcher_keys(f, m, out, aux)
  out = out or {}
  if not f or f.kind ~= "str" or f.buf or not KEY_FIELDS[f.name] or type(f.p) ~= "string"
    or not (f.p:match("^e%.[%w_]+$") or f.p == "NMP" or (aux and f.p:match("^e%.aux%[%d%]$"))) then
    return out
  end
  local op, vals = m.op, m.values
  if op == "and" then
    for _, x in ipairs(m.list) do matcher_keys(f, x, out, aux) end
    return out
  end
  if type(vals) ~= "table" or #vals == 0 then return out end
  local words, seen, side, lits = {}, {}, "pre", {}
  for _, v in ipairs(vals) do
    if type(v) ~= "string" then return out end
    local w, lit = nil, v
    if op == "prefix" then
      if #v < 4 then return out end
      w = word4(v, 1)
    elseif op == "eq" or op == "in" then
      w = word4(v, 1) -- a short value: its bytes, then zeros, as W computes
    elseif op == "suffix" then
      if #v < 4 then return out end
      w, side = word4(v, #v - 3), "suf"
    elseif op == "regex" and #vals == 1 then
      local rlit, anchored = regex.required_literal(v)
      if not (rlit and anchored and #rlit >= 4) then return out end
      w, lit = word4(rlit, 1), regex.required_prefixes(v) or { rlit }
    else
      return out
    end
    if not seen[w] then seen[w] = true; words[#words + 1] = w end
    if type(lit) == "table" then
      for _, x in ipairs(lit) do lits[#lits + 1] = x end
    else
      lits[#lits + 1] = lit
    end
  end
  local name = side .. ":" .. f.name
  if not out[name] or #words < #out[name].words then
    out[name] = { field = f.name, p = f.p, l = f.l, side = side, words = words, lits = lits }
  end
  return out
end

-- The keys of a condition: of a field test, its matcher's; of "all", the
-- best of each conjunct (any one of them must hold); of "any", those every
-- branch has, with the words of all branches.
local function ast_keys(ast, aux)
  if not ast then return {} end
  if ast.op == "field" then return matcher_keys(ast.field, ast.m, nil, aux) end
  if ast.op == "all" then
    local out = {}
    for _, x in ipairs(ast.list) do
      for name, k in pairs(ast_keys(x, aux)) do
        if not out[name] or #k.words < #out[name].words then out[name] = k end
      end
    end
    return out
  end
  if ast.op == "any" then
    local out
    for _, x in ipairs(ast.list) do
      local kx = ast_keys(x, aux)
      if not out then
        out = {}
        for name, k in pairs(kx) do
          out[name] = { field = k.field, p = k.p, l = k.l, side = k.side, words = { unpack(k.words) },
            lits = { unpack(k.lits) } }
        end
      else
        for name, k in pairs(out) do
          local o = kx[name]
          if not o then
            out[name] = nil
          else
            local seen = {}
            for _, w in ipairs(k.words) do seen[w] = true end
            for _, w in ipairs(o.words) do
              if not seen[w] then seen[w] = true; k.words[#k.words + 1] = w end
            end
            for _, lit in ipairs(o.lits) do k.lits[#k.lits + 1] = lit end
          end
        end
      end
    end
    return out or {}
  end
  return {}
end

-- Every index key of a rule: { [side .. ":" .. field] = key, ... } (any one
-- of them must hold for the rule to fire); aux as for matcher_keys.
local function rule_keys(r, aux)
  local keys = ast_keys(r.match_ast, aux)
  for _, rx in ipairs({ { r.filename_rx, "filename" }, { r.comm_rx, "comm" } }) do
    local obj = rx[1]
    if obj then
      local lit, anchored = regex.required_literal(obj.pattern)
      if lit and anchored and #lit >= 4 then
        keys["rx:" .. rx[2]] = { field = rx[2], p = "e." .. rx[2], l = "e." .. rx[2] .. "_len",
          side = "pre", words = { word4(lit, 1) }, lits = regex.required_prefixes(obj.pattern) or { lit } }
      end
    end
  end
  return keys
end

-- The best of keys (the fewest words; ties: the field's name), or nil;
-- only those ok(key) accepts when ok is given.
local function best_key(keys, ok)
  local best
  for _, k in pairs(keys) do
    if ok and not ok(k) then
      -- not usable here
    elseif not best or #k.words < #best.words or (#k.words == #best.words and k.field < best.field) then
      best = k
    end
  end
  return best
end

-- The best index key of a rule (the fewest words), or nil.
local function rule_key(r)
  return best_key(rule_keys(r))
end

_M.rule_key = rule_key
_M.rule_keys = rule_keys

-- The kernel's filter of open events (bpf/ebpf_guard.bpf.c, kf_open_pass):
-- an open whose filename the kernel knows exactly (the opened file's path)
-- is submitted when the filename starts with one of filename_prefixes
-- (literals; a longer one is cut to KF_PREFIX_MAX bytes), its last 4 bytes
-- are one of filename_suffixes (words, as SW), or the first 4 bytes of its
-- comm (an open's name is its comm) are one of comm (words, as W); the
-- kernel passes every other open (a failed or relative one, a path cut
-- short, ...). Derived from the rule index's keys: every rule or detection
-- that wants open events must have a key on one of these, and the filter
-- is the union of them; one that has none turns the filter off (everything
-- crosses). Exceptions only take hits away and do not count.
_M.KF_PREFIX_MAX = 64

-- The file families (bpf/fam_files.h, kf_path_drop) test their paths as
-- passed to the call: filename (the first path) and, for rename and link,
-- the second one (new_path, link_target) when a rule keys on it; the
-- kernel passes every event whose tested path is relative, cut short or
-- not in normal form (the daemon would change it). path2_prefixes and
-- path2_suffixes are the second path's sets.
local KF_PATH_SETS = {
  ["pre:filename"] = "filename_prefixes", ["suf:filename"] = "filename_suffixes",
  ["pre:comm"] = "comm", ["pre:name"] = "comm",
}
_M.KF_PATH2 = { rename = "new_path", link = "link_target" }
-- the types filtered so, in the order the host reads them
_M.KF_TYPES = { "open", "link", "rename", "unlink", "chmod" }

local function kf_sets(tname)
  local m = {}
  for k, v in pairs(KF_PATH_SETS) do m[k] = v end
  local f2 = _M.KF_PATH2[tname]
  if f2 then
    m["pre:" .. f2], m["suf:" .. f2] = "path2_prefixes", "path2_suffixes"
  end
  return m
end

-- A kernel filter's key of a condition, from its field tests (of_field:
-- a field test's key, or nil): of "all" the narrowest conjunct's (the
-- smallest size), of "any" the merge of every branch's (nil when a branch
-- has none), starting from empty(). The mode bits, port sets and program
-- sets below.
local function ast_fold(ast, of_field, size, merge, empty)
  if not ast then return nil end
  if ast.op == "field" then return of_field(ast) end
  if ast.op == "all" then
    local best
    for _, x in ipairs(ast.list) do
      local v = ast_fold(x, of_field, size, merge, empty)
      if v and (not best or size(v) < size(best)) then best = v end
    end
    return best
  end
  if ast.op == "any" then
    local out = empty()
    for _, x in ipairs(ast.list) do
      local v = ast_fold(x, of_field, size, merge, empty)
      if not v then return nil end
      out = merge(out, v)
    end
    return out
  end
  return nil
end

-- The keys of a set, sorted (the kernel filters' lists).
local sorted_keys = lang.sorted_names

-- The mode bits (S_ISUID 04000 ...) of which every chmod matching ast sets
-- at least one, or nil: mode_setuid: true, mode_setgid: true, mode: {any:
-- [...]} or {all: [...]}; of "all" the narrowest conjunct's, of "any" the
-- union when every branch has some.
local MODE_BOOL = { mode_setuid = 2048, mode_setgid = 1024 }
local function mode_of(ast)
  local f, m = ast.field, ast.m
  if MODE_BOOL[f.name] and m.op == "eq" and m.value == true then return MODE_BOOL[f.name] end
  if f.name == "mode" and (m.op == "any" or m.op == "all") and type(m.mask) == "number" then
    local mask = m.mask
    for _, x in ipairs(m.multi or {}) do mask = bit.bor(mask, x) end
    return mask ~= 0 and mask or nil
  end
  return nil
end
local function ast_mode(ast)
  local v = ast_fold(ast, mode_of, function(x) return x end, bit.bor, function() return 0 end)
  return v ~= 0 and v or nil
end

-- The filter of one type (t, its name tname) from the rules that want it:
-- { filename_prefixes, filename_suffixes, comm[, path2_prefixes,
-- path2_suffixes] } (sorted, without duplicates) or { off = "why" }.
local function kf_type(rules, t, tname)
  local map = kf_sets(tname)
  local function ok(k) return map[k.side .. ":" .. k.field] ~= nil end
  local sets = { filename_prefixes = {}, filename_suffixes = {}, comm = {} }
  if _M.KF_PATH2[tname] then sets.path2_prefixes, sets.path2_suffixes = {}, {} end
  local aux = tname ~= "open"
  if tname == "chmod" then sets.mode_mask = 0 end
  local nrules = 0
  for _, r in ipairs(rules) do
    local wants = false
    for _, x in ipairs(r.types) do if x == t then wants = true end end
    if wants then
      nrules = nrules + 1
      local keys
      if r.kind == "yaml" then
        keys = rule_keys(r, aux)
      elseif r.kind == "lua" and r.filter_ast and r.filter_ast[t] then
        keys = ast_keys(r.filter_ast[t], aux)
      else
        keys = {}
      end
      local k = best_key(keys, ok)
      -- chmod: else the mode bits it needs set
      local mode = not k and tname == "chmod" and ast_mode(r.kind == "yaml" and r.match_ast
        or (r.kind == "lua" and r.filter_ast and r.filter_ast[t]) or nil)
      if mode then
        sets.mode_mask = bit.bor(sets.mode_mask, mode)
      elseif not k then
        local what = r.kind == "lua" and "detection" or (r.kind == "builtin" and "built-in" or "rule")
        local names = _M.KF_PATH2[tname] and ("filename, " .. _M.KF_PATH2[tname] .. " or comm")
          or (tname == "chmod" and "filename, comm or mode bits" or "filename or comm")
        return { off = ("%s %q (%s) wants %s events and names no %s the kernel can test")
          :format(what, tostring(r.id), tostring(r.source or "builtin"), tname, names) }
      else
        local name = map[k.side .. ":" .. k.field]
        local set = sets[name]
        if name:match("_prefixes$") then
          for _, lit in ipairs(k.lits) do set[lit:sub(1, _M.KF_PREFIX_MAX)] = true end
        else
          for _, w in ipairs(k.words) do set[w] = true end
        end
      end
    end
  end
  local out = { mode_mask = sets.mode_mask, rules = nrules }
  sets.mode_mask = nil
  for name, set in pairs(sets) do out[name] = sorted_keys(set) end
  return out
end

-- The socket families (connect: dest_port; listen, accept: local_port) are
-- filtered by a set of ports (bpf/ebpf_guard.bpf.c kf_port_drop). Derived
-- as the others: a rule's key is the finite set of ports it admits (in, eq,
-- a bounded range of at most KF_PORTS_MAX ports, min_dest_port..
-- max_dest_port, a built-in's ports); the type's filter is the union, at
-- most KF_PORTS_MAX ports (the kernel's table holds that many per type).
-- { ports = { p, ... } (sorted) }, or { off = "why" } naming the first
-- rule without a key (with the stock set every one of these types has one).
_M.KF_PORTS_MAX = 4096
-- connect's addresses (bpf/eg_raw.h EG_KF_ADDRS)
_M.KF_ADDRS_MAX = 4096
_M.KF_PORT_FIELD = { connect = "dest_port", listen = "local_port", accept = "local_port" }
_M.KF_SOCK_TYPES = { "connect", "listen", "accept" }

-- The set of an "in" matcher's values ({ [v] = true }), every one of Lua
-- type ty, or nil.
local function in_set(m, ty)
  local set = {}
  for _, v in ipairs(m.values) do
    if type(v) ~= ty then return nil end
    set[v] = true
  end
  return set
end

-- The set of ports ({ [port] = true }) a matcher m admits, or nil.
local function matcher_ports(m)
  local function range(lo, hi)
    if not lo or not hi or hi < lo or hi - lo >= _M.KF_PORTS_MAX then return nil end
    local set = {}
    for x = lo, hi do set[x] = true end
    return set
  end
  if m.op == "in" then
    return in_set(m, "number")
  elseif m.op == "and" then
    local lo, hi
    for _, x in ipairs(m.list) do
      if x.op == "in" then return matcher_ports(x) end
      if x.op == "ge" or x.op == "gt" then
        local b = x.op == "ge" and x.value or x.value + 1
        lo = math.max(lo or b, b)
      elseif x.op == "le" or x.op == "lt" then
        local b = x.op == "le" and x.value or x.value - 1
        hi = math.min(hi or b, b)
      end
    end
    return range(lo and math.max(lo, 0), hi)
  end
  return nil
end

local function count(set)
  local n = 0
  for _ in pairs(set) do n = n + 1 end
  return n
end

-- The ports every match of ast admits on the field named fname, or nil.
local function union(a, b)
  for k in pairs(b) do a[k] = true end
  return a
end
local function ast_ports(ast, fname)
  return ast_fold(ast, function(x)
    return x.field.name == fname and type(x.m) == "table" and matcher_ports(x.m) or nil
  end, count, union, function() return {} end)
end

-- The programs every match of ast is about, or nil: { comm = { [w] = true },
-- leaf = { [w] = true } } (words, as word4: the comm's first 4 bytes; the
-- executable's file name's, the part after its last "/"). From name and
-- comm (eq, in) and exe (eq, in; suffix when each suffix is "/" and a file
-- name); of "all" the narrowest conjunct's, of "any" the union when every
-- branch has some.
local function programs_of(ast)
  local f, m = ast.field, ast.m
  if type(m) ~= "table" or type(m.values) ~= "table" then return nil end
  local out = { comm = {}, leaf = {} }
  if (f.name == "name" or f.name == "comm") and m.op == "in" then
    for _, v in ipairs(m.values) do
      if type(v) ~= "string" then return nil end
      out.comm[word4(v, 1)] = true
    end
    return out
  end
  if f.name == "exe" and (m.op == "in" or m.op == "suffix") then
    for _, v in ipairs(m.values) do
      local leaf = type(v) == "string" and v:match("/([^/]+)$")
      if not leaf or (m.op == "suffix" and #leaf + 1 ~= #v) then return nil end
      out.leaf[word4(leaf, 1)] = true
    end
    return out
  end
  return nil
end
local function ast_programs(ast)
  return ast_fold(ast, programs_of, function(p) return count(p.comm) + count(p.leaf) end,
    function(a, b)
      union(a.comm, b.comm)
      union(a.leaf, b.leaf)
      return a
    end, function() return { comm = {}, leaf = {} } end)
end

-- The destination addresses every match of ast names (connect's dest_ip,
-- a value or a list: { [text] = true }), or nil; of "all" the narrowest
-- conjunct's, of "any" the union when every branch has some. The kernel
-- compares them as addresses: a text that is not one as the daemon writes
-- it (src/collector.c keeps only those) can equal no event's dest_ip.
local function ast_addrs(ast)
  return ast_fold(ast, function(x)
    local m = x.m
    if x.field.name ~= "dest_ip" or type(m) ~= "table" or m.op ~= "in" then return nil end
    return in_set(m, "string")
  end, count, union, function() return {} end)
end

-- The loopback destinations the kernel tells apart (bpf/ebpf_guard.bpf.c,
-- kf_loop_class), each by the text the daemon writes for it: an IPv4
-- address of 127/8 ("127.0.0.1"), ::1, an IPv4-mapped one of 127/8
-- ("::ffff:127.0.0.1").
local LOOP = { { bit = 1, texts = "127.", exact = false }, { bit = 2, texts = "::1", exact = true },
  { bit = 4, texts = "::ffff:127.", exact = false } }
local LOOP_ALL = 7
local function starts(s, p) return s:sub(1, #p) == p end
-- The classes of which every text (every = true), or some text (an
-- over-estimate), matches m (a dest_ip matcher), as a mask.
local function loop_classes(m, every)
  local ALL = LOOP_ALL
  if type(m) ~= "table" then return every and 0 or ALL end
  if m.op == "prefix" or m.op == "in" then
    local out = 0
    for _, c in ipairs(LOOP) do
      for _, v in ipairs(m.values or {}) do
        if type(v) == "string" then
          -- every text starts with v / equals v; some does, or may
          local hit
          if m.op == "prefix" then
            hit = starts(c.texts, v) or (not every and not c.exact and starts(v, c.texts))
          else
            hit = (c.exact and v == c.texts) or (not every and not c.exact and starts(v, c.texts))
          end
          if hit then out = bit.bor(out, c.bit) end
        end
      end
    end
    return out
  elseif m.op == "not" then
    return bit.band(ALL, bit.bnot(loop_classes(m.node, not every)))
  elseif m.op == "and" then
    local out = ALL
    for _, x in ipairs(m.list or {}) do out = bit.band(out, loop_classes(x, every)) end
    return out
  end
  return every and 0 or ALL
end
-- The loopback classes no match of ast can be in, as a mask: from dest_ip
-- tests (prefix, in, their not, either as `not:` around the test or in the
-- test's matcher); of "all" the union, of "any" the intersection.
local function ast_loop(ast)
  if not ast then return 0 end
  if ast.op == "field" then
    if ast.field.name ~= "dest_ip" then return 0 end
    return bit.band(LOOP_ALL, bit.bnot(loop_classes(ast.m, false)))
  end
  if ast.op == "not" then
    local x = ast.node
    if type(x) ~= "table" or x.op ~= "field" or x.field.name ~= "dest_ip" then return 0 end
    return loop_classes(x.m, true)
  end
  if ast.op == "all" then
    local out = 0
    for _, x in ipairs(ast.list) do out = bit.bor(out, ast_loop(x)) end
    return out
  end
  if ast.op == "any" then
    local out = LOOP_ALL
    for _, x in ipairs(ast.list) do out = bit.band(out, ast_loop(x)) end
    return #ast.list > 0 and out or 0
  end
  return 0
end

-- Whether every match of ast is a success (ret >= 0).
local function ast_success(ast)
  if not ast then return false end
  if ast.op == "field" then
    local m = ast.m
    if ast.field.name ~= "ret" or type(m) ~= "table" then return false end
    if m.op == "and" then
      for _, x in ipairs(m.list) do
        if ast_success({ op = "field", field = ast.field, m = x }) then return true end
      end
      return false
    end
    if m.op == "ge" then return m.value >= 0 end
    if m.op == "gt" then return m.value >= -1 end
    if m.op == "in" then
      for _, v in ipairs(m.values) do if type(v) ~= "number" or v < 0 then return false end end
      return true
    end
    return false
  end
  if ast.op == "all" then
    for _, x in ipairs(ast.list) do if ast_success(x) then return true end end
    return false
  end
  if ast.op == "any" then
    for _, x in ipairs(ast.list) do if not ast_success(x) then return false end end
    return #ast.list > 0
  end
  return false
end

-- Whether ast (a connect filter) is exactly datagram = false: every connect
-- but an unconnected datagram passes it (the kernel knows which is which).
local function streams_only(ast)
  if ast and ast.op == "all" and #ast.list == 1 then ast = ast.list[1] end
  return ast ~= nil and ast.op == "field" and ast.field.name == "datagram" and type(ast.m) == "table"
    and ast.m.op == "eq" and ast.m.value == false
end

-- The kernel's memory of a detection's once_per on connect (bpf kf_seen),
-- or nil when it cannot keep the repeats: { ns = window (0: while the
-- process runs), ip = keyed by dest_ip, port = keyed by dest_port }. The
-- kernel remembers every connect it sees (but unconnected datagrams), so
-- the detection's calls must be gated by nothing else: a filter of
-- exactly datagram = false, no stored, once or exceptions on connect,
-- fields among dest_ip and dest_port.
local function kernel_once_per(r, t, ast)
  if t ~= event.TYPES.connect then return nil end
  local o = r.kind == "lua" and r.once_per and r.once_per[t]
  if not o or not streams_only(ast) or (r.stored and r.stored[t]) or (r.once and r.once[t]) or r.exc_ast then
    return nil
  end
  local m = { ns = o.ns or 0 }
  for _, f in ipairs(o.fields) do
    if f == "dest_ip" then m.ip = true elseif f == "dest_port" then m.port = true else return nil end
  end
  return m
end

local function kf_sock_type(rules, t, tname)
  local fname = _M.KF_PORT_FIELD[tname]
  local ports, comm, leaf, once, addrs, loop = {}, {}, {}, false, {}, nil
  local seen, seen_by
  for _, r in ipairs(rules) do
    local wants = false
    for _, x in ipairs(r.types) do if x == t then wants = true end end
    if wants then
      local set, progs
      if r.kind == "yaml" then
        set = ast_ports(r.match_ast, fname)
        if tname == "connect" and r.min_port and r.max_port then
          local rs = r.max_port - r.min_port < _M.KF_PORTS_MAX and {} or nil
          for x = r.min_port, rs and r.max_port or -1 do rs[x] = true end
          if rs and (not set or count(rs) < count(set)) then set = rs end
        end
      elseif r.kind == "lua" and r.filter_ast and r.filter_ast[t] then
        set = ast_ports(r.filter_ast[t], fname)
      elseif r.kind == "builtin" and r.builtin and r.builtin.ports then
        set = {}
        for _, x in ipairs(r.builtin.ports) do set[x] = true end
      end
      local ast = r.kind == "yaml" and r.match_ast or (r.kind == "lua" and r.filter_ast and r.filter_ast[t]) or nil
      if not set and ast then progs = ast_programs(ast) end
      -- connect: the addresses it names, else the loopback destinations
      -- it never wants
      local as, lp, mem
      if not set and not progs and ast and tname == "connect" then
        as = ast_addrs(ast)
        if not as then
          lp = ast_loop(ast)
          if lp == 0 then lp = nil end
        end
        if not as and not lp then mem = kernel_once_per(r, t, ast) end
      end
      if set then
        for x in pairs(set) do ports[x] = true end
      elseif progs then
        for w in pairs(progs.comm) do comm[w] = true end
        for w in pairs(progs.leaf) do leaf[w] = true end
      elseif as then
        for x in pairs(as) do addrs[x] = true end
      elseif lp then
        -- every destination but these crosses
        loop = bit.band(loop or LOOP_ALL, lp)
      elseif mem then
        -- each process's connects (not unconnected datagrams), once per
        -- destination and window
        if seen and (seen.ns ~= mem.ns or seen.ip ~= mem.ip or seen.port ~= mem.port) then
          return { off = ("detections %q and %q want connects once per destination in different ways "
            .. "(the kernel remembers one)"):format(seen_by, tostring(r.id)) }
        end
        seen, seen_by = mem, tostring(r.id)
      elseif r.kind == "lua" and r.once and r.once[t] and ast_success(ast) and tname ~= "connect" then
        -- each process's first success: the kernel remembers the processes
        -- whose first success of the type crossed (listen, accept)
        once = true
      else
        local what = r.kind == "lua" and "detection" or (r.kind == "builtin" and "built-in" or "rule")
        local extra = ""
        if r.kind == "lua" and r.once and r.once[t] then
          extra = tname == "connect" and " (the kernel remembers first successes of listen and accept only)"
            or " (its once needs a filter that wants successes only: ret: {ge: 0})"
        elseif r.kind == "lua" and r.once_per and r.once_per[t] then
          extra = " (the kernel remembers destinations for a once_per of dest_ip and dest_port whose filter"
            .. " is exactly datagram = false, without stored, once or exceptions)"
        end
        return { off = ("%s %q (%s) wants %s events and names no %s%s or program the kernel can test%s%s")
          :format(what, tostring(r.id), tostring(r.source or "builtin"), tname, fname,
            tname == "connect" and ", dest_ip" or "",
            tname == "connect" and " (nor leaves out loopback destinations)" or "", extra) }
      end
    end
  end
  local n = count(ports)
  if n > _M.KF_PORTS_MAX then
    return { off = ("the rules name %d %s values (the kernel holds %d)"):format(n, fname, _M.KF_PORTS_MAX) }
  end
  local na = count(addrs)
  if na > _M.KF_ADDRS_MAX then
    return { off = ("the rules name %d dest_ip addresses (the kernel holds %d)"):format(na, _M.KF_ADDRS_MAX) }
  end
  if loop == 0 then
    return { off = "the rules that want connects to all but some loopback destinations exclude none in common" }
  end
  return { ports = sorted_keys(ports), comm = sorted_keys(comm), leaf = sorted_keys(leaf), once = once,
    addrs = sorted_keys(addrs), loop = loop, seen = seen }
end

-- Whether the kernel's filters kf (kernel_filter) keep the repeats of
-- rule r's once_per on type t for it: its memory is the one the kernel
-- keeps, so the verdicts on the events are about its own values.
function _M.kernel_keeps_once_per(kf, r, t)
  local seen = kf.connect and not kf.connect.off and kf.connect.seen
  local m = seen and kernel_once_per(r, t, r.filter_ast and r.filter_ast[t])
  return m ~= nil and m ~= false and m.ns == seen.ns and m.ip == seen.ip and m.port == seen.port
end

-- rules: the final rule list as for build(). Returns, per type of KF_TYPES,
--   { filename_prefixes = { s, ... }, filename_suffixes = { w, ... }, comm = { w, ... },
--     path2_prefixes = { s, ... }, path2_suffixes = { w, ... } (rename, link),
--     rules = how many rules and detections want the type }
-- (sorted, without duplicates) or { off = "why" }: { open = ..., unlink = ... };
-- and per type of KF_SOCK_TYPES { off = "why" }.
function _M.kernel_filter(rules)
  local out = {}
  for _, tname in ipairs(_M.KF_TYPES) do
    out[tname] = kf_type(rules, event.TYPES[tname], tname)
  end
  for _, tname in ipairs(_M.KF_SOCK_TYPES) do
    out[tname] = kf_sock_type(rules, event.TYPES[tname], tname)
  end
  return out
end

-- The index's deeper levels. At a node of the index (the strings whose
-- bytes before `at` are the node's words), a rule's literals there grouped
-- by their 4 bytes from `at` ({ [word] = { literals } }), or nil when the
-- rule must run for every string at the node (a literal ends before at + 4,
-- or none is left).
local function next_words(lits, at)
  if not lits or #lits == 0 then return nil end
  local out = {}
  for _, lit in ipairs(lits) do
    if #lit < at + 3 then return nil end
    local w = word4(lit, at)
    if not out[w] then out[w] = {} end
    out[w][#out[w] + 1] = lit
  end
  return out
end
_M.next_words = next_words

-- A key's literals in its bucket of word wd, for the deeper levels; nil
-- when they do not apply: a suffix key, a key on the program's name (NMP,
-- not a field of the event).
local function bucket_lits(key, wd)
  if key.side ~= "pre" or not (type(key.p) == "string" and key.p:match("^e%.[%w_]+$")) then return nil end
  local out = {}
  for _, lit in ipairs(key.lits or {}) do
    if word4(lit, 1) == wd then out[#out + 1] = lit end
  end
  return out
end
_M.bucket_lits = bucket_lits

-- A rule's code in an index bucket, specialised to it. In a bucket the
-- event's indexed string (pcs.p) is known to have the bucket's word at
-- offset 0 (side "pre") or as its last 4 bytes (side "suf"), and, deeper in
-- the index, the word of each level at its offset. A literal of a test of
-- that string (in, prefix, suffix) that cannot hold with those words is
-- dropped from its list, and a list left empty never holds: the bucket's
-- copy of the rule tests only the literals that can still match there (a
-- rule listing fifty persistence paths tests the few of its bucket). An
-- equivalence under the bucket's condition, so it holds under `not` and in
-- exceptions too. TRUE and FALSE stand for tests so decided.
local TRUE, FALSE = { op = "const", value = true }, { op = "const", value = false }
_M.SPEC_TRUE, _M.SPEC_FALSE = TRUE, FALSE

-- Whether the literal v of a test op (in, prefix, suffix) can hold for a
-- string with the words of pcs (the index's W, WO and SW: zero-padded
-- below 4 bytes at offset 0; a deeper word means at least o + 4 bytes).
local function lit_possible(op, v, pcs)
  for _, c in ipairs(pcs) do
    if pcs.side == "suf" then
      if (op == "suffix" or op == "in") and #v >= 4 and word4(v, #v - 3) ~= c.w then return false end
    elseif c.o == 0 then
      if op == "in" and word4(v, 1) ~= c.w then return false end
      if op == "prefix" and #v >= 4 and word4(v, 1) ~= c.w then return false end
    else
      if op == "in" and (#v < c.o + 4 or word4(v, c.o + 1) ~= c.w) then return false end
      if op == "prefix" and #v >= c.o + 4 and word4(v, c.o + 1) ~= c.w then return false end
    end
  end
  return true
end

-- node's list (an "and" of matchers, an "all" or "any" of tests), each
-- item under spec (spec_matcher or spec_ast): stop when an item is stop
-- (it decides the whole), the items without those that are skip (they
-- change nothing); node itself when no item changed.
local function spec_list(node, spec, pcs, stop, skip)
  local list, changed = {}, false
  for _, x in ipairs(node.list) do
    local y = spec(x, pcs)
    if y == stop then return stop end
    if y ~= x then changed = true end
    if y ~= skip then list[#list + 1] = y end
  end
  if not changed then return node end
  if #list == 0 then return skip end
  if #list == 1 then return list[1] end
  return { op = node.op, list = list }
end

-- a "not" (of a matcher or a test) whose operand goes under spec
local function spec_not(node, spec, pcs)
  local x = spec(node.node, pcs)
  if x == node.node then return node end
  if x == FALSE then return TRUE elseif x == TRUE then return FALSE end
  return { op = "not", node = x }
end

local function spec_matcher(m, pcs)
  local op = m.op
  if op == "not" then return spec_not(m, spec_matcher, pcs) end
  if op == "and" then return spec_list(m, spec_matcher, pcs, FALSE, TRUE) end
  if (op == "in" or op == "prefix" or op == "suffix") and type(m.values) == "table" then
    local vals = {}
    for _, v in ipairs(m.values) do
      if type(v) ~= "string" then return m end
      if lit_possible(op, v, pcs) then vals[#vals + 1] = v end
    end
    if #vals == #m.values then return m end
    if #vals == 0 then return FALSE end
    local out = {}
    for k, v in pairs(m) do out[k] = v end
    out.values = vals
    return out
  end
  return m
end

-- ast under pcs ({ p = the string's expression, side = "pre" | "suf",
-- { o = offset, w = word }, ... }): the same ast when nothing changes,
-- else a new one sharing the unchanged parts, or TRUE / FALSE.
local function spec_ast(ast, pcs)
  local op = ast.op
  if op == "field" then
    local f = ast.field
    if f.kind ~= "str" or f.buf or f.p ~= pcs.p then return ast end
    local m = spec_matcher(ast.m, pcs)
    if m == ast.m then return ast end
    if m == TRUE or m == FALSE then return m end
    return { op = "field", field = f, m = m }
  end
  if op == "not" then return spec_not(ast, spec_ast, pcs) end
  if op == "all" then return spec_list(ast, spec_ast, pcs, FALSE, TRUE) end
  if op == "any" then return spec_list(ast, spec_ast, pcs, TRUE, FALSE) end
  return ast
end
_M.spec_ast = spec_ast
-- levels below the first (4 bytes each)
_M.INDEX_DEPTH = 4
-- the fewest rules an index is made for (build)
_M.INDEX_MIN_RULES = 2
-- rules' code specialised to their index bucket (spec_ast)
_M.SPECIALISE = true

-- The loop of user calls in Lua (plain LuaJIT, where the pure-Lua specs
-- run; the host's is C, src/usercall.c, and does the same): the pending
-- hits among [start, nh) (flags PENDING, left by the rule loops in any
-- order) called in event order, then rule order, as stateful detections
-- expect; the hits that stand keep their places, compacted, with their
-- descriptions in desc. Returns the new nh.
local function lua_user_run(env)
  local b, user, on_exit, desc = env.b, env.user, env.on_exit, env.desc
  local on, off = env.user_on or NOOP, env.user_off or NOOP
  local PENDING, EXIT = _M.PENDING, _M.EXIT_RULE
  return function(start, nh)
    local hits = b.hits
    local pend = {}
    for c = start, nh - 1 do
      if hits[c].flags == PENDING then pend[#pend + 1] = c end
    end
    if #pend == 0 then return nh end
    table.sort(pend, function(x, y)
      local hx, hy = hits[x], hits[y]
      if hx.ev ~= hy.ev then return hx.ev < hy.ev end
      return hx.rule < hy.rule
    end)
    local drop, descs = {}, {}
    on()
    for _, c in ipairs(pend) do
      local h = hits[c]
      local k, i = h.rule, h.ev
      if k == EXIT then
        on_exit(i)
        drop[c] = true
      else
        local r = user(k, i)
        if not r then
          drop[c] = true
        elseif r == true then
          h.flags = 0
        else
          h.flags = event.HITF_DYNDESC
          descs[c] = r
        end
      end
    end
    off()
    local j = start
    for c = start, nh - 1 do
      if not drop[c] then
        if j ~= c then
          local o, h = hits[j], hits[c]
          o.ev, o.rule, o.flags = h.ev, h.rule, h.flags
        end
        if descs[c] then desc[j] = descs[c] end
        j = j + 1
      end
    end
    return j
  end
end

-- rules: the final rule list (0-based index = position - 1), each either
--   { kind = "builtin", builtin = <builtins.LIST entry>, types }
--   { kind = "yaml", types, comm_rx, filename_rx, min_port, max_port, condition,
--     match_ast }
--   { kind = "lua", types, match }
-- and any of them exc_ast (its exceptions: it does not fire when they hold).
-- The language's matchers (lang.emit) are inline expressions; only regexes
-- on argument lists and command lines call compiled helpers (MF[k], G.*).
-- env: { b = struct eg_batch *, user = function(k, i) -> false | true | string,
--        on_exit = function(i), begin = function(),
--        user_run = function(start, nh) -> nh or nil (the loop of user calls
--        over the pending hits [start, nh), src/usercall.c; nil: a Lua loop
--        calling user and on_exit) }
-- Returns run() and the generated source.
function _M.build(rules, env)
  local keep = {}
  local codes = {}
  local function rx(obj)
    keep[#keep + 1] = obj
    codes[#codes + 1] = obj.code
    return #codes - 1
  end

  -- A regex test on a field, behind a cheaper test of a literal every match
  -- contains (a prefix comparison, or memmem) when the pattern has one, or of
-- a byte every match contains (memchr) for alternations of plain words.
  local consts, fns = {}, {}
  local function rx_test(obj, field)
    local m = fmt("M(CODE[%d], e.%s, e.%s_len)", rx(obj), field, field)
    -- several literals one of which every match contains, when no single
    -- one is as long: one search for any of them first (FINDANY)
    -- (an alternation of plain words keeps its byte, memchr below: faster
    -- than a search for its words on short strings such as comm)
    local sets = TEXT ~= nil and not regex.required_byte(obj.pattern)
    local kind, lit, anchored = regex.pretest(obj.pattern, sets)
    local lits = kind == "set" and _M.lits(lit, anchored)
    if lits then
      consts[#consts + 1] = lits
      return fmt("(FINDANY(e.%s, e.%s_len, K[%d]) ~= 0 and %s)", field, field, #consts, m)
    end
    if kind == "set" then lit, anchored = regex.required_literal(obj.pattern) end
    if not lit then
      local byte, caseless = regex.required_byte(obj.pattern)
      if not byte then return m end
      local other = caseless and string.byte(string.char(byte):upper()) or byte
      return fmt("(C(e.%s, e.%s_len, %d, %d) and %s)", field, field, byte, other, m)
    end
    if anchored then
      return fmt("(%s and %s)", builtins.prefix("e." .. field, "e." .. field .. "_len", lit), m)
    end
    return fmt("(F(e.%s, e.%s_len, %q, %d) and %s)", field, field, lit, #lit, m)
  end

  local E = {
    memo = {},
    rx = rx,
    const = function(v)
      consts[#consts + 1] = v
      return fmt("K[%d]", #consts)
    end,
    fn = function(body)
      fns[#fns + 1] = { body = body }
      return fmt("MF[%d]", #fns)
    end,
    -- a one-pass search for any of several literals (src/textmatch.c), in
    -- the host: the expression testing (p, l), or nil
    find_any = TEXT and function(vals, p, l, caseless)
      if #vals < 2 and not caseless then return nil end
      local set = _M.lits(vals, caseless)
      if not set then return nil end
      consts[#consts + 1] = set
      return fmt("(FINDANY(%s, %s, K[%d]) ~= 0)", p, l, #consts)
    end or nil,
  }
  local function emit(ast)
    return (lang.emit(E, ast))
  end
  -- A rule's test (match, or a detection's filter of a type) and its
  -- exceptions, as conditions appended to conds; in an index bucket (pcs)
  -- specialised to it first. False when the rule cannot fire there.
  local function test_conds(conds, test, exc, pcs)
    if pcs then
      test = test and spec_ast(test, pcs)
      exc = exc and spec_ast(exc, pcs)
      if test == FALSE or exc == TRUE then return false end
      if test == TRUE then test = nil end
      if exc == FALSE then exc = nil end
    end
    if test then conds[#conds + 1] = emit(test) end
    if exc then conds[#conds + 1] = "not (" .. emit(exc) .. ")" end
    return true
  end

  -- Per type, the rules' code in rule order. Declarative rules (built-ins,
  -- YAML rules without a condition) go into groups of at most GROUP_RULES,
  -- each group one loop of its own over a window of events: a trace per
  -- group, with few side exits (one loop over every rule grew hundreds of
  -- side traces per root trace past ~20 rules, and LuaJIT's limit of 100
  -- sent the rest to the interpreter). User code (conditions, Lua
  -- detections' filters) and exits are filed the same way and leave
  -- pending hits; the loop of user calls at the end of run() (USER_RUN)
  -- makes the calls in event order, as stateful detections expect. Hits
  -- are sorted back to event order, then rule order, by the caller.
  local decl, per_event, index = {}, {}, {}
  for _, t in ipairs(TYPES) do decl[t], per_event[t], index[t] = {}, 0, {} end
  local any_user = env.want_exit or false
  -- (t, key) of each rule's code, in rule order; rules per index
  local filings, keyed = {}, {}
  for k0 = 0, #rules - 1 do
    local r = rules[k0 + 1]
    local lines = {}
    local user = r.kind == "lua" or r.condition ~= nil
    -- user code is gathered as pending hits (flags PENDING) by a compiled
    -- loop, then called in event order by the loop of user calls
    local pending = fmt("local h = hits[nh]; h.ev = i; h.rule = %d; h.flags = %d; nh = nh + 1", k0, _M.PENDING)
    if user then any_user = true end
    local key = _M.INDEX and r.kind == "yaml" and rule_key(r) or nil
    local per_type_call -- a filtered Lua detection's call, per type
    local make_lines -- a rule's lines in an index bucket (yaml_lines)
    local hit = fmt("local h = hits[nh]; h.ev = i; h.rule = %d; h.flags = 0; nh = nh + 1", k0)
    if r.kind == "builtin" then
      local b = r.builtin
      local names = {}
      local rnames = {}
      for name in pairs(b.regexes) do rnames[#rnames + 1] = name end
      table.sort(rnames)
      for _, name in ipairs(rnames) do
        local spec = b.regexes[name]
        local obj = r.compiled and r.compiled[name]
        if not obj then
          obj = assert(regex.new(spec[1], spec[2]))
        end
        names[name] = rx(obj)
      end
      local expr = ((TEXT and b.fast_expr) or b.expr):gsub("RX%((%w+)%)", function(n)
        return fmt("CODE[%d]", names[n])
      end)
      if r.exc_ast then expr = fmt("(%s) and not (%s)", expr, emit(r.exc_ast)) end
      for _, p in ipairs(b.pre) do lines[#lines + 1] = p[2] end
      lines[#lines + 1] = fmt("-- %s", comment_text(b.id))
      lines[#lines + 1] = fmt("if %s then %s end", expr, hit)
    elseif r.kind == "yaml" then
      -- the rule's lines; in an index bucket (pcs) specialised to it, nil
      -- when it cannot fire there
      local function yaml_lines(pcs)
        local tests = {}
        if not test_conds(tests, r.match_ast, r.exc_ast, pcs) then return nil end
        local conds = {}
        if r.min_port then conds[#conds + 1] = fmt("e.dest_port >= %d", r.min_port) end
        if r.max_port then conds[#conds + 1] = fmt("e.dest_port <= %d", r.max_port) end
        if r.comm_rx then conds[#conds + 1] = rx_test(r.comm_rx, "comm") end
        if r.filename_rx then conds[#conds + 1] = rx_test(r.filename_rx, "filename") end
        for _, c in ipairs(tests) do conds[#conds + 1] = c end
        if #conds == 0 then conds[1] = "true" end
        -- with a condition: its call is pending once the rest holds
        return { fmt("-- rule %s", comment_text(r.id)),
          fmt("if %s then %s end", concat(conds, " and "), r.condition and pending or hit) }
      end
      lines = yaml_lines(nil)
      make_lines = key and yaml_lines
    else
      lines[#lines + 1] = fmt("-- detection %s", comment_text(r.id))
      -- the call, behind the type's filter (a Lua detection's filter.TYPE:
      -- the rule language, inline) and the exceptions; in an index bucket
      -- (pcs) specialised to it, nil when it cannot be made there
      local function call(t, pcs)
        local conds = {}
        if not test_conds(conds, r.filter_ast and r.filter_ast[t], r.exc_ast, pcs) then return nil end
        -- its once_per, decided here (host.lua once_per_gate): last, so
        -- only the events that pass the rest count
        local gate = t and r.once_per_gate and r.once_per_gate[t]
        if gate then
          consts[#consts + 1] = gate
          conds[#conds + 1] = fmt("K[%d](e, i)", #consts)
        end
        if #conds == 0 then return pending end
        return fmt("if %s then %s end", concat(conds, " and "), pending)
      end
      if r.filter_ast or r.once_per_gate then
        per_type_call = call
      else
        lines[#lines + 1] = call(nil)
      end
    end
    for _, t in ipairs(r.types) do
      per_event[t] = per_event[t] + 1
      -- a filtered detection: its type's filter, filed by its own key
      local tlines, tkey, tmake = lines, key, make_lines
      if per_type_call then
        tlines = { lines[1], per_type_call(t) }
        tmake = function(pcs)
          local c = per_type_call(t, pcs)
          return c and { lines[1], c } or nil
        end
        tkey = _M.INDEX and r.filter_ast and r.filter_ast[t] and best_key(ast_keys(r.filter_ast[t])) or nil
      end
      filings[#filings + 1] = { t = t, key = tkey, lines = tlines, make = tmake }
      if tkey then
        local name = t .. ":" .. tkey.side .. ":" .. tkey.field
        keyed[name] = (keyed[name] or 0) + 1
      end
    end
  end
  -- each rule's code of each type: in its index, or, with no key or in an
  -- index that would hold fewer than INDEX_MIN_RULES rules, in the type's
  -- declarative groups (rule order): a lone rule's own test of its words
  -- (a hash of the string's length and three bytes, a prefix compare)
  -- costs less than the index's search among them, whose branches an
  -- event's random word mispredicts
  for _, f in ipairs(filings) do
    local t, tkey, tlines, tmake = f.t, f.key, f.lines, f.make
    if tkey and keyed[t .. ":" .. tkey.side .. ":" .. tkey.field] < _M.INDEX_MIN_RULES then tkey = nil end
    if tkey then
      local ix = index[t]
      local name = tkey.side .. ":" .. tkey.field
      local x = ix[name]
      if not x then
        x = { key = tkey, buckets = {}, order = {} }
        ix[name] = x
        ix[#ix + 1] = x
      end
      for _, wd in ipairs(tkey.words) do
        local bkt = x.buckets[wd]
        if not bkt then
          bkt = {}
          x.buckets[wd] = bkt
          x.order[#x.order + 1] = wd
        end
        bkt[#bkt + 1] = { lines = tlines, lits = bucket_lits(tkey, wd), make = tmake }
      end
    else
      local chars = 0
      for _, line in ipairs(tlines) do chars = chars + #line end
      local d = decl[t]
      d[#d + 1] = { lines = tlines, chars = chars }
    end
  end
  if env.want_exit then
    -- an exit, pending like a call: the stores forget the process in order
    local line = fmt("local h = hits[nh]; h.ev = i; h.rule = %d; h.flags = %d; nh = nh + 1", _M.EXIT_RULE, _M.PENDING)
    table.insert(decl[4], { lines = { line }, chars = #line })
    per_event[4] = per_event[4] + 1
  end
  local most = 1
  for _, t in ipairs(TYPES) do if per_event[t] > most then most = per_event[t] end end

  local out = {}
  local function w(s) out[#out + 1] = s end
  -- the event's process, container and host, or empty ones (lang.lua),
  -- for code that reads them
  local CONTEXT = "local P, CT, HO = e.proc, e.ctr, e.host"
    .. " if P == nil then P = EP end if CT == nil then CT = EC end if HO == nil then HO = EH end"
  -- the program's name (lang.lua, field name), once per event
  local NAME_LINE = "local NMP, NML = NAME(e)"
  local function uses_context(lines)
    for _, line in ipairs(lines) do
      if line:find("%f[%w_]P%.") or line:find("%f[%w_]CT%.") or line:find("%f[%w_]HO%.") then return true end
    end
    return false
  end
  local function uses_name(lines)
    for _, line in ipairs(lines) do
      if line:find("%f[%w_]NM[PL]%f[^%w_]") then return true end
    end
    return false
  end
  -- what lines need computed first: the context, the name
  local function prelude(lines)
    local t = {}
    if uses_context(lines) then t[#t + 1] = CONTEXT end
    if uses_name(lines) then t[#t + 1] = NAME_LINE end
    return table.concat(t, " ")
  end
  w("local b, CODE, MATCH, MD, MCTX, EMPTY, BEGIN, KEEP, MEMMEM, MEMCHR, MF, G, K,"
    .. " MEMCMP, EP, EC, EH, CAST, U64, U32, MEMRCHR, CCP, TINEW, SHELLISH, MINER_HINT, FINDANY,"
    .. " USER_RUN = ...")
  w("local band, rshift, floor = bit.band, bit.rshift, math.floor")
  -- the window's events by type (run() below)
  w(fmt("local TICAP = %d", 256))
  w(fmt("local TI, NO, NL = TINEW(TICAP * %d), TINEW(TICAP * %d), TINEW(TICAP * %d)", NT + 1, NT + 1, NT + 1))
  w(fmt("local RA, RZ = TINEW(%d), TINEW(%d)", NT + 1, NT + 1))
  w(builtins.PRELUDE)
  w("local function M(c, s, l)")
  w("  if s == nil then s = EMPTY; l = 0 end")
  w("  return MATCH(c, s, l, 0, 0, MD, MCTX) >= 0")
  w("end")
  -- the index's words (rule_key): the first 4 bytes of a string (a shorter
  -- one's bytes, then zeros), and the last 4 (-1: shorter than 4)
  -- (no loop for the short ones: an inner loop would leave the caller's
  -- trace for a trace of its own on every short string)
  w("local function W(p, l)")
  w("  if l >= 4 then return CAST(U32, p)[0] end")
  w("  if l <= 0 then return 0 end")
  w("  local w = band(p[0], 255)")
  w("  if l >= 2 then w = w + band(p[1], 255) * 256 end")
  w("  if l >= 3 then w = w + band(p[2], 255) * 65536 end")
  w("  return w")
  w("end")
  w("local function NAME(e)")
  w(fmt("  if e.type == %d then", event.TYPES.exec))
  w("    local p, l = e.filename, e.filename_len")
  w("    if l > 0 then")
  w("      local r = MEMRCHR(p, 47, l)")
  w("      if r ~= nil then local s = CAST(CCP, r) + 1; return s, l - tonumber(s - p) end")
  w("    end")
  w("    return p, l")
  w("  end")
  w("  return e.comm, e.comm_len")
  w("end")
  -- the index's deeper levels: the 4 bytes at offset o (-1: shorter)
  w("local function WO(p, l, o)")
  w("  if l >= o + 4 then return CAST(U32, p + o)[0] end")
  w("  return -1")
  w("end")
  w("local function SW(p, l)")
  w("  if l >= 4 then return CAST(U32, p + l - 4)[0] end")
  w("  return -1")
  w("end")
  w("local function F(s, l, lit, n)")
  w("  return s ~= nil and l >= n and MEMMEM(s, l, lit, n) ~= nil")
  w("end")
  w("local function C(s, l, a, u)")
  w("  return s ~= nil and (MEMCHR(s, a, l) ~= nil or (u ~= a and MEMCHR(s, u, l) ~= nil))")
  w("end")
  -- Blocks of code, each one loop in a function of its own (below): the
  -- declarative groups, the index, then user code in event order.
  -- A declarative or index loop visits only the events of its own type
  -- (TI[RA[t]] .. TI[RZ[t] - 1], built per window by run()): its trace
  -- never branches on the type, and an event costs nothing in the loops of
  -- the other types. Each type's declarative rules split into groups of at
  -- most GROUP_RULES rules (and CHUNK_CHARS bytes), one loop each.
  -- an exec's program name is found once per window (run(): NO, NL), not
  -- in each of its loops
  local exec_name = false
  local function typed_loop(t, lines, extra)
    local bl = { fmt("for j = RA[%d], RZ[%d] - 1 do", t, t), "  local i = TI[j]", "  local e = evs[i]" }
    local pre = prelude(lines)
    if extra then pre = extra end
    if t == event.TYPES.exec and pre:find(NAME_LINE, 1, true) then
      pre = pre:gsub("local NMP, NML = NAME%(e%)", "local NMP, NML = e.filename + NO[j], NL[j]")
      exec_name = true
    end
    if pre ~= "" then bl[#bl + 1] = "  " .. pre end
    for _, line in ipairs(lines) do bl[#bl + 1] = "  " .. line end
    bl[#bl + 1] = "end"
    bl.type = t
    return bl
  end
  local blocks = {}
  for _, t in ipairs(TYPES) do
    local d = decl[t]
    local j = 1
    while j <= #d do
      local g = {}
      local chars = 0
      local k = j
      while k <= #d and k - j < _M.GROUP_RULES and (k == j or chars + d[k].chars <= _M.CHUNK_CHARS) do
        for _, line in ipairs(d[k].lines) do g[#g + 1] = line end
        chars = chars + d[k].chars
        k = k + 1
      end
      blocks[#blocks + 1] = typed_loop(t, g)
      j = k
    end
  end
  -- the index (see rule_key): per type and index one loop, which finds the
  -- event's word among the buckets' words and runs only the rules filed there
  local any_index = false
  for _, t in ipairs(TYPES) do if #index[t] > 0 then any_index = true end end
  if any_index then
    w("local IXF, IXP = {}, {}")
    local nf, np = 0, 0
    for _, t in ipairs(TYPES) do
      if #index[t] > 0 then
        for _, x in ipairs(index[t]) do
          local k = x.key
          -- lines in functions of at most CHUNK_CHARS bytes each, called in
          -- order by one function: its index in IXF
          local function bucket_fn(lines, pre_lines)
            local parts, cur, size = {}, nil, 0
            for _, line in ipairs(lines) do
              if not cur or (size + #line > _M.CHUNK_CHARS and #cur > 0) then
                cur, size = {}, 0
                parts[#parts + 1] = cur
              end
              cur[#cur + 1] = line
              size = size + #line
            end
            local calls = {}
            for _, part in ipairs(parts) do
              np = np + 1
              w(fmt("IXP[%d] = function(e, i, nh, hits)", np))
              w("  " .. prelude(part))
              for _, line in ipairs(part) do w("  " .. line) end
              w("  return nh")
              w("end")
              calls[#calls + 1] = np
            end
            nf = nf + 1
            if #calls == 1 and not pre_lines then
              w(fmt("IXF[%d] = IXP[%d]", nf, calls[1]))
            else
              w(fmt("IXF[%d] = function(e, i, nh, hits)", nf))
              for _, c in ipairs(calls) do w(fmt("  nh = IXP[%d](e, i, nh, hits)", c)) end
              for _, line in ipairs(pre_lines or {}) do w("  " .. line) end
              w("  return nh")
              w("end")
            end
            return nf
          end
          -- the leaf of the event's word among leaves ({ w, f }), found by a
          -- binary search over the words in the code itself, each leaf a
          -- call of one function: a function looked up in a table and
          -- called would make the call site polymorphic, a chain of guards
          -- the trace runs through (twice as slow, measured)
          local function search(var, leaves)
            table.sort(leaves, function(a, b) return a.w < b.w end)
            local function tree(lo, hi)
              if hi - lo < 3 then
                local t = {}
                for z = lo, hi do
                  t[#t + 1] = fmt("%s %s == %.0f then nh = IXF[%d](e, i, nh, hits)", z == lo and "if" or "elseif",
                    var, leaves[z].w, leaves[z].f)
                end
                return concat(t, " ") .. " end"
              end
              local mid = math.floor((lo + hi) / 2)
              return fmt("if %s <= %.0f then %s else %s end", var, leaves[mid].w, tree(lo, mid), tree(mid + 1, hi))
            end
            return tree(1, #leaves)
          end
          -- a node of the index (its entries { lines, lits }, the next
          -- byte to look at): the rules for every string there, then, when
          -- two or more rules go deeper, those of the string's next 4
          -- bytes (a node of its own each); returns its function's index
          -- (pcs: what the node's strings are known to hold, spec_ast)
          local function node(entries, at, depth, pcs)
            local all, groups, order, nexts, ndeep = {}, {}, {}, {}, 0
            for j, ent in ipairs(entries) do
              nexts[j] = depth <= _M.INDEX_DEPTH and next_words(ent.lits, at) or nil
              if nexts[j] then ndeep = ndeep + 1 end
            end
            for j, ent in ipairs(entries) do
              if nexts[j] and ndeep >= 2 then
                for wn, lits in pairs(nexts[j]) do
                  if not groups[wn] then groups[wn] = {}; order[#order + 1] = wn end
                  groups[wn][#groups[wn] + 1] = { lines = ent.lines, lits = lits, make = ent.make }
                end
              else
                local lines = ent.lines
                if ent.make and _M.SPECIALISE then lines = ent.make(pcs) or {} end
                for _, line in ipairs(lines) do all[#all + 1] = line end
              end
            end
            if #order == 0 then return bucket_fn(all) end
            table.sort(order)
            local sub = {}
            for _, wn in ipairs(order) do
              local deeper = { p = pcs.p, side = pcs.side }
              for q, c in ipairs(pcs) do deeper[q] = c end
              deeper[#deeper + 1] = { o = at - 1, w = wn }
              sub[#sub + 1] = { w = wn, f = node(groups[wn], at + 4, depth + 1, deeper) }
            end
            local var = "w" .. (depth + 1)
            return bucket_fn(all, { fmt("do local %s = WO(%s, %s, %d) %s end", var, k.p, k.l, at - 1, search(var, sub)) })
          end
          local leaves = {}
          for _, wd in ipairs(x.order) do
            leaves[#leaves + 1] = { w = wd, f = node(x.buckets[wd], 5, 1, { p = k.p, side = k.side, { o = 0, w = wd } }) }
          end
          -- a loop of its own per index: in one loop, each path through
          -- one index's buckets would get its own copies of the other's
          -- (a side trace per pair of buckets)
          local bl = { fmt("do local w = %s(%s, %s) %s end", k.side == "suf" and "SW" or "W", k.p, k.l,
            search("w", leaves)) }
          blocks[#blocks + 1] = typed_loop(t, bl, uses_name(bl) and NAME_LINE or "")
        end
      end
    end
  end
  -- each block (loop) a function of its own, called in order; a typed loop
  -- only when its type has events in the window. One function per loop: a
  -- loop's exit then returns to run(), whatever path its last event took;
  -- loops in sequence in one function had each path through one loop's body
  -- continue into the next loop in a side trace of its own, and the paths
  -- multiplied (the trace count of the engine benchmark grew by hundreds
  -- per pass over the same events, 22% of the time in the JIT compiler)
  local calls = {}
  w("local SEGS = {}")
  for n, b in ipairs(blocks) do
    w(fmt("SEGS[%d] = function(evs, i0, i1, nh, hits)", n))
    for _, line in ipairs(b) do w("  " .. line) end
    w("  return nh")
    w("end")
    if b.type then
      calls[n] = fmt("if RZ[%d] > RA[%d] then nh = SEGS[%d](evs, i0, i1, nh, hits) end", b.type, b.type, n)
    else
      calls[n] = fmt("nh = SEGS[%d](evs, i0, i1, nh, hits)", n)
    end
  end
  -- the calls, straight-line; very many: in several caller functions
  local call_lines = calls
  if #calls > _M.CHUNK_LINES then
    call_lines = {}
    w("local CALLERS = {}")
    local k = 1
    while k <= #calls do
      local n = #call_lines + 1
      w(fmt("CALLERS[%d] = function(evs, i0, i1, nh, hits)", n))
      for c = k, math.min(k + _M.CHUNK_LINES - 1, #calls) do w("  " .. calls[c]) end
      w("  return nh")
      w("end")
      call_lines[n] = fmt("nh = CALLERS[%d](evs, i0, i1, nh, hits)", n)
      k = k + _M.CHUNK_LINES
    end
  end
  w("return function()")
  w("  if KEEP == nil then return end")
  w("  BEGIN()")
  w("  local evs, hits = b.ev, b.hits")
  w("  local n, i0, nh = b.n, b.next, b.nhits")
  w("  local nh0 = nh")
  -- a window of events whose hits fit the hit buffer whatever matches
  -- (the caller starts each call with an empty buffer, which holds one
  -- event's worth at least)
  w(fmt("  local w = floor((b.hits_cap - nh) / %d)", most))
  w("  if w < 1 then w = 1 end")
  w("  local i1 = i0 + w")
  w("  if i1 > n then i1 = n end")
  -- the window's events by type, for the typed loops: type t's indices in
  -- TI[RA[t] .. RZ[t] - 1], a region of TICAP entries per type (one pass)
  w("  if i1 - i0 > TICAP then")
  w("    TICAP = i1 - i0")
  w(fmt("    TI, NO, NL = TINEW(TICAP * %d), TINEW(TICAP * %d), TINEW(TICAP * %d)", NT + 1, NT + 1, NT + 1))
  w("  end")
  w(fmt("  for t = 0, %d do local a = t * TICAP; RA[t] = a; RZ[t] = a end", NT))
  -- (an event the host's prefilter says no rule can match, b.keep[i] = 0,
  -- goes with the unknown types: no loop runs over type 0. A product, not
  -- a branch: which events the prefilter leaves out is not predictable;
  -- and the loop reads each event's type: the typed loops find the events
  -- in the cache)
  w("  local keep = b.keep")
  w("  if keep ~= nil then")
  w("    for i = i0, i1 - 1 do")
  w("      local t = evs[i].type")
  w(fmt("      if t > %d then t = 0 end", NT))
  w("      t = t * keep[i]")
  w("      local z = RZ[t]; TI[z] = i; RZ[t] = z + 1")
  w("    end")
  w("  else")
  w("    for i = i0, i1 - 1 do")
  w("      local t = evs[i].type")
  w(fmt("      if t > %d then t = 0 end", NT))
  w("      local z = RZ[t]; TI[z] = i; RZ[t] = z + 1")
  w("    end")
  w("  end")
  if exec_name then
    -- the execs' program names (NAME): at NO[j] in filename, NL[j] bytes
    local x = event.TYPES.exec
    w(fmt("  for j = RA[%d], RZ[%d] - 1 do", x, x))
    w("    local e = evs[TI[j]]")
    w("    local p, l = e.filename, e.filename_len")
    w("    local o = 0")
    w("    if l > 0 then")
    w("      local r = MEMRCHR(p, 47, l)")
    w("      if r ~= nil then o = tonumber(CAST(CCP, r) - p) + 1 end")
    w("    end")
    w("    NO[j] = o; NL[j] = l - o")
    w("  end")
  end
  if env.once_window then
    -- the window's process exits, for the once_per decided in it
    consts[#consts + 1] = env.once_window
    w(fmt("  K[%d](evs, TI, RA[%d], RZ[%d])", #consts, event.TYPES.exit, event.TYPES.exit))
  end
  for _, c in ipairs(call_lines) do w("  " .. c) end
  -- the user calls of the window's pending hits, in event order (USER_RUN)
  if any_user then w("  if nh > nh0 then nh = USER_RUN(nh0, nh) end") end
  w("  b.next = i1")
  w("  b.nhits = nh")
  w("end")
  local src = concat(out, "\n")
  local chunk = assert(loadstring(src, "=ebpf_guard.rules"))
  local code_arr = ffi.new("pcre2_code_8 *[?]", #codes + 1)
  for j, c in ipairs(codes) do code_arr[j - 1] = c end
  keep.code_arr = code_arr
  local empty = ffi.new("char[1]")
  keep.empty = empty
  -- the language's matcher functions, each compiled on its own (a large
  -- rule set would exceed one function's limits)
  local MATCH, MD, MCTX = regex.match_fn(), regex.md1, regex.mctx
  local mf = {}
  for j, f in ipairs(fns) do
    local fchunk = assert(loadstring(lang.FN_HEADER .. f.body, "=ebpf_guard.match"))
    mf[j] = fchunk(ffi.C.memcmp, ffi.C.memmem, MATCH, MD, MCTX, empty, code_arr, consts, ffi.cast, U64,
      TEXT and TEXT.find_any, U32)
  end
  local ep, ec, eh = lang.empty_context()
  keep.mf, keep.consts, keep.ctx = mf, consts, { ep, ec, eh }
  local run = chunk(env.b, code_arr, regex.match_fn(), regex.md1, regex.mctx, empty,
    env.begin, keep, ffi.C.memmem, ffi.C.memchr, mf, lang.G, consts,
    ffi.C.memcmp, ep, ec, eh, ffi.cast, U64, U32, ffi.C.memrchr,
    CCP, TINEW, TEXT and TEXT.shellish, TEXT and TEXT.miner_hint, TEXT and TEXT.find_any,
    env.user_run or lua_user_run(env))
  return run, src, most
end

return _M
