-- The built-ins' C text tests (src/textmatch.c) against the PCRE2 regexes
-- they replace (lua/ebpf_guard/builtins.lua): same answer on every string.
local ffi = require("ffi")
local T = require("ebpf_guard.testing")
local builtins = require("ebpf_guard.builtins")
local regex = require("ebpf_guard.regex")

pcall(ffi.cdef, "int eg_text_shellish(const char *s, uint32_t len, int tail_only);")
pcall(ffi.cdef, "int eg_text_miner_hint(const char *s, uint32_t len);")
local compile = require("ebpf_guard.compile")
pcall(ffi.cdef, "int eg_text_find_any(const char *s, uint32_t len, const struct eg_lits *set);")
local lib = T.lib

local function rx(id, name)
  local spec = builtins.IDS[id].regexes[name]
  return assert(regex.new(spec[1], spec[2]))
end

local SHELL_COMM = rx("builtin_suspicious_shell", "comm")
local SHELL_FN = rx("builtin_suspicious_shell", "fn")
local MINER_HINT = rx("builtin_crypto_exec", "hint")

-- every test, on one string: the C answers and the regexes'
local function check(s)
  local n = #s
  assert.equals(SHELL_COMM:test(s), lib.eg_text_shellish(s, n, 0) ~= 0, "comm: " .. ("%q"):format(s))
  assert.equals(SHELL_FN:test(s), lib.eg_text_shellish(s, n, 1) ~= 0, "filename: " .. ("%q"):format(s))
  assert.equals(MINER_HINT:test(s), lib.eg_text_miner_hint(s, n) ~= 0, "hint: " .. ("%q"):format(s))
end

describe("textmatch", function()
  -- the letters of the words, in both cases, the separator, a NUL, and
  -- bytes that fold in Latin-1 or UTF-8 but not in PCRE2's ASCII tables
  local ALPHABET = { "s", "h", "S", "H", "b", "B", "a", "A", "d", "D", "z", "Z", "k", "K", "/",
    "x", "X", "m", "M", "r", "R", "i", "I", "n", "N", "e", "E", "\0", "\192", "\224", "\197\191", "." }

  it("answers as the regexes on every string of up to 4 of the alphabet's letters", function()
    local checked = 0
    local function walk(prefix, depth)
      check(prefix)
      checked = checked + 1
      if depth == 0 then return end
      for _, c in ipairs(ALPHABET) do walk(prefix .. c, depth - 1) end
    end
    walk("", 3)
    -- the 4-letter strings over the letters that matter most
    local few = { "s", "h", "a", "b", "z", "/", "S", "H" }
    for _, a in ipairs(few) do for _, b in ipairs(few) do for _, c in ipairs(few) do for _, d in ipairs(few) do
      check(a .. b .. c .. d)
      checked = checked + 1
    end end end end
    assert.is_true(checked > 30000)
  end)

  it("answers as the regexes on random paths and names", function()
    math.randomseed(20261126)
    local words = { "bash", "BaSh", "dash", "zsh", "ksh", "sh", "s", "h", "xmr", "XMRig", "miner", "Miner",
      "minerd", "usr", "bin", "/", "/", "-", "x", "m", "\0", "\255", "tmp" }
    for _ = 1, 20000 do
      local t = {}
      for k = 1, math.random(0, 6) do t[k] = words[math.random(#words)] end
      check(table.concat(t))
    end
  end)

  it("finds any of several literals exactly where a plain search does", function()
    math.randomseed(7)
    local letters = { "a", "b", "/", ".", "\0", "x" }
    local function word(max)
      local t = {}
      for k = 1, math.random(1, max) do t[k] = letters[math.random(#letters)] end
      return table.concat(t)
    end
    local found = 0
    for _ = 1, 20000 do
      local lits = {}
      -- sets of up to 32: each literal is anchored on its rarest byte
      for k = 1, math.random(1, math.random(4) == 1 and 32 or 6) do lits[k] = word(4) end
      local hay = math.random(5) == 1 and "" or word(24)
      local want = false
      for _, v in ipairs(lits) do
        if hay:find(v, 1, true) then want = true end
      end
      local set = assert(compile.lits(lits))
      assert.equals(want, lib.eg_text_find_any(hay, #hay, set) ~= 0, ("%q in %q"):format(table.concat(lits, "|"), hay))
      if want then found = found + 1 end
    end
    assert.is_true(found > 5000 and found < 19000)
  end)

  it("finds any of several literals in either ASCII case in a caseless set; non-ASCII subjects pass", function()
    math.randomseed(8)
    local letters = { "a", "B", "k", "S", "/", ".", "x", "\226\132\170" }
    local function word(max, ascii)
      local t = {}
      for k = 1, math.random(1, max) do t[k] = letters[math.random(ascii and 7 or #letters)] end
      return table.concat(t)
    end
    local found, passed = 0, 0
    for _ = 1, 20000 do
      local lits = {}
      for k = 1, math.random(1, 8) do lits[k] = word(4, true) end
      local hay = math.random(5) == 1 and "" or word(20, math.random(3) > 1)
      local want = hay:find("[\128-\255]") ~= nil
      if want then passed = passed + 1 end
      for _, v in ipairs(lits) do
        if hay:lower():find(v:lower(), 1, true) then want = true end
      end
      local set = assert(compile.lits(lits, true))
      assert.equals(want, lib.eg_text_find_any(hay, #hay, set) ~= 0, ("%q in %q"):format(table.concat(lits, "|"), hay))
      if want then found = found + 1 end
    end
    assert.is_true(found > 5000 and found < 19000 and passed > 1000, found .. " " .. passed)
  end)

  it("answers the same 16 bytes at a time as byte by byte, on long subjects, exactly and caselessly", function()
    math.randomseed(9)
    -- 48 distinct bytes: sets of many literals have more than 16 anchors
    -- (byte by byte only); a subject's literal lands anywhere in a block,
    -- across two, or in the tail after the last whole block
    local letters = {}
    for c in ("abcdefghijklmnopqrstuvwxyzABCDEFGH0123456789/.-_ "):gmatch(".") do letters[#letters + 1] = c end
    letters[#letters + 1] = "\0"
    local high = { "\200", "\226\132\170" }
    local function word(max, ascii)
      local t = {}
      for k = 1, math.random(1, max) do
        t[k] = (not ascii and math.random(30) == 1) and high[math.random(2)] or letters[math.random(#letters)]
      end
      return table.concat(t)
    end
    local wide, narrow, found = 0, 0, 0
    for _ = 1, 20000 do
      local caseless = math.random(3) == 1
      local lits = {}
      for k = 1, math.random(1, math.random(3) == 1 and 32 or 4) do lits[k] = word(5, true) end
      local hay = math.random(8) == 1 and "" or word(100, caseless and math.random(2) == 1 or not caseless)
      if math.random(2) == 1 then
        local at = math.random(0, #hay)
        hay = hay:sub(1, at) .. lits[math.random(#lits)] .. hay:sub(at + 1)
      end
      local want = caseless and hay:find("[\128-\255]") ~= nil
      for _, v in ipairs(lits) do
        if caseless then
          if hay:lower():find(v:lower(), 1, true) then want = true end
        elseif hay:find(v, 1, true) then
          want = true
        end
      end
      local set = assert(compile.lits(lits, caseless))
      local what = ("%s%q in %q"):format(caseless and "caseless " or "", table.concat(lits, "|"), hay)
      if set.nanchor > 0 then wide = wide + 1 else narrow = narrow + 1 end
      assert.equals(want, lib.eg_text_find_any(hay, #hay, set) ~= 0, what)
      -- the same set searched byte by byte
      set.nanchor = 0
      assert.equals(want, lib.eg_text_find_any(hay, #hay, set) ~= 0, "byte by byte: " .. what)
      if want then found = found + 1 end
    end
    assert.is_true(wide > 10000 and narrow > 1000 and found > 8000 and found < 18000,
      ("%d sets searched 16 bytes at a time, %d byte by byte only, %d found"):format(wide, narrow, found))
  end)

  it("lists a set's distinct anchor bytes, both cases for a caseless one, none past 16", function()
    local set = assert(compile.lits({ "xa", "yb", "xc" }))
    -- each literal's rarest byte: x, y, x
    assert.equals(2, set.nanchor)
    assert.same({ ("x"):byte(), ("y"):byte() }, { set.anchor[0], set.anchor[1] })
    local ci = assert(compile.lits({ "Qa" }, true))
    assert.equals(2, ci.nanchor)
    assert.same({ ("Q"):byte(), ("q"):byte() }, { ci.anchor[0], ci.anchor[1] })
    local many = {}
    for k = 1, 17 do many[k] = string.char(64 + k) end
    assert.equals(0, assert(compile.lits(many)).nanchor)
    many[17] = nil
    assert.equals(16, assert(compile.lits(many)).nanchor)
  end)

  it("builds no set it cannot hold: an empty literal, more than 32, more than 1024 bytes", function()
    assert.is_nil(compile.lits({ "a", "" }))
    local many = {}
    for k = 1, 32 do many[k] = "x" .. k end
    assert.is_not_nil(compile.lits(many))
    many[33] = "x33"
    assert.is_nil(compile.lits(many))
    assert.is_nil(compile.lits({ ("y"):rep(1025) }))
    assert.is_not_nil(compile.lits({ ("y"):rep(1024) }))
  end)

  it("runs the rules' short contains lists through it in the daemon", function()
    local eng = T.engine({ yaml = [[
rules:
  - id: two_words
    description: args with either word
    event_types: [exec]
    match:
      args: {contains: [stratum, donate-level]}
]] })
    local ids = T.ids(eng:run({
      { type = "exec", filename = "/usr/bin/x", args = { "x", "--url=stratum+tcp://pool" } },
      { type = "exec", filename = "/usr/bin/x", args = { "x", "--donate-level", "1" } },
      { type = "exec", filename = "/usr/bin/x", args = { "x", "stratu", "m" } },
    }))
    assert.same({ "two_words", "two_words" }, ids)
  end)

  it("takes a NULL string of length 0", function()
    assert.equals(0, lib.eg_text_shellish(nil, 0, 0))
    assert.equals(0, lib.eg_text_shellish(nil, 0, 1))
    assert.equals(0, lib.eg_text_miner_hint(nil, 0))
  end)

  it("is what the daemon's built-ins use: the same hits as the regexes", function()
    local names = { "bash", "sh", "xmrig", "ls", "dash", "/bin/sh", "minerd", "kshell", "python3", "BASH" }
    local events = {}
    for _, a in ipairs(names) do
      for _, f in ipairs({ "/usr/bin/" .. a, "/tmp/" .. a .. "/x", a }) do
        events[#events + 1] = { type = "exec", comm = a, filename = f, exe = f }
      end
    end
    -- the daemon's engine (C tests) and the rule set's own regexes
    local eng = T.engine({ rules = {} })
    local got = {}
    for i, ev in ipairs(events) do
      for _, a in ipairs(eng:run({ ev })) do got[#got + 1] = i .. ":" .. a.rule_id end
    end
    local want = {}
    for i, ev in ipairs(events) do
      local exe_ok = true
      if SHELL_COMM:test(ev.comm) or SHELL_FN:test(ev.filename) or (exe_ok and SHELL_FN:test(ev.exe)) then
        want[#want + 1] = i .. ":builtin_suspicious_shell"
      end
      local name = rx("builtin_crypto_exec", "name")
      for _, s in ipairs({ ev.comm, ev.filename, ev.exe }) do
        if MINER_HINT:test(s) and name:test(s) then
          want[#want + 1] = i .. ":builtin_crypto_exec"
          break
        end
      end
    end
    table.sort(got)
    table.sort(want)
    assert.same(want, got)
    assert.is_true(#want > 10)
  end)
end)
