local H = require("helpers.engine")

local function user_fired(cfg, events)
  local out = {}
  for _, f in ipairs(H.fire(cfg, events)) do
    if not f:find(":builtin_", 1, true) then out[#out + 1] = f end
  end
  return out
end

describe("condition", function()
  describe("evaluation", function()
    local fired
    setup(function() fired = user_fired({ "spec/fixtures/cond.yaml" }, "spec/fixtures/cond.jsonl") end)

    it("fires when the expression is true (the issue's example)", function()
      assert.equals("1:high_port_not_sshd", fired[1])
    end)

    it("sees args, uid and memfd", function()
      assert.equals("4:args_condition", fired[2])
    end)

    it("runs only after the other checks passed", function()
      assert.equals("6:condition_after_regex", fired[3])
    end)

    it("does not fire when the expression is false", function()
      assert.equals(3, #fired)
    end)
  end)

  describe("errors", function()
    local eng, hits
    setup(function()
      eng = assert(H.new({ "spec/fixtures/cond_errors.yaml" }))
      hits = H.fired((H.run(eng, { { type = "exec", comm = "x" } })))
    end)

    it("leave the other rules firing", function()
      assert.same({ "1:cond_ok" }, hits)
    end)

    it("count a runtime error per rule", function()
      assert.same({ 1, 1, 1, 0 }, {
        H.errors(eng, "cond_runtime_error", 0), H.errors(eng, "cond_unknown_global", 0),
        H.errors(eng, "cond_blocked", 0), H.errors(eng, "cond_budget", 0),
      })
    end)

    it("count every call of a condition, failed or not", function()
      assert.same({ 1, 1, 1, 1, 1 }, {
        H.calls(eng, "cond_runtime_error"), H.calls(eng, "cond_unknown_global"),
        H.calls(eng, "cond_blocked"), H.calls(eng, "cond_budget"), H.calls(eng, "cond_ok"),
      })
    end)

    it("count an endless loop as a budget error", function()
      assert.equals(1, H.errors(eng, "cond_budget", 1))
    end)

    it("count the total in nerrors", function()
      assert.equals(4, tonumber(eng.b.nerrors))
    end)

    it("are logged with the rule, the file and the message", function()
      assert.same({
        'ebpf-guard: rule "cond_runtime_error" (spec/fixtures/cond_errors.yaml): runtime error: condition:1: ev has no field "no_such_field"',
        'ebpf-guard: rule "cond_unknown_global" (spec/fixtures/cond_errors.yaml): runtime error: condition:1: unknown global "undefined_global"',
        'ebpf-guard: rule "cond_blocked" (spec/fixtures/cond_errors.yaml): runtime error: condition:1: os is not available in the sandbox',
        'ebpf-guard: rule "cond_budget" (spec/fixtures/cond_errors.yaml): budget error: condition:1: instruction budget exceeded',
      }, eng.logs)
    end)
  end)
end)
