-- Drives the real C engine (src/engine.c, built as libebpf-guard-engine.so)
-- through the FFI: the daemon's Lua state, loader, sandbox and C count hook,
-- in a second Lua state inside this process. Events are struct eg_event
-- arrays built by helpers.engine.build_events.
--
--   local C = require("helpers.cengine")
--   local eng = assert(C.new({ "rules/x.lua" }, { budget = 100000 }))
--   local hits = C.run(eng, { { type = "exec", comm = "a" } })
--   C.fired(hits), C.errors(eng, "id", C.BUDGET), eng.logs
local ffi = require("ffi")
local H = require("helpers.engine")

local _M = {}

_M.RUNTIME, _M.BUDGET = 0, 1

-- The public module declares the engine's structs (and checks the layout of
-- struct eg_engine_opts); this file adds what only it uses.
local T = require("ebpf_guard.testing")
for _, d in ipairs({
  [[typedef void (*eg_hit_cb)(void *ctx, const struct eg_event *ev, uint32_t rule,
                            const char *desc, size_t desc_len)]],
  "typedef void (*eg_log_cb)(void *ctx, const char *line, size_t len)",
  "struct eg_engine *eg_engine_new(const struct eg_engine_opts *o, char *err, size_t errlen)",
  "void eg_engine_free(struct eg_engine *e)",
  "const char *eg_engine_report(const struct eg_engine *e)",
  "uint32_t eg_engine_types_wanted(const struct eg_engine *e)",
  "int eg_engine_rule_disabled(const struct eg_engine *e, size_t rule)",
  [[int eg_engine_run(struct eg_engine *e, struct eg_event *events, uint32_t n,
                    eg_hit_cb cb, void *ctx, char *err, size_t errlen)]],
  "uint64_t eg_engine_total_errors(const struct eg_engine *e)",
  "size_t eg_engine_lua_bytes(struct eg_engine *e)",
  "uint64_t eg_engine_prefiltered(const struct eg_engine *e)",
}) do pcall(ffi.cdef, d .. ";") end

_M.LIB_PATH = T.lib_path
local lib = T.lib
_M.lib = lib

-- The engine calls back into this state (log lines, hits) from inside an FFI
-- call: callbacks are only allowed when that call was not JIT-compiled, so
-- every function here runs interpreted.
local current -- { eng, evs, hits } of the call in progress
local log_cb = ffi.cast("eg_log_cb", function(_, line, len)
  local logs = current and current.logs
  if logs then logs[#logs + 1] = ffi.string(line, len) end
end)
local hit_cb = ffi.cast("eg_hit_cb", function(_, ev, rule, desc, dlen)
  local c = current
  local i = tonumber(ffi.cast("const struct eg_event *", ev) - c.evs)
  c.hits[#c.hits + 1] = {
    ev = i + 1, rule = c.eng.ids[rule + 1], desc = desc ~= nil and ffi.string(desc, dlen) or nil,
  }
end)

-- Builds an engine from configs (paths) as the daemon does.
-- opts: { budget = instructions (0/nil: the daemon's default), lua_path,
--         max_errors = errors in a row before a rule is disabled (nil: 100, -1: never),
--         disable_rules, disable_tags = { strings }, report = "table" | "json" | "summary",
--         errlen = size of the error buffer (default 4096) }.
-- Returns the engine or nil, message.
function _M.new(configs, opts)
  opts = opts or {}
  local eng = { logs = {}, ids = {}, index = {} }
  local paths = ffi.new("const char *[?]", math.max(#configs, 1))
  for i, p in ipairs(configs) do paths[i - 1] = p end
  local function strings(list)
    list = list or {}
    local a = ffi.new("const char *[?]", math.max(#list, 1))
    for i, v in ipairs(list) do a[i - 1] = v end
    return a, #list
  end
  local drules, ndrules = strings(opts.disable_rules)
  local dtags, ndtags = strings(opts.disable_tags)
  local o = ffi.new("struct eg_engine_opts", {
    lua_path = opts.lua_path, configs = paths, nconfigs = #configs,
    budget = opts.budget or 0, max_errors = opts.max_errors or 0, log = log_cb,
    disable_rules = drules, ndisable_rules = ndrules, disable_tags = dtags,
    ndisable_tags = ndtags, report = opts.report, no_prefilter = opts.no_prefilter or false,
  })
  local errlen = opts.errlen or 4096
  local err = ffi.new("char[?]", errlen)
  current = { logs = eng.logs }
  local e = lib.eg_engine_new(o, err, errlen)
  current = nil
  if e == nil then return nil, ffi.string(err) end
  eng.e = ffi.gc(e, lib.eg_engine_free)
  eng.anchor = { paths, configs, drules, dtags, opts }
  return eng
end

-- Rule ids in engine order; needs the rule list, which the C API exposes
-- through eg_engine_rule(): read lazily.

local function load_ids(eng)
  if #eng.ids > 0 then return end
  for i = 0, tonumber(lib.eg_engine_nrules(eng.e)) - 1 do
    local id = ffi.string(lib.eg_engine_rule(eng.e, i).id)
    eng.ids[i + 1] = id
    eng.index[id] = i
  end
end

-- Runs events (JSON-like tables, or a .jsonl path) through eg_engine_run.
-- Returns hits { ev = 1-based event index, rule = id, desc = string or nil }.
-- Raises when the engine itself fails (a bug, never a rule error).
function _M.run(eng, objs)
  load_ids(eng)
  if type(objs) == "string" then objs = H.read_jsonl(objs) end
  local evs, anchor = H.build_events(objs)
  local c = { eng = eng, evs = evs, hits = {}, logs = eng.logs }
  local err = ffi.new("char[4096]")
  current = c
  local rc = lib.eg_engine_run(eng.e, evs, #objs, hit_cb, nil, err, 4096)
  current = nil
  anchor[0] = evs
  if rc ~= 0 then error("eg_engine_run failed: " .. ffi.string(err), 2) end
  return c.hits
end

function _M.fired(hits) return H.fired(hits) end

-- How many times the user code of rule id was called.
function _M.calls(eng, id)
  load_ids(eng)
  return tonumber(lib.eg_engine_rule_calls(eng.e, eng.index[id]))
end

-- Error count of rule id, kind RUNTIME or BUDGET.
function _M.errors(eng, id, kind)
  load_ids(eng)
  local k = eng.index[id]
  assert(k, "no rule " .. tostring(id))
  return tonumber(lib.eg_engine_rule_errors(eng.e, k, kind))
end

function _M.disabled(eng, id)
  load_ids(eng)
  return lib.eg_engine_rule_disabled(eng.e, eng.index[id]) == 1
end

function _M.total_errors(eng) return tonumber(lib.eg_engine_total_errors(eng.e)) end
function _M.lua_bytes(eng) return tonumber(lib.eg_engine_lua_bytes(eng.e)) end
function _M.prefiltered(eng) return tonumber(lib.eg_engine_prefiltered(eng.e)) end
function _M.types_wanted(eng) return tonumber(lib.eg_engine_types_wanted(eng.e)) end
-- The text opts.report asked for, or nil.
function _M.report(eng)
  local r = lib.eg_engine_report(eng.e)
  return r ~= nil and ffi.string(r) or nil
end

for _, f in pairs(_M) do
  if type(f) == "function" then jit.off(f, true) end
end
jit.off(load_ids, true)

return _M
