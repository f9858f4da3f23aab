-- The newer event types' fields through the Lua view: each kind read from
-- its slot, the kind's default on types without the key, flags past 32 bits.
local evtypes = require("ebpf_guard.evtypes")
local view_mod = require("ebpf_guard.view")
local H = require("helpers.engine")

local function view_of(o)
  local evs, anchor = H.build_events({ o })
  local v, set = view_mod.new()
  set(evs + 0)
  return v, { evs, anchor }
end

describe("evtypes", function()
  it("formats capability sets past bit 31 as src/evtypes.c does", function()
    local f = evtypes.FIELDS.cap_effective
    assert.equals("sys_admin|bpf|checkpoint_restore", evtypes.format_flags(f, 2 ^ 21 + 2 ^ 39 + 2 ^ 40))
    assert.equals("chown|0x20000000000", evtypes.format_flags(f, 1 + 2 ^ 41))
    assert.equals("setfcap", evtypes.format_flags(f, 2 ^ 31))
    assert.equals("", evtypes.format_flags(f, 0))
    assert.equals("cloexec|0x80000000", evtypes.format_flags(evtypes.FIELDS.flags, 1 + 2 ^ 31))
  end)

  it("reads every kind of field from its slot, and defaults on other types", function()
    local v, keep = view_of({ type = "chmod", filename = "/tmp/x", call = "fchmodat2", mode = 2541,
      mode_setuid = true, mode_setgid = false, ret = 0 })
    assert.same({ "fchmodat2", 2541, true, false, 0 }, { v.call, v.mode, v.mode_setuid, v.mode_setgid, v.ret })
    assert.same({ "", "", 0 }, { v.new_path, v.sock_type, v.local_port })
    v, keep = view_of({ type = "setid", call = "capset", cap_effective = "sys_admin|checkpoint_restore",
      id_real = -1 })
    assert.same({ "capset", "sys_admin|checkpoint_restore", "", -1 },
      { v.call, v.cap_effective, v.cap_permitted, v.id_real })
    assert.is_false(v.mode_setuid)
    v, keep = view_of({ type = "accept", call = "accept4", local_ip = "::1", local_port = 8080,
      sock_type = "stream", dest_ip = "::1", dest_port = 50000 })
    assert.same({ "accept4", "::1", 8080, "stream", 50000 }, { v.call, v.local_ip, v.local_port, v.sock_type, v.dest_port })
    v, keep = view_of({ type = "open", filename = "/etc/passwd" })
    assert.same({ "", "", false, 0 }, { v.call, v.link_target, v.is_socket, v.old_fd })
    assert.truthy(keep)
  end)

  it("names a 32-bit call's number it does not know by the number", function()
    local v, keep = view_of({ type = "unlink", call = "999" })
    assert.equals("999", v.call)
    assert.truthy(keep)
  end)
end)
