-- The reference's built-in heuristics. Each gives its regexes (compiled
-- byte-wise and, where the reference lowercases, caseless) and a Lua
-- expression over the event `e` for the generated rule code; RX(name) stands
-- for the compiled pattern, M(code, ptr, len) for a match.
local regex = require("ebpf_guard.regex")

local _M = {}

local CASELESS = regex.CASELESS
local PREFIXES = [[(?:memfd:|/dev/shm/|/tmp/\.|/proc/self/fd/)]]
-- Miner names: the reference's (xmrig, minerd, cpuminer) and other widely
-- deployed miners.
_M.MINERS = {
  "xmrig", "minerd", "cpuminer", "xmr-stak", "ccminer", "cgminer", "bfgminer",
  "ethminer", "nbminer", "lolminer", "phoenixminer", "nanominer", "teamredminer",
}

_M.LIST = {
  {
    id = "builtin_fileless_exec",
    description = "Fileless or memory-backed executable",
    types = { 1 },
    severity = "critical",
    tags = { "T1620" },
    regexes = {
      fn = { "^" .. PREFIXES, 0 },
      exe = { "^(?:/?memfd:|/dev/shm/|/tmp/\\.|/proc/self/fd/)", 0 },
    },
    expr = "band(e.flags, 2) ~= 0 or M(RX(fn), e.filename, e.filename_len) or M(RX(exe), e.exe, e.exe_len)",
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
    expr = "M(RX(comm), e.comm, e.comm_len) or M(RX(fn), e.filename, e.filename_len)",
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
    expr = "M(RX(name), e.comm, e.comm_len) or M(RX(name), e.filename, e.filename_len)",
  },
  {
    id = "builtin_crypto_port",
    description = "Outgoing connection on common crypto-miner port",
    types = { 3 },
    severity = "warning",
    tags = { "T1496" },
    regexes = {},
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
