-- Drives build/ebpf-guard as a user would: flags, replay, config errors.
local BIN = os.getenv("EG_BIN") or "build/ebpf-guard"

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -m 700 " .. p) == 0)
  return p
end

local function readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Runs a shell command; returns exit code, stdout, stderr.
local function run(cmd, dir)
  local out, errf = dir .. "/stdout", dir .. "/stderr"
  local rc = os.execute(cmd .. " >" .. out .. " 2>" .. errf)
  if rc > 255 then rc = rc / 256 end
  return rc, readfile(out), readfile(errf)
end

describe("ebpf-guard CLI", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  describe("flags", function()
    it("prints usage and exits 0 on -help and --help", function()
      for _, f in ipairs({ "-help", "--help", "-h" }) do
        local rc, out = run(BIN .. " " .. f, dir)
        assert.equals(0, rc)
        assert.truthy(out:find("Usage: ebpf%-guard", 1))
        assert.truthy(out:find("-alert-file PATH", 1, true))
      end
    end)

    it("documents the rule commands in -help", function()
      local _, out = run(BIN .. " -help", dir)
      for _, f in ipairs({ "-validate ", "-list-rules ", "-json ", "-disable-rule ID ",
        "-disable-tag TAG " }) do
        assert.truthy(out:find("\n  " .. f, 1, true), f)
      end
    end)

    it("prints the version", function()
      local rc, out = run(BIN .. " --version", dir)
      assert.equals(0, rc)
      assert.truthy(out:match("^ebpf%-guard %d+%.%d+%.%d+ "))
    end)

    it("rejects an unknown flag with a hint and exit 2", function()
      local rc, _, err = run(BIN .. " -frobnicate", dir)
      assert.equals(2, rc)
      assert.equals("ebpf-guard: unknown flag -frobnicate\n"
        .. "Run 'ebpf-guard -help' for the flags and the exit codes.\n", err)
    end)

    it("suggests the flag meant by a misspelt one", function()
      for typo, meant in pairs({ ["-alert-fil"] = "-alert-file", ["--promaddr"] = "-prom-addr",
        ["-lua-bugdet=5"] = "-lua-budget", ["-disable-rul"] = "-disable-rule",
        ["-record-max"] = "-record-max-size", ["-vlaidate"] = "-validate" }) do
        local rc, _, err = run(BIN .. " " .. typo .. " x", dir)
        assert.equals(2, rc)
        local name = typo:gsub("^%-%-?", "-"):gsub("=.*", "")
        assert.equals("ebpf-guard: unknown flag " .. name .. " (did you mean " .. meant .. "?)",
          err:match("^[^\n]*"))
      end
    end)

    it("lists the exit codes in -help", function()
      local _, out = run(BIN .. " -help", dir)
      assert.truthy(out:find("\nExit codes:\n  0  done: ", 1, true))
      assert.truthy(out:find("\n  1  a problem in the settings file or the configuration", 1, true))
      assert.truthy(out:find("\n  2  a command-line mistake: unknown flag", 1, true))
    end)

    it("rejects a flag without its value with exit 2", function()
      local rc, _, err = run(BIN .. " -config", dir)
      assert.equals(2, rc)
      assert.equals("ebpf-guard: flag needs a value: -config", err:match("^[^\n]*"))
    end)

    it("rejects a bad -alert-rate-limit with exit 2", function()
      local rc, _, err = run(BIN .. " -alert-rate-limit fast", dir)
      assert.equals(2, rc)
      assert.equals("ebpf-guard: invalid -alert-rate-limit 'fast': expected N/s with N > 0", err:match("^[^\n]*"))
    end)

    it("rejects a -process-table-size out of range with exit 2", function()
      for _, v in ipairs({ "63", "4194305", "-1", "1k", "" }) do
        local rc, _, err = run(BIN .. " -process-table-size '" .. v .. "'", dir)
        assert.equals(2, rc)
        assert.equals("ebpf-guard: invalid -process-table-size '" .. v
          .. "': expected 64..4194304 processes", err:match("^[^\n]*"))
      end
      local rc = run(BIN .. " -process-table-size 64 -replay /dev/null -alert-file " .. dir .. "/a.jsonl", dir)
      assert.equals(0, rc)
    end)

    it("accepts -flag=value and --flag value forms", function()
      local rc = run(BIN .. " --replay /dev/null -alert-file=" .. dir .. "/a.jsonl", dir)
      assert.equals(0, rc)
    end)
  end)

  describe("replay", function()
    it("replays a fixture into the exact expected alerts and [ALERT] lines", function()
      local alerts = dir .. "/alerts.jsonl"
      local rc, out, err = run(BIN .. " -replay spec/fixtures/cli_replay.jsonl -config spec/fixtures/cli_rules.yaml"
        .. " -alert-file " .. alerts, dir)
      assert.equals(0, rc, err)
      assert.equals(readfile("spec/fixtures/cli_replay.expected.jsonl"), readfile(alerts))
      assert.equals(readfile("spec/fixtures/cli_replay.expected.stdout"), out)
    end)

    it("reads events from stdin with -replay -", function()
      local alerts = dir .. "/alerts.jsonl"
      local rc = run(BIN .. " -replay - -config spec/fixtures/cli_rules.yaml -alert-file " .. alerts
        .. " < spec/fixtures/cli_replay.jsonl", dir)
      assert.equals(0, rc)
      assert.equals(readfile("spec/fixtures/cli_replay.expected.jsonl"), readfile(alerts))
    end)

    it("creates the alert file mode 0600", function()
      local alerts = dir .. "/alerts.jsonl"
      assert.equals(0, (run("umask 000; " .. BIN .. " -replay spec/fixtures/cli_replay.jsonl -alert-file " .. alerts, dir)))
      local rc, out = run("stat -c %a " .. alerts, dir)
      assert.equals(0, rc)
      assert.equals("600\n", out)
    end)

    it("writes alerts to stdout and [ALERT] lines to stderr with -alert-file -", function()
      local rc, out, err = run(BIN .. " -replay spec/fixtures/cli_replay.jsonl -config spec/fixtures/cli_rules.yaml"
        .. " -alert-file -", dir)
      assert.equals(0, rc)
      assert.equals(readfile("spec/fixtures/cli_replay.expected.jsonl"), out)
      assert.truthy(err:find(readfile("spec/fixtures/cli_replay.expected.stdout"), 1, true))
    end)

    it("reports bad lines with their number, skips them and keeps going", function()
      local input = dir .. "/in.jsonl"
      writefile(input, table.concat({
        '{"type":"exec","comm":"bash","filename":"/bin/bash","pid":1,"tgid":1}',
        'not json',
        '[1,2]',
        '{"type":"exec","pid":"12"}',
        '{"type":"exec","comm":"bash","filename":"/bin/bash","pid":2,"tgid":2}',
      }, "\n") .. "\n")
      local alerts = dir .. "/alerts.jsonl"
      local rc, _, err = run(BIN .. " -replay " .. input .. " -alert-file " .. alerts, dir)
      assert.equals(0, rc)
      assert.truthy(err:find(input .. ":2: ", 1, true))
      assert.truthy(err:find(input .. ":3: ", 1, true))
      assert.truthy(err:find(input .. ":4: ", 1, true))
      local n = 0
      for line in readfile(alerts):gmatch("[^\n]+") do
        assert.truthy(line:find('"rule_id":"builtin_suspicious_shell"', 1, true))
        n = n + 1
      end
      assert.equals(2, n)
    end)

    it("fails clearly on a missing replay file", function()
      local rc, _, err = run(BIN .. " -replay " .. dir .. "/nope.jsonl -alert-file " .. dir .. "/a", dir)
      assert.equals(1, rc)
      assert.equals("ebpf-guard: failed to open replay file " .. dir .. "/nope.jsonl: No such file or directory",
        err:match("[^\n]*failed to open replay[^\n]*"))
    end)

    it("fails clearly when the alert file cannot be opened", function()
      writefile(dir .. "/f", "")
      local rc, _, err = run(BIN .. " -replay spec/fixtures/cli_replay.jsonl -alert-file " .. dir .. "/f/a.jsonl", dir)
      assert.equals(1, rc)
      assert.equals("ebpf-guard: failed to open alert file " .. dir .. "/f/a.jsonl: Not a directory",
        err:match("[^\n]*alert file[^\n]*"))
    end)
  end)

  describe("config errors", function()
    it("refuses to start on a bad rule file and names file, rule and field", function()
      local cfg = dir .. "/bad.yaml"
      writefile(cfg, "rules:\n  - id: x\n    description: d\n    event_types: [exec]\n    filname_regex: foo\n")
      local rc, _, err = run(BIN .. " -replay /dev/null -config " .. cfg .. " -alert-file " .. dir .. "/a", dir)
      assert.equals(1, rc)
      assert.truthy(err:find(cfg, 1, true))
      assert.truthy(err:find("filname_regex", 1, true))
      assert.truthy(err:find('did you mean "filename_regex"', 1, true))
      assert.is_nil(readfile(dir .. "/a"))
    end)

    it("refuses to start on a condition or a detection reading a field ev does not have", function()
      for cfg, msg in pairs({
        ["spec/fixtures/errors/condition_unknown_field.yaml"] =
          'rule "r": condition: ev has no field "comn" (did you mean "comm"?)',
        ["spec/fixtures/errors/lua_unknown_field.lua"] =
          'detection "d": match: line 12: ev has no field "dest_prot" (did you mean "dest_port"?)',
      }) do
        local rc, _, err = run(BIN .. " -replay /dev/null -config " .. cfg .. " -alert-file " .. dir .. "/a", dir)
        assert.equals(1, rc)
        assert.equals("ebpf-guard: " .. cfg .. ": " .. msg .. "\n", err)
        assert.is_nil(readfile(dir .. "/a"))
      end
    end)

    it("refuses to start on a missing config file", function()
      local rc, _, err = run(BIN .. " -replay /dev/null -config " .. dir .. "/missing.yaml -alert-file " .. dir .. "/a", dir)
      assert.equals(1, rc)
      assert.truthy(err:find(dir .. "/missing.yaml", 1, true))
    end)
  end)
end)
