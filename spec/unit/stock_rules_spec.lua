local T = require("ebpf_guard.testing")

-- The stock set on a recording in the reference's format (no exe, no
-- argument lists, no process context): the rules that can judge such events
-- do, the others stay quiet. Every rule's own cases are in
-- spec/unit/stock_detections_spec.lua.
describe("stock rules", function()
  local by_event
  setup(function()
    by_event = {}
    local eng = T.engine { rules = "rules" }
    for n, alerts in ipairs(eng:replay_lines("spec/fixtures/stock_rules.jsonl")) do
      for _, a in ipairs(alerts) do
        if a.severity ~= "info" then
          by_event[n] = by_event[n] or {}
          table.insert(by_event[n], a.rule_id)
        end
      end
    end
  end)

  it("load in name order after the built-ins, the stateful detections last", function()
    local ids = T.engine({ rules = "rules" }):rule_ids()
    assert.same({ "builtin_fileless_exec", "builtin_suspicious_shell", "builtin_crypto_exec", "builtin_crypto_port",
      "credential_file_read", "ssh_private_key_read" }, { unpack(ids, 1, 6) })
    assert.equals("debugfs_on_disk", ids[#ids - 9])
    assert.equals("download_then_execute", ids[#ids - 8])
    assert.equals("server_starts_connecting_out", ids[#ids])
    assert.equals(114, #ids)
  end)

  it("report a shell as information only (the built-in, re-severed), a miner name as an error", function()
    assert.same({ nil, nil, { "builtin_crypto_exec" } }, { by_event[1], by_event[2], by_event[3] })
  end)

  it("do not alert twice on a miner port (the reference's example rules are not in the set)", function()
    assert.same({ nil, nil }, { by_event[4], by_event[5] })
  end)

  it("credential_file_read fires on shadow and sudoers.d, not for sudo itself", function()
    assert.same({ { "credential_file_read" }, nil, { "credential_file_read" } }, { by_event[6], by_event[7], by_event[8] })
  end)

  it("ssh_private_key_read fires for other programs, not ssh", function()
    assert.same({ { "ssh_private_key_read" }, nil, { "ssh_private_key_read" } }, { by_event[9], by_event[10], by_event[11] })
  end)

  it("exec_from_world_writable_dir fires on /tmp and /var/tmp from the path alone", function()
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
    local ids = {}
    for _, a in ipairs(eng:run { type = "open", comm = "bash", filename = "/etc/shadow" }) do ids[#ids + 1] = a.rule_id end
    assert.same({ "credential_file_read" }, ids)
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
