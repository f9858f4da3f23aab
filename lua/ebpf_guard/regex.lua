-- PCRE2 through the FFI: patterns compiled once (with JIT), matched on
-- (pointer, length) subjects with a match limit and reused match data.
local ffi = require("ffi")

local ffi_gc = ffi.gc
local ffi_new = ffi.new
local ffi_string = ffi.string
local tonumber = tonumber
local type = type

local _M = {}

ffi.cdef [[
typedef struct pcre2_code_8 pcre2_code_8;
typedef struct pcre2_match_data_8 pcre2_match_data_8;
typedef struct pcre2_match_context_8 pcre2_match_context_8;
typedef struct pcre2_compile_context_8 pcre2_compile_context_8;
typedef struct pcre2_general_context_8 pcre2_general_context_8;
pcre2_code_8 *pcre2_compile_8(const char *pattern, size_t length, uint32_t options,
  int *errorcode, size_t *erroroffset, pcre2_compile_context_8 *ccontext);
void pcre2_code_free_8(pcre2_code_8 *code);
int pcre2_jit_compile_8(pcre2_code_8 *code, uint32_t options);
int pcre2_jit_match_8(const pcre2_code_8 *code, const char *subject, size_t length,
  size_t startoffset, uint32_t options, pcre2_match_data_8 *match_data,
  pcre2_match_context_8 *mcontext);
int pcre2_match_8(const pcre2_code_8 *code, const char *subject, size_t length,
  size_t startoffset, uint32_t options, pcre2_match_data_8 *match_data,
  pcre2_match_context_8 *mcontext);
pcre2_match_data_8 *pcre2_match_data_create_8(uint32_t ovecsize, pcre2_general_context_8 *gcontext);
pcre2_match_data_8 *pcre2_match_data_create_from_pattern_8(const pcre2_code_8 *code,
  pcre2_general_context_8 *gcontext);
void pcre2_match_data_free_8(pcre2_match_data_8 *match_data);
size_t *pcre2_get_ovector_pointer_8(pcre2_match_data_8 *match_data);
uint32_t pcre2_get_ovector_count_8(pcre2_match_data_8 *match_data);
pcre2_match_context_8 *pcre2_match_context_create_8(pcre2_general_context_8 *gcontext);
void pcre2_match_context_free_8(pcre2_match_context_8 *mcontext);
int pcre2_set_match_limit_8(pcre2_match_context_8 *mcontext, uint32_t value);
int pcre2_set_depth_limit_8(pcre2_match_context_8 *mcontext, uint32_t value);
int pcre2_get_error_message_8(int errorcode, char *buffer, size_t bufflen);
]]

_M.UTF = 0x00080000
_M.MATCH_INVALID_UTF = 0x04000000
_M.CASELESS = 0x00000008
_M.DOLLAR_ENDONLY = 0x00000010
_M.ANCHORED = 0x80000000
local JIT_COMPLETE = 1
local MATCH_LIMIT = 100000
local DEPTH_LIMIT = 10000

-- The host binary links PCRE2 (ffi.C); plain luajit (specs) loads it.
local lib
do
  local ok = pcall(function() return ffi.C.pcre2_compile_8 end)
  if ok then
    lib = ffi.C
  else
    lib = ffi.load("libpcre2-8.so.0")
    -- and a reference never dropped: at lua_close LuaJIT may unload the
    -- library before it runs the finalizers below (pcre2_*_free), which
    -- then jump into unmapped code (a crash at the exit of a failing spec)
    pcall(ffi.cdef, "void *dlopen(const char *file, int mode);")
    ffi.C.dlopen("libpcre2-8.so.0", 2) -- RTLD_NOW
  end
end
_M.lib = lib

-- One match context (with the limits) for every match.
local mctx = ffi_gc(lib.pcre2_match_context_create_8(nil), lib.pcre2_match_context_free_8)
lib.pcre2_set_match_limit_8(mctx, MATCH_LIMIT)
lib.pcre2_set_depth_limit_8(mctx, DEPTH_LIMIT)
_M.mctx = mctx

-- Shared one-pair match data for yes/no matches (compiled rules).
_M.md1 = ffi_gc(lib.pcre2_match_data_create_8(1, nil), lib.pcre2_match_data_free_8)

-- PCRE2's JIT scans subjects in aligned SIMD chunks that may reach past the
-- end of the string (within the same page); valgrind reports those reads as
-- uses of uninitialised memory. EBPF_GUARD_NO_PCRE2_JIT=1 selects PCRE2's
-- interpreter for valgrind runs (scripts/sanitize.sh); results are the same.
local jit_ok = os.getenv("EBPF_GUARD_NO_PCRE2_JIT") ~= "1"

local function errmsg(code)
  local buf = ffi_new("char[256]")
  local n = lib.pcre2_get_error_message_8(code, buf, 256)
  if n < 0 then return "PCRE2 error " .. code end
  return ffi_string(buf, n)
end
_M.errmsg = errmsg

local Regex = {}
Regex.__index = Regex
_M.Regex = Regex

-- Compiles pattern. flags (optional) are extra PCRE2 options; the default is
-- UTF with invalid-UTF subjects allowed and Go's end-only `$`.
-- Returns a regex object, or nil and "<message> at offset <n>".
function _M.new(pattern, flags)
  if type(pattern) ~= "string" then
    return nil, "pattern must be a string, got " .. type(pattern)
  end
  local opts = flags or (_M.UTF + _M.MATCH_INVALID_UTF + _M.DOLLAR_ENDONLY)
  local ec = ffi_new("int[1]")
  local eo = ffi_new("size_t[1]")
  local code = lib.pcre2_compile_8(pattern, #pattern, opts, ec, eo, nil)
  if code == nil then
    return nil, errmsg(ec[0]) .. " at offset " .. tonumber(eo[0])
  end
  code = ffi_gc(code, lib.pcre2_code_free_8)
  local jitted = jit_ok and lib.pcre2_jit_compile_8(code, JIT_COMPLETE) == 0
  if not jitted then jit_ok = false end
  local md = ffi_gc(lib.pcre2_match_data_create_from_pattern_8(code, nil), lib.pcre2_match_data_free_8)
  return setmetatable({ code = code, md = md, jitted = jitted, pattern = pattern }, Regex)
end

-- The match function for compiled code: pcre2_jit_match when every pattern
-- got JIT code, else pcre2_match (which still uses JIT code where it exists).
function _M.match_fn()
  if jit_ok then return lib.pcre2_jit_match_8 end
  return lib.pcre2_match_8
end

local function exec(self, s, init)
  if type(s) ~= "string" then
    error("regex: subject must be a string, got " .. type(s), 3)
  end
  local start = 0
  if init then start = init - 1 end
  if start < 0 or start > #s then return nil end
  local f = self.jitted and lib.pcre2_jit_match_8 or lib.pcre2_match_8
  local rc = f(self.code, s, #s, start, 0, self.md, mctx)
  if rc < 0 then return nil end
  return rc
end

-- Tests a (ptr, len) subject; ptr may be NULL when len is 0.
local EMPTY = ffi_new("char[1]")
function Regex:test_ptr(ptr, len)
  if ptr == nil then ptr = EMPTY; len = 0 end
  local f = self.jitted and lib.pcre2_jit_match_8 or lib.pcre2_match_8
  return f(self.code, ptr, len, 0, 0, self.md, mctx) >= 0
end

-- true when the pattern matches anywhere in s.
function Regex:test(s, init)
  return exec(self, s, init) ~= nil
end

-- Start and end (1-based, inclusive) of the first match, or nil.
function Regex:find(s, init)
  if not exec(self, s, init) then return nil end
  local ov = lib.pcre2_get_ovector_pointer_8(self.md)
  return tonumber(ov[0]) + 1, tonumber(ov[1])
end

-- The matched text followed by the captures (nil for unset ones), or nil.
function Regex:match(s, init)
  local rc = exec(self, s, init)
  if not rc then return nil end
  local ov = lib.pcre2_get_ovector_pointer_8(self.md)
  local n = rc == 0 and tonumber(lib.pcre2_get_ovector_count_8(self.md)) or rc
  local out = {}
  for i = 0, n - 1 do
    local a, b = ov[2 * i], ov[2 * i + 1]
    if a == ffi.cast("size_t", -1) then
      out[i + 1] = false
    else
      out[i + 1] = s:sub(tonumber(a) + 1, tonumber(b))
    end
  end
  for i = 1, n do
    if out[i] == false then out[i] = nil end
  end
  return unpack(out, 1, n)
end

-- Bytes ranked from rare to common in paths and process names: the pre-test
-- below looks for the rarest byte a pattern needs.
local BYTE_RANK = "qjzxkvwyfgbpmhdu.-_cl0123456789rnoitsae/"

-- The position after the character class that starts at p[i] ("["), or
-- nil when it does not end before position last + 1 (classes as PCRE2
-- reads them: a leading ^ and ], escapes, [:name:]).
local function class_end(p, i, last)
  i = i + 1
  if p:sub(i, i) == "^" then i = i + 1 end
  if p:sub(i, i) == "]" then i = i + 1 end
  while i <= last do
    local x = p:sub(i, i)
    if x == "\\" then
      i = i + 2
    elseif x == "[" and p:sub(i + 1, i + 1) == ":" then
      local e = p:find(":]", i + 2, true)
      if not e then return nil end
      i = e + 2
    elseif x == "]" then
      return i + 1
    else
      i = i + 1
    end
  end
  return nil
end

-- Escapes the literal analyses below understand (a class of characters or
-- a position, none a literal); any other letter or digit escape makes them
-- give up.
local SAFE_ESCAPE = "^[dDwWsShHvVbBzZAGR]$"

-- Where the content of the group that opens at s[i] ("(") starts: plain,
-- (?: and named groups ((?<name>, (?P<name>); nil for any other form
-- (options, lookarounds, atomic groups, verbs, recursion).
local function group_start(s, i)
  local q = s:sub(i + 1, i + 1)
  if q == "*" then return nil end
  if q ~= "?" then return i + 1 end
  local r = s:sub(i + 2, i + 2)
  if r == ":" then return i + 3 end
  if (r == "<" and s:sub(i + 3, i + 3):match("[%a_]")) or (r == "P" and s:sub(i + 3, i + 3) == "<") then
    local e = s:find(">", i, true)
    return e and e + 1
  end
  return nil
end

-- One byte that every match of pattern contains, for a memchr pre-test, for
-- patterns that are an alternation of plain words: optional leading (?i),
-- then "a|b|c", "(a|b|c)" or "(?:a|b|c)" with words of letters, digits, "_"
-- and "\-". Returns the byte (lower case when caseless) and whether the match
-- is caseless, or nil.
function _M.required_byte(p)
  if type(p) ~= "string" then return nil end
  local caseless = false
  if p:sub(1, 4) == "(?i)" then
    caseless = true
    p = p:sub(5)
  end
  local body = p:match("^%(%?:(.*)%)$") or p:match("^%((.*)%)$") or p
  body = body:gsub("\\%-", "-")
  if body == "" or not body:match("^[%w_%-|]+$") then return nil end
  local common
  for word in (body .. "|"):gmatch("([^|]*)|") do
    if word == "" then return nil end
    if caseless then word = word:lower() end
    local set = {}
    for c in word:gmatch(".") do set[c] = true end
    if common then
      for c in pairs(common) do
        if not set[c] then common[c] = nil end
      end
    else
      common = set
    end
  end
  local best, best_rank
  for c in pairs(common or {}) do
    -- caseless UTF matching folds K (U+212A) onto k and the long s (U+017F)
    -- onto s: a match need not contain those two bytes
    local usable = not (caseless and (c == "k" or c == "s"))
    local r = BYTE_RANK:find(c, 1, true) or #BYTE_RANK + 1
    if usable and (not best_rank or r < best_rank or (r == best_rank and c < best)) then
      best, best_rank = c, r
    end
  end
  if not best then return nil end
  return best:byte(), caseless and best:match("%a") ~= nil
end

-- The literal prefixes every match of an anchored pattern starts with one
-- of: "^lit" gives { lit }, "^lit(a|b)" and "^lit(?:a|b)" give
-- { lit .. "a", lit .. "b" } when the alternatives are plain literals and
-- the group is not made optional by a quantifier. Conservative: the run
-- stops at the first character that is not a plain literal (a quantified
-- one is left out), and anything unsure (inline options, \Q, a top-level
-- alternation, non-ASCII bytes) gives nil.
function _M.required_prefixes(p)
  if type(p) ~= "string" or p:sub(1, 1) ~= "^" or p:find("\\Q", 1, true) then return nil end
  if p:find("[\128-\255]") then return nil end
  local _, anchored = _M.required_literal(p) -- no top-level alternation, no inline options
  if not anchored then return nil end
  local n, i = #p, 2
  local QUANT = { ["?"] = true, ["*"] = true, ["{"] = true }
  -- a run of plain characters from j: the text, where it stopped, and
  -- whether its last character was taken back (a quantifier follows it)
  local function run(j)
    local t = {}
    while j <= n do
      local c = p:sub(j, j)
      local lit, w
      if c == "\\" then
        local d = p:sub(j + 1, j + 1)
        if d == "" or d:match("%w") then break end
        lit, w = d, 2
      elseif c:match("[%.%[%]%(%)%$%^|%?%*%+{}]") then
        break
      else
        lit, w = c, 1
      end
      local q = p:sub(j + w, j + w)
      if QUANT[q] then return table.concat(t), j, true end
      t[#t + 1] = lit
      if q == "+" then return table.concat(t), j + w, true end
      j = j + w
    end
    return table.concat(t), j, false
  end
  local pre, j, cut = run(i)
  if cut or p:sub(j, j) ~= "(" then return { pre } end
  -- a group of plain alternatives
  j = j + 1
  if p:sub(j, j + 1) == "?:" then j = j + 2 elseif p:sub(j, j) == "?" then return { pre } end
  local alts = {}
  while true do
    local a, k, acut = run(j)
    if acut then return { pre } end
    local c = p:sub(k, k)
    alts[#alts + 1] = pre .. a
    if c == "|" then
      j = k + 1
    elseif c == ")" then
      j = k + 1
      break
    else
      return { pre }
    end
  end
  local q = p:sub(j, j)
  if QUANT[q] then return { pre } end
  return alts
end

-- A literal that every match of pattern contains, found by a conservative
-- scan of the pattern: the longest run of plain characters at the top level
-- (outside groups and classes, not made optional by a quantifier). Returns
-- the literal and whether every match starts at the subject's start with it
-- (a leading ^), or nil when unsure: top-level alternation, inline options
-- such as (?i), escapes other than \d \w \s \b \z \A (and their negations)
-- or punctuation, \Q...\E.
function _M.required_literal(p)
  if type(p) ~= "string" or p:find("\\Q", 1, true) then return nil end
  local n = #p
  local i, depth = 1, 0
  local best, best_anch
  local cur, cur_anch = {}, false
  local function flush(drop_last)
    if drop_last and #cur > 0 then
      -- a quantifier takes the whole last character, UTF-8 continuation bytes and all
      while #cur > 0 and cur[#cur]:byte() >= 0x80 and cur[#cur]:byte() < 0xC0 do cur[#cur] = nil end
      cur[#cur] = nil
    end
    if #cur > 0 then
      local lit = table.concat(cur)
      if cur_anch and not best_anch then
        best, best_anch = lit, true
      elseif not best_anch and (not best or #lit > #best) then
        best = lit
      end
    end
    cur, cur_anch = {}, false
  end
  local function add(ch, at)
    if depth ~= 0 then return end
    if #cur == 0 then cur_anch = (at == 2 and p:sub(1, 1) == "^") end
    cur[#cur + 1] = ch
  end
  while i <= n do
    local c = p:sub(i, i)
    if c == "\\" then
      local d = p:sub(i + 1, i + 1)
      if d == "" then return nil end
      if d:match("%w") then
        if not d:match("^[dwsDWSbBzZA]$") then return nil end
        flush(false)
      else
        add(d, i)
      end
      i = i + 2
    elseif c == "[" then
      flush(false)
      i = class_end(p, i, n)
      if not i then return nil end
    elseif c == "(" then
      if p:sub(i + 1, i + 1) == "?" and p:sub(i + 2, i + 2) ~= ":" then return nil end
      if p:sub(i + 1, i + 1) == "*" then return nil end
      flush(false)
      depth = depth + 1
      i = i + 1
    elseif c == ")" then
      flush(false)
      depth = depth - 1
      if depth < 0 then return nil end
      i = i + 1
    elseif c == "|" then
      if depth == 0 then return nil end
      flush(false)
      i = i + 1
    elseif c == "{" then
      local e = p:find("}", i, true)
      if not e then return nil end
      flush(true)
      i = e + 1
    elseif c == "?" or c == "*" or c == "+" then
      flush(true)
      i = i + 1
    elseif c == "." or c == "^" or c == "$" then
      flush(false)
      i = i + 1
    else
      add(c, i)
      i = i + 1
    end
  end
  if depth ~= 0 then return nil end
  flush(false)
  if not best then return nil end
  return best, best_anch or false
end

-- What to test before running pattern p (one of the two holds for every
-- match): "set", a set of literals (required_set) and whether to search
-- for them caselessly, when sets (a one-pass search for any of several
-- literals) is true and the set beats the single literal (longer, and that
-- literal does not start every match); else "lit", the
-- literal every match contains and whether every match starts with it;
-- else nil.
function _M.pretest(p, sets)
  local lit, anchored = _M.required_literal(p)
  local set, caseless = _M.required_set(p)
  -- a literal that starts every match is compared in place (and its
  -- required_prefixes after it): kept
  if set and lit and (anchored or #lit >= _M.shortest(set)) then set = nil end
  if set and #set == 1 and not caseless then return "lit", set[1], false end
  if set and sets then return "set", set, caseless end
  if lit then return "lit", lit, anchored end
  return nil
end

-- The length of the shortest string of a list.
function _M.shortest(set)
  local m = math.huge
  for _, v in ipairs(set) do if #v < m then m = #v end end
  return m
end

-- A set of literals one of which every match of pattern contains, for a
-- one-pass search of the subject (src/textmatch.c) before PCRE2 runs: for
-- alternations with no single required literal
-- ("/\.aws/credentials$|/\.kube/config$") or with a weak one ("^(/root|/home/
-- [^/]+)/(\.bashrc|\.profile)$": "/"). Found by parsing the pattern: a
-- sequence's candidates are its runs of plain characters (one literal each)
-- and its required groups (the union of their branches' sets); the
-- candidate whose shortest literal is longest wins; an alternation's set is
-- the union of its branches'. Conservative: nil when any branch has no
-- literal, and when unsure: inline options such as (?i), \Q, lookarounds,
-- atomic groups, backtracking verbs, escapes other than punctuation and
-- \d \w \s \h \v \b \z \A \G (and their negations, \R), a "{" that is not
-- {n}, {n,} or {n,m}, non-ASCII bytes. A literal that contains another of
-- the set is left out (the shorter is found whenever it is). A pattern
-- that starts with (?i) gives the set of the rest in lower case and true:
-- search for them in either case (a subject with non-ASCII bytes must pass:
-- caseless UTF matching folds the Kelvin sign onto k, the long s onto s).
function _M.required_set(p)
  if type(p) ~= "string" or p == "" or p:find("[\128-\255]") or p:find("\\Q", 1, true) then return nil end
  -- a leading (?i): the literals of the rest, found in either case
  if p:sub(1, 4) == "(?i)" then
    local set = _M.required_set(p:sub(5))
    if not set then return nil end
    local low = {}
    for i, v in ipairs(set) do low[i] = v:lower() end
    return low, true
  end
  local n, i = #p, 1
  local BAD = {}
  local function bad() error(BAD, 0) end
  local parse_alt
  -- a quantifier at i: its minimum count (advancing past it and a lazy or
  -- possessive mark), or nil when there is none
  local function quant()
    local c = p:sub(i, i)
    local min
    if c == "?" or c == "*" then
      min, i = 0, i + 1
    elseif c == "+" then
      min, i = 1, i + 1
    elseif c == "{" then
      local a, e = p:match("^{(%d+)}()", i)
      if not a then a, e = p:match("^{(%d+),%d*}()", i) end
      if not a then bad() end
      min, i = tonumber(a), e
    else
      return nil
    end
    local m = p:sub(i, i)
    if m == "?" or m == "+" then i = i + 1 end
    return min
  end
  -- the better of two sets: the longer shortest literal, then fewer literals
  local shortest = _M.shortest
  local function better(a, b)
    if not a then return b end
    if not b then return a end
    local ma, mb = shortest(a), shortest(b)
    if ma ~= mb then return ma > mb and a or b end
    return #b < #a and b or a
  end
  -- a sequence (up to "|" or ")"): its best set, or nil
  local function parse_seq()
    local best, run = nil, {}
    local function cut()
      if #run > 0 then best = better(best, { table.concat(run) }) end
      run = {}
    end
    while i <= n do
      local c = p:sub(i, i)
      if c == "|" or c == ")" then break end
      local lit, set
      if c == "\\" then
        local d = p:sub(i + 1, i + 1)
        if d == "" then bad() end
        if d:match("%w") then
          if not d:match(SAFE_ESCAPE) then bad() end
        else
          lit = d
        end
        i = i + 2
      elseif c == "[" then
        i = class_end(p, i, n) or bad()
      elseif c == "(" then
        i = group_start(p, i) or bad()
        set = parse_alt()
        if p:sub(i, i) ~= ")" then bad() end
        i = i + 1
      elseif c == "?" or c == "*" or c == "+" or c == "{" then
        bad()
      elseif c == "." or c == "^" or c == "$" then
        i = i + 1
      else
        lit = c
        i = i + 1
      end
      local min = quant()
      if lit then
        if min == 0 then
          cut()
        else
          run[#run + 1] = lit
          if min then cut() end
        end
      else
        cut()
        if set and min ~= 0 then best = better(best, set) end
      end
    end
    cut()
    return best
  end
  -- an alternation (up to ")" or the end): the union of its branches' sets
  function parse_alt()
    local all, seen = {}, {}
    while true do
      local set = parse_seq()
      if not set then
        -- a branch with no literal: nothing is required (still parsed,
        -- for the caller's ")")
        all = nil
      end
      for _, v in ipairs(set or {}) do
        if all and not seen[v] then seen[v] = true; all[#all + 1] = v end
      end
      if p:sub(i, i) ~= "|" then break end
      i = i + 1
    end
    return all
  end
  -- (anything unexpected also gives nil: the pattern then runs alone)
  local ok, set = pcall(parse_alt)
  if not ok then return nil end
  if not set or i <= n then return nil end
  -- leave out a literal that contains another one of the set
  table.sort(set, function(a, b) return #a < #b or (#a == #b and a < b) end)
  local out = {}
  for _, v in ipairs(set) do
    local dup = false
    for _, u in ipairs(out) do
      if v:find(u, 1, true) then dup = true break end
    end
    if not dup then out[#out + 1] = v end
  end
  return out, false
end

-- The literal suffixes every match of pattern ends with one of, for a
-- pattern that ends with $ (end-only: the default flags) or \z: the run of
-- plain characters before it ("/token$": { "/token" }), or, when a group
-- comes last, each of its alternatives' last run of plain characters
-- ("^/proc/[0-9]+/(task/[0-9]+/)?(mem|environ)$": { "mem", "environ" }).
-- Conservative: nil when a run is empty or unsure (a top-level
-- alternation, inline options, \Q, lookarounds, escapes other than
-- punctuation and \d \w \s \h \v \b \z \A \G and negations, non-ASCII).
function _M.required_suffixes(p)
  if type(p) ~= "string" or p:find("[\128-\255]") or p:find("\\Q", 1, true) then return nil end
  local body
  if p:sub(-2) == "\\z" then
    body = p:sub(1, -3)
  elseif p:sub(-1) == "$" then
    body = p:sub(1, -2)
  else
    return nil
  end
  -- the $ or \z must not be escaped itself: an even run of backslashes
  local bs = 0
  for i = #body, 1, -1 do
    if body:sub(i, i) == "\\" then bs = bs + 1 else break end
  end
  if bs % 2 == 1 then return nil end
  local n = #body
  -- one forward pass: the trailing run of plain characters of [from, to)
  -- at depth 0 relative to from, and where each top-level group starts
  local BAD = {}
  local function scan(from, to)
    local run, depth, i = {}, 0, from
    local last_group -- { open, close } of the last group at this depth
    local alts = {}  -- positions of "|" at this depth
    while i < to do
      local c = body:sub(i, i)
      local lit
      if c == "\\" then
        local d = body:sub(i + 1, i + 1)
        if d == "" then error(BAD) end
        if d:match("%w") then
          if not d:match(SAFE_ESCAPE) then error(BAD) end
        else
          lit = d
        end
        i = i + 2
      elseif c == "[" then
        i = class_end(body, i, to - 1)
        if not i then error(BAD) end
      elseif c == "(" then
        if not group_start(body, i) then error(BAD) end
        if depth == 0 then last_group = { i } end
        depth = depth + 1
        i = i + 1
      elseif c == ")" then
        depth = depth - 1
        if depth < 0 then error(BAD) end
        if depth == 0 then last_group[2] = i end
        i = i + 1
      elseif c == "|" then
        if depth == 0 then alts[#alts + 1] = i end
        i = i + 1
      else
        if c ~= "." and c ~= "^" and c ~= "$" and c ~= "?" and c ~= "*" and c ~= "+" and c ~= "{" then lit = c end
        i = i + 1
        if c == "{" then
          local e = body:find("}", i, true)
          if not e then error(BAD) end
          i = e + 1
        end
      end
      -- anything but a plain character ends the run, a quantifier too (the
      -- suffix would then be what repeats, or nothing); a quantified last
      -- group does not end the body (below)
      if depth == 0 then
        if lit then run[#run + 1] = lit else run = {} end
      end
    end
    if depth ~= 0 then error(BAD) end
    return table.concat(run), last_group, alts
  end
  local ok, res = pcall(function()
    local run, group, alts = scan(1, n + 1)
    if #alts > 0 then return nil end
    if run ~= "" then return { run } end
    -- the last item is a group ending at the end of the body (a quantifier
    -- after it would be the body's end)
    if not group or group[2] ~= n then return nil end
    local open = group_start(body, group[1])
    local _, _, inner = scan(open, n)
    local out, from = {}, open
    inner[#inner + 1] = n
    for _, bar in ipairs(inner) do
      local r = scan(from, bar)
      if r == "" then return nil end
      out[#out + 1] = r
      from = bar + 1
    end
    return out
  end)
  if not ok then return nil end
  return res
end

return _M
