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

-- The built-ins run as PCRE2 matches on the event's strings in place (no
-- allocation). Patterns are byte-wise and caseless, as the reference compares
-- lowercased strings. Miner names are confirmed only after the cheap hint pattern
-- matched: every name in MINERS contains "xmr" or "miner", and a pattern with
-- few possible first bytes lets PCRE2 skip most start positions.
-- (Hand-written byte loops were tried: their branchy inner loops spread over
-- many side traces and ran 2-10x slower than these calls under LuaJIT.)
_M.PRELUDE = ""

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
    regexes = {
      comm = { [[bash|zsh|ksh|dash|^sh\z]], CASELESS },
      fn = { [[(?:bash|zsh|ksh|dash)[^/]*\z|(?:^|/)sh\z]], CASELESS },
    },
    pre = {},
    -- and the executable itself (a link named "innocent" to bash), unless
    -- the exec ran a script: exe is then its interpreter
    expr = "M(RX(comm), e.comm, e.comm_len) or M(RX(fn), e.filename, e.filename_len)"
      .. " or (band(e.flags, 32) == 0 and M(RX(fn), e.exe, e.exe_len))",
    -- the same with the host's C test for the two regexes (src/textmatch.c)
    fast_expr = "SHELLISH(e.comm, e.comm_len, 0) ~= 0 or SHELLISH(e.filename, e.filename_len, 1) ~= 0"
      .. " or (band(e.flags, 32) == 0 and SHELLISH(e.exe, e.exe_len, 1) ~= 0)",
  },
  {
    id = "builtin_crypto_exec",
    description = "Executable name looks like a crypto miner",
    types = { 1 },
    severity = "error",
    tags = { "T1496" },
    regexes = {
      name = { table.concat(_M.MINERS, "|"):gsub("%-", "\\-"), CASELESS },
      hint = { "xmr|miner", CASELESS },
    },
    pre = {},
    expr = "(M(RX(hint), e.comm, e.comm_len) and M(RX(name), e.comm, e.comm_len))"
      .. " or (M(RX(hint), e.filename, e.filename_len) and M(RX(name), e.filename, e.filename_len))"
      .. " or (M(RX(hint), e.exe, e.exe_len) and M(RX(name), e.exe, e.exe_len))",
    -- the hint regex as the host's C test (src/textmatch.c)
    fast_expr = "(MINER_HINT(e.comm, e.comm_len) ~= 0 and M(RX(name), e.comm, e.comm_len))"
      .. " or (MINER_HINT(e.filename, e.filename_len) ~= 0 and M(RX(name), e.filename, e.filename_len))"
      .. " or (MINER_HINT(e.exe, e.exe_len) ~= 0 and M(RX(name), e.exe, e.exe_len))",
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
    -- the same ports, for the kernel filter's derivation (compile.kernel_filter)
    ports = { 3333, 4444, 5555, 7777 },
  },
}

_M.IDS = {}
_M.ID_LIST = {}
for _, b in ipairs(_M.LIST) do
  _M.IDS[b.id] = b
  _M.ID_LIST[#_M.ID_LIST + 1] = b.id
end

return _M
