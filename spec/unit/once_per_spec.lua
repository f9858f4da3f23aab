-- A Lua detection's `once_per` (docs/lua-detections.md): of each listed
-- event type, match gets a process's event only when the process had no
-- call for the same values of the listed fields within the window (without
-- one: while it runs). Live, the kernel's memory decides for connect and
-- marks the event (src/event.h EG_EVF_ONCE_*): both loops of user calls
-- follow that verdict. Load-time checks with their messages.
local H = require("helpers.engine")
local C = require("helpers.cengine")
local event = require("ebpf_guard.event")

local ENGINES = { { "the pure-Lua engine", H }, { "the C engine", C } }

local DEMO = [[
return { id = "demo", description = "d", event_types = { "connect", "open" },
  filter = { connect = { datagram = false } },
  once_per = { connect = { "dest_ip", "dest_port", seconds = 10 }, open = { "filename" } },
  match = function(ev)
    if ev.type == "open" then return "open " .. ev.tgid .. " " .. ev.filename end
    return ev.tgid .. " " .. ev.dest_ip .. ":" .. ev.dest_port
  end }
]]

local load = H.load_text

-- a connect by tgid at second t (of event time)
local function conn(tgid, ip, port, t, extra)
  local e = { type = "connect", pid = tgid, tgid = tgid, comm = "app", dest_ip = ip, dest_port = port, ret = 0,
    ts_ns = math.floor((1735689600 + t) * 1e9) }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end
local function open(tgid, fn)
  return { type = "open", pid = tgid, tgid = tgid, comm = "app", filename = fn, ret = 3, ts_ns = 1735689600e9 }
end

local descs = H.descs

for _, E in ipairs(ENGINES) do
  local name, X = E[1], E[2]
  describe("once_per in " .. name, function()
    it("calls match once per process and values within the window", function()
      local eng = assert(load(X, DEMO))
      local hits = X.run(eng, {
        conn(1, "10.0.0.1", 80, 0), conn(1, "10.0.0.1", 80, 1), conn(1, "10.0.0.1", 443, 2),
        conn(1, "10.0.0.2", 80, 3), conn(2, "10.0.0.1", 80, 4), conn(1, "10.0.0.1", 80, 9.9),
        -- the window (10 s from the call) is over: a call, and a new window
        conn(1, "10.0.0.1", 80, 10), conn(1, "10.0.0.1", 80, 19.9), conn(1, "10.0.0.1", 80, 20.5),
      })
      assert.same({ "1:1 10.0.0.1:80", "3:1 10.0.0.1:443", "4:1 10.0.0.2:80", "5:2 10.0.0.1:80",
        "7:1 10.0.0.1:80", "9:1 10.0.0.1:80" }, descs(hits))
      assert.equals(6, X.calls(eng, "demo"))
    end)

    it("without seconds, once while the process runs; forgotten at its exit", function()
      local eng = assert(load(X, DEMO))
      local hits = X.run(eng, { open(1, "/a"), open(1, "/a"), open(1, "/b"), open(2, "/a"),
        { type = "exit", pid = 1, tgid = 1 } })
      assert.same({ "1:open 1 /a", "3:open 1 /b", "4:open 2 /a" }, descs(hits))
      hits = X.run(eng, { open(1, "/a"), open(2, "/a") })
      assert.same({ "1:open 1 /a" }, descs(hits))
    end)

    it("tells a pid used again after an exit in the same batch apart, and keeps what it was given", function()
      local eng = assert(load(X, DEMO))
      local hits = X.run(eng, { open(1, "/a"), { type = "exit", pid = 1, tgid = 1 }, open(1, "/a"), open(1, "/a"),
        open(1, "/b") })
      assert.same({ "1:open 1 /a", "3:open 1 /a", "5:open 1 /b" }, descs(hits))
      -- the new process's memory outlives the exit before it
      assert.same({}, descs(X.run(eng, { open(1, "/a"), open(1, "/b") })))
      -- a thread's exit is not the process's
      hits = X.run(eng, { { type = "exit", pid = 7, tgid = 1 }, open(1, "/a") })
      assert.same({}, descs(hits))
    end)

    it("starts over for another program or process in the pid, in the same batch", function()
      local eng = assert(load(X, DEMO))
      local function o(fn, id)
        local e = open(1, fn)
        e.exec_id, e.context = id, "exec"
        return e
      end
      -- the decisions come before the batch's exits reach the stores: the
      -- process's exec id tells a new program (or a pid used again) apart
      local hits = X.run(eng, { o("/a", "b:1:1"), o("/a", "b:1:1"), { type = "exit", pid = 1, tgid = 1 },
        o("/a", "b:2:1"), o("/a", "b:2:1"), o("/a", "b:3:1") })
      assert.same({ "1:open 1 /a", "4:open 1 /a", "6:open 1 /a" }, descs(hits))
    end)

    it("counts only the events that pass the filter", function()
      local eng = assert(load(X, DEMO))
      -- an unconnected datagram does not pass: the stream connect after it is new
      local hits = X.run(eng, { conn(1, "10.0.0.1", 53, 0, { flags = event.F_DATAGRAM }), conn(1, "10.0.0.1", 53, 1) })
      assert.same({ "2:1 10.0.0.1:53" }, descs(hits))
    end)

    it("follows the kernel's verdict when the event carries one", function()
      local eng = assert(load(X, DEMO))
      local fresh, rep = { flags = event.F_ONCE_FRESH }, { flags = event.F_ONCE_REPEAT }
      local hits = X.run(eng, {
        -- the kernel says new: a call, though the engine saw it a second ago
        conn(1, "10.0.0.1", 80, 0), conn(1, "10.0.0.1", 80, 1, fresh),
        -- the kernel says repeat (it crossed for another rule): no call,
        -- though the engine never saw it
        conn(1, "10.0.0.9", 80, 2, rep),
        -- no verdict (the kernel's memory is off): the engine's own, which
        -- took the kernel's fresh one as a call (window from 1 s)
        conn(1, "10.0.0.1", 80, 10.5), conn(1, "10.0.0.1", 80, 11),
      })
      assert.same({ "1:1 10.0.0.1:80", "2:1 10.0.0.1:80", "5:1 10.0.0.1:80" }, descs(hits))
    end)

    it("with stored first, in the loop of calls: the same; kernel verdicts are not about it", function()
      local eng = assert(load(X, [[
local guard = require("guard")
local known = guard.cache({ max = 10 })
return { id = "st", description = "d", event_types = { "connect", "open" },
  filter = { connect = { datagram = false } },
  stored = { connect = { dest_ip = known } },
  once_per = { connect = { "dest_port", seconds = 10 } },
  match = function(ev)
    if ev.type == "open" then known:set(ev.filename, true) return false end
    return ev.tgid .. " " .. ev.dest_ip .. ":" .. ev.dest_port
  end }
]]))
      local fresh, rep = { flags = event.F_ONCE_FRESH }, { flags = event.F_ONCE_REPEAT }
      local hits = X.run(eng, {
        -- not stored yet: no call, and not counted by once_per
        conn(1, "10.0.0.1", 80, 0), open(1, "10.0.0.1"),
        conn(1, "10.0.0.1", 80, 1), conn(1, "10.0.0.1", 80, 2), conn(1, "10.0.0.1", 443, 3),
        -- the kernel keeps no repeats of a detection with stored: its
        -- verdicts (another detection's memory) change nothing here
        conn(1, "10.0.0.1", 8080, 4, rep), conn(1, "10.0.0.1", 80, 5, fresh),
      })
      assert.same({ "3:1 10.0.0.1:80", "5:1 10.0.0.1:443", "6:1 10.0.0.1:8080" }, descs(hits))
    end)

    it("follows the kernel's verdicts only where its memory is the kernel's", function()
      -- DEMO's connect memory is the kernel's; "other" keys by comm (the
      -- kernel cannot), its filter names a port (the filter stays on)
      local eng = assert(load(X, DEMO:gsub("^return {", "return { {") .. [[
, { id = "other", description = "d", event_types = { "connect" },
  filter = { connect = { dest_port = 22 } },
  once_per = { connect = { "comm", seconds = 10 } },
  match = function(ev) return "other " .. ev.dest_port end } }
]]))
      local rep = { flags = event.F_ONCE_REPEAT }
      local hits = X.run(eng, { conn(1, "10.0.0.1", 22, 0, rep), conn(1, "10.0.0.2", 22, 1, rep) })
      assert.same({ "1:other 22" }, descs(hits))
    end)

    it("bounds each process's memory: past 256 values it starts over", function()
      local eng = assert(load(X, DEMO))
      local evs = {}
      for i = 1, 256 do evs[#evs + 1] = conn(1, "10.0.0.1", 1000 + i, 0) end
      -- still remembered: no calls
      evs[#evs + 1] = conn(1, "10.0.0.1", 1001, 1)
      evs[#evs + 1] = conn(1, "10.0.0.1", 1256, 1)
      -- the 257th value: the memory starts over with it; earlier values are new again
      evs[#evs + 1] = conn(1, "10.0.0.1", 5000, 2)
      evs[#evs + 1] = conn(1, "10.0.0.1", 1001, 3)
      evs[#evs + 1] = conn(1, "10.0.0.1", 5000, 4)
      local hits = X.run(eng, evs)
      assert.equals(258, #hits)
      assert.same({ "259:1 10.0.0.1:5000", "260:1 10.0.0.1:1001" }, { descs(hits)[257], descs(hits)[258] })
    end)

    it("remembers across batches", function()
      local eng = assert(load(X, DEMO))
      local evs = {}
      for i = 1, 3000 do evs[i] = conn(100 + i % 7, "10.0.0.1", 80, i / 1000) end
      assert.equals(7, #X.run(eng, evs))
      assert.equals(0, #X.run(eng, { conn(100, "10.0.0.1", 80, 4), conn(106, "10.0.0.1", 80, 5) }))
    end)
  end)
end

describe("once_per at load", function()
  local function refused(once_per, msg, extra)
    local _, err = load(H, ([[
return { id = "d", description = "d", event_types = { "connect", "open" }, %s
  once_per = %s, match = function(ev) return false end }
]]):format(extra or "", once_per))
    assert.equals('detection "d": ' .. msg, err)
  end

  it("refuses what is not a table of the detection's event types to fields and seconds", function()
    local shape = "once_per: expected a table of event type = { field, ..., seconds = N }, got "
    refused('"connect"', shape .. 'string "connect"')
    refused('{ "connect" }', shape .. "a list")
    refused('{ exec = { "comm" } }', 'once_per: "exec" is not one of the detection\'s event types (connect, open)')
    refused('{ connect = "dest_ip" }', 'once_per.connect: expected { field, ..., seconds = N }, got string "dest_ip"')
    refused("{ connect = {} }", "once_per.connect: expected 1 to 4 field names, got 0")
    refused('{ connect = { "a", "b", "c", "d", "e" } }', "once_per.connect: expected 1 to 4 field names, got 5")
    refused('{ connect = { "dest_ip", window = 10 } }',
      'once_per.connect: unknown key "window" (expected the field names, then seconds = N)')
    refused('{ connect = { "dest_addr" } }', 'once_per.connect: "dest_addr" is not a string or number field of the event')
    refused('{ connect = { "datagram" } }', 'once_per.connect: "datagram" is not a string or number field of the event')
    refused('{ connect = { "parent.comm" } }',
      'once_per.connect: "parent.comm" is not a string or number field of the event')
    refused('{ connect = { "cmdline" } }', 'once_per.connect: "cmdline" is not a string or number field of the event')
    refused('{ open = { "dest_ip" } }', "once_per.open: open events have no field dest_ip")
    refused('{ connect = { "dest_ip", "dest_ip" } }', 'once_per.connect: "dest_ip" is listed twice')
    refused('{ connect = { "dest_ip", seconds = 0 } }',
      'once_per.connect.seconds: expected a number of seconds above 0, at most 86400, got number 0')
    refused('{ connect = { "dest_ip", seconds = "10" } }',
      'once_per.connect.seconds: expected a number of seconds above 0, at most 86400, got string "10"')
    refused('{ connect = { "dest_ip", seconds = 1e9 } }',
      'once_per.connect.seconds: expected a number of seconds above 0, at most 86400, got number 1000000000')
    refused('{ connect = { "dest_ip" } }',
      "once_per.connect: connect is in once too (once lets only a process's first event through)",
      'once = { "connect" },')
  end)
end)
