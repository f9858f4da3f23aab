-- Every stock rule and detection (rules/) fires on its technique and stays
-- quiet on a near miss (spec/stock/cases.lua), through the public testing
-- module and the stock configuration as shipped.
local T = require("ebpf_guard.testing")
local cases = dofile("spec/stock/cases.lua")

-- The declarative rules share one engine (each case's events fire or not on
-- their own); a stateful detection's case gets a fresh engine per run, so
-- no state carries over from another case.
local shared
local STATEFUL = {}
for _, c in ipairs(cases) do
  if c.stateful then STATEFUL[c[1]] = true end
end

-- The stock set as shipped: the stateful detections are on.
local function stock()
  return T.engine { rules = "rules" }
end

local function run(id, events)
  if STATEFUL[id] then return stock():run(events) end
  shared = shared or stock()
  return shared:run(events)
end

describe("stock detections", function()
  it("have a case for every stock rule and detection, and no case for a rule that is gone", function()
    local ids, want = {}, {}
    for _, id in ipairs(stock():rule_ids()) do
      if not id:find("^builtin_") then ids[id] = true end
    end
    local have = {}
    for _, c in ipairs(cases) do
      assert.is_nil(have[c[1]], "two cases for " .. c[1])
      have[c[1]] = true
      assert.is_true(ids[c[1]] ~= nil, "a case for " .. c[1] .. ", which is not a stock rule")
    end
    for id in pairs(ids) do
      if not have[id] then want[#want + 1] = id end
    end
    table.sort(want)
    assert.same({}, want)
  end)

  it("each have a row in docs/detection.md", function()
    local f = assert(io.open("docs/detection.md", "rb"))
    local doc = f:read("*a")
    f:close()
    local missing = {}
    for _, id in ipairs(stock():rule_ids()) do
      if not doc:find("\n| `" .. id .. "` |", 1, true) then missing[#missing + 1] = id end
    end
    assert.same({}, missing)
  end)

  it("number at least 60 declarative rules and 8 stateful detections", function()
    local n, lua = 0, 0
    local eng = stock()
    local e = T.lib.eg_test_engine(eng.t)
    for i = 0, tonumber(T.lib.eg_engine_nrules(e)) - 1 do
      local ri = T.lib.eg_engine_rule(e, i)
      local kind = require("ffi").string(ri.kind)
      if kind == "lua" then lua = lua + 1 elseif kind ~= "builtin" then n = n + 1 end
    end
    assert.is_true(n >= 60, n .. " declarative rules")
    assert.is_true(lua >= 8, lua .. " Lua detections")
  end)

  for _, c in ipairs(cases) do
    describe(c[1], function()
      it("fires on its technique", function()
        local alerts = run(c[1], c.fires)
        assert.fires(c[1], alerts)
      end)
      for i, more in ipairs(c.also or {}) do
        it("fires on its technique's variant " .. i, function()
          assert.fires(c[1], run(c[1], more))
        end)
      end
      for i, miss in ipairs(c.misses) do
        it("stays quiet on near miss " .. i, function()
          local alerts = run(c[1], miss)
          assert.not_fires(c[1], alerts)
        end)
      end
    end)
  end
end)

describe("connect_fanout_scan", function()
  -- a call costs the same however many pairs the process has made: a
  -- tight budget, and a process connecting to 3 ports of each of 120 hosts,
  -- no port twice (never past a limit, so the store grows to its bound)
  it("counts each new (host, port) in constant work", function()
    local eng = T.engine({ rules = "rules", budget = 2000 })
    local evs = {}
    for h = 1, 120 do
      for p = 1, 3 do
        evs[#evs + 1] = { type = "connect", comm = "x", tgid = 77, dest_ip = "10.1." .. h .. ".1",
          dest_port = 8000 + 3 * h + p, ret = -111, timestamp = 1735689600 + #evs * 0.01 }
      end
    end
    local alerts = eng:run(evs)
    assert.not_fires("connect_fanout_scan", alerts)
    assert.equals(0, eng:errors("connect_fanout_scan", 1))
    assert.equals(0, eng:errors("connect_fanout_scan", 0))
  end)

  local function connect(tgid, ip, port, t)
    return { type = "connect", comm = "x", tgid = tgid, dest_ip = ip, dest_port = port, ret = -111,
      timestamp = 1735689600 + t }
  end
  local function count(alerts)
    local n = 0
    for _, a in ipairs(alerts) do if a.rule_id == "connect_fanout_scan" then n = n + 1 end end
    return n
  end

  it("counts one port of many hosts, and a host's ports apart from another's", function()
    local evs = {}
    -- 31 hosts on port 22, and 15 ports of each of two hosts: no limit reached
    for h = 1, 31 do evs[#evs + 1] = connect(80, "10.2.0." .. h, 22, #evs * 0.01) end
    for p = 1, 15 do
      evs[#evs + 1] = connect(80, "10.3.0.1", 100 + p, #evs * 0.01)
      evs[#evs + 1] = connect(80, "10.3.0.2", 100 + p, #evs * 0.01)
    end
    -- the same pairs again count nothing
    for h = 1, 31 do evs[#evs + 1] = connect(80, "10.2.0." .. h, 22, #evs * 0.01) end
    local eng = T.engine({ rules = "rules" })
    assert.equals(0, count(eng:run(evs)))
    -- the 32nd host on port 22
    local alerts = eng:run({ connect(80, "10.2.0.99", 22, 2) })
    assert.equals(1, count(alerts))
    assert.equals("x (pid 80) connected to port 22 of 32 hosts within 10 s", alerts[1].description)
    -- a process reports once
    assert.equals(0, count(eng:run({ connect(80, "10.4.0.1", 22, 2.1) })))
  end)

  it("starts over when its numbering of hosts does, and still counts after", function()
    local eng = T.engine({ rules = "rules" })
    -- hosts numbered 1 (from pid 94) and 2 (15 of its ports from pid 92)
    local evs = { connect(94, "10.6.6.6", 80, 0) }
    for p = 1, 15 do evs[#evs + 1] = connect(92, "10.8.8.8", 500 + p, p * 0.001) end
    -- 16,382 more hosts from pid 90 (20 ports in turn: never a limit): the
    -- numbering is full
    for i = 1, 16382 do
      local ip = ("10.%d.%d.%d"):format(math.floor(i / 65536), math.floor(i / 256) % 256, i % 256)
      evs[#evs + 1] = connect(90, ip, 2000 + i % 20, 0.1 + i * 0.0001)
    end
    assert.equals(0, count(eng:run(evs)))
    -- a new host from pid 93: the numbering starts over (it is host 1),
    -- and pid 92's next new host is numbered 2, as 10.8.8.8 was: pid 92's
    -- 15 ports of 10.8.8.8 must not count for it
    assert.equals(0, count(eng:run({ connect(93, "10.5.5.5", 80, 2), connect(92, "10.7.7.7", 600, 2.01) })))
    -- and a scan after it is counted
    local scan = {}
    for p = 1, 16 do scan[p] = connect(91, "10.9.9.9", 3000 + p, 2 + p * 0.01) end
    local alerts = eng:run(scan)
    assert.equals(1, count(alerts))
    assert.equals("x (pid 91) connected to 16 ports of 10.9.9.9 within 10 s", alerts[1].description)
  end)
end)

describe("shell_under_network_service", function()
  local function sh(tgid, ppid, ancestors)
    return { type = "exec", filename = "/bin/sh", args = { "sh" }, tgid = tgid, ppid = ppid,
      parent = ancestors[1], ancestors = ancestors, timestamp = 1735689600 + tgid * 0.01 }
  end
  local function count(alerts, id)
    local n = 0
    for _, a in ipairs(alerts) do if a.rule_id == id then n = n + 1 end end
    return n
  end

  it("reports a process tree once", function()
    local eng = T.engine({ rules = "rules" })
    local alerts = eng:run({
      sh(60, 50, { { comm = "python3" }, { comm = "uwsgi" } }),
      sh(61, 60, { { comm = "sh" }, { comm = "python3" }, { comm = "uwsgi" } }),
      sh(62, 61, { { comm = "sh" }, { comm = "sh" }, { comm = "python3" }, { comm = "uwsgi" } }),
    })
    assert.equals(1, count(alerts, "shell_under_network_service"))
  end)

  -- its filter: shells with no service among their known ancestors (every
  -- shell of a build or a login session) never reach match
  it("is called only for shells with a service among their known ancestors", function()
    local eng = T.engine({ rules = "rules" })
    eng:run({
      sh(70, 1, {}),
      sh(71, 2, { { comm = "sshd" }, { comm = "sshd" }, { comm = "systemd" } }),
      sh(72, 3, { { comm = "make" }, { comm = "bash" }, { comm = "tmux: server" } }),
      sh(73, 4, { { comm = "bash" }, { comm = "node" } }),
    })
    local e = T.lib.eg_test_engine(eng.t)
    local calls
    for i = 0, tonumber(T.lib.eg_engine_nrules(e)) - 1 do
      if require("ffi").string(T.lib.eg_engine_rule(e, i).id) == "shell_under_network_service" then
        calls = tonumber(T.lib.eg_engine_rule_calls(e, i))
      end
    end
    assert.equals(1, calls)
  end)
end)
