-- The fields of the newer event types: the Lua copy of src/evtypes.c. Each
-- key has one kind and one slot of struct eg_event (num[] or aux[]) whatever
-- the type; each type lists the keys it carries. host.init compares this
-- with the C registry and refuses to start when they differ.
local bit = require("bit")

local _M = {}

-- key -> { kind = "num" | "flags" | "str" | "enum" | "bool", slot = 0-based,
--          names = { [bit or value] = name } }
_M.FIELDS = {
  flags = { kind = "flags", slot = 0,
    names = { [1] = "cloexec", [2] = "allow_sealing", [4] = "hugetlb", [8] = "noexec_seal",
      [0x10] = "exec" } },
  request = { kind = "enum", slot = 0,
    names = { [0] = "traceme", [1] = "peektext", [2] = "peekdata", [3] = "peekuser",
      [4] = "poketext", [5] = "pokedata", [6] = "pokeuser", [7] = "cont", [8] = "kill",
      [9] = "singlestep", [12] = "getregs", [13] = "setregs", [14] = "getfpregs", [15] = "setfpregs",
      [16] = "attach", [17] = "detach", [18] = "getfpxregs", [19] = "setfpxregs", [24] = "syscall",
      [16896] = "setoptions", [16897] = "geteventmsg", [16898] = "getsiginfo",
      [16899] = "setsiginfo", [16900] = "getregset", [16901] = "setregset", [16902] = "seize",
      [16903] = "interrupt", [16904] = "listen", [16905] = "peeksiginfo", [16906] = "getsigmask",
      [16907] = "setsigmask", [16908] = "seccomp_get_filter", [16910] = "get_syscall_info" } },
  target_pid = { kind = "num", slot = 1 },
  target_comm = { kind = "str", slot = 0 },
  target_exe = { kind = "str", slot = 1 },
  call = { kind = "enum", slot = 7,
    names = { [32] = "dup", [33] = "dup2", [43] = "accept", [49] = "bind", [50] = "listen",
      [56] = "clone", [82] = "rename", [84] = "rmdir", [86] = "link", [87] = "unlink",
      [88] = "symlink", [90] = "chmod", [91] = "fchmod", [105] = "setuid", [106] = "setgid",
      [113] = "setreuid", [114] = "setregid", [117] = "setresuid", [119] = "setresgid",
      [122] = "setfsuid", [123] = "setfsgid", [126] = "capset", [165] = "mount", [166] = "umount2",
      [175] = "init_module", [176] = "delete_module", [263] = "unlinkat", [264] = "renameat",
      [265] = "linkat", [266] = "symlinkat", [268] = "fchmodat", [272] = "unshare",
      [288] = "accept4", [292] = "dup3", [308] = "setns", [313] = "finit_module",
      [316] = "renameat2", [429] = "move_mount", [432] = "fsmount", [435] = "clone3",
      [452] = "fchmodat2" } },
  module_name = { kind = "str", slot = 0 },
  module_flags = { kind = "num", slot = 0 },
  bpf_cmd = { kind = "enum", slot = 0,
    names = { [0] = "map_create", [1] = "map_lookup_elem", [2] = "map_update_elem",
      [3] = "map_delete_elem", [4] = "map_get_next_key", [5] = "prog_load", [6] = "obj_pin",
      [7] = "obj_get", [8] = "prog_attach", [9] = "prog_detach", [10] = "prog_test_run",
      [11] = "prog_get_next_id", [12] = "map_get_next_id", [13] = "prog_get_fd_by_id",
      [14] = "map_get_fd_by_id", [15] = "obj_get_info_by_fd", [16] = "prog_query",
      [17] = "raw_tracepoint_open", [18] = "btf_load", [19] = "btf_get_fd_by_id",
      [20] = "task_fd_query", [21] = "map_lookup_and_delete_elem", [22] = "map_freeze",
      [23] = "btf_get_next_id", [24] = "map_lookup_batch", [25] = "map_lookup_and_delete_batch",
      [26] = "map_update_batch", [27] = "map_delete_batch", [28] = "link_create",
      [29] = "link_update", [30] = "link_get_fd_by_id", [31] = "link_get_next_id",
      [32] = "enable_stats", [33] = "iter_create", [34] = "link_detach", [35] = "prog_bind_map",
      [36] = "token_create" } },
  prog_type = { kind = "enum", slot = 1,
    names = { [0] = "unspec", [1] = "socket_filter", [2] = "kprobe", [3] = "sched_cls",
      [4] = "sched_act", [5] = "tracepoint", [6] = "xdp", [7] = "perf_event", [8] = "cgroup_skb",
      [9] = "cgroup_sock", [10] = "lwt_in", [11] = "lwt_out", [12] = "lwt_xmit", [13] = "sock_ops",
      [14] = "sk_skb", [15] = "cgroup_device", [16] = "sk_msg", [17] = "raw_tracepoint",
      [18] = "cgroup_sock_addr", [19] = "lwt_seg6local", [20] = "lirc_mode2", [21] = "sk_reuseport",
      [22] = "flow_dissector", [23] = "cgroup_sysctl", [24] = "raw_tracepoint_writable",
      [25] = "cgroup_sockopt", [26] = "tracing", [27] = "struct_ops", [28] = "ext", [29] = "lsm",
      [30] = "sk_lookup", [31] = "syscall", [32] = "netfilter" } },
  map_type = { kind = "enum", slot = 2,
    names = { [0] = "unspec", [1] = "hash", [2] = "array", [3] = "prog_array",
      [4] = "perf_event_array", [5] = "percpu_hash", [6] = "percpu_array", [7] = "stack_trace",
      [8] = "cgroup_array", [9] = "lru_hash", [10] = "lru_percpu_hash", [11] = "lpm_trie",
      [12] = "array_of_maps", [13] = "hash_of_maps", [14] = "devmap", [15] = "sockmap",
      [16] = "cpumap", [17] = "xskmap", [18] = "sockhash", [19] = "cgroup_storage",
      [20] = "reuseport_sockarray", [21] = "percpu_cgroup_storage", [22] = "queue", [23] = "stack",
      [24] = "sk_storage", [25] = "devmap_hash", [26] = "struct_ops", [27] = "ringbuf",
      [28] = "inode_storage", [29] = "task_storage", [30] = "bloom_filter", [31] = "user_ringbuf",
      [32] = "cgrp_storage", [33] = "arena" } },
  bpf_name = { kind = "str", slot = 0 },
  id_real = { kind = "num", slot = 0 },
  id_effective = { kind = "num", slot = 1 },
  id_saved = { kind = "num", slot = 2 },
  cap_effective = { kind = "flags", slot = 3,
    names = { [1] = "chown", [2] = "dac_override", [4] = "dac_read_search", [8] = "fowner",
      [0x10] = "fsetid", [0x20] = "kill", [0x40] = "setgid", [0x80] = "setuid", [0x100] = "setpcap",
      [0x200] = "linux_immutable", [0x400] = "net_bind_service", [0x800] = "net_broadcast",
      [0x1000] = "net_admin", [0x2000] = "net_raw", [0x4000] = "ipc_lock", [0x8000] = "ipc_owner",
      [0x10000] = "sys_module", [0x20000] = "sys_rawio", [0x40000] = "sys_chroot",
      [0x80000] = "sys_ptrace", [0x100000] = "sys_pacct", [0x200000] = "sys_admin",
      [0x400000] = "sys_boot", [0x800000] = "sys_nice", [0x1000000] = "sys_resource",
      [0x2000000] = "sys_time", [0x4000000] = "sys_tty_config", [0x8000000] = "mknod",
      [0x10000000] = "lease", [0x20000000] = "audit_write", [0x40000000] = "audit_control",
      [0x80000000] = "setfcap", [0x100000000] = "mac_override", [0x200000000] = "mac_admin",
      [0x400000000] = "syslog", [0x800000000] = "wake_alarm", [0x1000000000] = "block_suspend",
      [0x2000000000] = "audit_read", [0x4000000000] = "perfmon", [0x8000000000] = "bpf",
      [0x10000000000] = "checkpoint_restore" } },
  cap_permitted = { kind = "flags", slot = 4,
    names = { [1] = "chown", [2] = "dac_override", [4] = "dac_read_search", [8] = "fowner",
      [0x10] = "fsetid", [0x20] = "kill", [0x40] = "setgid", [0x80] = "setuid", [0x100] = "setpcap",
      [0x200] = "linux_immutable", [0x400] = "net_bind_service", [0x800] = "net_broadcast",
      [0x1000] = "net_admin", [0x2000] = "net_raw", [0x4000] = "ipc_lock", [0x8000] = "ipc_owner",
      [0x10000] = "sys_module", [0x20000] = "sys_rawio", [0x40000] = "sys_chroot",
      [0x80000] = "sys_ptrace", [0x100000] = "sys_pacct", [0x200000] = "sys_admin",
      [0x400000] = "sys_boot", [0x800000] = "sys_nice", [0x1000000] = "sys_resource",
      [0x2000000] = "sys_time", [0x4000000] = "sys_tty_config", [0x8000000] = "mknod",
      [0x10000000] = "lease", [0x20000000] = "audit_write", [0x40000000] = "audit_control",
      [0x80000000] = "setfcap", [0x100000000] = "mac_override", [0x200000000] = "mac_admin",
      [0x400000000] = "syslog", [0x800000000] = "wake_alarm", [0x1000000000] = "block_suspend",
      [0x2000000000] = "audit_read", [0x4000000000] = "perfmon", [0x8000000000] = "bpf",
      [0x10000000000] = "checkpoint_restore" } },
  cap_inheritable = { kind = "flags", slot = 5,
    names = { [1] = "chown", [2] = "dac_override", [4] = "dac_read_search", [8] = "fowner",
      [0x10] = "fsetid", [0x20] = "kill", [0x40] = "setgid", [0x80] = "setuid", [0x100] = "setpcap",
      [0x200] = "linux_immutable", [0x400] = "net_bind_service", [0x800] = "net_broadcast",
      [0x1000] = "net_admin", [0x2000] = "net_raw", [0x4000] = "ipc_lock", [0x8000] = "ipc_owner",
      [0x10000] = "sys_module", [0x20000] = "sys_rawio", [0x40000] = "sys_chroot",
      [0x80000] = "sys_ptrace", [0x100000] = "sys_pacct", [0x200000] = "sys_admin",
      [0x400000] = "sys_boot", [0x800000] = "sys_nice", [0x1000000] = "sys_resource",
      [0x2000000] = "sys_time", [0x4000000] = "sys_tty_config", [0x8000000] = "mknod",
      [0x10000000] = "lease", [0x20000000] = "audit_write", [0x40000000] = "audit_control",
      [0x80000000] = "setfcap", [0x100000000] = "mac_override", [0x200000000] = "mac_admin",
      [0x400000000] = "syslog", [0x800000000] = "wake_alarm", [0x1000000000] = "block_suspend",
      [0x2000000000] = "audit_read", [0x4000000000] = "perfmon", [0x8000000000] = "bpf",
      [0x10000000000] = "checkpoint_restore" } },
  ns_flags = { kind = "flags", slot = 0,
    names = { [0x80] = "newtime", [0x20000] = "newns", [0x2000000] = "newcgroup",
      [0x4000000] = "newuts", [0x8000000] = "newipc", [0x10000000] = "newuser",
      [0x20000000] = "newpid", [0x40000000] = "newnet" } },
  source = { kind = "str", slot = 0 },
  fstype = { kind = "str", slot = 1 },
  mount_flags = { kind = "flags", slot = 0,
    names = { [1] = "rdonly", [2] = "nosuid", [4] = "nodev", [8] = "noexec", [0x10] = "synchronous",
      [0x20] = "remount", [0x40] = "mandlock", [0x80] = "dirsync", [0x100] = "nosymfollow",
      [0x400] = "noatime", [0x800] = "nodiratime", [0x1000] = "bind", [0x2000] = "move",
      [0x4000] = "rec", [0x8000] = "silent", [0x10000] = "posixacl", [0x20000] = "unbindable",
      [0x40000] = "private", [0x80000] = "slave", [0x100000] = "shared", [0x200000] = "relatime",
      [0x400000] = "kernmount", [0x800000] = "i_version", [0x1000000] = "strictatime",
      [0x2000000] = "lazytime" } },
  umount_flags = { kind = "flags", slot = 1,
    names = { [1] = "force", [2] = "detach", [4] = "expire", [8] = "nofollow" } },
  link_target = { kind = "str", slot = 0 },
  new_path = { kind = "str", slot = 0 },
  rename_flags = { kind = "flags", slot = 0,
    names = { [1] = "noreplace", [2] = "exchange", [4] = "whiteout" } },
  unlink_flags = { kind = "flags", slot = 0,
    names = { [0x200] = "removedir" } },
  mode = { kind = "num", slot = 0 },
  mode_setuid = { kind = "bool", slot = 1 },
  mode_setgid = { kind = "bool", slot = 2 },
  old_fd = { kind = "num", slot = 0 },
  new_fd = { kind = "num", slot = 1 },
  is_socket = { kind = "bool", slot = 2 },
  local_ip = { kind = "str", slot = 0 },
  local_port = { kind = "num", slot = 0 },
  backlog = { kind = "num", slot = 1 },
  sock_type = { kind = "enum", slot = 2,
    names = { [1] = "stream", [2] = "dgram", [3] = "raw", [4] = "rdm", [5] = "seqpacket",
      [6] = "dccp", [10] = "packet" } },
}
-- the registry's order (the C array's)
_M.ORDER = {
  "flags", "request", "target_pid", "target_comm", "target_exe", "call", "module_name",
  "module_flags", "bpf_cmd", "prog_type", "map_type", "bpf_name", "id_real", "id_effective",
  "id_saved", "cap_effective", "cap_permitted", "cap_inheritable", "ns_flags", "source", "fstype",
  "mount_flags", "umount_flags", "link_target", "new_path", "rename_flags", "unlink_flags", "mode",
  "mode_setuid", "mode_setgid", "old_fd", "new_fd", "is_socket", "local_ip", "local_port",
  "backlog", "sock_type",
}

-- type number -> { keys..., ret = bool }
_M.TYPES = {
  [5] = { "flags", ret = true }, -- memfd
  [6] = { "request", "target_pid", "target_comm", "target_exe", ret = true }, -- ptrace
  [7] = { "call", "module_name", "module_flags", ret = true }, -- module
  [8] = { "bpf_cmd", "prog_type", "map_type", "bpf_name", ret = true }, -- bpf
  [9] = { "call", "id_real", "id_effective", "id_saved", "cap_effective", "cap_permitted", "cap_inheritable", ret = true }, -- setid
  [10] = { "call", "ns_flags", ret = true }, -- namespace
  [11] = { "call", "source", "fstype", "mount_flags", "umount_flags", ret = true }, -- mount
  [12] = { "call", "link_target", ret = true }, -- link
  [13] = { "call", "new_path", "rename_flags", ret = true }, -- rename
  [14] = { "call", "unlink_flags", ret = true }, -- unlink
  [15] = { "call", "mode", "mode_setuid", "mode_setgid", ret = true }, -- chmod
  [16] = { "call", "old_fd", "new_fd", "is_socket", ret = true }, -- dup
  [17] = { "call", "local_ip", "local_port", "backlog", "sock_type", ret = true }, -- listen
  [18] = { "call", "local_ip", "local_port", "sock_type", ret = true }, -- accept
}

local function same_names(a, b)
  for k, v in pairs(a) do if b[k] ~= v then return false end end
  for k, v in pairs(b) do if a[k] ~= v then return false end end
  return true
end

-- Compares with the C registry ({ fields = { { key, kind, slot, names } },
-- types = { [type] = { keys, ret } } }). true, or nil and the first difference.
function _M.check(reg)
  if type(reg) ~= "table" or type(reg.fields) ~= "table" or type(reg.types) ~= "table" then
    return nil, "event field registry missing from the host"
  end
  if #reg.fields ~= #_M.ORDER then
    return nil, ("event field registry mismatch: %d fields in C, %d in Lua"):format(#reg.fields, #_M.ORDER)
  end
  for i, f in ipairs(reg.fields) do
    local mine = _M.FIELDS[f.key]
    if _M.ORDER[i] ~= f.key or not mine or mine.kind ~= f.kind or mine.slot ~= f.slot
        or not same_names(mine.names or {}, f.names or {}) then
      return nil, ("event field registry mismatch: field %s"):format(tostring(f.key))
    end
  end
  for t, keys in pairs(reg.types) do
    local mine = _M.TYPES[t]
    if not mine or #mine ~= #keys or (mine.ret or false) ~= keys.ret then
      return nil, ("event field registry mismatch: type %d"):format(t)
    end
    for i, k in ipairs(keys) do
      if mine[i] ~= k then return nil, ("event field registry mismatch: type %d key %s"):format(t, k) end
    end
  end
  for t in pairs(_M.TYPES) do
    if not reg.types[t] then return nil, ("event field registry mismatch: type %d"):format(t) end
  end
  return true
end

-- An enum value's name, or the number in decimal (src/evtypes.c).
function _M.format_enum(f, v)
  return f.names[v] or tostring(v)
end

-- each flags field's bits in ascending order (src/evtypes.c's order)
for _, f in pairs(_M.FIELDS) do
  if f.kind == "flags" then
    local bits = {}
    for b in pairs(f.names) do bits[#bits + 1] = b end
    table.sort(bits)
    f.bits = bits
  end
end

-- "cloexec|allow_sealing", unknown bits as one "0x..", as src/evtypes.c writes it.
-- Values past 32 bits (capability sets reach bit 40) are tested with
-- arithmetic: the bit library works on 32 bits.
local floor = math.floor
function _M.format_flags(f, v)
  local out = {}
  if v >= 0 and v < 0x80000000 then
    for _, b in ipairs(f.bits) do
      if bit.band(v, b) ~= 0 then
        out[#out + 1] = f.names[b]
        v = bit.band(v, bit.bnot(b))
      end
    end
    if v ~= 0 then out[#out + 1] = ("0x%x"):format(v) end
    return table.concat(out, "|")
  end
  if v < 0 then v = v + 2 ^ 64 end
  for _, b in ipairs(f.bits) do
    if floor(v / b) % 2 == 1 then
      out[#out + 1] = f.names[b]
      v = v - b
    end
  end
  if v ~= 0 then
    local hi, lo = floor(v / 2 ^ 32), v % 2 ^ 32
    out[#out + 1] = hi ~= 0 and ("0x%x%08x"):format(hi, lo) or ("0x%x"):format(lo)
  end
  return table.concat(out, "|")
end

return _M
