-- Loads rule files (.yaml/.yml), Lua detection files (.lua) and directories
-- of them, and validates them. Every error is one line:
--   <file>: <what>: <field>: <problem>
-- e.g. rules/bad.yaml: rule "x": filname_regex: unknown key (did you mean "filename_regex"?)
local ffi = require("ffi")
local regex = require("ebpf_guard.regex")
local lang = require("ebpf_guard.lang")
local sandbox = require("ebpf_guard.sandbox")
local guard = require("ebpf_guard.guard")
local view = require("ebpf_guard.view")
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
  "match", "exceptions", "action",
}
_M.DETECTION_KEYS = { "id", "description", "event_types", "match", "filter", "stored", "once", "once_per", "params",
  "severity", "tags", "enabled", "action" }
_M.TOP_KEYS = { "rules", "disable_builtins", "lists", "macros", "overrides", "protect" }
_M.EXCEPTION_KEYS = { "name", "fields", "comps", "values" }
_M.OVERRIDE_KEYS = { "rule", "list", "macro", "append", "replace" }
_M.RULE_APPEND_KEYS = { "exceptions", "tags" }
_M.RULE_REPLACE_KEYS = { "severity", "enabled", "tags", "description", "exceptions", "action", "params" }
-- What an alert of a rule does besides being raised (docs/response.md).
_M.ACTIONS = { "alert", "kill" }
-- The event types a kill may be asked on: the system calls a process can be
-- stopped at (in the kernel, at their entry, once rules compile to kernel
-- filters; from userspace, after the call, today).
_M.KILL_TYPES = { "exec", "open", "connect", "ptrace", "module", "bpf", "mount" }
_M.YAML_TYPES = { "exec", "open", "connect", "memfd", "ptrace",
  "module", "bpf", "setid", "namespace", "mount", "link", "rename", "unlink", "chmod", "dup", "listen", "accept" }
_M.LUA_TYPES = { "exec", "open", "connect", "exit", "memfd", "ptrace",
  "module", "bpf", "setid", "namespace", "mount", "link", "rename", "unlink", "chmod", "dup", "listen", "accept" }
local TYPE_NUM = require("ebpf_guard.event").TYPES
local event = require("ebpf_guard.event")

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

-- YAML's null (lyaml.null); without lyaml (its missing module is reported
-- once, when a YAML file is read) nothing is null: Lua detections and their
-- filters still load.
local function is_null(v)
  if type(v) ~= "table" then return false end
  local ok, lyaml = pcall(require, "lyaml")
  return ok and v == lyaml.null
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
    local d = levenshtein(key:lower(), k:lower())
    if d < (bestd or math.huge) then best, bestd = k, d end
  end
  if bestd and bestd <= math.max(2, math_floor(#key / 3)) then return best end
  local lk = key:lower()
  for _, k in ipairs(known) do
    if #lk >= 3 and #k >= 3 and (k:find(lk, 1, true) or lk:find(k, 1, true)) then return k end
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

-- Names from other tools (Falco's fields) and natural guesses, to suggest ours.
_M.ALIASES = {
  result = "ret", ["proc.name"] = "comm", ["proc.exe"] = "exe", ["proc.exepath"] = "exe",
  ["proc.cmdline"] = "cmdline", ["proc.args"] = "args", ["proc.pname"] = "parent.comm",
  ["proc.pexe"] = "parent.exe", ["proc.pcmdline"] = "parent.cmdline", ["proc.cwd"] = "cwd",
  ["proc.pid"] = "tgid", ["proc.ppid"] = "ppid", ["user.uid"] = "uid", ["user.loginuid"] = "loginuid",
  ["fd.name"] = "filename", ["fd.sip"] = "dest_ip", ["fd.sport"] = "dest_port", ["fd.rip"] = "dest_ip",
  ["fd.rport"] = "dest_port", ["container.id"] = "container_id", ["evt.type"] = "event_types",
  ["k8s.pod.uid"] = "pod_uid", command = "cmdline", path = "filename", port = "dest_port",
  ["parent.name"] = "parent.comm", name = "comm", ["ancestors.name"] = "ancestors.comm",
  startswith = "prefix", endswith = "suffix", pmatch = "prefix", ["="] = "eq", ["=="] = "eq",
  ["!="] = "not", [">="] = "ge", ["<="] = "le", [">"] = "gt", ["<"] = "lt", icontains = "contains",
}

-- "<what> (did you mean "x"?)"; without a close name the known names are
-- listed, unless nolist: then nolist's text (a string) or nothing (true).
local function unknown(key, known, what, nolist)
  local s = _M.ALIASES[key]
  if s then
    local ok = false
    for _, k in ipairs(known) do if k == s then ok = true end end
    if not ok then s = nil end
  end
  s = s or suggest(key, known)
  if s then return ("%s (did you mean %s?)"):format(what, quote(s)) end
  if nolist == true then return what end
  if nolist then return ("%s (%s)"):format(what, nolist) end
  return ("%s (expected one of %s)"):format(what, concat(known, ", "))
end

local Fail = {}
local function fail(msg) error(setmetatable({ msg = msg }, Fail), 0) end
-- Stops the current item without a message (its cause was reported already).
local function fail_silent() error(setmetatable({}, Fail), 0) end

-- A reporter for one rule: err(field, problem) raises "<file>: <label>: <field>: <problem>".
local function reporter(file, kind, idx)
  local r = { kind = kind, label = ("%s #%d"):format(kind, idx), file = file }
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

local function check_id(r, t)
  local id = check_string(r, t, "id", true)
  if id:find("[%c]") then
    r.err("id", "must not contain control characters (newline, tab, DEL, ...)")
  end
  r.label = r.kind .. " " .. quote(id)
  return id
end

-- Claims an id once its rule is valid (a broken rule's id does not make the
-- next rule with it a duplicate: each shows its own problem).
local function claim_id(r, id, seen, file)
  local prev = seen[id]
  if prev then
    r.err("id", ("duplicate id %s (first defined in %s)"):format(quote(id), prev))
  end
  seen[id] = file .. ", " .. r.index_label
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

-- "a, b and c"
local function and_list(names)
  if #names == 1 then return names[1] end
  return concat(names, ", ", 1, #names - 1) .. " and " .. names[#names]
end

-- action: alert (the default), kill, or a list of them ([alert, kill]).
-- Every rule raises its alert; kill also kills the process, and only on the
-- event types of KILL_TYPES. Returns "kill" or nil (alert only).
local function check_action(r, t, types)
  local v = t.action
  if v == nil then return nil end
  local one = type(v) == "string"
  if not one and (type(v) ~= "table" or is_null(v) or (next(v) ~= nil and not is_list(v))) then
    r.err("action", "expected alert, kill or a list of them, got " .. (is_null(v) and "null" or got(v)))
  end
  local list = one and { v } or v
  if #list == 0 then r.err("action", "empty (give alert, kill or [alert, kill])") end
  local seen, kill = {}, false
  for i, a in ipairs(list) do
    local field = one and "action" or ("action[%d]"):format(i)
    if type(a) ~= "string" then r.err(field, "expected alert or kill, got " .. got(a)) end
    if a ~= "alert" and a ~= "kill" then
      r.err(field, unknown(a, _M.ACTIONS, "unknown action " .. quote(a)))
    end
    if seen[a] then r.err(field, quote(a) .. " is listed twice") end
    seen[a] = true
    if a == "kill" then kill = true end
  end
  if not kill then return nil end
  local ok, bad = {}, {}
  for _, n in ipairs(_M.KILL_TYPES) do ok[n] = true end
  for _, n in ipairs(types) do
    local name = event.TYPE_NAMES[n]
    if not ok[name] then bad[#bad + 1] = name end
  end
  if #bad > 0 then
    r.err("action", ("kill cannot be enforced on %s events (only on %s events)")
      :format(and_list(bad), and_list(_M.KILL_TYPES)))
  end
  return "kill"
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

-- At most this many problems are listed; the rest are counted.
_M.MAX_ERRORS = 200

-- Runs fn(...); a load error is added to st.errors and the item skipped
-- (returns nil, true). Other errors propagate.
local function try(st, fn, ...)
  local ok, res = pcall(fn, ...)
  if ok then return res end
  if getmetatable(res) == Fail then
    if res.msg then st.errors[#st.errors + 1] = res.msg end
    return nil, true
  end
  error(res, 0)
end

local function check_list_of_strings(r, v, field)
  if type(v) ~= "table" or is_null(v) or (next(v) ~= nil and not is_list(v)) then
    r.err(field, "expected a list of strings, got " .. (is_null(v) and "null" or got(v)))
  end
  for i, s in ipairs(v) do
    if type(s) ~= "string" then r.err(("%s[%d]"):format(field, i), "expected a string, got " .. got(s)) end
  end
  return v
end

-- An exception (Falco's shape): { name, fields = field or [fields],
-- comps = matcher or [matchers] (default eq), values = [value] for one field
-- or [[v1, v2, ...]] for several }. Returns it normalised; the values are
-- resolved later (they may name lists).
local EXC_COMPS = { "eq", "in", "prefix", "suffix", "contains", "regex", "lt", "le", "gt", "ge", "any", "all" }
local function check_exception(r, e, field)
  if is_null(e) or type(e) ~= "table" or (next(e) ~= nil and is_list(e)) then
    r.err(field, "expected a mapping with name, fields and values, got " .. (is_null(e) and "null" or got(e)))
  end
  for _, k in ipairs(sorted_keys(e)) do
    if not ({ name = true, fields = true, comps = true, values = true })[k] then
      r.err(field .. ": " .. key_text(k), unknown(key_text(k), _M.EXCEPTION_KEYS, "unknown key"))
    end
  end
  local name = e.name
  if type(name) ~= "string" or name == "" then
    r.err(field .. ": name", name == nil and "missing" or ("expected a non-empty string, got " .. got(name)))
  end
  field = ("%s %s"):format(field, quote(name))
  local single = type(e.fields) == "string"
  local fields = single and { e.fields } or e.fields
  if fields == nil then r.err(field .. ": fields", "missing") end
  if type(fields) ~= "table" or is_null(fields) or not is_list(fields) or next(fields) == nil then
    r.err(field .. ": fields", "expected a field or a list of fields, got " .. got(e.fields))
  end
  for i, f in ipairs(fields) do
    if type(f) ~= "string" then
      r.err(("%s: fields[%d]"):format(field, i), "expected a field name, got " .. got(f))
    end
  end
  local comps = e.comps
  if comps == nil or is_null(comps) then
    comps = {}
    for i = 1, #fields do comps[i] = "eq" end
  elseif type(comps) == "string" then
    local c = comps
    comps = {}
    for i = 1, #fields do comps[i] = c end
  elseif type(comps) ~= "table" or not is_list(comps) or #comps ~= #fields then
    r.err(field .. ": comps", ("expected a matcher or a list of %d (one per field), got %s"):format(#fields, got(comps)))
  end
  for i, c in ipairs(comps) do
    local ok = false
    for _, k in ipairs(EXC_COMPS) do if k == c then ok = true end end
    if not ok then
      r.err(("%s: comps[%d]"):format(field, i), unknown(tostring(c), EXC_COMPS, "unknown matcher " .. quote(tostring(c))))
    end
  end
  local values = e.values
  if values == nil or is_null(values) then values = {} end
  if type(values) ~= "table" or (next(values) ~= nil and not is_list(values)) then
    r.err(field .. ": values", "expected a list, got " .. got(values))
  end
  local tuples = {}
  for i, v in ipairs(values) do
    if single then
      tuples[i] = { v }
    else
      if type(v) ~= "table" or is_null(v) or not is_list(v) or #v ~= #fields then
        r.err(("%s: values[%d]"):format(field, i),
          ("expected a list of %d values (one per field: %s), got %s"):format(#fields, concat(fields, ", "), got(v)))
      end
      tuples[i] = v
    end
  end
  return { name = name, fields = fields, comps = comps, values = tuples, file = r.file, label = r.label }
end

local function check_exceptions(r, v, field)
  if type(v) ~= "table" or is_null(v) or (next(v) ~= nil and not is_list(v)) then
    r.err(field, "expected a list of exceptions, got " .. (is_null(v) and "null" or got(v)))
  end
  local out, names = {}, {}
  for i, e in ipairs(v) do
    local x = check_exception(r, e, ("%s[%d]"):format(field, i))
    if names[x.name] then r.err(field, "duplicate exception " .. quote(x.name)) end
    names[x.name] = true
    out[i] = x
  end
  return out
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
  local id = check_id(r, t)
  local rule = {
    kind = "yaml", id = id, source = file, label = r.label,
    description = check_string(r, t, "description", true),
    types = check_types(r, t, _M.YAML_TYPES, false),
    comm_rx = check_regex(r, t, "comm_regex"),
    filename_rx = check_regex(r, t, "filename_regex"),
    min_port = check_port(r, t, "min_dest_port"),
    max_port = check_port(r, t, "max_dest_port"),
    severity = check_severity(r, t),
    tags = check_tags(r, t),
    enabled = check_enabled(r, t),
    match_raw = t.match,
    exceptions = t.exceptions ~= nil and check_exceptions(r, t.exceptions, "exceptions") or {},
    overrides = {},
  }
  rule.action = check_action(r, t, rule.types)
  if rule.min_port and rule.max_port and rule.min_port > rule.max_port then
    r.err("min_dest_port", ("%d is greater than max_dest_port %d"):format(rule.min_port, rule.max_port))
  end
  if t.condition ~= nil then
    rule.condition = compile_condition(r, t.condition)
    rule.condition_src = t.condition
  end
  if not rule.enabled then rule.why = "enabled: false in " .. file end
  claim_id(r, id, st.seen, file)
  return rule
end

-- 1-based line of each node of a YAML text, by path: "rules/3" is the third
-- item of the top-level rules list, "macros/x/comm" a key (its line is the
-- key's). Paths deeper than 4 levels are not kept. {} when the text does not parse.
-- The key under which yaml_lines keeps the duplicate mapping keys it found.
local DUPS = {}

-- Line numbers of a YAML text's nodes by path ("rules/2/match/comm"), and
-- under lines[DUPS] the keys repeated in one mapping: { key, line, first }.
local function yaml_lines(text)
  local ok, yaml = pcall(require, "yaml")
  if not ok then return { [DUPS] = {} } end
  local lines, dups = {}, {}
  lines[DUPS] = dups
  local p = yaml.parser(text)
  local stack = { { kind = "root", path = "", idx = 0 } }
  -- the node's path and line, or nil for a mapping key
  local function node_path(ev)
    local top = stack[#stack]
    local line = ev.start_mark.line + 1
    if top.kind == "seq" then
      top.idx = top.idx + 1
      return top.path .. "/" .. top.idx, line
    elseif top.kind == "map" then
      if top.want_key then
        top.want_key = false
        if ev.type == "SCALAR" then top.key = tostring(ev.value) else top.key = "?" end
        top.key_line = line
        if ev.type == "SCALAR" then
          local first = top.seen[top.key]
          if first then
            dups[#dups + 1] = { key = top.key, line = line, first = first }
          else
            top.seen[top.key] = line
          end
        end
        return nil
      end
      top.want_key = true
      return top.path .. "/" .. (top.key or "?"), top.key_line
    end
    return "", line
  end
  while true do
    local okp, ev = pcall(p)
    if not okp or not ev or ev.type == "STREAM_END" then break end
    local t = ev.type
    if t == "SCALAR" or t == "ALIAS" or t == "MAPPING_START" or t == "SEQUENCE_START" then
      local path, line = node_path(ev)
      if path and path ~= "" and #stack <= 5 and lines[path:sub(2)] == nil then
        lines[path:sub(2)] = line
      end
      if t == "MAPPING_START" or t == "SEQUENCE_START" then
        stack[#stack + 1] = { kind = t == "MAPPING_START" and "map" or "seq",
          path = path or "/?", idx = 0, want_key = true, seen = {} }
      end
    elseif t == "MAPPING_END" or t == "SEQUENCE_END" then
      stack[#stack] = nil
    end
  end
  return lines
end
_M.yaml_lines = yaml_lines

local NAME_PATTERN = "^[%a_][%w_%.%-]*$"

local function check_name(r, what, name)
  if type(name) ~= "string" then r.err(nil, ("expected a %s name, got %s"):format(what, got(name))) end
  if not name:match(NAME_PATTERN) then
    r.err(nil, ("%s name %s: use letters, digits, _, . and - (starting with a letter or _)"):format(what, quote(name)))
  end
end

-- A list's values (checked) appended to a copy of into; field prefixes the
-- position of a bad value ("append[2]", or "[2]" for a definition).
local function list_values(r, items, field, into)
  if is_null(items) or type(items) ~= "table" or (next(items) ~= nil and not is_list(items)) then
    r.err(field ~= "" and field or nil, "expected a list of values, got " .. (is_null(items) and "null" or got(items)))
  end
  local copy = {}
  for _, v in ipairs(into or {}) do copy[#copy + 1] = v end
  for i, v in ipairs(items) do
    if type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then
      r.err(("%s[%d]"):format(field, i), "expected a string or a number, got " .. got(v))
    end
    copy[#copy + 1] = v
  end
  return copy
end

local function define_list(file, name, items, st, line)
  local r = reporter(file, "list", 0)
  r.label = "list " .. quote(key_text(name))
  check_name(r, "list", name)
  if st.lists[name] then
    r.err(nil, ("duplicate list %s (first defined in %s)"):format(quote(name), st.lists[name].source))
  end
  local copy = list_values(r, items, "")
  st.lists[name] = { name = name, raw = copy, source = file, line = line, label = r.label, overrides = {} }
  st.list_order[#st.list_order + 1] = name
end

local function define_macro(file, name, node, st, line)
  local r = reporter(file, "macro", 0)
  r.label = "macro " .. quote(key_text(name))
  check_name(r, "macro", name)
  if st.macros[name] then
    r.err(nil, ("duplicate macro %s (first defined in %s)"):format(quote(name), st.macros[name].source))
  end
  st.macros[name] = { name = name, raw = node, source = file, line = line, label = r.label, overrides = {} }
  st.macro_order[#st.macro_order + 1] = name
end

local function check_map_keys(r, t, field, known)
  if type(t) ~= "table" or is_null(t) or (next(t) ~= nil and is_list(t)) then
    r.err(field, "expected a mapping, got " .. (is_null(t) and "null" or got(t)))
  end
  for _, k in ipairs(sorted_keys(t)) do
    local ok = false
    for _, x in ipairs(known) do if x == k then ok = true end end
    if not ok then r.err(field .. ": " .. key_text(k), unknown(key_text(k), known, "unknown key")) end
  end
end

-- A parameter's value: a finite number, a string or a boolean.
local function param_value(r, field, v)
  local tv = type(v)
  if tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then r.err(field, "must be a finite number") end
    return v
  end
  if tv == "string" or tv == "boolean" then return v end
  r.err(field, "expected a number, a string or a boolean, got " .. (is_null(v) and "null" or got(v)))
end

-- replace: params of an override: each name one of the detection's, each
-- value of its default's type; checked whole before any is set.
local function override_params(r, target, new)
  local field = "replace: params"
  if target.kind ~= "lua" then
    r.err(field, ("only Lua detections have params; %s is %s"):format(quote(target.id),
      target.kind == "builtin" and "a built-in" or "a YAML rule"))
  end
  local have = target.params or {}
  local names = sorted_keys(have)
  if type(new) ~= "table" or is_null(new) or (next(new) ~= nil and is_list(new)) then
    r.err(field, "expected a mapping of parameter names to values, got " .. (is_null(new) and "null" or got(new)))
  end
  for _, k in ipairs(sorted_keys(new)) do
    local name = key_text(k)
    if type(k) ~= "string" or have[k] == nil then
      if #names == 0 then r.err(field .. ": " .. name, ("unknown parameter (%s declares none)"):format(quote(target.id))) end
      r.err(field .. ": " .. name, unknown(name, names, "unknown parameter"))
    end
    local v = param_value(r, field .. ": " .. name, new[k])
    if type(v) ~= type(have[k]) then
      r.err(field .. ": " .. name, ("expected a %s (as its default, %s), got %s"):format(type(have[k]),
        tostring(have[k]), got(v)))
    end
  end
  for k, v in pairs(new) do rawset(have, k, v) end
end

-- Applies one entry of a file's overrides: to a rule (built-ins included),
-- a list or a macro defined before it.
local function apply_override(file, i, o, st, where)
  local r = reporter(file, "override", i)
  if is_null(o) or type(o) ~= "table" or (next(o) ~= nil and is_list(o)) then
    r.err(nil, "expected a mapping (rule, list or macro, and append or replace), got " .. (is_null(o) and "null" or got(o)))
  end
  for k, v in pairs(o) do if is_null(v) then o[k] = nil end end
  check_keys(r, o, _M.OVERRIDE_KEYS)
  local n = (o.rule ~= nil and 1 or 0) + (o.list ~= nil and 1 or 0) + (o.macro ~= nil and 1 or 0)
  if n ~= 1 then r.err(nil, "name exactly one of rule, list or macro") end
  if o.append == nil and o.replace == nil then
    r.err(nil, "nothing to change: give append or replace")
  end
  if o.rule ~= nil then
    local id = o.rule
    if type(id) ~= "string" then r.err("rule", "expected a rule id, got " .. got(id)) end
    r.label = "override of rule " .. quote(id)
    local target = st.byid[id]
    if not target then
      if st.broken[id] then fail_silent() end
      r.err("rule", unknown(id, sorted_keys(st.byid), "no rule " .. quote(id) .. " to override", "-list-rules lists them"))
    end
    if o.append ~= nil then
      check_map_keys(r, o.append, "append", _M.RULE_APPEND_KEYS)
      local a = o.append
      if a.tags ~= nil then
        check_list_of_strings(r, a.tags, "append: tags")
        local have = {}
        local tags = {}
        for _, t in ipairs(target.tags) do have[t] = true; tags[#tags + 1] = t end
        for _, t in ipairs(a.tags) do
          if not have[t] then have[t] = true; tags[#tags + 1] = t end
        end
        target.tags = tags
      end
      if a.exceptions ~= nil then
        local exc = check_exceptions(r, a.exceptions, "append: exceptions")
        local list = {}
        for _, x in ipairs(target.exceptions) do list[#list + 1] = x end
        for _, x in ipairs(exc) do
          local merged = false
          for k, old in ipairs(list) do
            if old.name == x.name then
              if concat(old.fields, ",") ~= concat(x.fields, ",") or concat(old.comps, ",") ~= concat(x.comps, ",") then
                r.err("append: exceptions", ("exception %s: fields and comps must be the same as the rule's (%s)")
                  :format(quote(x.name), concat(old.fields, ", ")))
              end
              local copy = {}
              for kk, vv in pairs(old) do copy[kk] = vv end
              copy.values = {}
              for _, t in ipairs(old.values) do copy.values[#copy.values + 1] = t end
              for _, t in ipairs(x.values) do copy.values[#copy.values + 1] = t end
              copy.appended = copy.appended or {}
              copy.appended[#copy.appended + 1] = { file = x.file, label = x.label, from = #old.values + 1 }
              list[k] = copy
              merged = true
            end
          end
          if not merged then list[#list + 1] = x end
        end
        target.exceptions = list
      end
    end
    if o.replace ~= nil then
      check_map_keys(r, o.replace, "replace", _M.RULE_REPLACE_KEYS)
      local p = o.replace
      if p.severity ~= nil then target.severity = check_severity(r, p) end
      if p.tags ~= nil then target.tags = check_tags(r, p) end
      if p.description ~= nil then target.description = check_string(r, p, "description", true) end
      if p.exceptions ~= nil then target.exceptions = check_exceptions(r, p.exceptions, "replace: exceptions") end
      if p.action ~= nil then target.action = check_action(r, p, target.types) end
      if p.params ~= nil then override_params(r, target, p.params) end
      if p.enabled ~= nil then
        target.enabled = check_enabled(r, p)
        target.why = (not target.enabled) and ("disabled by the override at " .. where) or nil
      end
    end
    target.overrides[#target.overrides + 1] = where
    return
  end
  local kind = o.list ~= nil and "list" or "macro"
  local name = o[kind]
  if type(name) ~= "string" then r.err(kind, ("expected a %s name, got %s"):format(kind, got(name))) end
  r.label = ("override of %s %s"):format(kind, quote(name))
  local defs = kind == "list" and st.lists or st.macros
  local target = defs[name]
  if not target then
    r.err(kind, unknown(name, sorted_keys(defs), ("no %s %s to override"):format(kind, quote(name)), true))
  end
  if kind == "list" then
    for _, op in ipairs({ "append", "replace" }) do
      if o[op] ~= nil then
        target.raw = list_values(r, o[op], op, op == "append" and target.raw or nil)
      end
    end
  else
    if o.append ~= nil then
      r.err("append", "a macro cannot be appended to: replace it (its new condition can use the old one's fields)")
    end
    target.raw = o.replace
    target.source = file
    target.label = r.label
  end
  target.overrides[#target.overrides + 1] = where
end

-- lyaml (the Debian package lua-yaml) parses YAML. Without it the first YAML
-- file gets one line naming the package, the others none.
local function need_lyaml(file, st)
  local ok, lyaml = pcall(require, "lyaml")
  if ok then return lyaml end
  if st.lyaml_missing then fail_silent() end
  st.lyaml_missing = true
  local why = tostring(lyaml):match("^[^\n]*"):gsub(":$", "")
  fail(("%s: cannot read YAML: the Lua module lyaml is missing (install the Debian package lua-yaml): %s")
    :format(file, why))
end

-- One entry of a file's protect list (docs/response.md): a program name (no
-- slash: an executable of that file name anywhere), an absolute path (that
-- executable) or a directory ending in a slash (every executable under it).
-- Kept once, in load order, in st.protect.
local function protect_entry(file, i, v, st)
  local where = ("%s: protect[%d]"):format(file, i)
  if type(v) ~= "string" then
    fail(("%s: expected a program name or an absolute path, got %s"):format(where, got(v)))
  end
  if v == "" then fail(where .. ": must not be empty") end
  if v == "/" then fail(where .. ': "/" would protect every program') end
  if v:find("%c") then fail(where .. ": must not contain control characters (newline, tab, DEL, ...)") end
  if v:find("/", 1, true) then
    if v:sub(1, 1) ~= "/" then
      fail(("%s: %s is neither a program name (no slash) nor an absolute path"):format(where, quote(v)))
    end
    local body = v:sub(2):gsub("/$", "")
    for part in (body .. "/"):gmatch("([^/]*)/") do
      if part == "" or part == "." or part == ".." then
        fail(("%s: %s: write the path without //, . or .. (it is compared with the kernel's path of the executable)")
          :format(where, quote(v)))
      end
    end
  end
  if not st.protect_seen[v] then
    st.protect_seen[v] = true
    st.protect[#st.protect + 1] = v
  end
end

local function load_yaml(file, st, ctx)
  local text = read_file(file)
  local lyaml = need_lyaml(file, st)
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
    local known = false
    for _, x in ipairs(_M.TOP_KEYS) do if x == k then known = true end end
    if not known then
      fail(("%s: %s: %s"):format(file, key_text(k), unknown(key_text(k), _M.TOP_KEYS, "unknown top-level key")))
    end
  end
  local lines = yaml_lines(text)
  -- YAML keeps the last of two equal keys: the first would be dropped unseen
  for _, d in ipairs(lines[DUPS]) do
    try(st, fail, ("%s: line %d: duplicate key %s (first at line %d): a mapping keeps only the last, "
      .. "so the first would be ignored"):format(file, d.line, quote(d.key), d.first))
  end
  local db = doc.disable_builtins
  if db ~= nil and not is_null(db) then
    if type(db) ~= "table" or (next(db) ~= nil and not is_list(db)) then
      fail(("%s: disable_builtins: expected a list of built-in ids, got %s"):format(file, got(db)))
    end
    for i, id in ipairs(db) do
      try(st, function()
        if type(id) ~= "string" then
          fail(("%s: disable_builtins[%d]: expected a built-in id, got %s"):format(file, i, got(id)))
        end
        if not ctx.builtin_ids[id] then
          fail(("%s: disable_builtins[%d]: %s"):format(file, i,
            unknown(id, ctx.builtin_list, "unknown built-in id " .. quote(id))))
        end
        st.disabled[id] = file
        local b = st.builtin_byid[id]
        b.enabled = false
        b.why = "disable_builtins in " .. file
        if st.byid[id] == b then
          -- the id now names a rule of the files that replace the built-in
          st.byid[id] = nil
          for _, r in ipairs(st.all) do
            if r.id == id then st.byid[id] = r break end
          end
        end
      end)
    end
  end
  for _, key in ipairs({ "lists", "macros" }) do
    local defs = doc[key]
    if defs ~= nil and not is_null(defs) then
      if type(defs) ~= "table" or (next(defs) ~= nil and is_list(defs)) then
        fail(("%s: %s: expected a mapping of names to %s, got %s"):format(file, key,
          key == "lists" and "lists of values" or "conditions", got(defs)))
      end
      for _, name in ipairs(sorted_keys(defs)) do
        local line = lines[key .. "/" .. key_text(name)]
        if key == "lists" then
          try(st, define_list, file, name, defs[name], st, line)
        else
          try(st, define_macro, file, name, defs[name], st, line)
        end
      end
    end
  end
  local pr = doc.protect
  if pr ~= nil and not is_null(pr) then
    if type(pr) ~= "table" or (next(pr) ~= nil and not is_list(pr)) then
      fail(("%s: protect: expected a list of program names and paths, got %s"):format(file, got(pr)))
    end
    for i, v in ipairs(pr) do
      try(st, protect_entry, file, i, v, st)
    end
  end
  local rules = doc.rules
  if rules ~= nil and not is_null(rules) then
    if type(rules) ~= "table" or (next(rules) ~= nil and not is_list(rules)) then
      fail(("%s: rules: expected a list of rules, got %s"):format(file, got(rules)))
    end
    for i, t in ipairs(rules) do
      local rule, bad = try(st, yaml_rule, file, i, t, st)
      if rule then
        rule.line = lines["rules/" .. i]
        st.all[#st.all + 1] = rule
        if not st.byid[rule.id] then st.byid[rule.id] = rule end
      elseif bad and type(t) == "table" and type(t.id) == "string" then
        st.broken[t.id] = true
      end
    end
  end
  local ovs = doc.overrides
  if ovs ~= nil and not is_null(ovs) then
    if type(ovs) ~= "table" or (next(ovs) ~= nil and not is_list(ovs)) then
      fail(("%s: overrides: expected a list of overrides, got %s"):format(file, got(ovs)))
    end
    for i, o in ipairs(ovs) do
      local where = ("%s:%s"):format(file, tostring(lines["overrides/" .. i] or "?"))
      try(st, apply_override, file, i, o, st, where)
    end
  end
end

-- Tables from user code are read by our code outside the budget: refuse
-- metatables, whose metamethods would run unbounded.
local function plain(r, field, v)
  if type(v) == "table" and debug.getmetatable(v) ~= nil then
    r.err(field, "must be a plain table (no metatable)")
  end
end

-- A copy of a filter condition from user code: tables, strings, numbers and
-- booleans only, no metatables, at most 16 levels and 4096 values (our code
-- reads it outside the budget).
local function plain_copy(r, field, v, depth, count)
  local tv = type(v)
  if tv == "string" or tv == "number" or tv == "boolean" then return v end
  if tv ~= "table" then r.err(field, "expected tables, strings, numbers and booleans, got " .. got(v)) end
  if debug.getmetatable(v) ~= nil then r.err(field, "must be a plain table (no metatable)") end
  if depth > 16 then r.err(field, "nested too deep (at most 16 levels)") end
  local out = {}
  for k, x in next, v do
    count[1] = count[1] + 1
    if count[1] > 4096 then r.err(field, "too large (at most 4096 values)") end
    if type(k) ~= "string" and type(k) ~= "number" then r.err(field, "expected string or number keys") end
    out[k] = plain_copy(r, field, x, depth + 1, count)
  end
  return out
end

-- A detection's event types by name (name -> number).
local function types_by_name(types)
  local mine = {}
  for _, n in ipairs(types) do mine[event.TYPE_NAMES[n]] = n end
  return mine
end

-- The type a key of a per-type table (filter, stored) names: one of the
-- detection's own, or an error under field.
local function own_type(r, field, name, mine)
  local n = type(name) == "string" and mine[name]
  if n then return n end
  local names = {}
  for k in pairs(mine) do names[#names + 1] = k end
  table.sort(names)
  r.err(field, ("%s is not one of the detection's event types (%s)"):format(quote(key_text(name)),
    concat(names, ", ")))
end

-- filter: { [event type] = condition } (the rule language of match:, per
-- type); returns the copy or nil.
local function check_filter(r, t, types)
  local f = t.filter
  if f == nil then return nil end
  if type(f) ~= "table" or is_list(f) and next(f) ~= nil then
    r.err("filter", "expected a table of event type = condition (as in match:), got " .. got(f))
  end
  local mine = types_by_name(types)
  local out = {}
  for _, name in ipairs(sorted_keys(f)) do
    local n = own_type(r, "filter", name, mine)
    out[n] = plain_copy(r, "filter." .. name, f[name], 1, { 0 })
  end
  return out
end

-- stored: { [event type] = { [field] = a guard.state or guard.cache } }:
-- match is called for an event of the type only while every store holds
-- the event's field value. Returns { [type] = { { field, store }, ... } }
-- (the internal stores) or nil.
local function check_stored(r, t, types)
  local s = t.stored
  if s == nil then return nil end
  local shape = "expected a table of event type = { field = a guard.state or guard.cache }, got "
  if type(s) ~= "table" or debug.getmetatable(s) ~= nil or is_list(s) and next(s) ~= nil then
    r.err("stored", shape .. got(s))
  end
  local mine = types_by_name(types)
  local out = {}
  for _, name in ipairs(sorted_keys(s)) do
    local n = own_type(r, "stored", name, mine)
    local ft = s[name]
    local path = "stored." .. name
    if type(ft) ~= "table" or debug.getmetatable(ft) ~= nil or is_list(ft) then
      r.err(path, "expected a table of field = a guard.state or guard.cache, got " .. got(ft))
    end
    local list = {}
    for _, fname in ipairs(sorted_keys(ft)) do
      local fpath = path .. "." .. key_text(fname)
      local f = type(fname) == "string" and lang.FIELDS[fname]
      if not f or (f.kind ~= "str" and f.kind ~= "num") then
        r.err(fpath, "not a field a store is keyed by (a string or number field of the event)")
      end
      if f.types and not f.types[n] then
        r.err(fpath, ("%s events have no field %s"):format(name, fname))
      end
      local store = guard.store_internal(ft[fname])
      if not store then
        r.err(fpath, "expected a guard.state or guard.cache (made at the top of the file), got " .. got(ft[fname]))
      end
      if not store.any_key and f.kind ~= "num" then
        r.err(fpath, ("a guard.state is keyed by tgid (a number): %s is a string (use a guard.cache)"):format(fname))
      end
      list[#list + 1] = { field = fname, store = store }
    end
    if #list > 0 then out[n] = list end
  end
  return out
end

-- once: a list of the detection's event types of which match wants only a
-- process's first event (the first to pass the filter and stored): later
-- ones of the same process never reach it, and the kernel keeps them when
-- no other rule wants them. Returns { [type] = true } or nil.
local function check_once(r, t, types)
  local o = t.once
  if o == nil then return nil end
  if type(o) ~= "table" or debug.getmetatable(o) ~= nil or not is_list(o) then
    r.err("once", "expected a list of event types (of the detection's own), got " .. got(o))
  end
  local mine = types_by_name(types)
  local out = {}
  for i = 1, #o do
    local n = own_type(r, "once", o[i], mine)
    if out[n] then r.err("once", ("%s is listed twice"):format(quote(key_text(o[i])))) end
    out[n] = true
  end
  return next(out) and out or nil
end

-- once_per: { [event type] = { field, ..., seconds = N } }: match gets a
-- process's event of the type only when the process had no call for the
-- same values of the fields (1 to 4 string or number fields) within the
-- last N seconds (without seconds: while it runs); the kernel keeps the
-- repeats of connect where it can (compile.lua). Returns { [type] =
-- { fields = { name, ... }, ns = N * 1e9 or nil } } or nil.
_M.ONCE_PER_FIELDS_MAX = 4
local function check_once_per(r, t, types, once)
  local o = t.once_per
  if o == nil then return nil end
  local shape = "expected a table of event type = { field, ..., seconds = N }, got "
  if type(o) ~= "table" or debug.getmetatable(o) ~= nil or is_list(o) and next(o) ~= nil then
    r.err("once_per", shape .. got(o))
  end
  local mine = types_by_name(types)
  local out = {}
  for _, name in ipairs(sorted_keys(o)) do
    local n = own_type(r, "once_per", name, mine)
    local path = "once_per." .. name
    if once and once[n] then
      r.err(path, ("%s is in once too (once lets only a process's first event through)"):format(name))
    end
    local spec = o[name]
    if type(spec) ~= "table" or debug.getmetatable(spec) ~= nil then
      r.err(path, "expected { field, ..., seconds = N }, got " .. got(spec))
    end
    local nf = #spec
    for k in pairs(spec) do
      if k ~= "seconds" and not (type(k) == "number" and k >= 1 and k <= nf and k == math.floor(k)) then
        r.err(path, ("unknown key %s (expected the field names, then seconds = N)"):format(quote(key_text(k))))
      end
    end
    if nf < 1 or nf > _M.ONCE_PER_FIELDS_MAX then
      r.err(path, ("expected 1 to %d field names, got %d"):format(_M.ONCE_PER_FIELDS_MAX, nf))
    end
    local fields, seen = {}, {}
    for i = 1, nf do
      local fname = spec[i]
      local f = type(fname) == "string" and lang.FIELDS[fname]
      -- the event's own fields (not the parent's, nor cmdline, which the
      -- rule language builds)
      if not f or (f.kind ~= "str" and f.kind ~= "num") or not view.GETTERS[fname] then
        r.err(path, ("%s is not a string or number field of the event"):format(quote(key_text(fname))))
      end
      if f.types and not f.types[n] then
        r.err(path, ("%s events have no field %s"):format(name, fname))
      end
      if seen[fname] then r.err(path, ("%s is listed twice"):format(quote(fname))) end
      seen[fname] = true
      fields[i] = fname
    end
    local secs = spec.seconds
    if secs ~= nil and (type(secs) ~= "number" or secs ~= secs or secs <= 0 or secs > 86400) then
      r.err(path .. ".seconds", "expected a number of seconds above 0, at most 86400, got " .. got(secs))
    end
    out[n] = { fields = fields, ns = secs and secs * 1e9 or nil }
  end
  return next(out) and out or nil
end

-- params: the detection's tunables (thresholds, windows) and their
-- defaults, a mapping of names to numbers, strings or booleans. The table
-- is the detection's own: match reads it when it runs, and an override's
-- replace: params sets values in it before the first event. Returns it.
local function check_params(r, t)
  local p = t.params
  if p == nil then return nil end
  if type(p) ~= "table" or debug.getmetatable(p) ~= nil or (next(p) ~= nil and is_list(p)) then
    r.err("params", "expected a mapping of parameter names to their default values, got " .. got(p))
  end
  for _, k in ipairs(sorted_keys(p)) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      r.err("params", ("%s is not a parameter name (letters, digits and _, not first a digit)"):format(quote(key_text(k))))
    end
    param_value(r, "params: " .. k, p[k])
  end
  return p
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
  local id = check_id(r, t)
  local det = {
    kind = "lua", id = id, source = file, label = r.label,
    description = check_string(r, t, "description", true),
    types = check_types(r, t, _M.LUA_TYPES, true),
    severity = check_severity(r, t),
    tags = check_tags(r, t),
    enabled = check_enabled(r, t),
    exceptions = {},
    overrides = {},
  }
  det.filter_raw = check_filter(r, t, det.types)
  det.stored = check_stored(r, t, det.types)
  det.once = check_once(r, t, det.types)
  det.once_per = check_once_per(r, t, det.types, det.once)
  det.params = check_params(r, t)
  det.action = check_action(r, t, det.types)
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
  if not det.enabled then det.why = "enabled: false in " .. file end
  claim_id(r, id, st.seen, file)
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
    local det, bad = try(st, lua_detection, file, i, t, st)
    if det then
      det.line = debug.getinfo(t.match, "S").linedefined
      st.all[#st.all + 1] = det
      if not st.byid[det.id] then st.byid[det.id] = det end
    elseif bad and type(t) == "table" and type(rawget(t, "id")) == "string" then
      -- rawget: a refused table may carry an __index that never returns.
      st.broken[t.id] = true
    end
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
    for _, n in ipairs(names) do try(st, load_path, base .. "/" .. n, st, ctx) end
    return
  end
  if path:match("%.ya?ml$") or path:match("%.lua$") then st.files[#st.files + 1] = path end
  if path:match("%.ya?ml$") then return load_yaml(path, st, ctx) end
  if path:match("%.lua$") then return load_lua(path, st, ctx) end
  local f = io.open(path, "rb")
  if not f then read_file(path) end
  f:close()
  fail(("%s: unsupported config file (expected a .yaml, .yml or .lua file, or a directory of them)"):format(path))
end

-- ------------------------------------------------- lists, macros, matchers

-- "a -> b -> a" when name is on the stack of names being resolved, else nil.
local function cycle(stack, name)
  for i, n in ipairs(stack) do
    if n == name then
      local cyc = {}
      for j = i, #stack do cyc[#cyc + 1] = stack[j] end
      cyc[#cyc + 1] = name
      return concat(cyc, " -> ")
    end
  end
  return nil
end

-- The resolver context lang.resolve works with, reporting through r.
local function resolver(st, r, types)
  local P = {
    got = got, quote = quote, is_list = is_list, is_null = is_null,
    err = function(path, problem) r.err(path, problem) end,
    unknown = unknown,
  }
  if types then
    P.types = {}
    for _, t in ipairs(types) do P.types[t] = true end
  end
  local stack = {}
  function P.list(name, path)
    local l = st.lists[name]
    if not l then
      r.err(path, unknown(name, sorted_keys(st.lists), "unknown list " .. quote(name), true))
    end
    local v = st.resolved_lists[name]
    if v == false then fail_silent() end
    return v
  end
  function P.macro(name, path)
    local m = st.macros[name]
    if not m then
      r.err(path, unknown(name, sorted_keys(st.macros), "unknown macro " .. quote(name), true))
    end
    if st.broken_macros[name] then fail_silent() end
    local cyc = cycle(stack, name)
    if cyc then r.err(path, "macro cycle: " .. cyc) end
    stack[#stack + 1] = name
    local ast = lang.resolve(P, m.raw, "macro " .. quote(name))
    stack[#stack] = nil
    return ast
  end
  -- a macro's own condition, alone (its reporter names it)
  function P.macro_body(name)
    stack[#stack + 1] = name
    local ast = lang.resolve(P, st.macros[name].raw, "")
    stack[#stack] = nil
    return ast
  end
  return P
end

-- A list's values, other lists spliced in ("$name" items).
local function resolve_list(st, name, stack)
  local l = st.lists[name]
  local r = reporter(l.source, "list", 0)
  r.label = l.label
  local cyc = cycle(stack, name)
  if cyc then r.err(nil, "list cycle: " .. cyc) end
  local out = {}
  for i, v in ipairs(l.raw) do
    local ref = lang.list_ref(v)
    if ref then
      if not st.lists[ref] then
        r.err(("[%d]"):format(i), unknown(ref, sorted_keys(st.lists), "unknown list " .. quote(ref), true))
      end
      stack[#stack + 1] = name
      local sub = st.resolved_lists[ref]
      if sub == nil then sub = resolve_list(st, ref, stack) end
      stack[#stack] = nil
      if sub == false then fail_silent() end
      for _, x in ipairs(sub) do out[#out + 1] = x end
    else
      out[#out + 1] = lang.unescape(v)
    end
  end
  st.resolved_lists[name] = out
  return out
end

-- A rule's exceptions as one ast (any of them holds), or nil.
local function exceptions_ast(st, rule)
  local any = {}
  for _, x in ipairs(rule.exceptions or {}) do
    local r = reporter(x.file or rule.source, "rule", 0)
    r.label = x.label or rule.label
    local P = resolver(st, r, rule.types)
    for ti, tuple in ipairs(x.values) do
      local all = {}
      for fi, fname in ipairs(x.fields) do
        local path = ("exceptions %s: values[%d]: %s"):format(quote(x.name), ti, fname)
        all[fi] = lang.field_node(P, fname, x.comps[fi], tuple[fi], path)
      end
      any[#any + 1] = #all == 1 and all[1] or { op = "all", list = all }
    end
  end
  if #any == 0 then return nil end
  if #any == 1 then return any[1] end
  return { op = "any", list = any }
end

local function resolve_rule(st, rule)
  local r = reporter(rule.source, "rule", 0)
  r.label = rule.label or (rule.kind .. " " .. quote(rule.id))
  if rule.match_raw ~= nil then
    rule.match_ast = lang.resolve(resolver(st, r, rule.types), rule.match_raw, "match")
  end
  if rule.filter_raw ~= nil then
    rule.filter_ast = {}
    for n, raw in pairs(rule.filter_raw) do
      rule.filter_ast[n] = lang.resolve(resolver(st, r, { n }), raw, "filter." .. event.TYPE_NAMES[n])
    end
  end
  rule.exc_ast = exceptions_ast(st, rule)
end

local function resolve_all(st)
  st.resolved_lists = {}
  st.broken_macros = {}
  for _, name in ipairs(st.list_order) do
    if st.resolved_lists[name] == nil then
      local _, bad = try(st, resolve_list, st, name, {})
      if bad then st.resolved_lists[name] = false end
    end
  end
  -- each macro alone (without a rule's types): its own mistakes once
  for _, name in ipairs(st.macro_order) do
    local m = st.macros[name]
    local r = reporter(m.source, "macro", 0)
    r.label = m.label
    local _, bad = try(st, function()
      resolver(st, r, nil).macro_body(name)
    end)
    if bad then st.broken_macros[name] = true end
  end
  for _, b in ipairs(st.builtins) do
    if #b.exceptions > 0 then try(st, resolve_rule, st, b) end
  end
  local ok_rules = {}
  for _, rule in ipairs(st.all) do
    local _, bad = try(st, resolve_rule, st, rule)
    if not bad then ok_rules[#ok_rules + 1] = rule end
  end
  st.all = ok_rules
end

-- Loads every path in order. ctx: { builtin_ids = set, builtin_list = list,
-- builtins = builtins.LIST, run_user = function(fn, ...) -> ok, result }.
-- Returns { rules = { enabled rules }, all = { every rule, disabled ones too },
-- builtins = { the built-ins as rules: kind = "builtin", builtin = entry },
-- disabled = { builtin id = file }, lua_files = n, files = { paths loaded },
-- protect = { the protect: entries of every file } } or nil and every problem
-- found, one per line. Each rule has source (its file), line (1-based, nil
-- when unknown), enabled, why (when disabled), overrides ({ "file:line" }),
-- action ("kill" or nil), and once resolved match_ast and exc_ast (lang.lua's
-- ASTs, nil when none).
function _M.load(paths, ctx)
  local st = {
    rules = {}, all = {}, seen = {}, disabled = {}, lua_files = 0, errors = {},
    byid = {}, broken = {}, lists = {}, list_order = {}, macros = {}, macro_order = {},
    builtins = {}, builtin_byid = {}, files = {}, protect = {}, protect_seen = {},
  }
  for _, bi in ipairs(ctx.builtins or {}) do
    local tags = {}
    for i, t in ipairs(bi.tags) do tags[i] = t end
    local b = {
      kind = "builtin", builtin = bi, id = bi.id, description = bi.description,
      severity = bi.severity, tags = tags, types = bi.types, source = "builtin",
      label = "built-in " .. quote(bi.id), enabled = true, exceptions = {}, overrides = {},
    }
    st.builtins[#st.builtins + 1] = b
    st.builtin_byid[bi.id] = b
    st.byid[bi.id] = b
  end
  for _, p in ipairs(paths or {}) do try(st, load_path, p, st, ctx) end
  for _, rule in ipairs(st.all) do
    if ctx.builtin_ids[rule.id] and not st.disabled[rule.id] then
      local word = rule.kind == "lua" and "detection" or "rule"
      st.errors[#st.errors + 1] = ("%s: %s %s: id: duplicate id %s (a built-in heuristic; list it under disable_builtins to replace it)")
        :format(rule.source, word, quote(rule.id), quote(rule.id))
    end
  end
  resolve_all(st)
  if #st.errors > 0 then
    local errs = st.errors
    if #errs > _M.MAX_ERRORS then
      local n = #errs - _M.MAX_ERRORS
      local out = {}
      for i = 1, _M.MAX_ERRORS do out[i] = errs[i] end
      out[#out + 1] = ("... and %d more problems"):format(n)
      errs = out
    end
    return nil, concat(errs, "\n")
  end
  for _, rule in ipairs(st.all) do
    if rule.enabled then st.rules[#st.rules + 1] = rule end
  end
  return st
end

return _M
