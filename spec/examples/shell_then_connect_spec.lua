-- Spec of examples/shell_then_connect.lua (run: ebpf-guard test spec/examples,
-- from the top of the checkout; docs/testing.md).
local T = require("ebpf_guard.testing")

describe("shell_then_connect", function()
  local eng
  before_each(function()
    eng = T.engine { rules = "examples/shell_then_connect.lua" }
  end)

  it("fires once on the recording: a shell's process connecting, with a dynamic description", function()
    local mine = {}
    for _, a in ipairs(eng:replay("spec/fixtures/shell_then_connect.jsonl")) do
      if a.rule_id == "shell_then_connect" then mine[#mine + 1] = a end
    end
    -- not for curl or python (not shells), a reused pid after exit, or a
    -- shell idle for 20 minutes (past the 10 minute TTL)
    assert.equals(1, #mine)
    assert.equals("Shell /bin/bash (tgid 50) connected to 10.0.0.1 port 4444", mine[1].description)
    assert.same({ "T1059.004", "T1071" }, mine[1].tags)
    assert.equals("error", mine[1].severity)
  end)

  it("forgets a process when it execs something else", function()
    assert.not_fires_on(eng, "shell_then_connect", {
      { type = "exec", filename = "/bin/bash" },
      { type = "exec", filename = "/usr/bin/python3" },
      { type = "connect", dest_ip = "10.0.0.2", dest_port = 80 },
    })
  end)

  it("forgets a shell idle for more than 10 minutes (event time)", function()
    assert.fires_on(eng, "shell_then_connect", {
      { type = "exec", filename = "/bin/sh", tgid = 1, timestamp = 1735700000 },
      { type = "connect", dest_ip = "10.0.0.2", dest_port = 80, tgid = 1, timestamp = 1735700000 + 599 },
    })
    assert.not_fires_on(eng, "shell_then_connect", {
      { type = "exec", filename = "/bin/sh", tgid = 2, timestamp = 1735701000 },
      { type = "connect", dest_ip = "10.0.0.2", dest_port = 80, tgid = 2, timestamp = 1735701000 + 601 },
    })
  end)
end)
