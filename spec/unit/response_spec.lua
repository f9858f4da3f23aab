-- Response actions in the configuration (docs/response.md): action: on YAML
-- rules, Lua detections and overrides, the protect: list, their exact
-- errors, and what reaches the C engine and the alerts.
local ffi = require("ffi")
local C = require("helpers.cengine")
local T = require("ebpf_guard.testing")

pcall(ffi.cdef, "const char *const *eg_engine_protect(const struct eg_engine *e, size_t *n);")

local DIR = "spec/fixtures/response/"

local function engine(...)
  local paths = {}
  for i, n in ipairs({ ... }) do paths[i] = DIR .. n end
  return C.new(paths, { errlen = 65536 })
end

-- rule id -> action name, as the C engine holds it
local function actions(eng)
  local out = {}
  for i = 0, tonumber(C.lib.eg_engine_nrules(eng.e)) - 1 do
    local r = C.lib.eg_engine_rule(eng.e, i)
    out[ffi.string(r.id)] = tonumber(r.action) == 1 and "kill" or "alert"
  end
  return out
end

local function protect(eng)
  local n = ffi.new("size_t[1]")
  local list = C.lib.eg_engine_protect(eng.e, n)
  local out = {}
  for i = 0, tonumber(n[0]) - 1 do out[#out + 1] = ffi.string(list[i]) end
  return out
end

local function errors(...)
  local eng, err = engine(...)
  assert.is_nil(eng)
  local lines = {}
  for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return lines
end

describe("response actions", function()
  describe("action:", function()
    it("reaches the engine: kill, [alert, kill]; alert, [alert] and none are alert only", function()
      local eng = assert(engine("actions.yaml"))
      local a = actions(eng)
      assert.equals("kill", a.kill_exec)
      assert.equals("kill", a.kill_open_listed)
      assert.equals("alert", a.alert_only)
      assert.equals("alert", a.alert_only_list)
      assert.equals("alert", a.plain)
      assert.equals("alert", a.builtin_fileless_exec)
    end)

    it("is declared by Lua detections as a string or a list", function()
      local a = actions(assert(engine("detection_kill.lua")))
      assert.equals("kill", a.lua_kill)
      assert.equals("kill", a.lua_kill_list)
    end)

    it("is replaced by an override, on built-ins too", function()
      local a = actions(assert(engine("actions.yaml", "more_protect.yaml")))
      assert.equals("kill", a.builtin_fileless_exec)
      assert.equals("alert", a.kill_exec)
      assert.equals("kill", a.kill_open_listed)
    end)

    it("refuses bad values and event types a kill cannot be enforced on, exactly", function()
      local F = DIR .. "bad_actions.yaml"
      assert.same({
        F .. ': rule "typo": action: unknown action "kil" (did you mean "kill"?)',
        F .. ': rule "unknown_in_list": action[2]: unknown action "stop" (expected one of alert, kill)',
        F .. ': rule "number": action: expected alert, kill or a list of them, got number 5',
        F .. ': rule "empty": action: empty (give alert, kill or [alert, kill])',
        F .. ': rule "twice": action[2]: "kill" is listed twice',
        F .. ': rule "mapping": action: expected alert, kill or a list of them, got a mapping',
        F .. ': rule "not_enforceable": action: kill cannot be enforced on unlink and chmod events '
          .. '(only on exec, open, connect, ptrace, module, bpf and mount events)',
        F .. ': rule "listen_only": action: kill cannot be enforced on listen events '
          .. '(only on exec, open, connect, ptrace, module, bpf and mount events)',
        F .. ': rule "not_a_string": action[2]: expected alert or kill, got number 3',
      }, errors("bad_actions.yaml"))
    end)

    it("refuses a kill on a Lua detection's exit events, and a typo", function()
      local F = DIR .. "bad_detection.lua"
      assert.same({
        F .. ': detection "stateful_kill": action: kill cannot be enforced on exit events '
          .. '(only on exec, open, connect, ptrace, module, bpf and mount events)',
        F .. ': detection "typo_kill": action: unknown action "kll" (did you mean "kill"?)',
      }, errors("bad_detection.lua"))
    end)

    it("checks an override's action against the rule's event types", function()
      local F = DIR .. "bad_override.yaml"
      assert.same({
        F .. ': override of rule "perms": action: kill cannot be enforced on chmod events '
          .. '(only on exec, open, connect, ptrace, module, bpf and mount events)',
      }, errors("bad_override.yaml"))
    end)
  end)

  describe("protect:", function()
    it("is every file's entries in load order, each once", function()
      assert.same({ "/usr/sbin/sshd", "/usr/lib/systemd/", "containerd", "/opt/agent/bin/agent" },
        protect(assert(engine("actions.yaml", "more_protect.yaml"))))
      assert.same({}, protect(assert(engine("detection_kill.lua"))))
    end)

    it("refuses what could never match an executable, exactly", function()
      local F = DIR .. "bad_protect.yaml"
      assert.same({
        F .. ": protect[2]: expected a program name or an absolute path, got number 5",
        F .. ': protect[3]: "bin/sshd" is neither a program name (no slash) nor an absolute path',
        F .. ': protect[4]: "/usr//sbin/sshd": write the path without //, . or .. (it is compared '
          .. "with the kernel's path of the executable)",
        F .. ': protect[5]: "/usr/lib/../bin/x": write the path without //, . or .. (it is compared '
          .. "with the kernel's path of the executable)",
        F .. ": protect[6]: must not be empty",
        F .. ': protect[7]: "/" would protect every program',
        F .. ": protect[8]: must not contain control characters (newline, tab, DEL, ...)",
        F .. ': protect[9]: "/usr/./bin/y": write the path without //, . or .. (it is compared '
          .. "with the kernel's path of the executable)",
      }, errors("bad_protect.yaml"))
    end)

    it("is a list, and a misspelt key is suggested", function()
      assert.same({ DIR .. 'protect_string.yaml: protect: expected a list of program names and paths, got string "sshd"' },
        errors("protect_string.yaml"))
      assert.same({ DIR .. 'protect_typo.yaml: protec: unknown top-level key (did you mean "protect"?)' },
        errors("protect_typo.yaml"))
    end)
  end)

  describe("alerts", function()
    it("of a kill rule say action kill, enforced false (no -enforce here); others have no such keys", function()
      local eng = T.engine({ rules = DIR .. "actions.yaml" })
      local alerts = eng:run({
        { type = "exec", filename = "/dev/shm/x", args = { "/dev/shm/x" } },
        { type = "exec", filename = "/usr/bin/plain", comm = "plain" },
      })
      local by = {}
      for _, a in ipairs(alerts) do by[a.rule_id] = a end
      assert.equals("kill", by.kill_exec.action)
      assert.equals(false, by.kill_exec.enforced)
      assert.is_nil(by.kill_exec.result)
      assert.is_nil(by.kill_exec.action_delay_ns)
      assert.is_nil(by.plain.action)
      assert.is_nil(by.plain.enforced)
      -- a built-in on the same event: no action keys
      assert.is_nil(by.builtin_fileless_exec.action)
    end)

    it("-validate counts the enabled rules with action kill", function()
      local eng = assert(C.new({ DIR .. "actions.yaml", DIR .. "detection_kill.lua" }, { report = "summary" }))
      assert.equals("configuration OK: 2 files; 5 YAML rules, 2 Lua detections, 4 built-ins; 11 enabled, "
        .. "0 disabled; 4 with action kill (1 in the kernel)", C.report(eng))
    end)
  end)
end)
