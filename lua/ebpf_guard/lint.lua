-- Load-time checks of user code: the `ev` fields a condition or a Lua
-- detection's match reads and writes, found in the function's LuaJIT
-- bytecode (jit.util), so that a misspelt field is refused when the rules
-- load instead of failing on every event.
--
-- What is checked, in the function itself (not in nested closures):
--   ev.x and ev["x"] reads (TGETS) whose field is not a field of the view,
--   ev.x = v writes (TSETS, the view is read-only),
--   the same through a local alias (`local e = ev`),
--   ev.parent.x and ev.ancestors[n].x read in one expression.
-- `ev` is slot 0: the first parameter of match, or the `local ev = ...` a
-- condition chunk starts with. A function that could assign another value
-- to that slot is not checked at all: no check is better than a false one.
local bit = require("bit")
local jutil = require("jit.util")
local view = require("ebpf_guard.view")

local band, rshift = bit.band, bit.rshift
local funcinfo, funcbc, funck, funcuvname = jutil.funcinfo, jutil.funcbc, jutil.funck, jutil.funcuvname
local type = type

local _M = {}

-- Operand modes of jit.util.funcbc's second result (lj_bc.h, BCMode).
local M_DST, M_BASE, M_VAR, M_LIT, M_UV, M_STR, M_JUMP = 1, 2, 3, 6, 5, 10, 13

_M.PARENT_FIELDS = { "args", "comm", "exe", "exec_id", "tgid" }
_M.ANCESTOR_FIELDS = { "comm", "exe" }

local function set_of(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end
local PARENT = set_of(_M.PARENT_FIELDS)
local ANCESTOR = set_of(_M.ANCESTOR_FIELDS)

-- op, A, B, C, D and the three operand modes of instruction pc of fn.
local function decode(fn, pc)
  local ins, m = funcbc(fn, pc)
  local d = rshift(ins, 16)
  return band(ins, 0xff), band(rshift(ins, 8), 0xff), rshift(ins, 24), band(d, 0xff), d,
    band(m, 7), band(rshift(m, 3), 15), band(rshift(m, 7), 15)
end

-- Opcode numbers differ between LuaJIT versions: read them from functions
-- compiled here, and check their operand modes, so the checks switch
-- themselves off rather than misread another version's bytecode.
local function op_at(fn, pc, ma, mb, mc)
  local op, _, _, _, _, a, b, c = decode(fn, pc)
  if a ~= ma or b ~= mb or c ~= mc then return nil end
  return op
end

local OP = {
  TGETS = op_at(function(a) return a.x end, 1, M_DST, M_VAR, M_STR),
  TSETS = op_at(function(a) a.x = a end, 1, M_VAR, M_VAR, M_STR),
  TGETB = op_at(function(a) return a[1] end, 1, M_DST, M_VAR, M_LIT),
  TGETV = op_at(function(a, b) return a[b] end, 1, M_DST, M_VAR, M_VAR),
  MOV = op_at(function(a) local b = a return b end, 1, M_DST, 0, M_VAR),
  VARG = op_at(function(...) local a = ... return a end, 1, M_BASE, M_LIT, M_LIT),
  ITERC = op_at(function(t) for _ in t do end end, 4, M_BASE, M_LIT, M_LIT),
  ITERL = op_at(function(t) for _ in t do end end, 5, M_BASE, 0, M_JUMP),
  ITERN = op_at(function(t) for _ in pairs(t) do end end, 5, M_BASE, M_LIT, M_LIT),
}
local ACTIVE = true
for _, name in ipairs({ "TGETS", "TSETS", "TGETB", "TGETV", "MOV", "VARG", "ITERC", "ITERL", "ITERN" }) do
  if not OP[name] then ACTIVE = false end
end
_M.ACTIVE = ACTIVE

-- The function prototypes nested in fn, at any depth.
local function each_child(fn, out)
  local fi = funcinfo(fn)
  for i = 1, fi.gcconsts or 0 do
    local k = funck(fn, -i)
    if type(k) == "proto" then
      out[#out + 1] = k
      each_child(k, out)
    end
  end
  return out
end

local function problem(fn, pc, msg)
  return { line = funcinfo(fn, pc).currentline, msg = msg }
end

local function no_field(what, key, known)
  local msg = ('%s has no field "%s"'):format(what, key)
  local s = require("ebpf_guard.config").suggest(key, known)
  if s then msg = msg .. (' (did you mean "%s"?)'):format(s) end
  return msg
end

-- Checks fn, a Lua function called with the event view as its first
-- argument (a match function), or a chunk starting with `local ev = ...`
-- (a condition). Returns nil when nothing is wrong (or fn cannot be
-- checked), else { line = n, msg = 'ev has no field "x" (did you mean "y"?)' }
-- for the first problem.
function _M.check(fn, ev_name)
  if not ACTIVE or type(fn) ~= "function" then return nil end
  local fi = funcinfo(fn)
  local n = fi.bytecodes
  if not n or n < 2 then return nil end -- a C function, or nothing to run
  local params = fi.params
  local def_pc = 0 -- the instruction that gives slot 0 its value, 0: the call does
  if params == 0 then
    local op, a, b = decode(fn, 1)
    if not fi.isvararg or op ~= OP.VARG or a ~= 0 or b ~= 2 then return nil end
    def_pc = 1
    params = 1
  end
  ev_name = ev_name or debug.getlocal(fn, 1)

  -- Nested closures that assign a variable of this function could change
  -- ev (or an alias of it) behind our back.
  local children = each_child(fn, {})
  local uv_writes = false
  local stored = {} -- fields any nested or own code stores with t.x = v
  for _, p in ipairs(children) do
    for pc = 1, funcinfo(p).bytecodes - 1 do
      local op, a, _, c, _, ma = decode(p, pc)
      if ma == M_UV then
        uv_writes = true
        if ev_name == nil or funcuvname(p, a) == ev_name then return nil end
      elseif op == OP.TSETS then
        stored[funck(p, -c - 1)] = true
      end
    end
  end

  -- Which slots are written, and by what; the targets of jumps.
  local mov_only = {} -- slot -> true: written only by MOV slot, 0 so far
  local other_write = {} -- slot -> true: written by something else
  local base_from = 256 -- lowest slot an instruction writing a range starts at
  local target = {}
  for pc = 1, n - 1 do
    local op, a, _, c, d, ma, _, mc = decode(fn, pc)
    if mc == M_JUMP then target[pc + 1 + d - 0x8000] = true end
    if ma == M_DST then
      if op == OP.MOV and d == 0 then mov_only[a] = true else other_write[a] = true end
    elseif ma == M_BASE and pc ~= def_pc then
      -- a for-in loop's instructions also store its control variable, at A-1
      local from = (op == OP.ITERC or op == OP.ITERN or op == OP.ITERL) and a - 1 or a
      if from < base_from then base_from = from end
    end
    if op == OP.TSETS then stored[funck(fn, -c - 1)] = true end
  end
  if mov_only[0] or other_write[0] or base_from <= 0 then return nil end
  local ev = { [0] = true }
  if not uv_writes then
    for slot in pairs(mov_only) do
      if slot >= params and not other_write[slot] and slot < base_from then ev[slot] = true end
    end
  end

  local fields = view.GETTERS
  for pc = 1, n - 1 do
    local op, a, b, c = decode(fn, pc)
    if op == OP.TGETS and ev[b] then
      local key = funck(fn, -c - 1)
      if not fields[key] then return problem(fn, pc, no_field("ev", key, view.FIELDS)) end
      local op2, a2, b2, c2
      if pc + 1 < n then op2, a2, b2, c2 = decode(fn, pc + 1) end
      if op2 and not target[pc + 1] and b2 == a then
        if key == "parent" and op2 == OP.TGETS then
          local sub = funck(fn, -c2 - 1)
          if not PARENT[sub] and not stored[sub] then
            return problem(fn, pc + 1, no_field("ev.parent", sub, _M.PARENT_FIELDS))
          end
        elseif key == "ancestors" and (op2 == OP.TGETB or op2 == OP.TGETV) and pc + 2 < n then
          local op3, _, b3, c3 = decode(fn, pc + 2)
          if op3 == OP.TGETS and b3 == a2 and not target[pc + 2] then
            local sub = funck(fn, -c3 - 1)
            if not ANCESTOR[sub] and not stored[sub] then
              local idx = op2 == OP.TGETB and tostring(c2) or "..."
              return problem(fn, pc + 2, no_field("ev.ancestors[" .. idx .. "]", sub, _M.ANCESTOR_FIELDS))
            end
          end
        end
      end
    elseif op == OP.TSETS and ev[b] then
      return problem(fn, pc, ('ev is read-only (cannot set "%s")'):format(funck(fn, -c - 1)))
    end
  end
  return nil
end

return _M
