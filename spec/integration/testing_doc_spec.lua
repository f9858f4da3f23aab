-- docs/testing.md's tutorial, run as written: the files it shows are written,
-- its commands run (with `ebpf-guard` on PATH as build/ebpf-guard, and nothing
-- else in the environment), and their output and exit code are compared with
-- the output blocks that follow them. Markers in the page:
--   <!-- test: file PATH -->       the next code block is the file's text
--   <!-- test: run -->             the next code block is a shell script
--   <!-- test: output exit=N -->   the next code block: the run's output
--                                  (stdout, then stderr), line by line; a
--                                  line "..." skips any lines, a line ending
--                                  in "..." matches by its beginning
--   <!-- test: edit PATH FROM TO --> replaces FROM by TO in the file
--   <!-- test: skip (why) -->      the next code block is not run
local BIN = os.getenv("EG_BIN") or "build/ebpf-guard"
local DOC = "docs/testing.md"

local function abs(p)
  if p:sub(1, 1) == "/" then return p end
  return os.getenv("PWD") .. "/" .. p
end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- The page's steps in order: { kind, arg, text }.
local function steps(doc)
  local out, pending, block = {}, nil, nil
  for line in (doc .. "\n"):gmatch("([^\n]*)\n") do
    if block then
      if line:match("^```%s*$") then
        pending.text = table.concat(block, "\n") .. "\n"
        out[#out + 1] = pending
        pending, block = nil, nil
      else
        block[#block + 1] = line
      end
    else
      local kind, arg = line:match("^<!%-%- test: (%a+)%s*(.-)%s*%-%->$")
      if kind == "edit" then
        local path, from, to = arg:match("^(%S+) (%S+) (%S+)$")
        out[#out + 1] = { kind = "edit", arg = path, from = from, to = to }
      elseif kind then
        pending = { kind = kind, arg = arg }
      elseif pending and line:match("^```") then
        block = {}
      end
    end
  end
  return out
end

-- Does out (a list of lines) match the expected lines?
local function matches(want, got)
  local j, gap = 1, false
  for _, w in ipairs(want) do
    if w == "..." then
      gap = true
    else
      local prefix = w:match("^(.-)%.%.%.$")
      local function ok(g) return g == w or (prefix and g:sub(1, #prefix) == prefix) end
      while j <= #got and not ok(got[j]) do
        if not gap then return false, ("expected %q, got %q"):format(w, got[j]) end
        j = j + 1
      end
      if j > #got then return false, ("expected %q, not found"):format(w) end
      j, gap = j + 1, false
    end
  end
  return true
end

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

describe("docs/testing.md", function()
  local doc = readfile(DOC)
  local list = steps(doc)

  it("has the tutorial's steps, and its recording has a path that is not UTF-8", function()
    local kinds = {}
    for _, s in ipairs(list) do kinds[#kinds + 1] = s.kind end
    assert.same({ "skip", "run", "skip", "skip", "file", "file", "file", "run", "output", "file", "run",
      "output", "run", "output", "edit", "run", "output" }, kinds)
    assert.equals("recordings/webshell.jsonl", list[5].arg)
    assert.truthy(list[5].text:find('"filename":"/tmp/.\\udce9"', 1, true))
  end)

  it("runs as written: the failure, the fix, the daemon's replay, the typo", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/project " .. dir .. "/bin") == 0)
    assert(os.execute(("ln -s %s %s/bin/ebpf-guard"):format(abs(BIN), dir)) == 0)
    local project = dir .. "/project"
    local last -- { rc, out } of the previous run
    for i, s in ipairs(list) do
      local where = ("%s, step %d (%s %s)"):format(DOC, i, s.kind, s.arg or "")
      if s.kind == "file" then
        writefile(project .. "/" .. s.arg, s.text)
      elseif s.kind == "edit" then
        local text = readfile(project .. "/" .. s.arg)
        local a, b = text:find(s.from, 1, true)
        assert(a, where .. ": text not found")
        writefile(project .. "/" .. s.arg, text:sub(1, a - 1) .. s.to .. text:sub(b + 1))
      elseif s.kind == "run" then
        writefile(dir .. "/script.sh", s.text)
        local rc = os.execute(("cd %s && env -i HOME=%s PATH=%s/bin:/usr/local/bin:/usr/bin:/bin sh -e %s/script.sh >%s/out 2>%s/err")
          :format(project, dir, dir, dir, dir, dir))
        if rc > 255 then rc = rc / 256 end
        last = { rc = rc, out = readfile(dir .. "/out") .. readfile(dir .. "/err") }
      elseif s.kind == "output" then
        local want_rc = tonumber(s.arg:match("^exit=(%d+)$"))
        assert(last and want_rc, where .. ": an output block needs a run before it and exit=N")
        assert.equals(want_rc, last.rc, where .. ": exit code; output:\n" .. last.out)
        local ok, why = matches(lines(s.text), lines(last.out))
        assert(ok, where .. ": " .. tostring(why) .. "\noutput:\n" .. last.out)
      end
    end
    os.execute("rm -rf " .. dir)
  end)
end)
