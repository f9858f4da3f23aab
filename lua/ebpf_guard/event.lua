-- The event struct shared with the C host (src/event.h). Keep both in step:
-- host.init checks every offset against the layout the host reports.
local ffi = require("ffi")

local _M = {}

ffi.cdef [[
struct eg_ancestor {
  const char *comm;
  const char *exe;
  uint32_t comm_len;
  uint32_t exe_len;
};

struct eg_proc {
  int64_t start_ns;
  uint32_t tgid;
  uint32_t ppid;
  uint32_t uid;
  uint32_t gid;
  int32_t loginuid;
  uint32_t flags;
  uint32_t argc;
  uint32_t parent_argc;
  uint32_t parent_tgid;
  uint32_t nancestors;
  const char *exec_id;
  const char *comm;
  const char *exe;
  const char *args;
  const char *cwd;
  const char *tty;
  const char *parent_exec_id;
  const char *parent_comm;
  const char *parent_exe;
  const char *parent_args;
  uint32_t exec_id_len;
  uint32_t comm_len;
  uint32_t exe_len;
  uint32_t args_len;
  uint32_t cwd_len;
  uint32_t tty_len;
  uint32_t parent_exec_id_len;
  uint32_t parent_comm_len;
  uint32_t parent_exe_len;
  uint32_t parent_args_len;
  struct eg_ancestor ancestors[5];
  uint64_t start_boottime;
};

struct eg_container {
  uint64_t cgroup_id;
  const char *cgroup;
  const char *id;
  const char *runtime;
  const char *pod_uid;
  uint32_t cgroup_len;
  uint32_t id_len;
  uint32_t runtime_len;
  uint32_t pod_uid_len;
};

struct eg_host {
  const char *name;
  const char *id;
  uint32_t name_len;
  uint32_t id_len;
};

struct eg_event {
  int64_t ts_ns;
  uint64_t cgroup_id;
  uint32_t type;
  uint32_t flags;
  uint32_t pid;
  uint32_t tgid;
  uint32_t ppid;
  uint32_t uid;
  uint32_t gid;
  uint32_t open_flags;
  uint32_t dest_port;
  uint32_t argc;
  const char *comm;
  const char *filename;
  const char *exe;
  const char *dest_ip;
  const char *args;
  const char *requested;
  uint32_t comm_len;
  uint32_t filename_len;
  uint32_t exe_len;
  uint32_t dest_ip_len;
  uint32_t args_len;
  uint32_t requested_len;
  int32_t ret;
  uint32_t proto;
  const struct eg_proc *proc;
  const struct eg_container *ctr;
  const struct eg_host *host;
  int64_t num[8];
  const char *aux[2];
  uint32_t aux_len[2];
};

struct eg_hit {
  uint32_t ev;
  uint16_t rule;
  uint16_t flags;
};

struct eg_batch {
  struct eg_event *ev;
  uint32_t n;
  uint32_t next;
  struct eg_hit *hits;
  uint32_t nhits;
  uint32_t hits_cap;
  int32_t in_user;
  int32_t ticks;
  int32_t budget_ticks;
  uint32_t nrules;
  uint64_t *rule_errors;
  uint64_t nerrors;
  uint8_t *rule_disabled;
  uint64_t *rule_calls;
  uint64_t mem_limit;
  uint64_t user_mapped;
  uint64_t heap_limit;
  int64_t call_start_ns;
  int64_t time_limit_ns;
  const volatile int32_t *abort_flag;
  const uint8_t *keep;
};
]]

_M.TYPES = { exec = 1, open = 2, connect = 3, exit = 4, memfd = 5, ptrace = 6,
  module = 7, bpf = 8, setid = 9, namespace = 10, mount = 11, link = 12, rename = 13, unlink = 14, chmod = 15, dup = 16, listen = 17, accept = 18 }
_M.TYPE_NAMES = { "exec", "open", "connect", "exit", "memfd", "ptrace",
  "module", "bpf", "setid", "namespace", "mount", "link", "rename", "unlink", "chmod", "dup", "listen", "accept" }
_M.F_TRUNCATED = 1
_M.F_MEMFD = 2
_M.F_REQ_DIFFERS = 4
_M.F_IO_URING = 8
_M.F_COMPAT = 16
_M.F_INTERPRETED = 32
_M.F_DATAGRAM = 64
-- connect: the kernel's memory of the process's destinations said new /
-- seen within the window (a detection's once_per; src/event.h)
_M.F_ONCE_FRESH = 256
_M.F_ONCE_REPEAT = 512
-- IP protocol names of connect events (src/event.h eg_proto_name)
_M.PROTO_NAMES = { [0] = "", [1] = "icmp", [6] = "tcp", [17] = "udp", [58] = "icmpv6",
  [132] = "sctp", [136] = "udplite" }
-- enum eg_proc_flags (struct eg_proc.flags)
_M.PF_SEEDED = 1
_M.PF_ARGS_TRUNCATED = 2
_M.PF_SETUID = 4
_M.PF_SETGID = 8
_M.PF_LD_PRELOAD = 16
_M.PF_LD_LIBRARY_PATH = 32
_M.PF_EXE_DELETED = 64
_M.PF_FORKED = 128
_M.PF_UNKNOWN = 256
_M.ANCESTORS_MAX = 5
_M.HITF_DYNDESC = 1
_M.RERR_RUNTIME = 0
_M.RERR_BUDGET = 1

_M.FIELDS = {
  "ts_ns", "cgroup_id", "type", "flags", "pid", "tgid", "ppid", "uid", "gid",
  "open_flags", "dest_port", "argc", "comm", "filename", "exe", "dest_ip", "args",
  "comm_len", "filename_len", "exe_len", "dest_ip_len", "args_len",
  "requested", "requested_len", "ret", "proto", "proc", "ctr", "host", "num", "aux", "aux_len",
}

-- The structs an event points at (src/engine.c lists the same fields).
_M.CONTEXT_FIELDS = {
  eg_proc = {
    "start_ns", "tgid", "ppid", "uid", "gid", "loginuid", "flags", "argc", "parent_argc",
    "parent_tgid", "nancestors", "exec_id", "comm", "exe", "args", "cwd", "tty",
    "parent_exec_id", "parent_comm", "parent_exe", "parent_args", "exec_id_len",
    "comm_len", "exe_len", "args_len", "cwd_len", "tty_len", "parent_exec_id_len",
    "parent_comm_len", "parent_exe_len", "parent_args_len", "ancestors", "start_boottime",
  },
  eg_ancestor = { "comm", "exe", "comm_len", "exe_len" },
  eg_container = {
    "cgroup_id", "cgroup", "id", "runtime", "pod_uid", "cgroup_len", "id_len",
    "runtime_len", "pod_uid_len",
  },
  eg_host = { "name", "id", "name_len", "id_len" },
  -- not a context struct: the batch the engine runs on (src/event.h)
  eg_batch = {
    "ev", "n", "next", "hits", "nhits", "hits_cap", "in_user", "ticks", "budget_ticks",
    "nrules", "rule_errors", "nerrors", "rule_disabled", "rule_calls", "mem_limit",
    "user_mapped", "heap_limit", "call_start_ns", "time_limit_ns", "abort_flag", "keep",
  },
}
_M.CONTEXT_STRUCTS = { "eg_proc", "eg_ancestor", "eg_container", "eg_host", "eg_batch" }

-- The host's layout of one struct ({ size = n, <field> = offset }) against
-- the cdef's.
local function check_struct(name, fields, layout)
  local size = ffi.sizeof("struct " .. name)
  if type(layout) ~= "table" then
    return nil, ("event layout mismatch: the host gave no layout of struct %s"):format(name)
  end
  if layout.size ~= size then
    return nil, ("event layout mismatch: C struct %s is %s bytes, Lua cdef %d")
      :format(name, tostring(layout.size), size)
  end
  for _, f in ipairs(fields) do
    local off = ffi.offsetof("struct " .. name, f)
    if layout[f] ~= off then
      return nil, ("event layout mismatch: field %s.%s at %s in C, %d in Lua")
        :format(name, f, tostring(layout[f]), off)
    end
  end
  return true
end

-- Compares the cdef with the host's layout ({ size = n, <field> = offset },
-- and the same per context struct under its name: layout.eg_proc, ...).
-- Returns true, or nil and a message naming the first mismatch.
function _M.check_layout(layout)
  local size = ffi.sizeof("struct eg_event")
  if layout.size ~= size then
    return nil, ("event layout mismatch: C struct is %d bytes, Lua cdef %d"):format(layout.size, size)
  end
  for _, f in ipairs(_M.FIELDS) do
    local off = ffi.offsetof("struct eg_event", f)
    if layout[f] ~= off then
      return nil, ("event layout mismatch: field %s at %s in C, %d in Lua"):format(f, tostring(layout[f]), off)
    end
  end
  for _, name in ipairs(_M.CONTEXT_STRUCTS) do
    local ok, err = check_struct(name, _M.CONTEXT_FIELDS[name], layout[name])
    if not ok then return nil, err end
  end
  return true
end

return _M
