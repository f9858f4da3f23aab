-- The fields of the newer event types: the Lua copy of src/evtypes.c. Each
-- key has one kind and one slot of struct eg_event (num[] or aux[]) whatever
-- the type; each type lists the keys it carries. host.init compares this
-- with the C registry and refuses to start when they differ.
local bit = require("bit")

local _M = {}

-- key -> { kind = "num" | "flags" | "str" | "enum", slot = 0-based,
--          names = { [bit or value] = name } }
_M.FIELDS = {
  flags = { kind = "flags", slot = 0,
    names = { [1] = "cloexec", [2] = "allow_sealing", [4] = "hugetlb", [8] = "noexec_seal", [16] = "exec" } },
  request = { kind = "enum", slot = 0,
    names = { [0] = "traceme", [1] = "peektext", [2] = "peekdata", [3] = "peekuser", [4] = "poketext",
      [5] = "pokedata", [6] = "pokeuser", [7] = "cont", [8] = "kill", [9] = "singlestep",
      [12] = "getregs", [13] = "setregs", [14] = "getfpregs", [15] = "setfpregs", [16] = "attach",
      [17] = "detach", [18] = "getfpxregs", [19] = "setfpxregs", [24] = "syscall",
      [0x4200] = "setoptions", [0x4201] = "geteventmsg", [0x4202] = "getsiginfo",
      [0x4203] = "setsiginfo", [0x4204] = "getregset", [0x4205] = "setregset", [0x4206] = "seize",
      [0x4207] = "interrupt", [0x4208] = "listen", [0x4209] = "peeksiginfo",
      [0x420a] = "getsigmask", [0x420b] = "setsigmask", [0x420c] = "seccomp_get_filter",
      [0x420e] = "get_syscall_info" } },
  target_pid = { kind = "num", slot = 1 },
  target_comm = { kind = "str", slot = 0 },
  target_exe = { kind = "str", slot = 1 },
}
-- the registry's order (the C array's)
_M.ORDER = { "flags", "request", "target_pid", "target_comm", "target_exe" }

-- type number -> { keys..., ret = bool }
_M.TYPES = {
  [5] = { "flags", ret = true }, -- memfd
  [6] = { "request", "target_pid", "target_comm", "target_exe", ret = true }, -- ptrace
}

local function same_names(a, b)
  for k, v in pairs(a) do if b[k] ~= v then return false end end
  for k, v in pairs(b) do if a[k] ~= v then return false end end
  return true
end

-- Compares with the C registry ({ fields = { { key, kind, slot, names } },
-- types = { [type] = { keys, ret } } }). true, or nil and the first difference.
function _M.check(reg)
  if type(reg) ~= "table" or type(reg.fields) ~= "table" or type(reg.types) ~= "table" then
    return nil, "event field registry missing from the host"
  end
  if #reg.fields ~= #_M.ORDER then
    return nil, ("event field registry mismatch: %d fields in C, %d in Lua"):format(#reg.fields, #_M.ORDER)
  end
  for i, f in ipairs(reg.fields) do
    local mine = _M.FIELDS[f.key]
    if _M.ORDER[i] ~= f.key or not mine or mine.kind ~= f.kind or mine.slot ~= f.slot
        or not same_names(mine.names or {}, f.names or {}) then
      return nil, ("event field registry mismatch: field %s"):format(tostring(f.key))
    end
  end
  for t, keys in pairs(reg.types) do
    local mine = _M.TYPES[t]
    if not mine or #mine ~= #keys or (mine.ret or false) ~= keys.ret then
      return nil, ("event field registry mismatch: type %d"):format(t)
    end
    for i, k in ipairs(keys) do
      if mine[i] ~= k then return nil, ("event field registry mismatch: type %d key %s"):format(t, k) end
    end
  end
  for t in pairs(_M.TYPES) do
    if not reg.types[t] then return nil, ("event field registry mismatch: type %d"):format(t) end
  end
  return true
end

-- An enum value's name, or the number in decimal (src/evtypes.c).
function _M.format_enum(f, v)
  return f.names[v] or tostring(v)
end

-- each flags field's bits in ascending order (src/evtypes.c's order)
for _, f in pairs(_M.FIELDS) do
  if f.kind == "flags" then
    local bits = {}
    for b in pairs(f.names) do bits[#bits + 1] = b end
    table.sort(bits)
    f.bits = bits
  end
end

-- "cloexec|allow_sealing", unknown bits as one "0x..", as src/evtypes.c writes it.
function _M.format_flags(f, v)
  local out = {}
  for _, b in ipairs(f.bits) do
    if bit.band(v, b) ~= 0 then
      out[#out + 1] = f.names[b]
      v = bit.band(v, bit.bnot(b))
    end
  end
  if v ~= 0 then out[#out + 1] = ("0x%x"):format(v) end
  return table.concat(out, "|")
end

return _M
