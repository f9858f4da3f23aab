local T = require("ebpf_guard.testing")

describe("stock rules", function()
  local by_event
  setup(function()
    by_event = {}
    local eng = T.engine { rules = "rules" }
    for n, alerts in ipairs(eng:replay_lines("spec/fixtures/stock_rules.jsonl")) do
      for _, a in ipairs(alerts) do
        if not a.rule_id:find("^builtin_") then
          by_event[n] = by_event[n] or {}
          table.insert(by_event[n], a.rule_id)
        end
      end
    end
  end)

  it("load in name order after the built-ins", function()
    local ids = T.engine({ rules = "rules" }):rule_ids()
    assert.same({ "builtin_fileless_exec", "builtin_suspicious_shell", "builtin_crypto_exec", "builtin_crypto_port",
      "suspicious_shell", "crypto_miner_exec", "crypto_miner_port", "credential_file_read",
      "ssh_private_key_read", "exec_from_world_writable_dir", "netcat_like_exec", "shell_outbound_connect" }, ids)
  end)

  it("suspicious_shell fires on a shell comm only, not on sshd", function()
    assert.same({ nil, nil, { "suspicious_shell", "crypto_miner_exec" } }, { by_event[1], by_event[2], by_event[3] })
  end)

  it("crypto_miner_port fires inside 3333..5555 only", function()
    assert.same({ { "crypto_miner_port" }, nil }, { by_event[4], by_event[5] })
  end)

  it("credential_file_read fires on shadow and sudoers.d, not for sudo itself", function()
    assert.same({ { "credential_file_read" }, nil, { "credential_file_read" } }, { by_event[6], by_event[7], by_event[8] })
  end)

  it("ssh_private_key_read fires for other programs, not ssh", function()
    assert.same({ { "ssh_private_key_read" }, nil, { "ssh_private_key_read" } }, { by_event[9], by_event[10], by_event[11] })
  end)

  it("exec_from_world_writable_dir fires on /tmp and /var/tmp", function()
    assert.same({ { "exec_from_world_writable_dir" }, { "exec_from_world_writable_dir" } }, { by_event[12], by_event[13] })
  end)

  it("netcat_like_exec fires on ncat, not on other names ending in c", function()
    assert.same({ { "netcat_like_exec" }, nil }, { by_event[14], by_event[15] })
  end)

  it("shell_outbound_connect fires on a shell's connect, not sshd's", function()
    assert.same({ { "shell_outbound_connect" }, nil }, { by_event[16], by_event[17] })
  end)

  it("the credential rules ignore files that do not exist (ENOENT), not refused opens", function()
    assert.same({ { "credential_file_read" }, nil, nil, { "ssh_private_key_read" } },
      { by_event[18], by_event[19], by_event[20], by_event[21] })
  end)

  it("fire on a shell reading /etc/shadow, given as an inline event", function()
    local eng = T.engine { rules = "rules" }
    assert.same({ "credential_file_read" },
      T.ids(eng:run { type = "open", comm = "bash", filename = "/etc/shadow" }))
  end)
end)

describe("the reference's example rules", function()
  it("give the reference's alerts on a recorded sample", function()
    local fired = {}
    local eng = T.engine { rules = "examples/rules.example.yaml" }
    for n, alerts in ipairs(eng:replay_lines("spec/fixtures/reference.jsonl")) do
      for _, id in ipairs(T.ids(alerts)) do fired[#fired + 1] = n .. ":" .. id end
    end
    assert.same({
      "1:builtin_fileless_exec", "1:builtin_suspicious_shell", "1:suspicious_shell",
      "2:suspicious_shell", "3:crypto_miner_exec", "4:builtin_crypto_port",
      "4:crypto_miner_port", "5:builtin_crypto_port",
    }, fired)
  end)
end)
