-- A Lua detection's `params` (docs/lua-detections.md): its tunables and
-- their defaults, which an override's `replace: params` sets before the
-- first event; load-time checks with their exact messages; the stock
-- detections' thresholds.
local H = require("helpers.engine")
local T = require("ebpf_guard.testing")

local DEMO = [[
local P = { limit = 3, label = "n", loud = false }
return { id = "demo", description = "d", event_types = { "exec" }, params = P,
  match = function(ev)
    local n = #ev.args
    if n < P.limit then return false end
    return ("%s=%d%s"):format(P.label, n, P.loud and "!" or "")
  end }
]]

local function exec(nargs, tgid)
  local args = {}
  for i = 1, nargs do args[i] = "a" .. i end
  return { type = "exec", comm = "x", filename = "/usr/bin/x", tgid = tgid or 5, pid = tgid or 5, args = args }
end

-- an engine of DEMO (or text) and an override file's text; returns the
-- engine or nil and the error without the temporary files' names
local function load(text, override)
  local paths = { H.tmpfile(".lua", text or DEMO) }
  if override then paths[2] = H.tmpfile(".yaml", override) end
  local eng, err = H.new(paths)
  for _, p in ipairs(paths) do os.remove(p) end
  return eng, err and err:gsub("/tmp/[^:]*: ", "") or nil
end

local function descs(hits)
  local out = {}
  for _, h in ipairs(hits) do out[#out + 1] = h.desc end
  return out
end

local function override(replace)
  return "overrides:\n  - rule: demo\n    replace: " .. replace .. "\n"
end

describe("params", function()
  it("match reads the defaults", function()
    local eng = assert(load())
    assert.same({ "n=3", "n=4" }, descs(H.run(eng, { exec(2), exec(3), exec(4) })))
  end)

  it("an override sets values before the first event, the others keep their defaults", function()
    local eng = assert(load(nil, override("{params: {limit: 4, loud: true}}")))
    assert.same({ "n=4!" }, descs(H.run(eng, { exec(2), exec(3), exec(4) })))
  end)

  it("a later override wins", function()
    local eng = assert(load(nil, override("{params: {limit: 4}}") ..
      "  - rule: demo\n    replace: {params: {limit: 2, label: m}}\n"))
    assert.same({ "m=2", "m=3" }, descs(H.run(eng, { exec(1), exec(2), exec(3) })))
  end)

  it("-list-rules -json shows the values in force", function()
    local eng = assert(load(nil, override("{params: {limit: 7}}")))
    local text = require("ebpf_guard.listing").render(eng.res.records, "json")
    assert.truthy(text:find('"params":{"label":"n","limit":7,"loud":false}', 1, true), text)
  end)
end)

describe("params at load", function()
  local function refused(params, msg)
    local _, err = load(([[
return { id = "d", description = "d", event_types = { "exec" }, params = %s,
  match = function(ev) return false end }
]]):format(params))
    assert.equals('detection "d": ' .. msg, err)
  end

  it("refuses what is not a mapping of names to numbers, strings or booleans", function()
    refused("{ 1, 2 }", "params: expected a mapping of parameter names to their default values, got a list")
    refused('"x"', 'params: expected a mapping of parameter names to their default values, got string "x"')
    refused("setmetatable({}, {})", "params: expected a mapping of parameter names to their default values, got an empty list")
    refused('{ ["a b"] = 1 }', 'params: "a b" is not a parameter name (letters, digits and _, not first a digit)')
    refused("{ [1] = 1, x = 2 }", 'params: "1" is not a parameter name (letters, digits and _, not first a digit)')
    refused("{ x = {} }", "params: x: expected a number, a string or a boolean, got an empty list")
    refused("{ x = 1/0 }", "params: x: must be a finite number")
    refused("{ x = 0/0 }", "params: x: must be a finite number")
    refused("{ x = function() end }", "params: x: expected a number, a string or a boolean, got a function")
  end)

  -- the table is read outside the budget: a metatable's __index or
  -- __newindex would run unbounded
  it("never runs a metatable's code", function()
    local _, err = load([[
local p = setmetatable({}, { __index = function() while true do end end })
return { id = "d", description = "d", event_types = { "exec" }, params = p,
  match = function(ev) return p.x end }
]])
    assert.equals('detection "d": params: expected a mapping of parameter names to their default values, got an empty list', err)
  end)
end)

describe("params in overrides", function()
  local function refused(replace, msg)
    local _, err = load(nil, override(replace))
    assert.equals('override of rule "demo": replace: params' .. msg, err)
  end

  it("refuses unknown names, other types and what is not a mapping", function()
    refused("{params: {limt: 4}}", ': limt: unknown parameter (did you mean "limit"?)')
    refused("{params: {colour: 4}}", ": colour: unknown parameter (expected one of label, limit, loud)")
    refused('{params: {limit: "4"}}', ': limit: expected a number (as its default, 3), got string "4"')
    refused("{params: {loud: 1}}", ": loud: expected a boolean (as its default, false), got number 1")
    refused("{params: {limit: .inf}}", ": limit: must be a finite number")
    refused("{params: {limit: null}}", ": limit: expected a number, a string or a boolean, got null")
    refused("{params: {limit: [1]}}", ": limit: expected a number, a string or a boolean, got a list")
    refused("{params: [1]}", ": expected a mapping of parameter names to values, got a list")
    refused("{params: 4}", ": expected a mapping of parameter names to values, got number 4")
  end)

  it("refuses params for YAML rules, built-ins and detections that declare none", function()
    local _, err = load("return { id = \"demo\", description = \"d\", event_types = { \"exec\" }, match = function() end }",
      override("{params: {a: 1}}"))
    assert.equals('override of rule "demo": replace: params: a: unknown parameter ("demo" declares none)', err)
    local eng
    eng, err = H.new({ H.tmpfile(".yaml",
      "overrides:\n  - rule: builtin_suspicious_shell\n    replace: {params: {a: 1}}\n") })
    assert.is_nil(eng)
    assert.equals('override of rule "builtin_suspicious_shell": replace: params: only Lua detections have params; '
      .. '"builtin_suspicious_shell" is a built-in', err:gsub("^/tmp/[^:]*: ", ""))
    eng, err = H.new({ H.tmpfile(".yaml", "rules:\n  - id: y\n    description: d\n    event_types: [exec]\n"
      .. "overrides:\n  - rule: y\n    replace: {params: {a: 1}}\n") })
    assert.is_nil(eng)
    assert.equals('override of rule "y": replace: params: only Lua detections have params; "y" is a YAML rule',
      err:gsub("^/tmp/[^:]*: ", ""))
  end)
end)

-- The stock detections' thresholds (docs/detection.md): the same events
-- fire or not as the override says.
describe("stock params", function()
  local function with(over)
    local p = H.tmpfile(".yaml", "overrides:\n" .. over)
    local eng = T.engine({ rules = { "rules", p } })
    os.remove(p)
    return eng
  end
  local function listen(tgid, at)
    return { type = "listen", comm = "app", tgid = tgid, pid = tgid, call = "listen", local_ip = "0.0.0.0",
      local_port = 8080, backlog = 128, sock_type = "stream", ret = 0, timestamp = 1735689600 + at }
  end
  local function connect(tgid, at, port, ip)
    return { type = "connect", comm = "app", tgid = tgid, pid = tgid, dest_ip = ip or "203.0.113.9",
      dest_port = port or 443, ret = 0, timestamp = 1735689600 + at }
  end
  local function descs_of(alerts, id)
    local out = {}
    for _, a in ipairs(alerts) do if a.rule_id == id then out[#out + 1] = a.description end end
    return out
  end

  it("server_starts_connecting_out: quiet_seconds", function()
    local evs = { listen(70, 0), connect(70, 30) }
    assert.same({}, descs_of(T.engine({ rules = "rules" }):run(evs), "server_starts_connecting_out"))
    local eng = with("  - rule: server_starts_connecting_out\n    replace: {params: {quiet_seconds: 20}}\n")
    assert.same({ "app (pid 70), serving for 30 s with no outbound connection, connected to 203.0.113.9 port 443" },
      descs_of(eng:run(evs), "server_starts_connecting_out"))
    -- not before its time
    eng = with("  - rule: server_starts_connecting_out\n    replace: {params: {quiet_seconds: 40}}\n")
    assert.same({}, descs_of(eng:run(evs), "server_starts_connecting_out"))
  end)

  it("connect_fanout_scan: ports and hosts", function()
    local evs = {}
    for p = 1, 5 do evs[p] = connect(30, p * 0.1, 1000 + p, "10.0.0.5") end
    assert.same({}, descs_of(T.engine({ rules = "rules" }):run(evs), "connect_fanout_scan"))
    -- as docs/testing.md shows it: inline YAML after the paths
    local eng = T.engine {
      rules = "rules",
      yaml = [[
overrides:
  - rule: connect_fanout_scan
    replace: {params: {ports: 5}}
]],
    }
    assert.same({ "app (pid 30) connected to 5 ports of 10.0.0.5 within 10 s" },
      descs_of(eng:run(evs), "connect_fanout_scan"))
    evs = {}
    for h = 1, 4 do evs[h] = connect(31, h * 0.1, 22, "10.0.0." .. h) end
    eng = with("  - rule: connect_fanout_scan\n    replace: {params: {hosts: 4}}\n")
    assert.same({ "app (pid 31) connected to port 22 of 4 hosts within 10 s" },
      descs_of(eng:run(evs), "connect_fanout_scan"))
  end)

  it("discovery_burst: commands; credential_harvest: kinds", function()
    local evs = {}
    for i, c in ipairs({ "id", "whoami", "uname" }) do
      evs[i] = { type = "exec", filename = "/usr/bin/" .. c, args = { c }, tgid = 40 + i, ppid = 40,
        parent = { comm = "sh", tgid = 40 }, ancestors = { { comm = "sh" }, { comm = "apache2" } },
        timestamp = 1735689600 + i }
    end
    assert.same({}, descs_of(T.engine({ rules = "rules" }):run(evs), "discovery_burst"))
    local eng = with("  - rule: discovery_burst\n    replace: {params: {commands: 3}}\n")
    assert.equals(1, #descs_of(eng:run(evs), "discovery_burst"))
    evs = {
      { type = "open", comm = "python3", tgid = 50, filename = "/etc/shadow", ret = 3, open_flags = 0 },
      { type = "open", comm = "python3", tgid = 50, filename = "/root/.ssh/id_rsa", ret = 3, open_flags = 0 },
    }
    assert.same({}, descs_of(T.engine({ rules = "rules" }):run(evs), "credential_harvest"))
    eng = with("  - rule: credential_harvest\n    replace: {params: {kinds: 2}}\n")
    assert.same({ "python3 (pid 50) read 2 kinds of credentials within a minute: shadow, ssh key" },
      descs_of(eng:run(evs), "credential_harvest"))
  end)
end)
