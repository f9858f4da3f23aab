-- Runs the examples of docs/rules.md, so the reference of the rule language
-- cannot drift from what the engine does:
--   ```yaml      loaded (with the section's earlier "# file: NAME" blocks);
--                must load, unless a ```console block follows
--   ```events    one event per line, "JSON → ids" (or "→ (nothing)"): the
--                alerts each event raises with the files of the section
--   ```console   "$ ebpf-guard -validate -config NAME" and the exact lines
--                it prints
-- and checks that every field and matcher of the language is documented.
local H = require("helpers.engine")
local cjson = require("cjson")
local lang = require("ebpf_guard.lang")

local DOC = "docs/rules.md"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Sections (by heading) holding their fenced blocks in order.
local function parse(text)
  local sections, cur, block = {}, nil, nil
  local lineno = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    if block then
      if line:match("^```%s*$") then
        cur.blocks[#cur.blocks + 1] = block
        block = nil
      else
        block.lines[#block.lines + 1] = line
      end
    elseif line:match("^```") then
      block = { lang = line:match("^```(%w*)"), lines = {}, line = lineno + 1 }
    elseif line:match("^#+ ") then
      cur = { title = line:gsub("^#+ ", ""), blocks = {} }
      sections[#sections + 1] = cur
    end
  end
  return sections
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir) == 0)
teardown(function() os.execute("rm -rf " .. dir) end)

local n = 0
local function write(name, lines)
  n = n + 1
  local path = ("%s/%d/%s"):format(dir, n, name)
  assert(os.execute(("mkdir -p '%s'"):format(path:match("^(.*)/"))) == 0)
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  return path
end

local function strip(msg, files)
  for _, f in ipairs(files) do
    msg = msg:gsub(f.path:gsub("%p", "%%%0"), f.name)
  end
  return msg
end

local sections = parse(read(DOC))

describe("docs/rules.md", function()
  for _, sec in ipairs(sections) do
    local files = {}
    for bi, b in ipairs(sec.blocks) do
      local where = ("%s line %d"):format(DOC, b.line)
      if b.lang == "yaml" then
        local name = b.lines[1]:match("^# file: (%S+)")
        local entry = { name = name or "example.yaml", path = write(name or "example.yaml", b.lines) }
        if name then
          files[#files + 1] = entry
        else
          files = { entry }
        end
        local nxt = sec.blocks[bi + 1]
        if not (nxt and nxt.lang == "console") then
          it(("%s: the example at %s loads"):format(sec.title, where), function()
            local paths = {}
            for i, f in ipairs(files) do paths[i] = f.path end
            local eng, err = H.new(paths)
            assert(eng, err and strip(err, files))
          end)
        end
      elseif b.lang == "events" then
        local set = {}
        for i, f in ipairs(files) do set[i] = f end
        it(("%s: the events at %s raise the alerts shown"):format(sec.title, where), function()
          assert(#set > 0, "an events block needs a YAML block before it")
          local events, want = {}, {}
          local builtins_shown = false
          for i, line in ipairs(b.lines) do
            local json, ids = line:match("^(.-)%s*→%s*(.-)%s*$")
            assert(json, "line without →: " .. line)
            events[i] = cjson.decode(json)
            want[i] = {}
            if ids ~= "(nothing)" then
              for id in ids:gmatch("[^,%s]+") do
                want[i][#want[i] + 1] = id
                if id:find("^builtin_") then builtins_shown = true end
              end
            end
          end
          local paths = {}
          for i, f in ipairs(set) do paths[i] = f.path end
          local got = {}
          for i = 1, #events do got[i] = {} end
          local eng = assert(H.new(paths))
          for _, h in ipairs(H.run(eng, events)) do
            if builtins_shown or not h.rule:find("^builtin_") then
              table.insert(got[h.ev], h.rule)
            end
          end
          for i = 1, #events do
            assert.same(want[i], got[i], ("%s: %s"):format(where, b.lines[i]))
          end
        end)
      elseif b.lang == "console" then
        local set = {}
        for i, f in ipairs(files) do set[i] = f end
        it(("%s: the errors at %s are the ones shown"):format(sec.title, where), function()
          local cmd = b.lines[1]
          assert(cmd:match("^%$ ebpf%-guard %-validate"), "unknown console command " .. cmd)
          local paths = {}
          for i, f in ipairs(set) do paths[i] = f.path end
          local eng, err = H.new(paths)
          assert.is_nil(eng)
          local got = {}
          for l in strip(err, set):gmatch("[^\n]+") do got[#got + 1] = "ebpf-guard: " .. l end
          local want = {}
          for i = 2, #b.lines do want[#want + 1] = b.lines[i] end
          assert.same(want, got)
        end)
      end
    end
  end

  it("documents every field in the fields table", function()
    local text = read(DOC)
    for _, name in ipairs(lang.FIELD_NAMES) do
      assert.truthy(text:find("| `" .. name .. "` |", 1, true), "field " .. name .. " is not in " .. DOC)
    end
  end)

  it("documents every matcher and combinator", function()
    local text = read(DOC)
    for _, m in ipairs(lang.ALL_MATCHERS) do
      assert.truthy(text:find("`" .. m .. "`", 1, true), "matcher " .. m .. " is not in " .. DOC)
    end
    for _, m in ipairs(lang.COMBINATORS) do
      assert.truthy(text:find("| `" .. m .. "` |", 1, true), "combinator " .. m .. " is not in " .. DOC)
    end
  end)
end)
