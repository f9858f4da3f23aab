-- The operator's -disable-rule ID and -disable-tag TAG (src/main.c), applied
-- by host.init after the configuration loaded, at start-up and at every
-- reload. See docs/operations.md, "Operator commands".
local config = require("ebpf_guard.config")

local ipairs = ipairs
local concat = table.concat
local quote = config.quote
local suggest = config.suggest

local _M = {}

-- " (did you mean "x"?)" for the name in known closest to name (letter case
-- aside), or "".
local function hint(name, known)
  local lower, orig = {}, {}
  for i, k in ipairs(known) do
    lower[i] = k:lower()
    orig[lower[i]] = orig[lower[i]] or k
  end
  local s = suggest(name, lower)
  if not s then return "" end
  return (" (did you mean %s?)"):format(quote(orig[s]))
end

-- records: host.init's rule records (every rule, disabled ones too); ids,
-- tags: the flags' values (lists of strings, or nil).
-- Returns why(rule) -> "-disable-rule" or "-disable-tag <tag>" for a rule
-- (any table with id and tags) the flags turn off, nil for the others; or
-- nil and every id or tag that matches no rule, one per line.
function _M.check(records, ids, tags)
  local known_ids, id_set, known_tags, tag_set = {}, {}, {}, {}
  for _, rec in ipairs(records) do
    if not id_set[rec.id] then
      id_set[rec.id] = true
      known_ids[#known_ids + 1] = rec.id
    end
    for _, t in ipairs(rec.tags or {}) do
      if not tag_set[t] then
        tag_set[t] = true
        known_tags[#known_tags + 1] = t
      end
    end
  end
  local problems, off_ids, off_tags = {}, {}, {}
  for _, id in ipairs(ids or {}) do
    if not id_set[id] then
      problems[#problems + 1] = ("-disable-rule: no rule %s%s"):format(quote(id), hint(id, known_ids))
    end
    off_ids[id] = true
  end
  for _, t in ipairs(tags or {}) do
    if not tag_set[t] then
      problems[#problems + 1] = ("-disable-tag: no rule has tag %s%s"):format(quote(t), hint(t, known_tags))
    end
    off_tags[t] = true
  end
  if #problems > 0 then return nil, concat(problems, "\n") end
  return function(rule)
    if off_ids[rule.id] then return "-disable-rule" end
    for _, t in ipairs(rule.tags or {}) do
      if off_tags[t] then return "-disable-tag " .. t end
    end
    return nil
  end
end

return _M
