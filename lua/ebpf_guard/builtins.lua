-- The reference's built-in heuristics, as Lua expressions over the event `e`
-- for the generated rule code (src: compile.lua).
local regex = require("ebpf_guard.regex")

local _M = {}

local CASELESS = regex.CASELESS
-- Miner names: the reference's (xmrig, minerd, cpuminer) and other widely
-- deployed miners. Each contains "xmr" or "miner" (the comm pre-filter of SCAN).
_M.MINERS = {
  "xmrig", "minerd", "cpuminer", "xmr-stak", "ccminer", "cgminer", "bfgminer",
  "ethminer", "nbminer", "lolminer", "phoenixminer", "nanominer", "teamredminer",
}

-- Byte-wise checks for the generated code (no allocation, no PCRE2 call on
-- the common path). SCAN(p, len, comp) reads p[0..len) backwards, stopping at
-- the last "/" when comp is true (the last path component), and returns
-- bit 1: "bash", "zsh", "ksh" or "dash" (any case) in what it read;
-- bit 2: what it read is exactly "sh" (any case);
-- bit 4: "xmr" or "miner" in what it read: a possible miner name in the comm,
--        confirmed with PCRE2 (file names go to PCRE2 directly: a miner name
--        may be in any component).
-- bor(c, 32) lowercases letters and maps no other byte onto a lowercase letter.
_M.PRELUDE = [[
local bor = bit.bor
local function SCAN(p, len, comp)
  if p == nil then return 0 end
  local r, start = 0, 0
  for j = len - 1, 0, -1 do
    local c = p[j]
    if c == 47 and comp then
      start = j + 1
      break
    end
    local l = bor(c, 32)
    if l == 104 and j >= 2 and bor(p[j - 1], 32) == 115 then
      local a = bor(p[j - 2], 32)
      if a == 122 or a == 107 then
        r = bor(r, 1)
      elseif a == 97 and j >= 3 then
        local d = bor(p[j - 3], 32)
        if d == 98 or d == 100 then r = bor(r, 1) end
      end
    elseif l == 114 and j >= 2 then
      local a = bor(p[j - 1], 32)
      if a == 109 and bor(p[j - 2], 32) == 120 then
        r = bor(r, 4)
      elseif a == 101 and j >= 4 and bor(p[j - 2], 32) == 110 and bor(p[j - 3], 32) == 105
          and bor(p[j - 4], 32) == 109 then
        r = bor(r, 4)
      end
    end
  end
  if len - start == 2 and bor(p[start], 32) == 115 and bor(p[start + 1], 32) == 104 then
    r = bor(r, 2)
  end
  return r
end
]]

-- Lua expression: true when the (p, len) string starts with lit.
local function prefix(p, len, lit)
  local t = { ("%s ~= nil and %s >= %d"):format(p, len, #lit) }
  for i = 1, #lit do
    local byte = lit:byte(i)
    if byte >= 128 then byte = byte - 256 end -- p is a const char *: signed bytes
    t[#t + 1] = ("%s[%d] == %d"):format(p, i - 1, byte)
  end
  return "(" .. table.concat(t, " and ") .. ")"
end

_M.prefix = prefix

local function any_prefix(p, len, list)
  local t = {}
  for i, lit in ipairs(list) do t[i] = prefix(p, len, lit) end
  return table.concat(t, " or ")
end

_M.FILELESS_PREFIXES = { "memfd:", "/dev/shm/", "/tmp/.", "/proc/self/fd/" }
_M.FILELESS_EXE_PREFIXES = { "memfd:", "/memfd:", "/dev/shm/", "/tmp/.", "/proc/self/fd/" }

-- Each built-in: its regexes (name = { pattern, options }), the per-event
-- locals it needs (pre, shared between built-ins) and its expression, where
-- RX(name) is the compiled pattern and M(code, ptr, len) a match.
_M.LIST = {
  {
    id = "builtin_fileless_exec",
    description = "Fileless or memory-backed executable",
    types = { 1 },
    severity = "critical",
    tags = { "T1620" },
    regexes = {},
    pre = {},
    expr = "band(e.flags, 2) ~= 0 or "
      .. any_prefix("e.filename", "e.filename_len", _M.FILELESS_PREFIXES) .. " or "
      .. any_prefix("e.exe", "e.exe_len", _M.FILELESS_EXE_PREFIXES),
  },
  {
    id = "builtin_suspicious_shell",
    description = "Suspicious shell execution",
    types = { 1 },
    severity = "warning",
    tags = { "T1059.004" },
    regexes = {},
    pre = {
      { "sc", "local sc = SCAN(e.comm, e.comm_len, false)" },
      { "sf", "local sf = SCAN(e.filename, e.filename_len, true)" },
    },
    expr = "band(sc, 3) ~= 0 or band(sf, 3) ~= 0",
  },
  {
    id = "builtin_crypto_exec",
    description = "Executable name looks like a crypto miner",
    types = { 1 },
    severity = "error",
    tags = { "T1496" },
    regexes = {
      name = { table.concat(_M.MINERS, "|"):gsub("%-", "\\-"), CASELESS },
    },
    pre = {
      { "sc", "local sc = SCAN(e.comm, e.comm_len, false)" },
    },
    expr = "(band(sc, 4) ~= 0 and M(RX(name), e.comm, e.comm_len)) or M(RX(name), e.filename, e.filename_len)",
  },
  {
    id = "builtin_crypto_port",
    description = "Outgoing connection on common crypto-miner port",
    types = { 3 },
    severity = "warning",
    tags = { "T1496" },
    regexes = {},
    pre = {},
    expr = "e.dest_port == 3333 or e.dest_port == 4444 or e.dest_port == 5555 or e.dest_port == 7777",
  },
}

_M.IDS = {}
_M.ID_LIST = {}
for _, b in ipairs(_M.LIST) do
  _M.IDS[b.id] = b
  _M.ID_LIST[#_M.ID_LIST + 1] = b.id
end

return _M
