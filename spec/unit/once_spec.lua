-- A Lua detection's `once` (docs/lua-detections.md): of the event types it
-- lists, match is called for a process's first event only (the first to
-- pass the filter and stored); the process is forgotten at its exit. Both
-- loops of user calls (the C one in the host, the Lua one in plain LuaJIT)
-- behave the same. Load-time checks with their messages.
local H = require("helpers.engine")
local C = require("helpers.cengine")

local ENGINES = { { "the pure-Lua engine", H }, { "the C engine", C } }

local DEMO = [[
return { id = "demo", description = "d", event_types = { "accept", "listen", "connect" },
  filter = { accept = { ret = { ge = 0 } } },
  once = { "accept", "listen" },
  match = function(ev) return ev.type .. " " .. ev.tgid .. " " .. ev.ret end }
]]

local load = H.load_text

local function acc(tgid, ret)
  return { type = "accept", pid = tgid, tgid = tgid, comm = "srv", call = "accept4", local_ip = "0.0.0.0",
    local_port = 8080, ret = ret or 5, dest_ip = "10.0.0.9", dest_port = 40000 }
end
local function lis(tgid)
  return { type = "listen", pid = tgid, tgid = tgid, comm = "srv", call = "listen", local_ip = "0.0.0.0",
    local_port = 8080, backlog = 128, sock_type = "stream", ret = 0 }
end
local function conn(tgid)
  return { type = "connect", pid = tgid, tgid = tgid, comm = "srv", dest_ip = "10.0.0.1", dest_port = 80, ret = 0 }
end

local descs = H.descs

for _, E in ipairs(ENGINES) do
  local name, X = E[1], E[2]
  describe("once in " .. name, function()
    it("calls match for a process's first event of each listed type", function()
      local eng = assert(load(X, DEMO))
      local hits = X.run(eng, { acc(1), acc(1), lis(1), lis(1), acc(2), conn(1), conn(1), acc(1) })
      assert.same({ "1:accept 1 5", "3:listen 1 0", "5:accept 2 5", "6:connect 1 0", "7:connect 1 0" },
        descs(hits))
      assert.equals(5, X.calls(eng, "demo"))
    end)

    it("counts only the events that pass the filter", function()
      local eng = assert(load(X, DEMO))
      -- a failed accept does not pass: the first success is still a first
      local hits = X.run(eng, { acc(1, -24), acc(1, 7), acc(1, 8) })
      assert.same({ "2:accept 1 7" }, descs(hits))
    end)

    it("forgets a process at its exit (a pid used again is a new process)", function()
      local eng = assert(load(X, DEMO))
      local hits = X.run(eng, { acc(1), { type = "exit", pid = 1, tgid = 1 }, acc(1), acc(1) })
      assert.same({ "1:accept 1 5", "3:accept 1 5" }, descs(hits))
    end)

    it("remembers across batches", function()
      local eng = assert(load(X, DEMO))
      local evs = {}
      for i = 1, 3000 do evs[i] = acc(100 + i % 7) end
      assert.equals(7, #X.run(eng, evs))
      assert.equals(0, #X.run(eng, { acc(100), acc(106) }))
    end)
  end)
end

describe("once at load", function()
  local function refused(once, msg)
    local _, err = load(H, ([[
return { id = "d", description = "d", event_types = { "accept", "connect" },
  once = %s, match = function(ev) return false end }
]]):format(once))
    assert.equals('detection "d": ' .. msg, err)
  end

  it("refuses what is not a list of the detection's own event types", function()
    refused('"accept"', 'once: expected a list of event types (of the detection\'s own), got string "accept"')
    refused("{ accept = true }",
      "once: expected a list of event types (of the detection's own), got a mapping")
    refused('{ "open" }', 'once: "open" is not one of the detection\'s event types (accept, connect)')
    refused('{ "accept", "accept" }', 'once: "accept" is listed twice')
  end)
end)
