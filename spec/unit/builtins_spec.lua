local H = require("helpers.engine")

describe("builtins", function()
  describe("builtin_suspicious_shell", function()
    local fired
    setup(function()
      fired = H.fire({}, "spec/fixtures/builtin_shell.jsonl")
    end)

    it("fires on a comm containing bash", function()
      assert.truthy(fired[1] == "1:builtin_suspicious_shell")
    end)
  end)
end)
