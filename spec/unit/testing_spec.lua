local T = require("ebpf_guard.testing")

local F = "spec/fixtures/testing/"
local BIN = os.getenv("EG_BIN") or "build/ebpf-guard"

local function user_ids(alerts)
  local out = {}
  for _, a in ipairs(alerts) do
    if not a.rule_id:find("^builtin_") then out[#out + 1] = a.rule_id end
  end
  return out
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs a shell command; returns its stdout and stderr.
local function sh(cmd)
  local out, err = os.tmpname(), os.tmpname()
  os.execute(cmd .. " >" .. out .. " 2>" .. err)
  local o, e = read(out), read(err)
  os.remove(out)
  os.remove(err)
  return o, e
end

describe("ebpf_guard.testing", function()
  describe("engine", function()
    it("loads the built-ins, then the files in order, as the daemon", function()
      local eng = T.engine { rules = { "examples/shell_then_connect.lua" }, detections = "examples/download_from_ip.lua" }
      assert.same({ "builtin_fileless_exec", "builtin_suspicious_shell", "builtin_crypto_exec",
        "builtin_crypto_port", "shell_then_connect", "download_from_ip" }, eng:rule_ids())
    end)

    it("raises the daemon's own message for a detection the daemon refuses", function()
      local ok, err = pcall(function()
        local eng = T.engine { rules = "spec/fixtures/errors/lua_unknown_field.lua" }
        return eng
      end)
      assert.is_false(ok)
      local at = "spec/unit/testing_spec.lua:" .. (debug.getinfo(1, "l").currentline - 4) .. ": "
      assert.equals(at, err:sub(1, #at))
      err = err:sub(#at + 1)
      assert.equals('ebpf-guard: spec/fixtures/errors/lua_unknown_field.lua: detection "d": match: '
        .. 'line 12: ev has no field "dest_prot" (did you mean "dest_port"?)', err)
      local _, stderr = sh(BIN .. " -validate -config spec/fixtures/errors/lua_unknown_field.lua")
      assert.equals(err .. "\n", stderr)
    end)

    it("raises every problem, one daemon line each", function()
      local ok, err = pcall(T.engine, { yaml = "rules:\n  - id: a\n    description: x\n    event_types: [exec]\n"
        .. "  - id: b\n    event_types: [exec]\n" })
      assert.is_false(ok)
      local dir = err:match("^ebpf%-guard: (/.-/ebpf%-guard%-test%.%w%w%w%w%w%w)/inline1%.yaml: ")
      assert.truthy(dir, err)
      assert.equals("ebpf-guard: " .. dir .. '/inline1.yaml: rule "b": description: missing', err)
      assert.is_nil(io.open(dir .. "/inline1.yaml"), "the inline file is removed after the build")
      assert.is_nil(io.open(dir), "and its directory")
    end)

    it("takes inline YAML and Lua after the paths", function()
      local eng = T.engine {
        rules = "examples/download_from_ip.lua",
        yaml = "rules:\n  - id: y\n    description: yaml rule\n    event_types: [open]\n    filename_regex: '^/etc/shadow$'\n",
        lua = 'return { id = "l", description = "lua", event_types = { "open" }, match = function(ev) return ev.uid == 7 end }',
      }
      assert.same({ "download_from_ip", "y", "l" }, user_ids(eng:run {
        { type = "exec", filename = "/usr/bin/curl", args = { "curl", "http://10.1.2.3/x" } },
        { type = "open", filename = "/etc/shadow", uid = 7 },
      }))
    end)

    it("disables rules and tags as -disable-rule and -disable-tag, with the daemon's errors", function()
      local ev = { type = "exec", filename = "/bin/bash" }
      local eng = T.engine { disable_rules = { "builtin_suspicious_shell" } }
      assert.same({}, eng:run(ev))
      eng = T.engine { disable_tags = { "T1059.004" } }
      assert.same({}, eng:run(ev))
      local ok, err = pcall(T.engine, { disable_rules = { "nope" } })
      assert.is_false(ok)
      local _, stderr = sh(BIN .. " -validate -disable-rule nope")
      assert.equals(stderr, err .. "\n")
    end)

    it("has the daemon's instruction budget (100000 per call) unless told", function()
      local eng = T.engine { rules = F .. "count_to_pid.lua" }
      -- a loop turn is two instructions: 30000 turns fit, 60000 do not
      assert.same({ "count_to_pid" }, user_ids(eng:run { type = "open", filename = "/x", pid = 30000 }))
      assert.same({}, user_ids(eng:run { type = "open", filename = "/x", pid = 60000 }))
      assert.equals(1, eng:errors("count_to_pid", 1))
      assert.equals(1, #eng.logs)
      assert.truthy(eng.logs[1]:find('count_to_pid', 1, true))
      assert.truthy(eng.logs[1]:find('budget', 1, true))
      eng = T.engine { rules = F .. "count_to_pid.lua", budget = 1000000 }
      assert.same({ "count_to_pid" }, user_ids(eng:run { type = "open", filename = "/x", pid = 60000 }))
    end)
  end)

  describe("replay", function()
    it("returns the alerts the daemon's -replay writes, byte for byte decoded", function()
      local path = F .. "non_utf8.jsonl"
      local eng = T.engine { rules = "examples/shell_then_connect.lua" }
      local alerts = eng:replay(path)
      local out = sh(BIN .. " -replay " .. path .. " -config examples/shell_then_connect.lua -alert-file - -prom-addr ''")
      local want = {}
      for line in out:gmatch("[^\n]+") do want[#want + 1] = T.decode(line) end
      assert.equals(1, #want)
      assert.same(want, alerts)
    end)

    it("keeps a file name that is not UTF-8 as its bytes (cjson refuses the line)", function()
      local alerts = T.engine {}:replay(F .. "non_utf8.jsonl")
      assert.equals("/tmp/caf\233/.x", alerts[1].event.filename)
      assert.same({ "/tmp/caf\233/.x", "--n\195\169e" }, alerts[1].event.args)
      assert.equals("nginx", alerts[1].event.parent.comm)
      assert.equals("web-1", alerts[1].hostname)
      assert.same({ "T1059.004" }, alerts[1].tags)
      assert.equals("warning", alerts[1].severity)
    end)

    it("replay_lines gives each line's alerts", function()
      local by_line = T.engine { rules = "examples/shell_then_connect.lua" }:replay_lines("spec/fixtures/shell_then_connect.jsonl")
      assert.equals(10, #by_line)
      assert.same({ "builtin_suspicious_shell" }, T.ids(by_line[1]))
      assert.same({ "builtin_crypto_port", "shell_then_connect" }, T.ids(by_line[2]))
      assert.same({}, by_line[3])
    end)

    it("raises on a line the reader refuses, with the file and line", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write('{"type":"exec","comm":"a","filename":"/bin/a"}\n\n{"type":"exec","pid":"x"}\n')
      f:close()
      local ok, err = pcall(function() return T.engine {}:replay(path) end)
      os.remove(path)
      assert.is_false(ok)
      assert.equals("ebpf-guard: " .. path .. ':3: field "pid": expected an integer, got a string', err)
    end)

    it("ends with the daemon's report of a detection whose every evaluation failed", function()
      local lua = [[
return { { id = "broken", description = "d", event_types = { "exec" },
  match = function(ev) return ev.comm:nope() end } }
]]
      local eng = T.engine { lua = lua }
      local src = eng.configs[1]
      local path = F .. "non_utf8.jsonl"
      local alerts = eng:replay(path)
      local function report(file)
        return 'ebpf-guard: detection "broken" (' .. file .. '): every evaluation failed (1 of 1; last: runtime error: '
          .. file .. ":2: attempt to call method 'nope' (a nil value))"
      end
      assert.equals(report(src), eng.logs[#eng.logs])
      -- the daemon's own line, for the same detection in a file of its own
      local dpath = os.tmpname() .. ".lua"
      local f = assert(io.open(dpath, "wb"))
      f:write(lua)
      f:close()
      local _, err = sh(BIN .. " -replay " .. path .. " -config " .. dpath .. " -alert-file /dev/null -prom-addr ''")
      os.remove(dpath)
      assert.truthy(err:find(report(dpath) .. "\n", 1, true), err)
      -- an assertion's message shows it
      local ok, msg = pcall(assert.fires, "broken", alerts)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("every evaluation failed", 1, true), tostring(msg))
    end)

    it("keeps time as event time: a guard.state TTL expires between events, not in wall time", function()
      local eng = T.engine { rules = "examples/shell_then_connect.lua" }
      -- the fixture's zsh connects 20 minutes after its exec: past the 10 minute TTL
      local ids = {}
      for _, a in ipairs(eng:replay("spec/fixtures/shell_then_connect.jsonl")) do
        if a.rule_id == "shell_then_connect" then ids[#ids + 1] = a.event.comm end
      end
      assert.same({ "bash" }, ids)
      local t0 = 1735700000
      assert.same({ "shell_then_connect" }, user_ids(eng:run {
        { type = "exec", filename = "/bin/sh", tgid = 7, timestamp = t0 },
        { type = "connect", dest_ip = "10.0.0.9", dest_port = 80, tgid = 7, timestamp = t0 + 599 },
      }))
      assert.same({}, user_ids(eng:run {
        { type = "exec", filename = "/bin/sh", tgid = 8, timestamp = t0 + 1000 },
        { type = "connect", dest_ip = "10.0.0.9", dest_port = 80, tgid = 8, timestamp = t0 + 1601 },
      }))
    end)
  end)

  describe("inline events", function()
    it("are completed with defaults and written as recording lines", function()
      local eng = T.engine {}
      -- an exec's comm is its caller's: here the parent's (a fork's child)
      assert.equals('{"timestamp":"2025-01-01T00:00:00Z","pid":1000,"tgid":1000,"type":"exec","comm":"nginx",'
        .. '"filename":"/tmp/x","ppid":1,"uid":0,"gid":0,"exe":"/tmp/x","args":["/tmp/x"],"context":"exec",'
        .. '"ancestors":[{"comm":"nginx"}],"parent":{"comm":"nginx"}}', eng:line { type = "exec", filename = "/tmp/x", parent = { comm = "nginx" } })
      eng:run { type = "exec", filename = "/usr/bin/a-very-long-program-name", tgid = 5 }
      -- and the process's previous program's, once it has run one
      assert.equals('{"timestamp":"2025-01-01T00:00:01Z","pid":5,"tgid":5,"type":"exec","comm":"a-very-long-pro",'
        .. '"filename":"/bin/true","ppid":1,"uid":0,"gid":0,"exe":"/bin/true","args":["/bin/true"],"context":"exec"}',
        eng:line { type = "exec", tgid = 5, filename = "/bin/true" })
      assert.equals('{"timestamp":"2025-01-01T00:00:01Z","pid":5,"tgid":5,"type":"connect","comm":"a-very-long-pro",'
        .. '"filename":"connect","dest_ip":"::1","dest_port":0,"ppid":1,"uid":0,"gid":0,'
        .. '"exe":"/usr/bin/a-very-long-program-name","context":"exec"}',
        eng:line { type = "connect", tgid = 5, dest_ip = "::1", dest_port = 0 })
      assert.equals('{"timestamp":"2025-01-01T00:00:01.500000000Z","pid":1000,"tgid":1000,"type":"open",'
        .. '"comm":"test","filename":"/a\\udcffb","ppid":1,"uid":0,"gid":0,"context":"exec"}',
        eng:line { type = "open", filename = "/a\255b", timestamp = 1735689601.5 })
    end)

    it("behave as recorded ones: an alert's event is the line's event", function()
      local alerts = T.engine {}:run { type = "exec", filename = "/bin/bash", parent = { comm = "nginx" }, uid = 33 }
      assert.equals(1, #alerts)
      local e = alerts[1].event
      assert.same({ "nginx", "/bin/bash", 33, "nginx", "2025-01-01T00:00:00Z" },
        { e.comm, e.filename, e.uid, e.parent.comm, alerts[1].timestamp })
    end)

    it("refuse unknown fields and events without a type", function()
      local eng = T.engine {}
      local ok, err = pcall(eng.run, eng, { { type = "exec", filename = "/x" }, { type = "open", filname = "/y" } })
      assert.is_false(ok)
      assert.equals('event 2: unknown field "filname" (docs/output.md lists the event\'s fields)', err)
      ok, err = pcall(eng.run, eng, { { filename = "/x" } })
      assert.equals('event 1: needs a type ("exec", "open", "connect", ...)', err)
      ok, err = pcall(eng.run, eng, { { type = "exec" } })
      assert.equals("event 1: an exec needs a filename", err)
      ok, err = pcall(eng.run, eng, { { type = "exce", filename = "/x" } })
      assert.equals('ebpf-guard: event 1: unknown event type "exce"', err)
    end)
  end)

  describe("JSON", function()
    it("decodes the writer's escapes: \\udcXX to the raw byte, pairs to UTF-8", function()
      assert.same({ a = "\233\255", b = "\240\159\152\128", c = "\239\191\189", d = { 1, -2.5, true, false } },
        T.decode('{"a":"\\udce9\\udcff","b":"\\ud83d\\ude00","c":"\\ud800","d":[1,-2.5,true,false],"e":null}'))
    end)

    it("encodes bytes that are not UTF-8 as \\udcXX and keeps valid UTF-8", function()
      assert.equals('"caf\\udce9 n\195\169e \\u0001\\n\\"\\\\"', T.encode("caf\233 n\195\169e \1\n\"\\"))
      assert.equals('"\\udced\\udca0\\udc80"', T.encode("\237\160\128")) -- a UTF-8 surrogate is not valid
    end)
  end)

  describe("assertions", function()
    local eng, alerts
    before_each(function()
      eng = T.engine { rules = "examples/shell_then_connect.lua" }
      alerts = eng:run {
        { type = "exec", filename = "/bin/bash", tgid = 50 },
        { type = "connect", dest_ip = "10.0.0.1", dest_port = 80, tgid = 50 },
      }
    end)

    it("fires and not_fires pass", function()
      assert.fires("shell_then_connect", alerts)
      assert.not_fires("download_from_ip", alerts)
      assert.fires_on(eng, "builtin_suspicious_shell", { type = "exec", filename = "/bin/sh" })
      assert.not_fires_on({ rules = "examples/download_from_ip.lua" }, "download_from_ip",
        { type = "exec", filename = "/usr/bin/curl", args = { "curl", "https://example.com/" } })
      assert.fires_on({ rules = "examples/download_from_ip.lua" }, "download_from_ip",
        { type = "exec", filename = "/usr/bin/curl", args = { "curl", "https://10.0.0.1/" } })
    end)

    it("fires fails with the events, the alerts that fired and the engine log", function()
      local ok, err = pcall(assert.fires, "download_from_ip", alerts)
      assert.is_false(ok)
      assert.equals(table.concat({
        'Expected rule "download_from_ip" to fire, but it did not.',
        "Alerts that fired (2):",
        "  builtin_suspicious_shell: Suspicious shell execution  [exec pid=50 comm=test filename=/bin/bash]",
        "  shell_then_connect: Shell /bin/bash (tgid 50) connected to 10.0.0.1 port 80  [connect pid=50 comm=bash dest=10.0.0.1:80]",
        "Events (2):",
        '  1: {"timestamp":"2025-01-01T00:00:00Z","pid":50,"tgid":50,"type":"exec","comm":"test","filename":"/bin/bash",'
          .. '"ppid":1,"uid":0,"gid":0,"exe":"/bin/bash","args":["/bin/bash"],"context":"exec"}',
        '  2: {"timestamp":"2025-01-01T00:00:01Z","pid":50,"tgid":50,"type":"connect","comm":"bash","filename":"connect",'
          .. '"dest_ip":"10.0.0.1","dest_port":80,"ppid":1,"uid":0,"gid":0,"exe":"/bin/bash","context":"exec"}',
      }, "\n"), (tostring(err):gsub("^[^\n]-:%d+: ", "")))
    end)

    it("not_fires fails naming the rule; a runtime error of a detection is in the message", function()
      local ok, err = pcall(assert.not_fires, "shell_then_connect", alerts)
      assert.is_false(ok)
      assert.truthy(tostring(err):find('Expected rule "shell_then_connect" not to fire, but it did.\nAlerts that fired (2):', 1, true))
      local bad = T.engine { lua = 'return { id = "boom", description = "d", event_types = { "open" },'
        .. ' match = function(ev) return ev.filename .. nil end }' }
      ok, err = pcall(assert.fires_on, bad, "boom", { type = "open", filename = "/etc/passwd" })
      assert.is_false(ok)
      err = tostring(err)
      assert.truthy(err:find('Expected rule "boom" to fire, but it did not.\nNo alert fired.\nEvents (1):\n  1: {', 1, true))
      assert.truthy(err:find("\nEngine log:\n  ", 1, true), err)
      assert.truthy(err:find("attempt to concatenate", 1, true), err)
    end)

    it("fires with no alerts says so, and a user's message comes first", function()
      local ok, err = pcall(assert.fires, "x", {}, "my note")
      assert.is_false(ok)
      assert.equals('my note\nExpected rule "x" to fire, but it did not.\nNo alert fired.',
        (tostring(err):gsub("^[^\n]-:%d+: ", "")))
    end)

    it("refuses misuse plainly", function()
      local ok, err = pcall(assert.fires, alerts, "shell_then_connect")
      assert.is_false(ok)
      assert.truthy(tostring(err):find("assert.fires: expected a rule id (a string) first, got table", 1, true))
    end)
  end)
end)
