local t = {}
return { id = "m", description = "m", event_types = {"exec"}, match = function(ev)
  local s = ev.comm
  for i = 1, 34 do s = s .. s end
  t[#t + 1] = s
  return false
end }
