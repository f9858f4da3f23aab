-- Spec of examples/download_from_ip.lua (run: ebpf-guard test spec/examples,
-- from the top of the checkout; docs/testing.md).
local T = require("ebpf_guard.testing")

describe("download_from_ip", function()
  local eng
  before_each(function()
    eng = T.engine { rules = "examples/download_from_ip.lua" }
  end)

  it("fires on curl and wget fetching from a bare IP, using args", function()
    local got = {}
    for n, alerts in ipairs(eng:replay_lines("spec/fixtures/download_from_ip.jsonl")) do
      for _, a in ipairs(alerts) do
        if a.rule_id == "download_from_ip" then got[#got + 1] = n .. ": " .. a.description end
      end
    end
    assert.same({
      "1: Download from a bare IP address: http://203.0.113.7:8080/x.sh",
      "3: Download from a bare IP address: ftp://198.51.100.2/p",
    }, got)
  end)

  it("does not fire on a host name, or on another program", function()
    assert.not_fires_on(eng, "download_from_ip",
      { type = "exec", filename = "/usr/bin/curl", args = { "curl", "https://example.com/x.sh" } })
    assert.not_fires_on(eng, "download_from_ip",
      { type = "exec", filename = "/usr/bin/git", args = { "git", "clone", "http://10.0.0.1/r" } })
    assert.fires_on(eng, "download_from_ip",
      { type = "exec", filename = "/usr/bin/wget", args = { "wget", "-q", "http://10.0.0.1/r" } })
  end)
end)
