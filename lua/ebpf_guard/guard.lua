-- The helper module Lua detections get through require("guard"): compiled
-- regexes, bounded per-process state stores and a rate-limited log.
local regex = require("ebpf_guard.regex")

local type = type
local error = error
local tostring = tostring
local pairs = pairs
local ipairs = ipairs
local math_floor = math.floor
local newproxy = newproxy
local getmetatable = getmetatable
local setmetatable = setmetatable

local _M = {}

-- Event time (ns) of the event user code is looking at; set by the host.
_M.now_ns = 0
-- Where log lines go, and the wall clock that rate-limits them before any
-- event (at load); from the first event on, the limit is per second of
-- event time, so a replay logs as the live run did, however fast it runs.
_M.sink = function(line) io.stderr:write(line, "\n") end
_M.clock = os.time
_M.LOG_PER_SEC = 5
-- each detection file's function that reports its dropped log lines
local flushers = {}

-- Writes the "(N log messages dropped)" line of every detection file that
-- has dropped some since its last line (the host calls it when the engine
-- is done: at exit, before a reload's swap).
function _M.flush()
  for _, f in ipairs(flushers) do f() end
end

-- User code never holds an engine object: guard.regex and guard.state hand
-- out empty userdata proxies whose methods are closures over these private
-- weak tables (proxy -> internal object), one per kind, so a proxy of one
-- kind passed as self to another's method is refused. The proxies' metatables
-- are locked and their fields read-only, so neither the internal object nor
-- an engine function can be reached, replaced or handed a forged self.
local regexes = setmetatable({}, { __mode = "k" })
local store_of = setmetatable({}, { __mode = "k" })

-- Returns a proxy for obj in private, with methods (name -> function(obj, ...)).
local function proxy(private, obj, kind, methods)
  local p = newproxy(true)
  local mt = getmetatable(p)
  mt.__index = function(_, k)
    local m = methods[k]
    if m == nil then error(kind .. ' has no method "' .. tostring(k) .. '"', 2) end
    return m
  end
  mt.__newindex = function(_, k)
    error(kind .. ' is read-only (cannot set "' .. tostring(k) .. '")', 2)
  end
  mt.__tostring = function() return kind end
  mt.__metatable = false
  private[p] = obj
  return p
end

-- Method table whose functions look their self up in private.
local function methods_of(private, kind, impl)
  local m = {}
  for name, f in pairs(impl) do
    m[name] = function(self, ...)
      local obj = private[self]
      if obj == nil then
        error(("%s:%s: called on a %s, not a %s (use x:%s(...))"):format(kind, name, type(self), kind, name), 2)
      end
      return f(obj, ...)
    end
  end
  return m
end

-- Every state store (internal objects), so that exit events reach them all:
-- an array of weak references (a store no detection holds any more goes
-- away), walked with a numeric loop at every process exit (pairs() there ran
-- in the interpreter: next cannot be compiled). Holes left by collected
-- stores are squeezed out when a store is made.
local stores, nstores = setmetatable({}, { __mode = "v" }), 0

local function compact()
  local j = 0
  for i = 1, nstores do
    local s = stores[i]
    if s then
      j = j + 1
      stores[i] = nil
      stores[j] = s
    end
  end
  nstores = j
end

-- Forgets tgid in every store (a process exit).
function _M.forget(tgid)
  for i = 1, nstores do
    local s = stores[i]
    if s then s:delete(tgid) end
  end
end

function _M.reset()
  for i = 1, nstores do stores[i] = nil end
  nstores = 0
end

local Store = {}
Store.__index = Store

local function check_key(fn, tgid, s)
  if s.any_key then
    local t = type(tgid)
    if t ~= "string" and t ~= "number" then
      error("cache:" .. fn .. ": key must be a string or a number, got " .. t, 3)
    end
  elseif type(tgid) ~= "number" then
    error("state:" .. fn .. ": tgid must be a number, got " .. type(tgid), 3)
  end
end

local function unlink(s, n)
  if n.prev then n.prev.next = n.next else s.head = n.next end
  if n.next then n.next.prev = n.prev else s.tail = n.prev end
  n.prev, n.next = nil, nil
end

local function push_front(s, n)
  n.next = s.head
  n.prev = nil
  if s.head then s.head.prev = n end
  s.head = n
  if not s.tail then s.tail = n end
end

local function expire(s)
  if not s.ttl_ns then return end
  local limit = _M.now_ns - s.ttl_ns
  local n = s.tail
  while n and n.t < limit do
    local p = n.prev
    unlink(s, n)
    s.nodes[n.key] = nil
    s.count = s.count - 1
    n = p
  end
end

function Store:get(tgid)
  check_key("get", tgid, self)
  expire(self)
  local n = self.nodes[tgid]
  if not n then return nil end
  n.t = _M.now_ns
  unlink(self, n)
  push_front(self, n)
  return n.value
end

function Store:set(tgid, value)
  check_key("set", tgid, self)
  if value == nil then return self:delete(tgid) end
  expire(self)
  local n = self.nodes[tgid]
  if n then
    n.value = value
    n.t = _M.now_ns
    unlink(self, n)
    push_front(self, n)
    return
  end
  n = { key = tgid, value = value, t = _M.now_ns }
  self.nodes[tgid] = n
  push_front(self, n)
  self.count = self.count + 1
  while self.count > self.max do
    local old = self.tail
    unlink(self, old)
    self.nodes[old.key] = nil
    self.count = self.count - 1
  end
end

function Store:delete(tgid)
  check_key("delete", tgid, self)
  local n = self.nodes[tgid]
  if not n then return end
  unlink(self, n)
  self.nodes[tgid] = nil
  self.count = self.count - 1
end

function Store:size()
  expire(self)
  return self.count
end

local STATE_METHODS = methods_of(store_of, "guard.state", {
  get = Store.get, set = Store.set, delete = Store.delete, size = Store.size,
})
local CACHE_METHODS = methods_of(store_of, "guard.cache", {
  get = Store.get, set = Store.set, delete = Store.delete, size = Store.size,
})

-- guard.state (kind "guard.state": keyed by tgid, forgotten at the process's
-- exit) and guard.cache (kind "guard.cache": any string or number key, kept
-- until evicted or expired).
local function new_store(kind, opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(kind .. ": expected a table { max = N, ttl = seconds }, got " .. type(opts), 3)
  end
  for k in pairs(opts) do
    if k ~= "max" and k ~= "ttl" then
      error(kind .. ': unknown option "' .. tostring(k) .. '" (expected max, ttl)', 3)
    end
  end
  local max = opts.max or 10000
  if type(max) ~= "number" or max < 1 or max ~= math_floor(max) then
    error(kind .. ": max must be a positive integer, got " .. tostring(max), 3)
  end
  local ttl = opts.ttl
  if ttl ~= nil and (type(ttl) ~= "number" or ttl <= 0) then
    error(kind .. ": ttl must be a positive number of seconds, got " .. tostring(ttl), 3)
  end
  local s = setmetatable({
    nodes = {}, count = 0, max = max, ttl_ns = ttl and ttl * 1e9 or nil,
    any_key = kind == "guard.cache",
  }, Store)
  if kind == "guard.state" then
    compact()
    nstores = nstores + 1
    stores[nstores] = s
    return proxy(store_of, s, kind, STATE_METHODS)
  end
  return proxy(store_of, s, kind, CACHE_METHODS)
end

local REGEX_METHODS = {}
do
  local impl = {}
  for _, m in ipairs({ "test", "find", "match" }) do
    local f = regex.Regex[m]
    impl[m] = function(re, s, init)
      if init ~= nil and (type(init) ~= "number" or init ~= math_floor(init)) then
        error(("regex:%s: init must be an integer, got %s"):format(m, tostring(init)), 2)
      end
      return f(re, s, init)
    end
  end
  REGEX_METHODS = methods_of(regexes, "guard.regex", impl)
end

local function new_regex(pattern)
  if type(pattern) ~= "string" then
    error("guard.regex: pattern must be a string, got " .. type(pattern), 3)
  end
  local re, err = regex.new(pattern)
  if not re then
    error('guard.regex: invalid pattern "' .. pattern .. '": ' .. err, 3)
  end
  return proxy(regexes, re, "guard.regex", REGEX_METHODS)
end

-- The module table for one detection file. name prefixes its log lines.
function _M.instance(name)
  local sec, n, dropped = -1, 0, 0
  local g = {}
  g.regex = function(pattern) return new_regex(pattern) end
  g.state = function(opts) return new_store("guard.state", opts) end
  g.cache = function(opts) return new_store("guard.cache", opts) end
  local function flush()
    if dropped > 0 then
      _M.sink("ebpf-guard: " .. name .. ": (" .. dropped .. " log messages dropped)")
      dropped = 0
    end
  end
  flushers[#flushers + 1] = flush
  g.log = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    local now = _M.now_ns > 0 and math_floor(_M.now_ns / 1e9) or _M.clock()
    if now ~= sec then
      flush()
      sec, n = now, 0
    end
    if n >= _M.LOG_PER_SEC then
      dropped = dropped + 1
      return
    end
    n = n + 1
    _M.sink("ebpf-guard: " .. name .. ": " .. table.concat(parts, " "))
  end
  -- a userdata: neither assignment nor rawset can replace its functions
  local p = newproxy(true)
  local mt = getmetatable(p)
  mt.__index = function(_, k)
    local f = g[k]
    if f == nil then error('guard has no function "' .. tostring(k) .. '"', 2) end
    return f
  end
  mt.__newindex = function(_, k) error('guard is read-only (cannot set "' .. tostring(k) .. '")', 2) end
  mt.__tostring = function() return "guard" end
  mt.__metatable = false
  return p
end

return _M
