-- The fields of the newer event types: the Lua copy of src/evtypes.c. Each
-- key has one kind and one slot of struct eg_event (num[] or aux[]) whatever
-- the type; each type lists the keys it carries. host.init compares this
-- with the C registry and refuses to start when they differ.
local _M = {}

-- key -> { kind = "num" | "flags" | "str", slot = 0-based, names = { [bit] = name } }
_M.FIELDS = {
  flags = { kind = "flags", slot = 0,
    names = { [1] = "cloexec", [2] = "allow_sealing", [4] = "hugetlb", [8] = "noexec_seal", [16] = "exec" } },
}
-- the registry's order (the C array's)
_M.ORDER = { "flags" }

-- type number -> { keys..., ret = bool }
_M.TYPES = {
  [5] = { "flags", ret = true }, -- memfd
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

-- "cloexec|allow_sealing", unknown bits as one "0x..", as src/evtypes.c writes it.
function _M.format_flags(f, v)
  local bit = require("bit")
  local out = {}
  local bits = {}
  for b in pairs(f.names) do bits[#bits + 1] = b end
  table.sort(bits)
  for _, b in ipairs(bits) do
    if bit.band(v, b) ~= 0 then
      out[#out + 1] = f.names[b]
      v = bit.band(v, bit.bnot(b))
    end
  end
  if v ~= 0 then out[#out + 1] = ("0x%x"):format(v) end
  return table.concat(out, "|")
end

return _M
