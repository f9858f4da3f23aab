-- Which kills the kernel can make itself (bpf/kkill.h, docs/response.md "In
-- the kernel"): a YAML rule with action kill whose whole condition is one
-- test the kernel makes exactly, on one event type:
--   exec     filename (as passed) or exe: prefix, eq or in of strings, or
--            any: of such tests (a script's exe is its interpreter: a
--            rule on a directory of programs names both)
--   open     filename (the opened file's path): prefix, eq or in
--   connect  dest_port: eq or in, or the reference's min/max_dest_port
--            over at most MAX_RANGE ports
--   ptrace   request, bpf bpf_cmd, module and mount call: eq or in, or
--            no test at all (every event of the type); the kernel kills
--            at the call's exit (bpf/kkill.h kk_code_call)
-- with no exceptions and nothing else. Such a rule's values go to the
-- kernel's tables (a value the tables cannot hold, too long, stays out:
-- its events are killed from userspace, on the alert); every other rule
-- with action kill is enforced from userspace only.
local event = require("ebpf_guard.event")

local _M = {}

_M.PATH_MAX = 64      -- EG_KK_PATH_MAX: path bytes the trie compares
_M.MAX_RANGE = 64     -- ports of a min/max range put in the port set
_M.NS = { exec_filename = 0, exec_exe = 1, open_filename = 2, protect = 3 } -- enum eg_kk_ns
_M.ANY = 0xffffff     -- EG_KK_ANY: every event of the type (a code is below it)

local T = event.TYPES

-- The event's code for kk_code, by type: the field that holds it
local CODES = { [T.ptrace] = "request", [T.bpf] = "bpf_cmd", [T.module] = "call", [T.mount] = "call" }

-- EG_KK_CODE(type, code)
function _M.code_key(t, code) return t * 0x1000000 + code end

-- The field tests the kernel makes: [type][field] = namespace
local PATHS = {
  [T.exec] = { filename = _M.NS.exec_filename, exe = _M.NS.exec_exe },
  [T.open] = { filename = _M.NS.open_filename },
}

-- Appends m's values that the tables hold to out; whether there were any.
local function path_entries(ns, m, out)
  if type(m.values) ~= "table" then return false end
  local n = 0
  for _, v in ipairs(m.values) do
    if type(v) ~= "string" or v == "" or v:find("%z") then
      -- not a path the kernel compares: (cannot happen after the checks of
      -- the rule language) keep the rule out rather than guess
      for _ = 1, n do out[#out] = nil end
      return false
    end
    if m.op == "prefix" and #v <= _M.PATH_MAX then
      out[#out + 1] = { ns = ns, s = v, exact = false }
      n = n + 1
    elseif m.op == "in" and #v < _M.PATH_MAX then
      out[#out + 1] = { ns = ns, s = v, exact = true }
      n = n + 1
    end
  end
  return n > 0
end

-- Why rule r's kill is not made in the kernel, or nil when it is (its
-- entries appended to paths or ports).
local function derive_rule(r, paths, ports, codes)
  if r.kind ~= "yaml" then return "not a YAML rule" end
  if r.exc_ast or r.comm_rx or r.filename_rx or r.condition then return "has more than one test" end
  if #r.types ~= 1 then return "has several event types" end
  local t, ast = r.types[1], r.match_ast
  if t == T.connect then
    if ast and (r.min_port or r.max_port) then return "has more than one test" end
    if not ast then
      local lo, hi = r.min_port, r.max_port
      if not lo or not hi or hi - lo + 1 > _M.MAX_RANGE then return "tests a port range" end
      for p = lo, hi do ports[#ports + 1] = p end
      return nil
    end
    if ast.op ~= "field" or ast.field.name ~= "dest_port" or ast.m.op ~= "in" then
      return "tests more than the destination port"
    end
    for _, p in ipairs(ast.m.values) do
      if p >= 0 and p <= 65535 and p == math.floor(p) then ports[#ports + 1] = p end
    end
    return nil
  end
  local cf = CODES[t]
  if cf then
    if r.min_port or r.max_port then return "has more than one test" end
    if not ast then
      codes[#codes + 1] = _M.code_key(t, _M.ANY)
      return nil
    end
    if ast.op ~= "field" or ast.field.name ~= cf or ast.m.op ~= "in" then
      return "tests more than the " .. cf
    end
    local n = 0
    for _, c in ipairs(ast.m.values) do
      -- the kernel folds codes of EG_KK_ANY - 1 and above together
      if c >= 0 and c < _M.ANY - 1 and c == math.floor(c) then
        codes[#codes + 1] = _M.code_key(t, c)
        n = n + 1
      end
    end
    if n == 0 then return "names no " .. cf .. " the kernel can hold" end
    return nil
  end
  local fields = PATHS[t]
  if not fields then return "the kernel kills on exec, open, connect, ptrace, bpf, module and mount only" end
  if r.min_port or r.max_port then return "has more than one test" end
  -- one path test, or any of several (exec: filename or exe)
  local tests = ast and ast.op == "any" and ast.list or { ast }
  for _, x in ipairs(tests) do
    if not x or x.op ~= "field" or not fields[x.field.name] then return "tests more than a path" end
    if x.m.op ~= "prefix" and x.m.op ~= "in" then return "tests a path other than by prefix or equality" end
  end
  -- the values the tables hold, of every branch (the rest: userspace)
  local any = false
  for _, x in ipairs(tests) do
    if path_entries(fields[x.field.name], x.m, paths) then any = true end
  end
  if not any then return "names no path the kernel can hold" end
  return nil
end

-- rules: the final rule list (compile.build's). Returns
--   { paths = { { ns, s, exact }, ... }, ports = { n, ... },
--     codes = { code_key(type, code), ... },
--     rules = { id, ... } (the rules killed in the kernel) }
function _M.derive(rules)
  local paths, ports, codes, ids = {}, {}, {}, {}
  for _, r in ipairs(rules) do
    if r.action == "kill" then
      local np, nq, nc = #paths, #ports, #codes
      local why = derive_rule(r, paths, ports, codes)
      if why then
        for i = #paths, np + 1, -1 do paths[i] = nil end
        for i = #ports, nq + 1, -1 do ports[i] = nil end
        for i = #codes, nc + 1, -1 do codes[i] = nil end
      else
        ids[#ids + 1] = r.id
      end
    end
  end
  return { paths = paths, ports = ports, codes = codes, rules = ids }
end

-- The protect: list as the kernel's tables: paths (exact; one too long
-- for the trie is kept as a prefix of its first PATH_MAX bytes, which
-- protects more), directories (prefix, cut likewise) and names (their first
-- 15 bytes: a longer name protects every program sharing them). Returns
-- { paths = { { ns, s, exact }, ... }, names = { s, ... } }.
function _M.protect(list)
  local paths, names = {}, {}
  for _, p in ipairs(list or {}) do
    -- the kernel sees a deleted executable's path without the daemon's
    -- " (deleted)": protect it without, which protects more
    p = p:gsub(" %(deleted%)$", "")
    if p:sub(1, 1) == "/" then
      local dir = p:sub(-1) == "/"
      if dir or #p >= _M.PATH_MAX then
        paths[#paths + 1] = { ns = _M.NS.protect, s = p:sub(1, _M.PATH_MAX), exact = false }
      else
        paths[#paths + 1] = { ns = _M.NS.protect, s = p, exact = true }
      end
    elseif p ~= "" then
      names[#names + 1] = p:sub(1, 15)
    end
  end
  return { paths = paths, names = names }
end

return _M
