-- `ebpf-guard test`: runs a user's busted specs under LuaJIT with the
-- ebpf_guard.testing module and the engine library found from the binary,
-- from any directory, with nothing set in the environment.
local BIN = os.getenv("EG_BIN") or "build/ebpf-guard"

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

-- Runs cmd in dir with a clean environment (PATH as given); returns exit
-- code, stdout, stderr.
local function run(dir, cmd, path)
  local out, err = os.tmpname(), os.tmpname()
  local rc = os.execute(("cd %s && env -i HOME=%s PATH=%s %s >%s 2>%s"):format(dir, os.getenv("HOME") or "/",
    path or os.getenv("PATH"), cmd, out, err))
  if rc > 255 then rc = rc / 256 end
  local o, e = readfile(out), readfile(err)
  os.remove(out)
  os.remove(err)
  return rc, o, e
end

describe("ebpf-guard test", function()
  local bin = abs(BIN)
  local fixtures = abs("spec/fixtures/testing")

  it("runs the specs of spec/ in the current directory, exit 0 when they pass", function()
    local rc, out = run(fixtures .. "/ok", bin .. " test")
    assert.equals(0, rc)
    assert.truthy(out:find("2 successes / 0 failures / 0 errors / 0 pending", 1, true), out)
  end)

  it("passes its arguments to busted (a spec file, an output handler)", function()
    local rc, out = run(fixtures .. "/ok", bin .. " test -o TAP spec/nginx_shell_spec.lua")
    assert.equals(0, rc)
    assert.truthy(out:find("ok 1 - nginx_shell fires when nginx starts a shell\n", 1, true), out)
  end)

  it("fails on a detection with a typo, showing the detection's own error", function()
    local rc, out = run(fixtures .. "/typo", bin .. " test")
    assert.equals(1, rc)
    assert.truthy(out:find("0 successes / 0 failures / 1 error / 0 pending", 1, true), out)
    assert.truthy(out:find('\nspec/nginx_shell_spec.lua:4: ebpf-guard: detections/nginx_shell.lua: detection "nginx_shell": '
      .. 'match: line 11: ev.parent has no field "comn" (did you mean "comm"?)\n', 1, true), out)
  end)

  it("gives specs the daemon's -lua-memory guard, kept out of the programs they start", function()
    -- the user's own LD_PRELOAD stays (ld.so warns that it cannot load it)
    local rc, out = run(fixtures .. "/memory", "LD_PRELOAD=/nonexistent-user-preload.so " .. bin .. " test")
    assert.equals(0, rc)
    assert.truthy(out:find("3 successes / 0 failures / 0 errors / 0 pending", 1, true), out)
  end)

  it("names the Debian package when luajit or busted is missing", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/bin && ln -s $(command -v luajit) " .. dir .. "/bin/luajit") == 0)
    local rc, out, err = run(dir, bin .. " test", dir .. "/none")
    assert.same({ 1, "", "ebpf-guard: test: luajit not found in PATH: install the Debian package luajit\n" }, { rc, out, err })
    rc, out, err = run(dir, bin .. " test", dir .. "/bin")
    assert.same({ 1, "", "ebpf-guard: test: busted not found in PATH: install the Debian package lua-busted\n" }, { rc, out, err })
    os.execute("rm -rf " .. dir)
  end)
end)
