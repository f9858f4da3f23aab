-- Turns the loaded rules into one Lua function that LuaJIT can trace: a loop
-- over the batch's events, dispatching on the event type, then per rule the
-- cheap checks (ports, flags) before the regexes, and user code (conditions,
-- Lua detections) last. Hits are written straight into b.hits.
local ffi = require("ffi")
local regex = require("ebpf_guard.regex")
local builtins = require("ebpf_guard.builtins")
local event = require("ebpf_guard.event")
local lang = require("ebpf_guard.lang")

local concat = table.concat
local fmt = string.format

local _M = {}

-- Rule ids appear in the generated source as comments only, with every byte
-- outside printable ASCII replaced: a newline in an id must never end the
-- comment and start code.
local function comment_text(s)
  return (tostring(s):gsub("[^\32-\126]", "?"))
end

pcall(ffi.cdef, "void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);")
pcall(ffi.cdef, "void *memchr(const void *s, int c, size_t n);")

local TYPES = {}
for i = 1, #event.TYPE_NAMES do TYPES[i] = i end

-- Generated lines (one or two per rule) per function before a type's rules
-- are split into several functions.
_M.CHUNK_LINES = 256

-- rules: the final rule list (0-based index = position - 1), each either
--   { kind = "builtin", builtin = <builtins.LIST entry>, types }
--   { kind = "yaml", types, comm_rx, filename_rx, min_port, max_port, condition,
--     match_ast }
--   { kind = "lua", types, match }
-- and any of them exc_ast (its exceptions: it does not fire when they hold).
-- The language's matchers (lang.emit) become calls of small compiled
-- functions (MF[k]) and getters (G.<name>).
-- env: { b = struct eg_batch *, user = function(k, i) -> false | true | string,
--        on_exit = function(i), begin = function() }
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
  local function rx_test(obj, field)
    local m = fmt("M(CODE[%d], e.%s, e.%s_len)", rx(obj), field, field)
    local lit, anchored = regex.required_literal(obj.pattern)
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

  local consts, fns = {}, {}
  local E = {
    rx = rx,
    const = function(v)
      consts[#consts + 1] = v
      return fmt("K[%d]", #consts)
    end,
    fn = function(body, arg)
      fns[#fns + 1] = { body = body, arg = arg }
      return fmt("MF[%d]", #fns)
    end,
  }
  local function emit(ast)
    return (lang.emit(E, ast))
  end

  local per_type = {}
  for _, t in ipairs(TYPES) do per_type[t] = {} end
  local pre_done = { {}, {}, {}, {} }
  for k0 = 0, #rules - 1 do
    local r = rules[k0 + 1]
    local lines = {}
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
      local expr = b.expr:gsub("RX%((%w+)%)", function(n) return fmt("CODE[%d]", names[n]) end)
      if r.exc_ast then expr = fmt("(%s) and not %s", expr, emit(r.exc_ast)) end
      for _, t in ipairs(r.types) do
        for _, p in ipairs(b.pre) do
          if not pre_done[t][p[1]] then
            pre_done[t][p[1]] = true
            local l = per_type[t]
            l[#l + 1] = p[2]
          end
        end
      end
      lines[#lines + 1] = fmt("-- %s", comment_text(b.id))
      lines[#lines + 1] = fmt("if %s then %s end", expr, hit)
    elseif r.kind == "yaml" then
      local conds = {}
      if r.min_port then conds[#conds + 1] = fmt("e.dest_port >= %d", r.min_port) end
      if r.max_port then conds[#conds + 1] = fmt("e.dest_port <= %d", r.max_port) end
      if r.comm_rx then conds[#conds + 1] = rx_test(r.comm_rx, "comm") end
      if r.filename_rx then conds[#conds + 1] = rx_test(r.filename_rx, "filename") end
      if r.match_ast then conds[#conds + 1] = emit(r.match_ast) end
      if r.exc_ast then conds[#conds + 1] = "not " .. emit(r.exc_ast) end
      if r.condition then conds[#conds + 1] = fmt("USER(%d, i)", k0) end
      if #conds == 0 then conds[1] = "true" end
      lines[#lines + 1] = fmt("-- rule %s", comment_text(r.id))
      lines[#lines + 1] = fmt("if %s then %s end", concat(conds, " and "), hit)
    else
      lines[#lines + 1] = fmt("-- detection %s", comment_text(r.id))
      local guard_open, guard_close = "", ""
      if r.exc_ast then guard_open, guard_close = "if not " .. emit(r.exc_ast) .. " then ", " end" end
      lines[#lines + 1] = fmt([[%sdo local r = USER(%d, i)
        if r then
          local h = hits[nh]; h.ev = i; h.rule = %d
          if r == true then h.flags = 0 else h.flags = 1; desc[nh] = r end
          nh = nh + 1
        end end%s]], guard_open, k0, k0, guard_close)
    end
    for _, t in ipairs(r.types) do
      local l = per_type[t]
      for _, s in ipairs(lines) do l[#l + 1] = s end
    end
  end

  local out = {}
  local function w(s) out[#out + 1] = s end
  local chunk_calls, chunk_calls_all = {}, {}
  w("local b, CODE, MATCH, MD, MCTX, EMPTY, USER, EXIT, BEGIN, desc, KEEP, MEMMEM, MEMCHR, MF, G, K = ...")
  w("local band = bit.band")
  w(builtins.PRELUDE)
  w("local function M(c, s, l)")
  w("  if s == nil then s = EMPTY; l = 0 end")
  w("  return MATCH(c, s, l, 0, 0, MD, MCTX) >= 0")
  w("end")
  w("local function F(s, l, lit, n)")
  w("  return s ~= nil and l >= n and MEMMEM(s, l, lit, n) ~= nil")
  w("end")
  w("local function C(s, l, a, u)")
  w("  return s ~= nil and (MEMCHR(s, a, l) ~= nil or (u ~= a and MEMCHR(s, u, l) ~= nil))")
  w("end")
  -- A type with many rules gets its code in functions of at most CHUNK_LINES
  -- lines each (LuaJIT limits a function's jumps and constants: one function
  -- held only ~465 rules), called in rule order from the loop.
  if env.want_exit then table.insert(per_type[4], "EXIT(i)") end
  w("local CHUNKS = {}")
  for _, t in ipairs(TYPES) do
    local l = per_type[t]
    if #l > _M.CHUNK_LINES then
      local calls = {}
      local j = 1
      while j <= #l do
        local n = #chunk_calls_all + 1
        chunk_calls_all[n] = true
        w(fmt("CHUNKS[%d] = function(e, i, nh, hits)", n))
        for k = j, math.min(j + _M.CHUNK_LINES - 1, #l) do w("  " .. l[k]) end
        w("  return nh")
        w("end")
        calls[#calls + 1] = fmt("nh = CHUNKS[%d](e, i, nh, hits)", n)
        j = j + _M.CHUNK_LINES
      end
      chunk_calls[t] = calls
    end
  end
  w("return function()")
  w("  if KEEP == nil then return end")
  w("  BEGIN()")
  w("  local evs, hits = b.ev, b.hits")
  w("  local n, i, nh = b.n, b.next, b.nhits")
  w("  local lim = b.hits_cap - b.nrules")
  w("  while i < n do")
  w("    if nh > lim then break end")
  w("    local e = evs[i]")
  w("    local t = e.type")
  local first = true
  for _, t in ipairs(TYPES) do
    local l = per_type[t]
    if #l > 0 then
      w(fmt("    %s t == %d then", first and "if" or "elseif", t))
      first = false
      local calls = chunk_calls[t]
      if calls then
        for _, s in ipairs(calls) do w("      " .. s) end
      else
        for _, s in ipairs(l) do w("      " .. s) end
      end
    end
  end
  if not first then w("    end") end
  w("    i = i + 1")
  w("  end")
  w("  b.next = i")
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
  local function M(c, p, l) return MATCH(c, p, l, 0, 0, MD, MCTX) >= 0 end
  local mf = {}
  for j, f in ipairs(fns) do
    local fchunk = assert(loadstring(lang.FN_HEADER .. f.body, "=ebpf_guard.match"))
    mf[j] = fchunk(lang.G.sin, ffi.C.memcmp, ffi.C.memmem, M, code_arr, f.arg)
  end
  keep.mf, keep.consts = mf, consts
  local run = chunk(env.b, code_arr, regex.match_fn(), regex.md1, regex.mctx, empty,
    env.user, env.on_exit, env.begin, env.desc, keep, ffi.C.memmem, ffi.C.memchr, mf, lang.G, consts)
  return run, src
end

return _M
