local ffi = require("ffi")
local regex = require("ebpf_guard.regex")

-- "pattern on subject" for every subject a pattern matches that its
-- pre-test (pretest(pattern) -> function(subject) -> passes) would reject.
local function rejected_matches(patterns, subjects, pretest)
  local bad = {}
  for _, p in ipairs(patterns) do
    local re = assert(regex.new(p))
    local passes = pretest(p)
    for _, s in ipairs(subjects) do
      if passes and re:test(s) and not passes(s) then bad[#bad + 1] = p .. " on " .. s end
    end
  end
  return bad
end

-- Random patterns of a small grammar (characters, a class, ".", groups of
-- alternatives, quantifiers; anchors unless anchors is false) and random
-- subjects over the same characters: gen.alt(0) a pattern, gen.seq(0) one
-- without a top-level alternation, gen.subjects a list of 300.
local function random_regexes(seed, anchors)
  math.randomseed(seed)
  local CH = { "a", "b", "c", "/", "\\.", "x" }
  local gen = {}
  local function atom(d)
    local r = math.random(10)
    if r <= 5 then return CH[math.random(#CH)] end
    if r == 6 then return "[ab]" end
    if r == 7 then return "." end
    if r == 8 and d < 3 then return "(" .. gen.alt(d + 1) .. ")" end
    if r == 9 and d < 3 then return "(?:" .. gen.alt(d + 1) .. ")" end
    if anchors == false then return "\\d" end
    return ({ "^", "$", "\\d" })[math.random(3)]
  end
  function gen.seq(d)
    local t = {}
    for k = 1, math.random(anchors == false and 1 or 0, 4) do
      local a = atom(d)
      if a ~= "^" and a ~= "$" and math.random(4) == 1 then
        a = a .. ({ "?", "*", "+", "{2}", "{1,3}", "+?", "{0,2}" })[math.random(7)]
      end
      t[k] = a
    end
    return table.concat(t)
  end
  function gen.alt(d)
    local t = {}
    for k = 1, math.random(1, 3) do t[k] = gen.seq(d) end
    return table.concat(t, "|")
  end
  local SUB = { "a", "b", "c", "/", ".", "x", "1" }
  gen.subjects = {}
  for k = 1, 300 do
    local t = {}
    for j = 1, math.random(0, 10) do t[j] = SUB[math.random(#SUB)] end
    gen.subjects[k] = table.concat(t)
  end
  return gen
end

describe("regex", function()
  describe("new", function()
    it("compiles with JIT", function()
      assert.is_true(regex.new("a+b").jitted)
    end)

    it("reports PCRE2's message and the offset of a syntax error", function()
      assert.same({ nil, "quantifier does not follow a repeatable item at offset 0" }, { regex.new("*a") })
    end)

    it("rejects a pattern that is not a string", function()
      assert.same({ nil, "pattern must be a string, got number" }, { regex.new(5) })
    end)

    it("frees its handles with the garbage collector", function()
      local before = collectgarbage("count")
      for _ = 1, 2000 do regex.new("(?i)(bash|sh|zsh|ksh|dash)") end
      collectgarbage()
      collectgarbage()
      assert.is_true(collectgarbage("count") < before + 200)
    end)
  end)

  describe("test", function()
    it("searches anywhere in the subject", function()
      assert.is_true(regex.new("miner"):test("/opt/xminerd"))
    end)

    it("supports (?i)", function()
      assert.is_true(regex.new("(?i)XMRIG"):test("xmrig"))
    end)

    it("matches subjects with invalid UTF-8", function()
      assert.is_true(regex.new("evil"):test("\255\254/evil\192"))
    end)

    it("anchors $ at the very end only, like Go", function()
      assert.same({ true, false }, { regex.new("a$"):test("a"), regex.new("a$"):test("a\n") })
    end)
  end)

  describe("test_ptr", function()
    it("matches a (pointer, length) subject without a terminating NUL", function()
      local buf = ffi.new("char[8]", "abcXYZ")
      local re = regex.new("^abc$")
      assert.same({ true, false }, { re:test_ptr(buf, 3), re:test_ptr(buf, 6) })
    end)

    it("sees bytes after an embedded NUL", function()
      assert.is_true(regex.new("b"):test_ptr("a\0b", 3))
    end)

    it("treats a NULL pointer as the empty string", function()
      assert.same({ true, false }, { regex.new("^$"):test_ptr(nil, 0), regex.new("x"):test_ptr(nil, 0) })
    end)
  end)

  describe("match limit", function()
    it("gives up on catastrophic backtracking instead of hanging", function()
      local re = regex.new("^(a+)+$")
      local t0 = os.clock()
      assert.is_false(re:test(("a"):rep(40) .. "b"))
      assert.is_true(os.clock() - t0 < 1)
    end)

    -- The first alternative backtracks through ~2^18 states before failing;
    -- the second then matches. PCRE2's default limit (10,000,000) lets it
    -- match; ours (100,000) stops it first, and the subject counts as no match.
    it("is 100,000 steps, far below PCRE2's default", function()
      local re = regex.new("^(?:(a+)+b|a+c)")
      assert.same({ false, true }, { re:test(("a"):rep(18) .. "c"), re:test(("a"):rep(12) .. "c") })
    end)
  end)

  describe("depth limit (PCRE2's interpreter, without JIT)", function()
    local C = ffi.C
    pcall(ffi.cdef, "int setenv(const char *, const char *, int); int unsetenv(const char *);")
    local interp
    setup(function()
      -- regex.lua picks the interpreter at load time from this variable
      C.setenv("EBPF_GUARD_NO_PCRE2_JIT", "1", 1)
      package.loaded["ebpf_guard.regex"] = nil
      interp = require("ebpf_guard.regex")
      package.loaded["ebpf_guard.regex"] = regex
      C.unsetenv("EBPF_GUARD_NO_PCRE2_JIT")
    end)

    it("stops a match that nests 20,000 backtracking frames (limit 10,000)", function()
      local re = interp.new("^(a|b)*$")
      assert.same({ false, false, true }, { re.jitted, re:test(("ab"):rep(10000)), re:test(("ab"):rep(2000)) })
    end)
  end)

  describe("compiled code", function()
    -- PCRE2's code and JIT code live outside the Lua heap: a regex dropped by
    -- Lua must free them (10,000 leaked patterns hold ~27 MB). Measured in a
    -- child process, whose heap is not shared with the other specs.
    it("is freed with the regex object (RSS flat over 10,000 compiles)", function()
      local p = assert(io.popen("luajit -e 'package.path=\"./lua/?.lua;\"..package.path' spec/helpers/regex_churn.lua"))
      local grew = tonumber(p:read("*a"))
      p:close()
      assert.is_number(grew)
      assert.is_true(grew < 4e6, ("RSS grew by %d bytes"):format(grew))
    end)
  end)

  describe("required_literal", function()
    local cases = {
      { "^/etc/(shadow|gshadow)(\\.d/|$)", "/etc/", true },
      { "/\\.ssh/(id_[^/]*|authorized_keys2?)$", "/.ssh/", false },
      { "^(ba|z|k|da)?sh$", "sh", false },
      { "a{3}bc", "bc", false },
      { "x\\d+yz", "yz", false },
      { "[[:alpha:]]+foo]", "foo]", false },
      { "\xc3\xa9?abc", "abc", false },
      { "^ab*cd", "a", true },
      { "(?i)ssh", nil },
      { "a|b", nil },
      { "\\x41bc", nil },
      { "(?P<n>x)yy", nil },
    }
    for _, c in ipairs(cases) do
      it("finds " .. tostring(c[2]) .. " in " .. c[1], function()
        local lit, anchored = regex.required_literal(c[1])
        assert.same({ c[2], c[3] }, { lit, anchored })
      end)
    end

    it("never rejects a subject the pattern matches", function()
      local patterns = {
        "^/etc/(shadow|gshadow|sudoers)(\\.d/|$|-)", "/\\.ssh/(id_[^/]*|authorized_keys2?)$",
        "^/(tmp|var/tmp|dev/shm)/", "^(ba|z|k|da)?sh$", "ab?c", "a+b*c?d", "x\\.?y", "^a.b", "q[x-z]{2}r",
        "(ab)+cd", "\xc3\xa9?z", "^\\.\\w+x$", "s{0}h", "o(?:p|q)r",
      }
      local subjects = {
        "/etc/shadow", "/etc/sudoers.d/x", "/home/u/.ssh/id_rsa", "/root/.ssh/authorized_keys2", "/tmp/x",
        "/var/tmp/y", "sh", "bash", "zsh", "ac", "abc", "ad", "abbd", "acd", "xy", "x.y", "a\nb", "aXb", "qxyr",
        "ababcd", "cd", "\xc3\xa9z", "z", "\xc3z", ".abx", "h", "opr", "oqr", "",
      }
      assert.same({}, rejected_matches(patterns, subjects, function(p)
        local lit, anchored = regex.required_literal(p)
        if not lit then return nil end
        return function(s)
          if anchored then return s:sub(1, #lit) == lit end
          return s:find(lit, 1, true) ~= nil
        end
      end))
    end)
  end)

  describe("required_set", function()
    local cases = {
      { "/\\.aws/credentials$|/\\.kube/config$", { "/.aws/credentials", "/.kube/config" } },
      { "^(/root|/home/[^/]+)/(\\.bashrc|\\.profile)$", { ".bashrc", ".profile" } },
      { "shadow|(gsh|sh)adow", { "adow" } }, -- "shadow" contains "adow": left out
      { "x(ab)?yz|q", { "q", "yz" } },
      { "a{2}b|cd", { "a", "cd" } },
      { "(?<n>abc)|def", { "abc", "def" } },
      { "ab+c|d", { "ab", "d" } },
      { "(a|)bc", { "bc" } },
      { "(?i)abc|def", { "abc", "def" }, true }, -- a leading (?i): either case
      { "(?i)(^|/)(LinPeas|pspy(32|64)?)(\\.sh)?$", { "linpeas", "pspy" }, true },
      { "a(?i)bc|def", nil },     -- inline options elsewhere: unsure
      { "abc|.*", nil },          -- a branch with no literal
      { "a|b\\x41", nil },        -- an escape that is not understood
      { "a{,3}|b", nil },         -- "{" that is not a quantifier here
      { "(?=ab)c|d", nil },       -- lookaround
      { "\xc3\xa9|x", nil },      -- non-ASCII
    }
    for _, c in ipairs(cases) do
      it("finds " .. (c[2] and table.concat(c[2], ",") or "nothing") .. " in " .. c[1], function()
        local set, caseless = regex.required_set(c[1])
        if set then table.sort(set) end
        local want = c[2]
        if want then table.sort(want) end
        assert.same(want, set)
        assert.equals(c[3] == true, caseless == true)
      end)
    end

    -- random patterns of a small grammar on random subjects: a subject the
    -- pattern matches always contains one of the set's literals
    it("never rejects a subject the pattern matches (random patterns)", function()
      local gen = random_regexes(11)
      local subjects, alt = gen.subjects, gen.alt
      -- caseless patterns, on subjects in mixed case: found in either case
      for k = 1, 100 do subjects[#subjects + 1] = subjects[k]:upper() end
      subjects[#subjects + 1] = "\226\132\170" -- the Kelvin sign: non-ASCII, passes
      local tried, with_set, bad = 0, 0, {}
      for z = 1, 1500 do
        local p = (z % 3 == 0 and "(?i)" or "") .. alt(0)
        local re = regex.new(p)
        if re then
          tried = tried + 1
          local set, caseless = regex.required_set(p)
          if set then
            with_set = with_set + 1
            for _, s in ipairs(subjects) do
              if re:test(s) then
                local ok = caseless and s:find("[\128-\255]") ~= nil
                local hay = caseless and s:lower() or s
                for _, v in ipairs(set) do if hay:find(v, 1, true) then ok = true break end end
                if not ok then bad[#bad + 1] = p .. " on " .. s .. " (set " .. table.concat(set, ",") .. ")" end
              end
            end
          end
        end
      end
      assert.same({}, bad)
      assert.is_true(tried > 1000 and with_set > 300, tried .. " patterns, " .. with_set .. " with a set")
    end)
  end)

  describe("required_suffixes", function()
    local cases = {
      { "^/proc/[0-9]+/(task/[0-9]+/)?(mem|environ)$", { "mem", "environ" } },
      { "/token$", { "/token" } },
      { "ab\\z", { "ab" } },
      { "a\\.$", { "a." } },
      { "(?<n>x|yz)$", { "x", "yz" } },
      { "a+$", nil },        -- the suffix is what repeats
      { "(a|b)?$", nil },    -- the last group may be absent
      { "a(b|)$", nil },     -- an empty alternative
      { "a|b$", nil },       -- a top-level alternation
      { "a\\$", nil },       -- an escaped $ is no anchor
      { "(?i)abc$", nil },
      { "(?P>n)x|(?P<n>a)$", nil },
      { "abc", nil },
    }
    for _, c in ipairs(cases) do
      it("finds " .. (c[2] and table.concat(c[2], ",") or "nothing") .. " in " .. c[1], function()
        assert.same(c[2], regex.required_suffixes(c[1]))
      end)
    end

    it("never rejects a subject the pattern matches (random patterns ending with $)", function()
      local gen = random_regexes(12, false)
      local subjects, seq = gen.subjects, gen.seq
      local with, bad = 0, {}
      for _ = 1, 1500 do
        local p = seq(0) .. (math.random(2) == 1 and "$" or "\\z")
        local re = regex.new(p)
        local sufs = re and regex.required_suffixes(p)
        if sufs then
          with = with + 1
          for _, s in ipairs(subjects) do
            if re:test(s) then
              local ok = false
              for _, x in ipairs(sufs) do if s:sub(-#x) == x then ok = true end end
              if not ok then bad[#bad + 1] = p .. " on " .. s end
            end
          end
        end
      end
      assert.same({}, bad)
      assert.is_true(with > 300, with .. " patterns with suffixes")
    end)
  end)

  describe("pretest", function()
    it("prefers a set when it beats the single literal, and a literal otherwise", function()
      assert.same({ "set", { "/.kube/config", "/.aws/credentials" }, false },
        { regex.pretest("/\\.aws/credentials$|/\\.kube/config$", true) })
      -- no one-pass search (plain LuaJIT): no set; this pattern has no literal
      assert.same({}, { regex.pretest("/\\.aws/credentials$|/\\.kube/config$", false) })
      -- "/.ssh/" is as long as the group's shortest ("id_"): the literal
      assert.same({ "lit", "/.ssh/", false }, { regex.pretest("/\\.ssh/(id_[^/]*|authorized_keys2?)$", true) })
      assert.same({ "lit", "/etc/", true }, { regex.pretest("^/etc/(shadow|gshadow)", true) })
      assert.same({ "set", { "bash" }, true }, { regex.pretest("(?i)bash", true) })
      assert.same({}, { regex.pretest("a|.*", true) })
    end)
  end)

  describe("required_byte", function()
    local cases = {
      { "(?i)(xmrig|minerd|cryptominer)", 109, true },
      { "(?i)(bash|sh|zsh|ksh|dash)", 104, true },
      { "(?:ab|ac)", 97, false },
      { "x\\-y|y", 121, false },
      { "ks", 107, false },
      { "(?i)ks", nil },   -- caseless k and s fold onto non-ASCII letters
      { "foo|bar", nil },  -- no byte in common
      { "a.b", nil },      -- not plain words
      { "(a|)", nil },     -- an empty alternative matches anywhere
    }
    for _, c in ipairs(cases) do
      it("finds " .. tostring(c[2]) .. " in " .. c[1], function()
        local byte, caseless = regex.required_byte(c[1])
        assert.same({ c[2], c[3] }, { byte, caseless })
      end)
    end

    it("never rejects a subject the pattern matches", function()
      local patterns = {
        "(?i)(xmrig|minerd|cryptominer)", "(?i)(bash|sh|zsh|ksh|dash)", "(?i)ssh", "nc|ncat", "(?:Ab|aC)",
      }
      local subjects = {
        "/opt/XMRig", "MINERD", "cryptoMiner", "bash", "SH", "ZSH", "sshd", "SSH", "\xe2\x84\xaash", "nc",
        "ncat", "ab", "Ab", "aC", "",
      }
      assert.same({}, rejected_matches(patterns, subjects, function(p)
        local byte, caseless = regex.required_byte(p)
        if not byte then return nil end
        local c = string.char(byte)
        return function(s)
          return s:find(c, 1, true) ~= nil or (caseless and s:find(c:upper(), 1, true) ~= nil)
        end
      end))
    end)
  end)
end)
