-- Loads rule files (.yaml/.yml), Lua detection files (.lua) and directories
-- of them, and validates them. Every error is one line:
--   <file>: <what>: <field>: <problem>
-- e.g. rules/bad.yaml: rule "x": filname_regex: unknown key (did you mean "filename_regex"?)
local ffi = require("ffi")
local regex = require("ebpf_guard.regex")
local sandbox = require("ebpf_guard.sandbox")
local guard = require("ebpf_guard.guard")
local lint = require("ebpf_guard.lint")

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local math_floor = math.floor
local concat = table.concat

local _M = {}

_M.SEVERITIES = { "debug", "info", "notice", "warning", "error", "critical" }
local SEVERITY_SET = {}
for _, s in ipairs(_M.SEVERITIES) do SEVERITY_SET[s] = true end

_M.RULE_KEYS = {
  "id", "description", "event_types", "comm_regex", "filename_regex",
  "min_dest_port", "max_dest_port", "severity", "tags", "enabled", "condition",
}
_M.DETECTION_KEYS = { "id", "description", "event_types", "match", "severity", "tags", "enabled" }
_M.TOP_KEYS = { "rules", "disable_builtins" }
_M.YAML_TYPES = { "exec", "open", "connect", "memfd", "ptrace",
  "module", "bpf", "setid", "namespace", "mount", "link", "rename", "unlink", "chmod", "dup", "listen", "accept" }
_M.LUA_TYPES = { "exec", "open", "connect", "exit", "memfd", "ptrace",
  "module", "bpf", "setid", "namespace", "mount", "link", "rename", "unlink", "chmod", "dup", "listen", "accept" }
local TYPE_NUM = require("ebpf_guard.event").TYPES

ffi.cdef [[
typedef struct eg_DIR eg_DIR;
eg_DIR *opendir(const char *name);
int closedir(eg_DIR *d);
struct eg_dirent { uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type; char d_name[256]; };
struct eg_dirent *readdir(eg_DIR *d);
]]

-- ---------------------------------------------------------------- helpers

local function quote(s)
  s = tostring(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    return ("\\x%02x"):format(c:byte())
  end)
  return '"' .. s .. '"'
end
_M.quote = quote

local function is_null(v)
  return type(v) == "table" and v == require("lyaml").null
end

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do
    if rawget(t, i) == nil then return false end
  end
  return true
end

-- A key as text, without calling a user's __tostring.
local function key_text(k)
  if type(k) == "string" then return k end
  if type(k) == "number" or type(k) == "boolean" then return tostring(k) end
  return "(" .. type(k) .. " key)"
end

-- "got ..." text for a bad value.
local function got(v)
  local t = type(v)
  if v == nil then return "nothing" end
  if t == "string" then return "string " .. quote(v) end
  if t == "number" or t == "boolean" then return t .. " " .. tostring(v) end
  if t == "table" then
    if next(v) == nil then return "an empty list" end
    if is_list(v) then return "a list" end
    return "a mapping"
  end
  return "a " .. t
end

local function levenshtein(a, b)
  local la, lb = #a, #b
  local prev = {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    local cur = { [0] = i }
    local ca = a:byte(i)
    for j = 1, lb do
      local cost = (ca == b:byte(j)) and 0 or 1
      local v = prev[j] + 1
      if cur[j - 1] + 1 < v then v = cur[j - 1] + 1 end
      if prev[j - 1] + cost < v then v = prev[j - 1] + cost end
      cur[j] = v
    end
    prev = cur
  end
  return prev[lb]
end

-- The closest known name to key, or nil when none is close.
local function suggest(key, known)
  key = tostring(key)
  local best, bestd
  for _, k in ipairs(known) do
    local d = levenshtein(key:lower(), k)
    if d < (bestd or math.huge) then best, bestd = k, d end
  end
  if bestd and bestd <= math.max(2, math_floor(#key / 3)) then return best end
  local lk = key:lower()
  for _, k in ipairs(known) do
    if #lk >= 3 and (k:find(lk, 1, true) or lk:find(k, 1, true)) then return k end
  end
  -- every word of the key in a known name: builtin_shell -> builtin_suspicious_shell
  for _, k in ipairs(known) do
    local all, any = true, false
    for w in lk:gmatch("[^_%-]+") do
      any = true
      if not k:find(w, 1, true) then all = false end
    end
    if any and all and lk:find("[_%-]") then return k end
  end
  return nil
end
_M.suggest = suggest

local function unknown(key, known, what)
  local s = suggest(key, known)
  if s then return ("%s (did you mean %s?)"):format(what, quote(s)) end
  return ("%s (expected one of %s)"):format(what, concat(known, ", "))
end

local Fail = {}
local function fail(msg) error(setmetatable({ msg = msg }, Fail), 0) end

-- A reporter for one rule: err(field, problem) raises "<file>: <label>: <field>: <problem>".
local function reporter(file, kind, idx)
  local r = { kind = kind, label = ("%s #%d"):format(kind, idx) }
  r.index_label = r.label
  function r.err(field, problem)
    if field then
      fail(("%s: %s: %s: %s"):format(file, r.label, field, problem))
    end
    fail(("%s: %s: %s"):format(file, r.label, problem))
  end
  return r
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return key_text(a) < key_text(b) end)
  return ks
end

-- ------------------------------------------------------------- validation

local function check_string(r, t, field, required)
  local v = t[field]
  if v == nil then
    if required then r.err(field, "missing") end
    return nil
  end
  if type(v) ~= "string" then r.err(field, "expected a string, got " .. got(v)) end
  if v == "" then r.err(field, "must not be empty") end
  return v
end

-- Names the rule by its id in messages when the id is usable.
local function label_by_id(r, t)
  if type(t.id) == "string" and t.id ~= "" then r.label = r.kind .. " " .. quote(t.id) end
end

local function check_id(r, t, seen, file)
  local id = check_string(r, t, "id", true)
  if id:find("[%c]") then
    r.err("id", "must not contain control characters (newline, tab, DEL, ...)")
  end
  local prev = seen[id]
  local here = r.index_label
  r.label = r.kind .. " " .. quote(id)
  if prev then
    r.err("id", ("duplicate id %s (first defined in %s)"):format(quote(id), prev))
  end
  seen[id] = file .. ", " .. here
  return id
end

local function check_keys(r, t, known)
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for _, k in ipairs(sorted_keys(t)) do
    if not set[k] then r.err(key_text(k), unknown(key_text(k), known, "unknown key")) end
  end
end

local function check_types(r, t, allowed, lua)
  local v = t.event_types
  local hint = "list at least one of " .. concat(allowed, ", ")
  if v == nil then r.err("event_types", "missing (" .. hint .. ")") end
  if type(v) ~= "table" or (next(v) ~= nil and not is_list(v)) then
    r.err("event_types", "expected a list of event types, got " .. got(v))
  end
  if #v == 0 then r.err("event_types", "empty (" .. hint .. ")") end
  local set, out = {}, {}
  for i, name in ipairs(v) do
    if type(name) ~= "string" then
      r.err(("event_types[%d]"):format(i), "expected an event type name, got " .. got(name))
    end
    local ok = false
    for _, a in ipairs(allowed) do if a == name then ok = true end end
    if not ok then
      if name == "exit" and not lua then
        r.err("event_types", 'unknown event type "exit" (exit events are only available to Lua detections)')
      end
      r.err("event_types", unknown(name, allowed, "unknown event type " .. quote(name)))
    end
    if not set[name] then
      set[name] = true
      out[#out + 1] = TYPE_NUM[name]
    end
  end
  table.sort(out)
  return out
end

local function check_severity(r, t)
  local v = t.severity
  if v == nil then return "warning" end
  if type(v) ~= "string" then r.err("severity", "expected a string, got " .. got(v)) end
  if not SEVERITY_SET[v] then
    r.err("severity", unknown(v, _M.SEVERITIES, "unknown severity " .. quote(v)))
  end
  return v
end

local function check_tags(r, t)
  local v = t.tags
  if v == nil then return {} end
  if type(v) ~= "table" or (next(v) ~= nil and not is_list(v)) then
    r.err("tags", "expected a list of strings, got " .. got(v))
  end
  local out = {}
  for i, s in ipairs(v) do
    if type(s) ~= "string" then
      r.err(("tags[%d]"):format(i), "expected a string, got " .. got(s))
    end
    out[i] = s
  end
  return out
end

local function check_enabled(r, t)
  local v = t.enabled
  if v == nil then return true end
  if type(v) ~= "boolean" then r.err("enabled", "expected true or false, got " .. got(v)) end
  return v
end

local function check_regex(r, t, field)
  local v = check_string(r, t, field, false)
  if v == nil then return nil end
  local re, err = regex.new(v)
  if not re then r.err(field, ("invalid regex %s: %s"):format(quote(v), err)) end
  return re
end

local function check_port(r, t, field)
  local v = t[field]
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= math_floor(v) or v < 0 or v > 65535 then
    r.err(field, "expected an integer in 0..65535, got " .. got(v))
  end
  return v
end

local function compile_condition(r, src)
  if type(src) ~= "string" then r.err("condition", "expected a string, got " .. got(src)) end
  if src:match("^%s*$") then r.err("condition", "must not be empty") end
  local chunk, err = load("local ev = ... return (" .. src .. "\n)", "=condition", "t")
  if not chunk then
    err = err:gsub("^condition:%d+: ", "")
    r.err("condition", ("Lua syntax error in %s: %s"):format(quote(src), err))
  end
  local bad = lint.check(chunk, "ev")
  if bad then r.err("condition", bad.msg) end
  setfenv(chunk, sandbox.env(nil))
  jit.off(chunk, true)
  return chunk
end

-- --------------------------------------------------------------- loaders

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    err = tostring(err):gsub("^.-: ", "")
    fail(("%s: cannot open file: %s"):format(path, err))
  end
  local s, rerr = f:read("*a")
  f:close()
  if not s then fail(("%s: cannot read file: %s"):format(path, tostring(rerr))) end
  return s
end

local function yaml_rule(file, i, t, st)
  local r = reporter(file, "rule", i)
  if is_null(t) or type(t) ~= "table" or (next(t) ~= nil and is_list(t)) then
    r.err(nil, "expected a mapping with the rule's keys, got " .. (is_null(t) and "null" or got(t)))
  end
  for k, v in pairs(t) do
    if is_null(v) then t[k] = nil end
  end
  label_by_id(r, t)
  check_keys(r, t, _M.RULE_KEYS)
  local id = check_id(r, t, st.seen, file)
  local rule = {
    kind = "yaml", id = id, source = file,
    description = check_string(r, t, "description", true),
    types = check_types(r, t, _M.YAML_TYPES, false),
    comm_rx = check_regex(r, t, "comm_regex"),
    filename_rx = check_regex(r, t, "filename_regex"),
    min_port = check_port(r, t, "min_dest_port"),
    max_port = check_port(r, t, "max_dest_port"),
    severity = check_severity(r, t),
    tags = check_tags(r, t),
    enabled = check_enabled(r, t),
  }
  if rule.min_port and rule.max_port and rule.min_port > rule.max_port then
    r.err("min_dest_port", ("%d is greater than max_dest_port %d"):format(rule.min_port, rule.max_port))
  end
  if t.condition ~= nil then
    rule.condition = compile_condition(r, t.condition)
    rule.condition_src = t.condition
  end
  return rule
end

local function load_yaml(file, st, ctx)
  local text = read_file(file)
  local lyaml = require("lyaml")
  local ok, docs = pcall(lyaml.load, text, { all = true })
  if not ok then
    local msg = tostring(docs)
    local line, col, rest = msg:match("^(%d+):(%d+): (.*)$")
    if line then
      fail(("%s: YAML syntax error at line %s, column %s: %s"):format(file, line, col, rest))
    end
    fail(("%s: YAML syntax error: %s"):format(file, msg))
  end
  if type(docs) == "table" and #docs > 1 then
    fail(("%s: %d YAML documents (put every rule in one document, without ---)"):format(file, #docs))
  end
  local doc = type(docs) == "table" and docs[1] or nil
  if doc == nil or is_null(doc) then return end
  if type(doc) ~= "table" or (next(doc) ~= nil and is_list(doc)) then
    fail(('%s: expected a mapping with a "rules" list at the top level, got %s'):format(file, got(doc)))
  end
  for _, k in ipairs(sorted_keys(doc)) do
    if k ~= "rules" and k ~= "disable_builtins" then
      fail(("%s: %s: %s"):format(file, key_text(k), unknown(key_text(k), _M.TOP_KEYS, "unknown top-level key")))
    end
  end
  local db = doc.disable_builtins
  if db ~= nil and not is_null(db) then
    if type(db) ~= "table" or (next(db) ~= nil and not is_list(db)) then
      fail(("%s: disable_builtins: expected a list of built-in ids, got %s"):format(file, got(db)))
    end
    for i, id in ipairs(db) do
      if type(id) ~= "string" then
        fail(("%s: disable_builtins[%d]: expected a built-in id, got %s"):format(file, i, got(id)))
      end
      if not ctx.builtin_ids[id] then
        fail(("%s: disable_builtins[%d]: %s"):format(file, i,
          unknown(id, ctx.builtin_list, "unknown built-in id " .. quote(id))))
      end
      st.disabled[id] = file
    end
  end
  local rules = doc.rules
  if rules == nil or is_null(rules) then return end
  if type(rules) ~= "table" or (next(rules) ~= nil and not is_list(rules)) then
    fail(("%s: rules: expected a list of rules, got %s"):format(file, got(rules)))
  end
  for i, t in ipairs(rules) do
    local rule = yaml_rule(file, i, t, st)
    if rule.enabled then st.rules[#st.rules + 1] = rule end
  end
end

-- Tables from user code are read by our code outside the budget: refuse
-- metatables, whose metamethods would run unbounded.
local function plain(r, field, v)
  if type(v) == "table" and debug.getmetatable(v) ~= nil then
    r.err(field, "must be a plain table (no metatable)")
  end
end

local function lua_detection(file, i, t, st)
  local r = reporter(file, "detection", i)
  if type(t) ~= "table" then
    r.err(nil, "expected a detection table, got " .. got(t))
  end
  plain(r, nil, t)
  plain(r, "event_types", t.event_types)
  plain(r, "tags", t.tags)
  label_by_id(r, t)
  check_keys(r, t, _M.DETECTION_KEYS)
  local id = check_id(r, t, st.seen, file)
  local det = {
    kind = "lua", id = id, source = file,
    description = check_string(r, t, "description", true),
    types = check_types(r, t, _M.LUA_TYPES, true),
    severity = check_severity(r, t),
    tags = check_tags(r, t),
    enabled = check_enabled(r, t),
  }
  if t.match == nil then
    r.err("match", "missing (a function(ev) returning true, a table or nil)")
  end
  if type(t.match) ~= "function" then
    r.err("match", "expected a function, got " .. got(t.match))
  end
  if debug.getinfo(t.match, "S").what ~= "C" then
    local bad = lint.check(t.match)
    if bad then r.err("match", ("line %d: %s"):format(bad.line, bad.msg)) end
    jit.off(t.match, true)
  end
  det.match = t.match
  return det
end

local function load_lua(file, st, ctx)
  local text = read_file(file)
  -- Source text only: LuaJIT does not verify bytecode, and crafted bytecode
  -- can read and write memory outside the sandbox.
  if text:byte(1) == 27 then
    fail(("%s: is precompiled Lua bytecode; detections are loaded from source text only"):format(file))
  end
  local chunk, err = load(text, "@" .. file, "t")
  if not chunk then
    local line, rest = tostring(err):match(":(%d+): (.*)$")
    if line then
      fail(("%s: Lua syntax error at line %s: %s"):format(file, line, rest))
    end
    fail(("%s: Lua syntax error: %s"):format(file, tostring(err)))
  end
  local g = guard.instance(file)
  setfenv(chunk, sandbox.env(g))
  jit.off(chunk, true)
  local ok, ret = ctx.run_user(chunk)
  if not ok then
    fail(("%s: error while loading: %s"):format(file, tostring(ret)))
  end
  if type(ret) ~= "table" then
    fail(("%s: expected the file to return a detection (a table) or a list of them, got %s"):format(file, got(ret)))
  end
  if debug.getmetatable(ret) ~= nil then
    fail(("%s: the returned table must be a plain table (no metatable)"):format(file))
  end
  local list = ret
  if ret.id ~= nil or ret.match ~= nil or ret.description ~= nil or ret.event_types ~= nil
      or not is_list(ret) then
    list = { ret }
  end
  st.lua_files = st.lua_files + 1
  for i, t in ipairs(list) do
    local det = lua_detection(file, i, t, st)
    if det.enabled then st.rules[#st.rules + 1] = det end
  end
end

local function list_dir(path)
  local d = ffi.C.opendir(path)
  if d == nil then return nil end
  local names = {}
  while true do
    local ent = ffi.C.readdir(d)
    if ent == nil then break end
    local name = ffi.string(ent.d_name)
    if name:sub(1, 1) ~= "." and (name:match("%.ya?ml$") or name:match("%.lua$")) then
      names[#names + 1] = name
    end
  end
  ffi.C.closedir(d)
  table.sort(names)
  return names
end

local function load_path(path, st, ctx)
  if type(path) ~= "string" or path == "" then
    fail("config: expected a file or directory path, got " .. got(path))
  end
  local names = list_dir(path)
  if names then
    local base = path:gsub("/+$", "")
    for _, n in ipairs(names) do load_path(base .. "/" .. n, st, ctx) end
    return
  end
  if path:match("%.ya?ml$") then return load_yaml(path, st, ctx) end
  if path:match("%.lua$") then return load_lua(path, st, ctx) end
  local f = io.open(path, "rb")
  if not f then read_file(path) end
  f:close()
  fail(("%s: unsupported config file (expected a .yaml, .yml or .lua file, or a directory of them)"):format(path))
end

-- Loads every path in order. ctx: { builtin_ids = set, builtin_list = list,
-- run_user = function(fn, ...) -> ok, result }.
-- Returns { rules = {...}, disabled = { id = file }, lua_files = n } or nil, message.
function _M.load(paths, ctx)
  local st = { rules = {}, seen = {}, disabled = {}, lua_files = 0 }
  local ok, err = pcall(function()
    for _, p in ipairs(paths or {}) do load_path(p, st, ctx) end
    for _, rule in ipairs(st.rules) do
      if ctx.builtin_ids[rule.id] and not st.disabled[rule.id] then
        local word = rule.kind == "lua" and "detection" or "rule"
        fail(("%s: %s %s: id: duplicate id %s (a built-in heuristic; list it under disable_builtins to replace it)")
          :format(rule.source, word, quote(rule.id), quote(rule.id)))
      end
    end
  end)
  if not ok then
    if getmetatable(err) == Fail then return nil, err.msg end
    error(err, 0)
  end
  return st
end

return _M
