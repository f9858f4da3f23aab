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
  -- the method table itself (a table lookup, no call per p:method()), whose
  -- own __index raises for an unknown name; it never reaches user code
  mt.__index = methods
  mt.__newindex = function(_, k)
    error(kind .. ' is read-only (cannot set "' .. tostring(k) .. '")', 2)
  end
  mt.__tostring = function() return kind end
  mt.__metatable = false
  private[p] = obj
  return p
end

-- Raises the error of a method called on something not of its kind, at the
-- caller of the method that calls this.
local function not_self(kind, name, self)
  error(("%s:%s: called on a %s, not a %s (use x:%s(...))"):format(kind, name, type(self), kind, name), 3)
end

-- Method table whose functions look their self up in private. At most
-- three arguments after self (no vararg: cheaper in the interpreter, where
-- user code runs); an unknown method name raises.
local function methods_of(private, kind, impl)
  local m = {}
  for name, f in pairs(impl) do
    m[name] = function(self, a, b, c)
      local obj = private[self]
      if obj == nil then not_self(kind, name, self) end
      return f(obj, a, b, c)
    end
  end
  return setmetatable(m, {
    __index = function(_, k) error(kind .. ' has no method "' .. tostring(k) .. '"', 2) end,
    __newindex = function() error(kind .. " methods are read-only", 2) end,
    __metatable = false,
  })
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

-- A store's entries live in slots 1..top of parallel arrays (key K, value
-- V, last use T, the LRU list's previous and next slots P and N, 0 for
-- none), found by key through slot; freed slots are reused: no table is
-- made per entry (each was a table allocation and a resize, most of the
-- cost of a set in the interpreter). At most max + 1 slots ever exist.
local function unlink(s, i)
  local P, N = s.P, s.N
  local p, n = P[i], N[i]
  if p ~= 0 then N[p] = n else s.head = n end
  if n ~= 0 then P[n] = p else s.tail = p end
  P[i], N[i] = 0, 0
end

local function push_front(s, i)
  local h = s.head
  s.N[i], s.P[i] = h, 0
  if h ~= 0 then s.P[h] = i end
  s.head = i
  if s.tail == 0 then s.tail = i end
end

local function drop(s, i)
  unlink(s, i)
  s.slot[s.K[i]] = nil
  s.K[i], s.V[i] = false, false
  local nf = s.nfree + 1
  s.free[nf] = i
  s.nfree = nf
  s.count = s.count - 1
end

-- Forgets tgid in every state store (a process exit): a lookup each, no
-- method call (exits are about as frequent as execs).
function _M.forget(tgid)
  for i = 1, nstores do
    local s = stores[i]
    if s then
      local j = s.slot[tgid]
      if j then drop(s, j) end
    end
  end
end

local function expire(s)
  if not s.ttl_ns then return end
  local limit = _M.now_ns - s.ttl_ns
  local T = s.T
  local i = s.tail
  while i ~= 0 and T[i] < limit do
    local p = s.P[i]
    drop(s, i)
    i = p
  end
end

-- Entry i was used now: its time, and the front of the LRU list.
local function touch(s, i)
  s.T[i] = _M.now_ns
  if s.head ~= i then
    unlink(s, i)
    push_front(s, i)
  end
end

function Store:set(tgid, value)
  check_key("set", tgid, self)
  if value == nil then return self:delete(tgid) end
  expire(self)
  local i = self.slot[tgid]
  if i then
    self.V[i] = value
    touch(self, i)
    return
  end
  local nf = self.nfree
  if nf > 0 then
    i = self.free[nf]
    self.free[nf] = nil
    self.nfree = nf - 1
  else
    i = self.top + 1
    self.top = i
  end
  self.K[i], self.V[i], self.T[i] = tgid, value, _M.now_ns
  self.P[i], self.N[i] = 0, 0
  self.slot[tgid] = i
  push_front(self, i)
  self.count = self.count + 1
  while self.count > self.max do drop(self, self.tail) end
end

function Store:delete(tgid)
  check_key("delete", tgid, self)
  local i = self.slot[tgid]
  if not i then return end
  drop(self, i)
end

function Store:size()
  expire(self)
  return self.count
end

-- The stores' methods: methods_of's wrappers, with get and set written out
-- (the self lookup, the key check and the body in one function: user code
-- runs in the interpreter, where each call level costs), set's checks and
-- messages those of Store.set.
local function store_methods(kind)
  local m = methods_of(store_of, kind, {
    set = Store.set, delete = Store.delete, size = Store.size,
  })
  local any_key = kind == "guard.cache"
  -- (check_key raises only for a key of the wrong type: called then only)
  local fast = {
    get = function(self, key)
      local s = store_of[self]
      if s == nil then not_self(kind, "get", self) end
      local tk = type(key)
      if tk ~= "number" and (not any_key or tk ~= "string") then check_key("get", key, s) end
      if s.ttl_ns then expire(s) end
      local i = s.slot[key]
      if not i then return nil end
      touch(s, i)
      return s.V[i]
    end,
    set = function(self, key, value)
      local s = store_of[self]
      if s == nil then not_self(kind, "set", self) end
      local tk = type(key)
      if tk ~= "number" and (not any_key or tk ~= "string") then check_key("set", key, s) end
      local i = value ~= nil and s.slot[key]
      if i then
        -- an update: no expiry walk needed for the entry itself
        s.V[i] = value
        touch(s, i)
        if s.ttl_ns then expire(s) end
        return
      end
      return Store.set(s, key, value)
    end,
  }
  -- the method table is read-only to user code: rawset past its __newindex
  for name, f in pairs(fast) do rawset(m, name, f) end
  return m
end
local STATE_METHODS = store_methods("guard.state")
local CACHE_METHODS = store_methods("guard.cache")

-- An internal store of at most max entries (ttl seconds, or none); a
-- guard.state is registered to forget processes at their exit.
local function make_store(kind, max, ttl)
  local s = setmetatable({
    slot = {}, K = {}, V = {}, T = {}, P = {}, N = {}, free = {}, nfree = 0, top = 0,
    head = 0, tail = 0, count = 0, max = max, ttl_ns = ttl and ttl * 1e9 or nil,
    any_key = kind == "guard.cache",
  }, Store)
  if kind == "guard.state" then
    compact()
    nstores = nstores + 1
    stores[nstores] = s
  end
  return s
end

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
  local s = make_store(kind, max, ttl)
  return proxy(store_of, s, kind, kind == "guard.state" and STATE_METHODS or CACHE_METHODS)
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
-- For the engine (a detection's `stored`): the internal store behind a
-- user's guard.state or guard.cache, or nil; and whether a store holds key
-- now (as get would find it: not expired), without refreshing it.
function _M.store_internal(p)
  if type(p) ~= "userdata" then return nil end
  return store_of[p]
end

-- For the engine (a detection's once): an internal guard.state of at most
-- max processes, forgotten at their exit as the others, that no user code
-- can reach; mark(s, tgid) records tgid in it.
function _M.internal_state(max)
  return make_store("guard.state", max)
end

-- For the engine (a detection's once_per decided in the compiled loop): an
-- internal store of at most max entries of any key, that no process exit
-- empties (its owner tells exits apart itself).
function _M.internal_cache(max)
  return make_store("guard.cache", max)
end

function _M.mark(s, tgid)
  Store.set(s, tgid, true)
end

-- For the engine (a detection's once_per): key's value in an internal
-- store, refreshed as get would (nil when absent), and setting one.
function _M.recall(s, key)
  local i = s.slot[key]
  if not i then return nil end
  touch(s, i)
  return s.V[i]
end

-- key's value without refreshing it (an LRU store is then first in,
-- first out for the keys read this way).
function _M.peek(s, key)
  local i = s.slot[key]
  if not i then return nil end
  return s.V[i]
end

function _M.remember(s, key, value)
  Store.set(s, key, value)
end

function _M.holds(s, key)
  if key == nil then return false end
  local i = s.slot[key]
  if not i then return false end
  local ttl = s.ttl_ns
  return not ttl or s.T[i] >= _M.now_ns - ttl
end

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
