-- A Lua detection's `stored` (docs/lua-detections.md): match is called for
-- an event only while the named stores hold the event's values. Load-time
-- checks with their messages, the behaviour (in event order, also within
-- one batch; forgotten at exit; expired by ttl), and the stock set's use of
-- it: the same alerts with and without it on streams that exercise its
-- stateful detections, with fewer calls.
local H = require("helpers.engine")
local host = require("ebpf_guard.host")
local cases = dofile("spec/stock/cases.lua")

local function detection(text)
  local p = H.tmpfile(".lua", text)
  local eng, err = H.new({ p })
  os.remove(p)
  return eng, err and err:gsub("^/tmp/[^:]*: ", "") or nil
end

local DEMO = [[
local guard = require("guard")
local st = guard.state { max = 100 }
local files = guard.cache { max = 100, ttl = 10 }
return { id = "demo", description = "d", event_types = { "exec", "open", "connect" },
  stored = { connect = { tgid = st }, open = { filename = files } },
  match = function(ev)
    if ev.type == "exec" then
      st:set(ev.tgid, true)
      files:set(ev.filename, true)
      return false
    end
    return ev.type .. " " .. ev.tgid
  end }
]]

local function ts(t) return t and os.date("!%Y-%m-%dT%H:%M:%SZ", t) or nil end
local function ex(tgid, file, t)
  return { type = "exec", pid = tgid, tgid = tgid, comm = "x", filename = file or "/bin/x", timestamp = ts(t) }
end
local function conn(tgid, t)
  return { type = "connect", pid = tgid, tgid = tgid, comm = "x", dest_ip = "10.0.0.1", dest_port = 80,
    timestamp = ts(t) }
end
local function op(tgid, file, t)
  return { type = "open", pid = tgid, tgid = tgid, comm = "x", filename = file, ret = 3, timestamp = ts(t) }
end

local descs = H.descs

describe("stored", function()
  describe("load-time checks", function()
    local function refused(stored, msg)
      local _, err = detection(([[
local guard = require("guard")
local st, c = guard.state {}, guard.cache {}
return { id = "d", description = "d", event_types = { "exec", "connect" },
  stored = %s, match = function(ev) return false end }
]]):format(stored))
      assert.equals('detection "d": ' .. msg, err)
    end

    it("refuse what is not a table of event type = { field = store }", function()
      refused("5", "stored: expected a table of event type = { field = a guard.state or guard.cache }, got number 5")
      refused("{ open = { tgid = st } }", 'stored: "open" is not one of the detection\'s event types (connect, exec)')
      refused("{ connect = 5 }", "stored.connect: expected a table of field = a guard.state or guard.cache, got number 5")
    end)

    it("refuse a field the type does not carry, or one no store is keyed by", function()
      refused("{ connect = { nosuch = st } }",
        "stored.connect.nosuch: not a field a store is keyed by (a string or number field of the event)")
      refused("{ connect = { args = c } }",
        "stored.connect.args: not a field a store is keyed by (a string or number field of the event)")
      refused("{ exec = { dest_port = st } }", "stored.exec.dest_port: exec events have no field dest_port")
    end)

    it("refuse a value that is not a store, and a tgid store keyed by a string", function()
      refused("{ connect = { tgid = {} } }",
        "stored.connect.tgid: expected a guard.state or guard.cache (made at the top of the file), got an empty list")
      refused("{ connect = { tgid = guard.regex('x') } }",
        "stored.connect.tgid: expected a guard.state or guard.cache (made at the top of the file), got a userdata")
      refused("{ connect = { dest_ip = st } }",
        "stored.connect.dest_ip: a guard.state is keyed by tgid (a number): dest_ip is a string (use a guard.cache)")
    end)
  end)

  describe("at run time", function()
    it("calls match only while the store holds the event's value, in event order", function()
      local eng = assert(detection(DEMO))
      local hits = H.run(eng, { conn(1), ex(1), conn(1), conn(2), { type = "exit", pid = 1, tgid = 1 }, conn(1) })
      assert.same({ "3:connect 1" }, descs(hits))
      -- the first and the last connect were not called at all
      assert.equals(1 + 1, H.calls(eng, "demo"))
    end)

    it("sees what an earlier event of the same batch stored", function()
      local eng = assert(detection(DEMO))
      local evs = {}
      for i = 1, 200 do
        evs[#evs + 1] = ex(i)
        evs[#evs + 1] = conn(i)
      end
      assert.equals(200, #H.run(eng, evs))
    end)

    it("follows a cache's ttl as get does", function()
      local eng = assert(detection(DEMO))
      local t0 = 1735689600
      local hits = H.run(eng, { ex(5, "/tmp/a", t0), op(6, "/tmp/a", t0 + 5), op(6, "/tmp/a", t0 + 20) })
      -- read at 105 (refreshed by nothing: the check does not touch it), gone at 120
      assert.same({ "2:open 6" }, descs(hits))
    end)

    it("leaves types it does not name alone", function()
      local eng = assert(detection(DEMO))
      H.run(eng, { ex(1), ex(2), ex(3) })
      assert.equals(3, H.calls(eng, "demo"))
    end)
  end)

  describe("the stock set", function()
    -- streams that feed every stateful detection: the stock cases, and a
    -- random mix over a few processes and files so that the stores hold
    -- some of the keys the checks look up
    -- events as the testing module completes them (recording lines), for
    -- the pure-Lua engine of the helper (which can run without stored)
    local function stream()
      local T = require("ebpf_guard.testing")
      local cjson = require("cjson")
      local te = T.engine {}
      local raw = {}
      for _, c in ipairs(cases) do
        for _, e in ipairs(c.fires or {}) do raw[#raw + 1] = e end
        for _, list in ipairs(c.misses or {}) do
          for _, e in ipairs(list) do raw[#raw + 1] = e end
        end
      end
      math.randomseed(77)
      local files = { "/tmp/a", "/tmp/b", "/dev/shm/c", "/var/tmp/d", "/usr/bin/e" }
      local comms = { "curl", "wget", "python3", "bash", "nginx", "app", "chmod" }
      local t = 1735689600
      for _ = 1, 4000 do
        t = t + math.random(0, 30)
        local tgid = math.random(100, 130)
        local comm = comms[math.random(#comms)]
        local f = files[math.random(#files)]
        local r = math.random(8)
        local e
        if r == 1 then
          e = { type = "open", comm = comm, filename = f, open_flags = 65, ret = 3 }
        elseif r == 2 then
          e = { type = "chmod", comm = "chmod", call = "chmod", filename = f, mode = 493, ret = 0 }
        elseif r == 3 then
          e = { type = "exec", comm = "bash", filename = f, exe = f, args = { f } }
        elseif r == 4 then
          e = { type = "unlink", comm = comm, call = "unlink", filename = f, ret = 0 }
        elseif r == 5 then
          e = { type = "listen", comm = comm, call = "listen", local_ip = "0.0.0.0", local_port = 8080,
            backlog = 16, sock_type = "stream", ret = 0 }
        elseif r == 6 then
          e = { type = "connect", comm = comm, dest_ip = "203.0.113." .. math.random(1, 40),
            dest_port = math.random(20, 60), ret = 0 }
        elseif r == 7 then
          e = { type = "exit", comm = comm }
        else
          e = { type = "exec", comm = "sh", filename = "/usr/bin/id", exe = "/usr/bin/id", args = { "id" } }
        end
        e.pid, e.tgid, e.ppid, e.timestamp = tgid, tgid, 1, t
        raw[#raw + 1] = e
      end
      local out = {}
      for i, e in ipairs(raw) do
        local o = cjson.decode(te:line(e))
        -- a memfd event's "flags" (names) is not the helper's event flags
        if type(o.flags) == "string" then o.flags = nil end
        out[i] = o
      end
      return out
    end

    it("fires the same alerts with and without stored, with fewer calls", function()
      local evs = stream()
      local on = assert(H.new({ "rules" }))
      local a = descs(H.run(on, evs))
      host.STORED = false
      local ok, off = pcall(H.new, { "rules" })
      host.STORED = true
      off = assert(ok and off)
      local b = descs(H.run(off, evs))
      assert.same(b, a)
      local fired = {}
      for _, x in ipairs(a) do fired[x:match("^%d+:(.*)$")] = true end
      -- not vacuous: the detections that use stored fire on this stream
      local saved = 0
      for _, id in ipairs({ "download_then_execute", "drop_chmod_execute", "tmp_exec_then_deleted",
        "server_starts_connecting_out" }) do
        saved = saved + H.calls(off, id) - H.calls(on, id)
        assert.is_true(H.calls(on, id) <= H.calls(off, id), id)
      end
      assert.is_true(#a > 50, #a .. " alerts")
      assert.is_true(saved > 500, "calls saved: " .. saved)
    end)
  end)
end)
