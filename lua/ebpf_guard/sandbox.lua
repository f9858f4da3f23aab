-- Environments for user code (Lua detections and `condition:`), built by
-- allow-list. Blocked names raise an error naming them, unknown globals raise
-- on read and on write, and the budget error cannot be swallowed.
local _M = {}

local type = type
local error = error
local pcall = pcall
local xpcall = xpcall
local select = select
local tostring = tostring
local setmetatable = setmetatable
local getmetatable = getmetatable
local unpack = unpack
local string_rep = string.rep

_M.BUDGET_MSG = "instruction budget exceeded"
_M.REP_LIMIT = 1048576

local BLOCKED = {
  os = true, io = true, debug = true, load = true, loadstring = true, dofile = true,
  loadfile = true, ffi = true, jit = true, package = true, module = true,
  collectgarbage = true, setfenv = true, getfenv = true, newproxy = true,
  coroutine = true, gcinfo = true, print = true,
}
_M.BLOCKED = BLOCKED

-- Errors raised when user code hits a resource limit (src/engine.c): they
-- count as budget errors and pcall/xpcall in user code cannot swallow them.
_M.LIMIT_MSGS = {
  _M.BUDGET_MSG, "time limit exceeded", "Lua heap limit exceeded", "not enough memory",
  "memory limit exceeded", "the rule set took too long to load",
}

local function is_budget(msg)
  if type(msg) ~= "string" then return false end
  for _, m in ipairs(_M.LIMIT_MSGS) do
    if msg:find(m, 1, true) then return true end
  end
  return false
end
_M.is_budget = is_budget

-- Byte length of v as string.rep / table.concat would convert it (numbers
-- as with tostring), or nil when it is not a string or a number.
local function strlen(v)
  local t = type(v)
  if t == "string" then return #v end
  if t == "number" then return #tostring(v) end
  return nil
end

local function too_large(fn, total)
  error(("%s: result too large (%.0f bytes, limit %d)"):format(fn, total, _M.REP_LIMIT), 3)
end

-- string.rep with the result bounded, whatever the argument types Lua
-- would coerce (a number as s, a numeric string as n).
local function bounded_rep(s, n, sep)
  local ls, nn = strlen(s), tonumber(n)
  if ls and nn and nn > 0 then
    local total = ls * nn
    if sep ~= nil and nn > 1 then total = total + (strlen(sep) or 0) * (nn - 1) end
    if total > _M.REP_LIMIT then too_large("string.rep", total) end
  end
  if sep == nil then return string_rep(s, n) end
  return string_rep(s, n, sep)
end

-- table.concat with the result bounded (the size is added up first, in Lua,
-- so under the instruction budget).
local table_concat = table.concat
local function bounded_concat(t, sep, i, j)
  if type(t) == "table" then
    local first, last = tonumber(i) or 1, tonumber(j) or #t
    local lsep = strlen(sep) or 0
    local total = 0
    for k = first, last do
      total = total + (strlen(t[k]) or 0) + lsep
      if total > _M.REP_LIMIT then too_large("table.concat", total) end
    end
  end
  return table_concat(t, sep, i, j)
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The string table user code sees, also installed as the string metatable's
-- __index so that ("x"):rep(n) is bounded too and s:dump() is unavailable.
local safe_string = copy(string)
safe_string.rep = bounded_rep

-- Inside the daemon (src/engine.c), Lua patterns run on the bounded matcher
-- of src/sandbox_str.c: its work is charged to the instruction budget, its
-- recursion and gsub's nested callbacks are capped. (Plain LuaJIT, as in the
-- pure-Lua spec helper, keeps LuaJIT's own functions.)
local has_cstr, cstr = pcall(require, "ebpf_guard.cstr")
_M.BOUNDED_PATTERNS = has_cstr
if has_cstr then
  safe_string.find = cstr.find
  safe_string.match = cstr.match
  safe_string.gmatch = cstr.gmatch
  safe_string.gsub = cstr.gsub
end
safe_string.dump = function() error("string.dump is not available in the sandbox", 2) end
_M.string = safe_string
getmetatable("").__index = safe_string

-- table.sort for user code (src/sandbox_str.c): its C work is charged and a
-- comparator may not sort again.
local safe_sort = has_cstr and cstr.sort or table.sort

local function rethrow_budget(ok, ...)
  if not ok and is_budget((...)) then error((...), 0) end
  return ok, ...
end

local function safe_pcall(f, ...)
  return rethrow_budget(pcall(f, ...))
end

local function safe_xpcall(f, handler, ...)
  local function h(m)
    if is_budget(m) then return m end
    return handler(m)
  end
  return rethrow_budget(xpcall(f, h, ...))
end

local function safe_getmetatable(o)
  if type(o) == "string" then return nil end
  return getmetatable(o)
end

local BASE = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
  pcall = safe_pcall, xpcall = safe_xpcall, select = select, tonumber = tonumber,
  tostring = tostring, type = type, unpack = unpack, rawequal = rawequal,
  rawget = rawget, rawset = rawset, setmetatable = setmetatable,
  getmetatable = safe_getmetatable, _VERSION = _VERSION,
}

-- math.random and math.randomseed for one environment: a private xorshift32
-- generator, so one detection's seed or draws never change another's.
local function private_random()
  local bxor, lshift, rshift, tobit = bit.bxor, bit.lshift, bit.rshift, bit.tobit
  local floor = math.floor
  local x = 0x2545F491
  local function random(m, n)
    x = bxor(x, lshift(x, 13))
    x = bxor(x, rshift(x, 17))
    x = bxor(x, lshift(x, 5))
    local r = (x % 4294967296) / 4294967296 -- [0, 1)
    if m == nil then return r end
    if type(m) ~= "number" or (n ~= nil and type(n) ~= "number") then
      error("bad argument to 'random' (number expected)", 2)
    end
    if n == nil then m, n = 1, m end
    m, n = floor(m), floor(n)
    if m > n then error("bad argument to 'random' (interval is empty)", 2) end
    return floor(r * (n - m + 1)) + m
  end
  local function randomseed(seed)
    if type(seed) ~= "number" then error("bad argument to 'randomseed' (number expected)", 2) end
    x = tobit(floor(seed))
    if x == 0 then x = 0x2545F491 end
  end
  return random, randomseed
end

-- Returns a fresh environment. guard (optional) is what require("guard")
-- returns; every other require raises.
function _M.env(guard)
  local env = copy(BASE)
  env.string = copy(safe_string)
  env.table = copy(table)
  env.table.sort = safe_sort
  env.table.concat = bounded_concat
  -- deprecated since Lua 5.1, and C functions that call back into Lua
  env.table.foreach, env.table.foreachi = nil, nil
  env.math = copy(math)
  env.math.random, env.math.randomseed = private_random()
  env.bit = copy(bit)
  env.require = function(name)
    if name == "guard" and guard then return guard end
    error('require: module "' .. tostring(name) .. '" is not available in the sandbox (only "guard")', 2)
  end
  setmetatable(env, {
    __index = function(_, k)
      if k == "print" or k == "io" then
        error(tostring(k) .. " is not available in the sandbox: write with guard.log(...)"
          .. " (stderr, rate-limited)", 2)
      end
      if BLOCKED[k] then
        error(tostring(k) .. " is not available in the sandbox", 2)
      end
      error('unknown global "' .. tostring(k) .. '"', 2)
    end,
    __newindex = function(_, k)
      error('cannot set global "' .. tostring(k) .. '" (declare it local)', 2)
    end,
    __metatable = false,
  })
  return env
end

return _M
