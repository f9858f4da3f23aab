-- Stateless detection: curl or wget fetching from a bare IPv4 address, a
-- common first stage of droppers. Uses the argument list of the exec.
local guard = require("guard")

local tool = guard.regex([[(?:^|/)(?:curl|wget)$]])
local raw_ip_url = guard.regex([[^(?:https?|ftp)://\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:/|$)]])

return {
  id = "download_from_ip",
  description = "curl or wget fetching from a bare IP address",
  event_types = { "exec" },
  severity = "warning",
  tags = { "T1105" },
  match = function(ev)
    if not tool:test(ev.filename) then return false end
    for _, arg in ipairs(ev.args) do
      if raw_ip_url:test(arg) then
        return { description = "Download from a bare IP address: " .. arg }
      end
    end
    return false
  end,
}
