-- ebpf_guard.testing: test detections and rules with busted, against
-- recorded or inline events, through the daemon's own engine.
--
--   local T = require("ebpf_guard.testing")
--
--   local eng = T.engine { rules = { "rules/", "detections/shell.lua" } }
--   local alerts = eng:replay("spec/fixtures/shell.jsonl")
--   assert.fires("shell_then_connect", alerts)
--
--   alerts = eng:run {
--     { type = "exec", filename = "/bin/bash", parent = { comm = "nginx" } },
--     { type = "connect", dest_ip = "10.0.0.1", dest_port = 4444 },
--   }
--   assert.not_fires("download_from_ip", alerts)
--   assert.fires_on(eng, "shell_then_connect", { ...events... })
--
-- T.engine(opts) builds an engine exactly as the daemon does (it is the
-- daemon's C engine, libebpf-guard-engine.so, driven through the FFI: the same
-- loader, built-ins, budget and defaults). opts:
--   rules         a path or a list of paths: rule files (.yaml/.yml), Lua
--                 detections (.lua) or directories of them, as -config
--   detections    more paths, the same as rules (for readability)
--   yaml, lua     inline text of one rule file / one Lua detection file (or a
--                 list of texts), loaded after the paths
--   budget        -lua-budget (instructions per call; nil: the daemon's default)
--   memory        -lua-memory (MiB per call; nil: the default). Enforced as
--                 in the daemon when the specs run under `ebpf-guard test`
--                 (T.memory_guard is then true): see the memory guard below
--   max_errors    -lua-max-errors (nil: the default; 0: never)
--   disable_rules, disable_tags   lists, as -disable-rule and -disable-tag
--   lua_path      -lua-path (nil: the engine sources built into the library)
-- A configuration the daemon would refuse raises an error whose message is
-- the daemon's own lines ("ebpf-guard: FILE: detection "ID": ..."), after
-- the position of the spec's call.
--
-- eng:replay(path) reads a recording (-record output, or any -replay input)
-- with the daemon's reader, line by line; a line the reader refuses raises
-- "ebpf-guard: PATH:LINE: reason" (-replay would skip it).
-- eng:replay_lines(path) is replay with the alerts of each line apart:
-- result[n] lists line n's alerts.
-- eng:run(events) feeds inline events: partial event tables, completed with
-- defaults (see complete() below), written as recording lines and read by
-- the same reader, so they behave as recorded ones. Unknown keys are errors.
-- Both return the alerts of those events, as tables decoded from the alert
-- JSON the daemon writes (docs/output.md): { rule_id, description, severity,
-- tags = {...}, event = {...}, timestamp, event_type, hostname, host_id }.
-- Strings are the exact bytes (a non-UTF-8 file name stays as it was).
-- The engine keeps its state between calls (guard.state stores, rate of
-- errors) as the daemon does between events; time is the events' time, so
-- TTLs behave as live. eng.logs holds the engine's log lines (rule errors,
-- guard.log) in order; eng:take_logs() returns and clears those since the
-- previous take.
--
-- Assertions (registered with luassert when this module is loaded):
--   assert.fires(id, alerts)            assert.not_fires(id, alerts)
--   assert.fires_on(eng_or_opts, id, event_or_events)   (.not_fires_on)
-- eng_or_opts is an engine or T.engine's opts. Failure messages show the
-- events, the alerts that did fire and the engine's log lines.
--
-- The library is found at $EG_ENGINE_LIB, else build/ next to this checkout's
-- lua/ directory, else where the install step put it (INSTALLED_LIB below).
local ffi = require("ffi")

local ffi_string, ffi_new = ffi.string, ffi.new
local concat = table.concat
local byte, char, format = string.byte, string.char, string.format
local floor = math.floor

local _M = {}

-- The installed copy of this file names the library relative to the lua/
-- directory it is in (CMakeLists.txt, "install"); nil in a checkout.
local INSTALLED_LIB = nil
local LIB_NAME = "libebpf-guard-engine.so"

-- Recording lines of inline events start at this time (2025-01-01T00:00:00Z),
-- one second apart unless given.
local BASE_NS = ffi.cast("int64_t", 1735689600) * 1000000000
local NS = ffi.cast("int64_t", 1000000000)
-- How many events and log lines a failure message shows.
local SHOW_EVENTS, SHOW_LOGS = 20, 20

-- One declaration per ffi.cdef: another module (a project spec helper) may
-- have declared some of them already.
local DECLS = {
  "struct eg_engine",
  [[struct eg_engine_opts {
    const char *lua_path;
    const char *const *configs;
    size_t nconfigs;
    uint32_t budget;
    int max_errors;
    uint32_t mem_limit_mb;
    const volatile int32_t *abort;
    void (*log)(void *ctx, const char *line, size_t len);
    void *log_ctx;
    const char *const *disable_rules;
    size_t ndisable_rules;
    const char *const *disable_tags;
    size_t ndisable_tags;
    const char *report;
    bool no_prefilter;
  }]],
  [[struct eg_rule_info {
    const char *id; const char *description; const char *severity;
    const char *tags_json; const char *source; const char *kind; uint32_t action;
  }]],
  "struct eg_test",
  "void eg_engine_opts_layout(size_t *size, size_t *log_offset)",
  "size_t eg_engine_nrules(const struct eg_engine *e)",
  "const struct eg_rule_info *eg_engine_rule(const struct eg_engine *e, size_t idx)",
  "uint64_t eg_engine_rule_errors(const struct eg_engine *e, size_t rule, int kind)",
  "uint64_t eg_engine_rule_calls(const struct eg_engine *e, size_t rule)",
  "size_t eg_engine_rule_last_error(struct eg_engine *e, size_t rule, char *buf, size_t len)",
  "struct eg_test *eg_test_new(const struct eg_engine_opts *o, char *err, size_t errlen)",
  "void eg_test_free(struct eg_test *t)",
  "struct eg_engine *eg_test_engine(struct eg_test *t)",
  "int eg_test_line(struct eg_test *t, const char *line, size_t len, char *err, size_t errlen)",
  "const char *eg_test_alerts(struct eg_test *t, size_t *len)",
  "const char *eg_test_logs(struct eg_test *t, size_t *len)",
  "bool eg_replay_known_key(const char *k, size_t n)",
  "char *mkdtemp(char *template)",
}
for _, d in ipairs(DECLS) do pcall(ffi.cdef, d .. ";") end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The checkout this file is in ("." style paths stay relative), or nil.
local function checkout_root()
  local src = debug.getinfo(1, "S").source
  return src:match("^@(.-)/?lua/ebpf_guard/testing%.lua$")
end

-- The directory on the module path this file was found in ("" for the
-- current one), or nil.
local function module_dir()
  local src = debug.getinfo(1, "S").source
  return src:match("^@(.-)/?ebpf_guard/testing%.lua$")
end

local function find_lib()
  local env = os.getenv("EG_ENGINE_LIB")
  if env and env ~= "" then return env end
  local tried = {}
  local root = not INSTALLED_LIB and checkout_root()
  if root then
    local p = (root == "" and "." or root) .. "/build/" .. LIB_NAME
    if exists(p) then return p end
    tried[#tried + 1] = p
  end
  local dir = INSTALLED_LIB and module_dir()
  if dir then
    local p = (dir == "" and "." or dir) .. "/" .. INSTALLED_LIB
    if exists(p) then return p end
    tried[#tried + 1] = p
  end
  error("ebpf_guard.testing: cannot find " .. LIB_NAME .. " (tried: "
    .. (#tried > 0 and concat(tried, ", ") or "nothing") .. "): "
    .. (INSTALLED_LIB and "reinstall ebpf-guard" or "build it with 'cmake --build build'")
    .. " or set EG_ENGINE_LIB to its path", 0)
end

local lib_path = find_lib()
local lib = ffi.load(lib_path)
_M.lib, _M.lib_path = lib, lib_path
-- a reference never dropped: the finalizers of the engines (eg_test_free)
-- must not outlive the library at lua_close (regex.lua says why)
pcall(ffi.cdef, "void *dlopen(const char *file, int mode);")
ffi.C.dlopen(lib_path, 2) -- RTLD_NOW

-- The memory guard: `ebpf-guard test` preloads libebpf-guard-memguard.so
-- (src/memguard.c), which takes LuaJIT's mmap calls as the daemon does but
-- needs the engine library's accounting function, handed over here. Under a
-- plain `luajit busted` there is no such library: memory_guard is false and
-- a detection's allocations are not limited.
pcall(ffi.cdef, "int eg_engine_user_map(size_t grow);")
pcall(ffi.cdef, "void eg_memguard_attach(int (*fn)(size_t grow));")
_M.memory_guard = pcall(function() ffi.C.eg_memguard_attach(lib.eg_engine_user_map) end)

-- This file's copy of struct eg_engine_opts must be the C one.
do
  local size, off = ffi_new("size_t[1]"), ffi_new("size_t[1]")
  lib.eg_engine_opts_layout(size, off)
  if tonumber(size[0]) ~= ffi.sizeof("struct eg_engine_opts")
    or tonumber(off[0]) ~= ffi.offsetof("struct eg_engine_opts", "log") then
    error("ebpf_guard.testing: struct eg_engine_opts differs from " .. lib_path
      .. " (the module and the library come from different versions)", 0)
  end
end

---------------------------------------------------------------------------
-- JSON: the encoder writes recording lines, the decoder reads alert lines.
-- Both keep bytes that are not UTF-8 as the daemon does: \udcXX stands for
-- the raw byte XX (surrogateescape, src/json.c).

-- Length of the valid UTF-8 sequence at s[i], or nil (Unicode table 3-7).
local function utf8_len(s, i)
  local c = byte(s, i)
  if c < 0x80 then return 1 end
  local n, lo, hi
  if c >= 0xc2 and c <= 0xdf then n = 2
  elseif c >= 0xe0 and c <= 0xef then n = 3
  elseif c >= 0xf0 and c <= 0xf4 then n = 4
  else return nil end
  lo, hi = 0x80, 0xbf
  if c == 0xe0 then lo = 0xa0 elseif c == 0xed then hi = 0x9f
  elseif c == 0xf0 then lo = 0x90 elseif c == 0xf4 then hi = 0x8f end
  for k = 1, n - 1 do
    local b = byte(s, i + k)
    if not b or b < lo or b > hi then return nil end
    lo, hi = 0x80, 0xbf
  end
  return n
end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
  local out, i, n = { '"' }, 1, #s
  while i <= n do
    local c = byte(s, i)
    if c < 0x20 or c == 0x22 or c == 0x5c then
      local ch = char(c)
      out[#out + 1] = ESC[ch] or format("\\u%04x", c)
      i = i + 1
    elseif c < 0x80 then
      local j = s:find('[%z\1-\31"\\\128-\255]', i) or n + 1
      out[#out + 1] = s:sub(i, j - 1)
      i = j
    else
      local l = utf8_len(s, i)
      if l then
        out[#out + 1] = s:sub(i, i + l - 1)
        i = i + l
      else
        out[#out + 1] = format("\\udc%02x", c)
        i = i + 1
      end
    end
  end
  out[#out + 1] = '"'
  return concat(out)
end

local encode_value

local function is_array(t)
  if next(t) == nil then return true end
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then return false end
  end
  return n > 0
end

-- keys: the object's keys in writing order (nil: sorted).
local function encode_object(t, keys)
  if not keys then
    keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then
        error("a key of an event table is not a string: " .. tostring(k), 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
  end
  local out = {}
  for _, k in ipairs(keys) do
    if t[k] ~= nil then out[#out + 1] = encode_string(k) .. ":" .. encode_value(t[k]) end
  end
  return "{" .. concat(out, ",") .. "}"
end

function encode_value(v)
  local tv = type(v)
  if tv == "string" then return encode_string(v) end
  if tv == "boolean" then return v and "true" or "false" end
  if tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("not a JSON number: " .. tostring(v), 0) end
    if v == floor(v) and math.abs(v) < 2 ^ 63 then return format("%.0f", v) end
    return format("%.17g", v)
  end
  if tv == "cdata" then return (tostring(v):gsub("U?LL$", "")) end
  if tv == "table" then
    if is_array(v) then
      local out = {}
      for i = 1, #v do out[i] = encode_value(v[i]) end
      return "[" .. concat(out, ",") .. "]"
    end
    return encode_object(v)
  end
  error("cannot write a " .. tv .. " in an event", 0)
end
_M.encode = encode_value

-- Decoder: a small strict one (the alert writer's output only needs this).
local decode_value

local function decode_error(s, i, what)
  error(format("ebpf_guard.testing: bad alert JSON at byte %d (%s): %s", i, what, s), 0)
end

local function skip_ws(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local function put_utf8(out, cp)
  if cp < 0x80 then out[#out + 1] = char(cp)
  elseif cp < 0x800 then
    out[#out + 1] = char(0xc0 + floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    out[#out + 1] = char(0xe0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  else
    out[#out + 1] = char(0xf0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
      0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
end

local SIMPLE = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t" }

local function decode_string(s, i)
  local out = {}
  i = i + 1
  while true do
    local j = s:find('["\\]', i)
    if not j then decode_error(s, i, "unterminated string") end
    out[#out + 1] = s:sub(i, j - 1)
    if byte(s, j) == 0x22 then return concat(out), j + 1 end
    local e = s:sub(j + 1, j + 1)
    if SIMPLE[e] then
      out[#out + 1] = SIMPLE[e]
      i = j + 2
    elseif e == "u" then
      local cp = tonumber(s:sub(j + 2, j + 5), 16)
      if not cp or not s:sub(j + 2, j + 5):match("^%x%x%x%x$") then decode_error(s, j, "bad \\u escape") end
      i = j + 6
      if cp >= 0xd800 and cp <= 0xdbff and s:sub(i, i + 1) == "\\u" then
        local lo = tonumber(s:sub(i + 2, i + 5), 16)
        if lo and lo >= 0xdc00 and lo <= 0xdfff then
          cp = 0x10000 + (cp - 0xd800) * 0x400 + (lo - 0xdc00)
          i = i + 6
        end
      end
      if cp >= 0xdc80 and cp <= 0xdcff then
        out[#out + 1] = char(cp - 0xdc00) -- the writer's escape of a raw byte
      elseif cp >= 0xd800 and cp <= 0xdfff then
        put_utf8(out, 0xfffd)
      else
        put_utf8(out, cp)
      end
    else
      decode_error(s, j, "bad escape")
    end
  end
end

function decode_value(s, i)
  i = skip_ws(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local t = {}
    i = skip_ws(s, i + 1)
    if s:sub(i, i) == "}" then return t, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then decode_error(s, i, "expected a key") end
      local k
      k, i = decode_string(s, i)
      i = skip_ws(s, i)
      if s:sub(i, i) ~= ":" then decode_error(s, i, "expected ':'") end
      t[k], i = decode_value(s, i + 1)
      i = skip_ws(s, i)
      c = s:sub(i, i)
      if c == "}" then return t, i + 1 end
      if c ~= "," then decode_error(s, i, "expected ',' or '}'") end
      i = skip_ws(s, i + 1)
    end
  elseif c == "[" then
    local t = {}
    i = skip_ws(s, i + 1)
    if s:sub(i, i) == "]" then return t, i + 1 end
    while true do
      t[#t + 1], i = decode_value(s, i)
      i = skip_ws(s, i)
      c = s:sub(i, i)
      if c == "]" then return t, i + 1 end
      if c ~= "," then decode_error(s, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif s:sub(i, i + 3) == "true" then return true, i + 4
  elseif s:sub(i, i + 4) == "false" then return false, i + 5
  elseif s:sub(i, i + 3) == "null" then return nil, i + 4
  end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not num or num == "" or not tonumber(num) then decode_error(s, i, "expected a value") end
  return tonumber(num), i + #num
end

-- One JSON text (a whole alert line) to a Lua value.
function _M.decode(s)
  local v, i = decode_value(s, 1)
  i = skip_ws(s, i)
  if i <= #s then decode_error(s, i, "data after the value") end
  return v
end
local decode = _M.decode

---------------------------------------------------------------------------
-- Inline events.

-- Keys of an inline event in the order a recording line has them.
local ORDER = { "timestamp", "pid", "tgid", "type", "comm", "filename", "dest_ip", "dest_port",
  "ppid", "uid", "gid", "cgroup_id", "truncated", "exe", "args", "context" }

local function ts_text(ns)
  local sec, frac = ns / NS, ns % NS
  local text = os.date("!%Y-%m-%dT%H:%M:%S", tonumber(sec))
  if frac ~= 0 then text = text .. format(".%09d", tonumber(frac)) end
  return text .. "Z"
end

local function days_from_civil(y, m, d)
  y = (m <= 2) and y - 1 or y
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
end

-- RFC 3339 UTC text ("...Z") to int64 ns, or nil (the reader judges it).
local function ts_ns(s)
  local y, mo, d, h, mi, se, frac = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)%.?(%d*)Z$")
  if not y then return nil end
  local secs = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
  return ffi.cast("int64_t", secs) * NS + tonumber((frac .. "000000000"):sub(1, 9))
end

local function basename(p)
  return (p:match("([^/]*)/*$"))
end

--[[ The defaults of an inline event (ev is not modified):
  timestamp   one second after the previous event of this engine (the first
              at 2025-01-01T00:00:00Z); a number is seconds since the epoch
  tgid, pid   1000; pid defaults to tgid, tgid to pid
  ppid 1, uid 0, gid 0
  filename    exec: required; connect: "connect"; others ""
  comm        exec: the caller's comm, as the daemon reports it (the name
              of the tgid's last inline exec, else parent.comm, else "test");
              others: the tgid's last inline exec's program name (the
              filename's last component, 15 bytes as the kernel), else "test"
  exe         exec: the filename; others: the tgid's last inline exec's
  args        exec: { filename }
  ancestors   { parent's comm and exe } when parent has either (the daemon's
              ancestors[1] is the parent)
  context     "exec" (the daemon saw the process start)
]]
local function complete(eng, ev, i)
  if type(ev) ~= "table" then
    error(format("event %d: expected a table, got %s", i, type(ev)), 0)
  end
  if type(ev.type) ~= "string" then
    error(format("event %d: needs a type (\"exec\", \"open\", \"connect\", ...)", i), 0)
  end
  for k in pairs(ev) do
    if type(k) ~= "string" or not lib.eg_replay_known_key(k, #k) then
      error(format("event %d: unknown field %q (docs/output.md lists the event's fields)", i,
        tostring(k)), 0)
    end
  end
  local e = {}
  for k, v in pairs(ev) do e[k] = v end
  local ts = e.timestamp
  if ts == nil then
    eng.clock = eng.clock + NS
    e.timestamp = ts_text(eng.clock)
  elseif type(ts) == "number" then
    local secs = floor(ts)
    eng.clock = ffi.cast("int64_t", secs) * NS + floor((ts - secs) * 1e9 + 0.5)
    e.timestamp = ts_text(eng.clock)
  elseif type(ts) == "string" then
    eng.clock = ts_ns(ts) or eng.clock
  end
  e.tgid = e.tgid or e.pid or 1000
  e.pid = e.pid or e.tgid
  e.ppid = e.ppid or 1
  e.uid, e.gid = e.uid or 0, e.gid or 0
  local proc = eng.procs[e.tgid]
  if e.type == "exec" then
    if type(e.filename) ~= "string" then
      error(format("event %d: an exec needs a filename", i), 0)
    end
    -- an exec's comm is its caller's (the reference's, and the daemon's):
    -- the process's previous program, else the parent's, else "test"
    local par = type(e.parent) == "table" and e.parent or {}
    e.comm = e.comm or (proc and proc.comm) or par.comm or "test"
    e.exe = e.exe or e.filename
    e.args = e.args or { e.filename }
    eng.procs[e.tgid] = { comm = basename(e.filename):sub(1, 15), exe = e.exe }
  else
    e.filename = e.filename or (e.type == "connect" and "connect" or "")
    e.comm = e.comm or (proc and proc.comm) or "test"
    e.exe = e.exe or (proc and proc.exe) or nil
  end
  if type(e.parent) == "table" and e.ancestors == nil and (e.parent.comm or e.parent.exe) then
    e.ancestors = { { comm = e.parent.comm, exe = e.parent.exe } }
  end
  e.context = e.context or "exec"
  local keys, seen = {}, {}
  for _, k in ipairs(ORDER) do
    keys[#keys + 1] = k
    seen[k] = true
  end
  local rest = {}
  for k in pairs(e) do
    if not seen[k] then rest[#rest + 1] = k end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return encode_object(e, keys)
end

---------------------------------------------------------------------------
-- The engine.

local Engine = {}
Engine.__index = Engine

-- Events and logs behind an alert list, for failure messages (weak keys).
local origin = setmetatable({}, { __mode = "k" })

local function list(v)
  if v == nil then return {} end
  if type(v) == "table" then return v end
  return { v }
end

local function strings(t)
  local a = ffi_new("const char *[?]", math.max(#t, 1))
  for i, v in ipairs(t) do a[i - 1] = v end
  return a, #t
end

-- Writes the inline texts into a new private directory (mkdtemp); returns
-- their paths and a function that removes them (the engine has read them).
local function inline_files(opts)
  local texts = {}
  for _, y in ipairs(list(opts.yaml)) do texts[#texts + 1] = { "yaml", y } end
  for _, l in ipairs(list(opts.lua)) do texts[#texts + 1] = { "lua", l } end
  if #texts == 0 then return {}, function() end end
  local template = format("%s/ebpf-guard-test.XXXXXX", os.getenv("TMPDIR") or "/tmp")
  local buf = ffi_new("char[?]", #template + 1, template)
  if ffi.C.mkdtemp(buf) == nil then
    error("ebpf_guard.testing: cannot create a directory like " .. template .. " for inline rules", 3)
  end
  local dir = ffi_string(buf)
  local paths = {}
  for k, t in ipairs(texts) do
    local p = format("%s/inline%d.%s", dir, k, t[1])
    local f = assert(io.open(p, "wb"))
    f:write(t[2])
    f:close()
    paths[#paths + 1] = p
  end
  return paths, function()
    for _, p in ipairs(paths) do os.remove(p) end
    os.remove(dir)
  end
end

-- The daemon's message for every problem, one "ebpf-guard: " line each.
local function daemon_lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = "ebpf-guard: " .. line end
  return concat(out, "\n")
end

function _M.engine(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("ebpf_guard.testing.engine: expected a table of options", 2) end
  local configs = {}
  for _, p in ipairs(list(opts.rules)) do configs[#configs + 1] = p end
  for _, p in ipairs(list(opts.detections)) do configs[#configs + 1] = p end
  local inl, cleanup = inline_files(opts)
  for _, p in ipairs(inl) do configs[#configs + 1] = p end
  local paths, n = strings(configs)
  local drules, ndrules = strings(list(opts.disable_rules))
  local dtags, ndtags = strings(list(opts.disable_tags))
  local max_errors = opts.max_errors
  if max_errors == 0 then max_errors = -1 end
  local o = ffi_new("struct eg_engine_opts", {
    lua_path = opts.lua_path, configs = paths, nconfigs = n,
    budget = opts.budget or 0, max_errors = max_errors or 0, mem_limit_mb = opts.memory or 0,
    disable_rules = drules, ndisable_rules = ndrules, disable_tags = dtags, ndisable_tags = ndtags,
  })
  local err = ffi_new("char[?]", 65536)
  local t = lib.eg_test_new(o, err, 65536)
  cleanup()
  -- level 2: busted shows the spec's line that built the engine
  if t == nil then error(daemon_lines(ffi_string(err)), 2) end
  local eng = setmetatable({
    t = ffi.gc(t, lib.eg_test_free), clock = BASE_NS - NS, procs = {}, logs = {}, fresh = {},
    configs = configs,
  }, Engine)
  eng:take_logs() -- load-time lines go to eng.logs
  return eng
end

-- Moves the harness's new log lines into eng.logs; returns them.
function Engine:take_logs()
  local len = ffi_new("size_t[1]")
  local s = ffi_string(lib.eg_test_logs(self.t, len), len[0])
  for line in s:gmatch("([^\n]*)\n") do
    self.logs[#self.logs + 1] = line
    self.fresh[#self.fresh + 1] = line
  end
  local fresh = self.fresh
  self.fresh = {}
  return fresh
end

-- Rule ids in engine order (built-ins first, then the files in order).
function Engine:rule_ids()
  local e, ids = lib.eg_test_engine(self.t), {}
  for i = 0, tonumber(lib.eg_engine_nrules(e)) - 1 do
    ids[#ids + 1] = ffi_string(lib.eg_engine_rule(e, i).id)
  end
  return ids
end

-- Runs what was fed; returns the alerts, remembering events and logs.
local function collect(self, shown, nevents)
  local len = ffi_new("size_t[1]")
  local text = ffi_string(lib.eg_test_alerts(self.t, len), len[0])
  local alerts = {}
  for line in text:gmatch("([^\n]+)\n") do alerts[#alerts + 1] = decode(line) end
  origin[alerts] = { events = shown, nevents = nevents, logs = self:take_logs() }
  return alerts
end

local function feed(self, line, where)
  local err = ffi_new("char[512]")
  if lib.eg_test_line(self.t, line, #line, err, 512) < 0 then
    collect(self, {}, 0) -- the events before it still ran: keep the engine consistent
    error(format("ebpf-guard: %s: %s", where, ffi_string(err)), 0)
  end
end

-- The daemon's end-of-replay report on rules (src/replay.c): one line for
-- each rule whose user code failed every time it ran.
function Engine:failing()
  local e, out = lib.eg_test_engine(self.t), {}
  local last = ffi_new("char[512]")
  for i = 0, tonumber(lib.eg_engine_nrules(e)) - 1 do
    local calls = lib.eg_engine_rule_calls(e, i)
    local errs = lib.eg_engine_rule_errors(e, i, 0) + lib.eg_engine_rule_errors(e, i, 1)
    if calls > 0 and errs >= calls then
      local ri = lib.eg_engine_rule(e, i)
      lib.eg_engine_rule_last_error(e, i, last, 512)
      out[#out + 1] = format('ebpf-guard: %s "%s" (%s): every evaluation failed (%s of %s; last: %s)',
        ffi_string(ri.kind) == "lua" and "detection" or "rule", ffi_string(ri.id), ffi_string(ri.source),
        tostring(tonumber(errs)), tostring(tonumber(calls)), ffi_string(last))
    end
  end
  return out
end

function Engine:replay(path)
  local f, err = io.open(path, "rb")
  if not f then error("ebpf_guard.testing: cannot open recording: " .. err, 2) end
  local shown, n = {}, 0
  for line in f:lines() do
    n = n + 1
    feed(self, line, path .. ":" .. n)
    if line:find("%S") and #shown < SHOW_EVENTS then shown[#shown + 1] = line end
  end
  f:close()
  local alerts = collect(self, shown, n)
  -- the daemon's report closes the replay's log lines
  local logs = origin[alerts].logs
  for _, line in ipairs(self:failing()) do
    logs[#logs + 1] = line
    self.logs[#self.logs + 1] = line
  end
  return alerts
end

-- Like replay, but returns the alerts of each line: result[n] is the list
-- of line n's alerts (empty for a blank line or no alert).
function Engine:replay_lines(path)
  local f, err = io.open(path, "rb")
  if not f then error("ebpf_guard.testing: cannot open recording: " .. err, 2) end
  local out, n = {}, 0
  for line in f:lines() do
    n = n + 1
    feed(self, line, path .. ":" .. n)
    out[n] = collect(self, { line }, 1)
  end
  f:close()
  return out
end

-- events: a list of event tables, or one event table.
function Engine:run(events)
  if type(events) ~= "table" then error("eng:run: expected a list of events", 2) end
  if events.type ~= nil then events = { events } end
  local lines = {}
  for i, ev in ipairs(events) do lines[i] = complete(self, ev, i) end
  for i, line in ipairs(lines) do feed(self, line, "event " .. i) end
  local shown = {}
  for i = 1, math.min(#lines, SHOW_EVENTS) do shown[i] = lines[i] end
  return collect(self, shown, #lines)
end

-- The recording line an inline event becomes (without running it).
function Engine:line(ev)
  local clock, procs = self.clock, {}
  for k, v in pairs(self.procs) do procs[k] = v end
  local line = complete(self, ev, 1)
  self.clock, self.procs = clock, procs
  return line
end

-- The number of runtime (kind 0) or budget (kind 1) errors of rule id.
function Engine:errors(id, kind)
  local e = lib.eg_test_engine(self.t)
  for i, rid in ipairs(self:rule_ids()) do
    if rid == id then return tonumber(lib.eg_engine_rule_errors(e, i - 1, kind or 0)) end
  end
  error("no rule " .. tostring(id), 2)
end

_M.Engine = Engine

---------------------------------------------------------------------------
-- Assertions.

-- Ids of alerts (in order).
function _M.ids(alerts)
  local ids = {}
  for i, a in ipairs(alerts) do ids[i] = a.rule_id end
  return ids
end

local function fired(id, alerts)
  for _, a in ipairs(alerts) do
    if a.rule_id == id then return true end
  end
  return false
end

-- s with bytes that are not UTF-8, and control characters, as \xNN.
local function printable(s)
  s = tostring(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = byte(s, i)
    local l = c >= 0x20 and c ~= 0x7f and utf8_len(s, i)
    if l then
      out[#out + 1] = s:sub(i, i + l - 1)
      i = i + l
    else
      out[#out + 1] = format("\\x%02x", c)
      i = i + 1
    end
  end
  return concat(out)
end

local function event_summary(ev)
  if type(ev) ~= "table" then return "?" end
  local parts = { tostring(ev.type), "pid=" .. tostring(ev.pid), "comm=" .. printable(ev.comm) }
  if ev.type == "connect" or (ev.dest_ip and ev.dest_ip ~= "") then
    parts[#parts + 1] = format("dest=%s:%s", tostring(ev.dest_ip), tostring(ev.dest_port))
  end
  if ev.filename and ev.filename ~= "" and ev.filename ~= "connect" then
    parts[#parts + 1] = "filename=" .. printable(ev.filename)
  end
  return concat(parts, " ")
end

local function describe_alerts(alerts)
  if #alerts == 0 then return "No alert fired." end
  local out = { format("Alerts that fired (%d):", #alerts) }
  for _, a in ipairs(alerts) do
    out[#out + 1] = format("  %s: %s  [%s]", tostring(a.rule_id), printable(a.description),
      event_summary(a.event))
  end
  return concat(out, "\n")
end

local function describe_origin(alerts)
  local o = origin[alerts]
  if not o then return nil end
  local out = { format("Events (%d):", o.nevents) }
  for i, l in ipairs(o.events) do out[#out + 1] = format("  %d: %s", i, printable(l)) end
  if o.nevents > #o.events then
    out[#out + 1] = format("  ... and %d more", o.nevents - #o.events)
  end
  if #o.logs > 0 then
    out[#out + 1] = "Engine log:"
    for i = 1, math.min(#o.logs, SHOW_LOGS) do out[#out + 1] = "  " .. printable(o.logs[i]) end
    if #o.logs > SHOW_LOGS then out[#out + 1] = format("  ... and %d more lines", #o.logs - SHOW_LOGS) end
  end
  return concat(out, "\n")
end

-- The failure text: expected or unexpected rule, events, alerts, log.
function _M.explain(id, alerts, expected)
  local head = expected and format("Expected rule %q to fire, but it did not.", id)
    or format("Expected rule %q not to fire, but it did.", id)
  local parts = { head, describe_alerts(alerts) }
  local o = describe_origin(alerts)
  if o then parts[#parts + 1] = o end
  return concat(parts, "\n")
end

local function check_args(name, id, alerts)
  if type(id) ~= "string" then
    error(format("assert.%s: expected a rule id (a string) first, got %s", name, type(id)), 3)
  end
  if type(alerts) ~= "table" then
    error(format("assert.%s: expected the alerts (a list) second, got %s", name, type(alerts)), 3)
  end
end

-- luassert's message: the argument list becomes our own text, shown as is.
local function set_message(arguments, text)
  for i = 1, arguments.n or #arguments do arguments[i] = nil end
  arguments[1], arguments.n, arguments.nofmt = text, 1, { true }
end

local function assertion_fires(state, arguments)
  local id, alerts = arguments[1], arguments[2]
  check_args("fires", id, alerts)
  if arguments[3] ~= nil then state.failure_message = arguments[3] end
  local ok = fired(id, alerts)
  set_message(arguments, _M.explain(id, alerts, state.mod))
  return ok
end

local function assertion_fires_on(state, arguments)
  local eng, id, events = arguments[1], arguments[2], arguments[3]
  if getmetatable(eng) ~= Engine then
    if type(eng) ~= "table" then
      error("assert.fires_on: expected an engine or engine options first, got " .. type(eng), 3)
    end
    eng = _M.engine(eng)
  end
  if type(events) ~= "table" then
    error("assert.fires_on: expected an event or a list of events third, got " .. type(events), 3)
  end
  local alerts = eng:run(events)
  check_args("fires_on", id, alerts)
  if arguments[4] ~= nil then state.failure_message = arguments[4] end
  local ok = fired(id, alerts)
  set_message(arguments, _M.explain(id, alerts, state.mod))
  return ok
end

local registered = false
-- Registers the assertions with luassert (done on load when luassert is
-- there, as under busted).
function _M.register(luassert)
  luassert = luassert or require("luassert")
  local say = require("say")
  if registered then return end
  registered = true
  say:set("assertion.eg_fires.positive", "%s")
  say:set("assertion.eg_fires.negative", "%s")
  luassert:register("assertion", "fires", assertion_fires,
    "assertion.eg_fires.positive", "assertion.eg_fires.negative")
  luassert:register("assertion", "fires_on", assertion_fires_on,
    "assertion.eg_fires.positive", "assertion.eg_fires.negative")
end

do
  local ok, luassert = pcall(require, "luassert")
  if ok then _M.register(luassert) end
end

return _M
