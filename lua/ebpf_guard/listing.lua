-- What -list-rules and -validate print (src/main.c): the rule records of
-- host.init as a table or a JSON array, and the one-line summary.
-- See docs/operations.md, "Operator commands".
local host = require("ebpf_guard.host")

local type = type
local ipairs = ipairs
local tostring = tostring
local concat = table.concat
local json_string = host.json_string
local valid_utf8 = host.valid_utf8

local _M = {}

_M.HEADER = { "ID", "EVENT TYPES", "SEVERITY", "TAGS", "SOURCE", "STATE" }

-- A cell as it is shown: control bytes as \xNN, so that one rule stays on
-- one line whatever its tags hold.
local function cell(s)
  return (tostring(s):gsub("%c", function(c) return ("\\x%02x"):format(c:byte()) end))
end

-- Columns a cell takes: one per UTF-8 character (continuation bytes do not
-- count).
local function width(s)
  local _, cont = s:gsub("[\128-\191]", "")
  return #s - cont
end

local function source_text(rec)
  if rec.line then return rec.source .. ":" .. rec.line end
  return rec.source
end

local function state_text(rec)
  local s = rec.enabled and "enabled" or ("disabled (" .. tostring(rec.why) .. ")")
  if rec.action then s = s .. "; action: " .. rec.action .. (rec.kill_in == "kernel" and " (in the kernel)" or "") end
  if rec.overrides and #rec.overrides > 0 then
    s = s .. "; overridden at " .. concat(rec.overrides, ", ")
  end
  return s
end

local function list_or_dash(t)
  if not t or #t == 0 then return "-" end
  return concat(t, ",")
end

local function render_table(records)
  local rows = { _M.HEADER }
  for i, rec in ipairs(records) do
    rows[i + 1] = {
      cell(rec.id), list_or_dash(rec.types), cell(rec.severity), cell(list_or_dash(rec.tags)),
      cell(source_text(rec)), cell(state_text(rec)),
    }
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for c, v in ipairs(row) do
      local w = width(v)
      if w > (widths[c] or 0) then widths[c] = w end
    end
  end
  local out = {}
  for r, row in ipairs(rows) do
    local parts = {}
    for c, v in ipairs(row) do
      -- the last column is not padded: no trailing blanks
      if c < #row then v = v .. (" "):rep(widths[c] - width(v)) end
      parts[c] = v
    end
    out[r] = concat(parts, "  ")
  end
  return concat(out, "\n") .. "\n"
end

-- A JSON string of s; bytes that are not UTF-8 become "?" (as in alerts'
-- tags: src/json.c does the same for event strings).
local function jstr(s)
  s = tostring(s)
  if not valid_utf8(s) then s = s:gsub("[\128-\255]", "?") end
  return json_string(s)
end

local function jlist(t)
  local parts = {}
  for i, v in ipairs(t or {}) do parts[i] = jstr(v) end
  return "[" .. concat(parts, ",") .. "]"
end

-- A Lua detection's params as a JSON object (names sorted), or null.
local function jparams(p)
  if not p then return "null" end
  -- (raw reads: the table is a detection's own)
  local names = {}
  for k in next, p do names[#names + 1] = k end
  table.sort(names)
  local parts = {}
  for i, k in ipairs(names) do
    local v = rawget(p, k)
    if type(v) == "number" then
      v = (v == math.floor(v) and math.abs(v) < 2 ^ 53) and ("%d"):format(v) or ("%.17g"):format(v)
    elseif type(v) == "boolean" then
      v = tostring(v)
    else
      v = jstr(v)
    end
    parts[i] = jstr(k) .. ":" .. v
  end
  return "{" .. concat(parts, ",") .. "}"
end

local function render_json(records)
  if #records == 0 then return "[]\n" end
  local out = {}
  for i, rec in ipairs(records) do
    out[i] = "  {" .. concat({
      '"id":' .. jstr(rec.id),
      '"kind":' .. jstr(rec.kind),
      '"event_types":' .. jlist(rec.types),
      '"severity":' .. jstr(rec.severity),
      '"tags":' .. jlist(rec.tags),
      '"source":' .. jstr(rec.source),
      '"line":' .. (type(rec.line) == "number" and ("%d"):format(rec.line) or "null"),
      '"enabled":' .. tostring(rec.enabled == true),
      '"disabled_reason":' .. (rec.enabled and "null" or jstr(rec.why or "")),
      '"overrides":' .. jlist(rec.overrides),
      '"action":' .. jstr(rec.action or "alert"),
      '"params":' .. jparams(rec.params),
    }, ",") .. "}"
  end
  return "[\n" .. concat(out, ",\n") .. "\n]\n"
end

-- records: host.init's records (see there); fmt: "table" or "json".
-- Returns the text to print, ending with a newline.
function _M.render(records, fmt)
  if fmt == "table" then return render_table(records) end
  if fmt == "json" then return render_json(records) end
  error("listing.render: unknown format " .. tostring(fmt), 2)
end

local function count(n, one, many)
  return ("%d %s"):format(n, n == 1 and one or many)
end

-- The -validate line (without the "ebpf-guard: " prefix), e.g.
-- "configuration OK: 3 files; 12 YAML rules, 2 Lua detections, 4 built-ins; 16 enabled, 2 disabled"
-- and, when enabled rules kill, "; 2 with action kill" after it, with
-- " (1 in the kernel)" when the kernel makes some of the kills.
function _M.summary(records, nfiles)
  local kinds = { yaml = 0, lua = 0, builtin = 0 }
  local enabled, kill, kernel = 0, 0, 0
  for _, rec in ipairs(records) do
    kinds[rec.kind] = (kinds[rec.kind] or 0) + 1
    if rec.enabled then enabled = enabled + 1 end
    if rec.enabled and rec.action == "kill" then kill = kill + 1 end
    if rec.enabled and rec.action == "kill" and rec.kill_in == "kernel" then kernel = kernel + 1 end
  end
  return ("configuration OK: %s; %s, %s, %s; %d enabled, %d disabled%s%s"):format(
    count(nfiles, "file", "files"), count(kinds.yaml, "YAML rule", "YAML rules"),
    count(kinds.lua, "Lua detection", "Lua detections"),
    count(kinds.builtin, "built-in", "built-ins"), enabled, #records - enabled,
    kill > 0 and ("; %d with action kill"):format(kill) or "",
    kernel > 0 and (" (%d in the kernel)"):format(kernel) or "")
end

return _M
