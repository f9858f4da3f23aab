-- Stateful stock detections: what one event cannot show. Each keeps its
-- state in bounded stores (guard.state: per process, forgotten at exit;
-- guard.cache: per file or per process tree), so memory stays capped whatever
-- the host does: at most the store's max entries, each a few small fields.
-- Times are event times. docs/detection.md describes each one.
local guard = require("guard")

local SHELLS = {
  sh = true, bash = true, dash = true, zsh = true, ksh = true, mksh = true, ash = true,
  rbash = true, tcsh = true, csh = true, fish = true,
}
local SERVICE_NAMES = {
  "nginx", "httpd", "apache2", "lighttpd", "caddy", "php-fpm", "php-fpm8.2", "php-cgi", "uwsgi", "gunicorn",
  "tomcat", "mysqld", "mariadbd", "postgres", "redis-server", "mongod", "memcached", "vsftpd", "proftpd",
  "named", "dovecot", "exim4", "squid", "haproxy", "java", "node",
}
local SERVICES = {}
for _, n in ipairs(SERVICE_NAMES) do SERVICES[n] = true end
-- Distinct items per key within a window of width ns (one store entry per
-- key): the sorted items when their count first reaches need within one
-- window, else nil; a key fires once.
local function distinct_burst(store, key, now, width, item, need)
  local s = store:get(key)
  if not s or now - s.start > width then
    s = { start = now, seen = {}, n = 0, fired = s and s.fired }
    store:set(key, s)
  end
  if s.fired or s.seen[item] then return nil end
  s.seen[item] = true
  s.n = s.n + 1
  if s.n < need then return nil end
  s.fired = true
  local items = {}
  for k in pairs(s.seen) do items[#items + 1] = k end
  table.sort(items)
  return items
end
-- Filters (the rule language of match:, per event type): the engine tests
-- them inline and calls match only for the events that pass, so a detection
-- costs nothing on the events it has no use for.
local WRITABLE_DIRS = { "/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/" }
-- a file right in one of them, or in a hidden directory there (builds and
-- test suites write, chmod, run and delete programs in deeper work trees)
local DROPPED = { prefix = WRITABLE_DIRS, regex = [[^/(tmp|var/tmp|dev/shm|run/shm)/(\.[^/]*/)*[^/]+$]] }
local SYSTEM_DIRS = { "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/lib/", "/lib/", "/usr/libexec/",
  "/usr/local/lib/", "/usr/share/" }
local WRITE = { any = { "O_WRONLY", "O_RDWR", "O_CREAT" } }
local SHELL_NAMES = { "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "tcsh", "csh", "fish" }
local NOT_LOOPBACK = { ["not"] = { prefix = { "127.", "::1", "::ffff:127." } } }

local function loopback(ip)
  return ip == "" or ip:sub(1, 4) == "127." or ip == "::1" or ip:sub(1, 11) == "::ffff:127."
end

---------------------------------------------------------------------------
-- 1. A file written by a downloader, then executed.
local downloaded = guard.cache { max = 4096, ttl = 3600 }
-- interpreters write files all the time (pip, build scripts): a file they
-- write counts only when the process made an outbound TCP connection first
local INTERPRETERS = { python = true, python3 = true, perl = true, php = true, ruby = true, node = true }
local connected = guard.state { max = 4096 }

local download_then_execute = {
  id = "download_then_execute",
  description = "A file written by a download tool was executed",
  event_types = { "open", "exec", "connect" },
  severity = "error",
  tags = { "T1105", "T1204.002" },
  filter = {
    open = { name = { "curl", "wget", "fetch", "aria2c", "axel", "lwp-download", "tftp", "ftp", "lftp", "scp",
      "sftp", "rsync", "nc", "ncat", "socat", "python", "python3", "perl", "php", "ruby", "node" },
      open_flags = WRITE, ret = { ge = 0 } },
    exec = { exe = { ["not"] = { prefix = SYSTEM_DIRS } } },
    connect = { name = { "python", "python3", "perl", "php", "ruby", "node" }, datagram = false,
      dest_ip = NOT_LOOPBACK },
  },
  -- an exec matters only when its program is one a downloader wrote
  stored = { exec = { exe = downloaded } },
  match = function(ev)
    local t = ev.type
    if t == "connect" then
      -- an interpreter's outbound stream connection (the filter; an empty
      -- address is not one)
      if ev.dest_ip ~= "" then connected:set(ev.tgid, true) end
      return false
    end
    if t == "open" then
      -- the filter let through only successful opens for writing by a
      -- downloader: an interpreter's counts after an outbound connection
      local comm = ev.comm
      if not INTERPRETERS[comm] or connected:get(ev.tgid) then
        downloaded:set(ev.filename, comm)
      end
      return false
    end
    local by = downloaded:get(ev.exe)
    if not by then return false end
    downloaded:delete(ev.exe)
    return ("%s was downloaded by %s, then executed by %s (pid %d)"):format(ev.exe, by, ev.parent.comm, ev.tgid)
  end,
}

---------------------------------------------------------------------------
-- 2. Dropped into a writable directory, made executable, executed.
local written = guard.cache { max = 4096, ttl = 3600 }
local made_exec = guard.cache { max = 4096, ttl = 3600 }

local drop_chmod_execute = {
  id = "drop_chmod_execute",
  description = "A file was written to a world-writable directory, made executable and executed",
  event_types = { "open", "chmod", "exec" },
  severity = "error",
  tags = { "T1222.002", "T1204.002", "T1105" },
  filter = {
    open = { filename = DROPPED, open_flags = WRITE, ret = { ge = 0 } },
    chmod = { filename = DROPPED, ret = 0 },
    exec = { exe = DROPPED },
  },
  -- a chmod of a file written before; an exec of one made executable
  stored = { chmod = { filename = written }, exec = { exe = made_exec } },
  match = function(ev)
    local t = ev.type
    if t == "open" then
      -- a successful open for writing of a file dropped in a writable
      -- directory (the filter)
      written:set(ev.filename, ev.comm)
      return false
    elseif t == "chmod" then
      -- any execute bit (0111) on a file written before (the filter: a
      -- successful chmod of a dropped file)
      if bit.band(ev.mode, 73) ~= 0 then
        local by = written:get(ev.filename)
        if by then made_exec:set(ev.filename, by .. ", chmod by " .. ev.comm) end
      end
      return false
    end
    local how = made_exec:get(ev.exe)
    if not how then return false end
    made_exec:delete(ev.exe)
    written:delete(ev.exe)
    return ("%s was written (by %s) and executed by pid %d"):format(ev.exe, how, ev.tgid)
  end,
}

---------------------------------------------------------------------------
-- 3. A program run from a writable directory, deleted by another process
-- (its launcher) while it runs. A process deleting its own file is the YAML
-- rule self_deleting_program.
local running = guard.cache { max = 4096, ttl = 600 }
-- the program each such process runs; a state store forgets a process when
-- it exits, so an entry here means it still runs
local alive = guard.state { max = 4096 }

local tmp_exec_then_deleted = {
  id = "tmp_exec_then_deleted",
  description = "A program started from a world-writable directory was deleted while running",
  event_types = { "exec", "unlink" },
  severity = "error",
  tags = { "T1070.004", "T1204.002" },
  filter = {
    exec = { exe = DROPPED },
    unlink = { filename = DROPPED, ret = 0 },
  },
  -- an unlink of a program seen running
  stored = { unlink = { filename = running } },
  match = function(ev)
    -- (the filter: an exec of a program dropped in a writable directory, a
    -- successful unlink of such a file)
    if ev.type == "exec" then
      local exe = ev.exe
      running:set(exe, ev.tgid)
      alive:set(ev.tgid, exe)
      return false
    end
    local pid = running:get(ev.filename)
    if not pid then return false end
    running:delete(ev.filename)
    -- deleted after it exited (cp /bin/true /tmp/x && /tmp/x && rm /tmp/x),
    -- or it runs another program now: not this
    if pid == ev.tgid or alive:get(pid) ~= ev.filename then return false end
    return ("%s (pid %d) was deleted by %s (pid %d) while it ran"):format(ev.filename, pid, ev.comm, ev.tgid)
  end,
}

---------------------------------------------------------------------------
-- 3b. A running program deleting its own executable.
local self_deleting_program = {
  id = "self_deleting_program",
  description = "A running program deleted its own executable",
  event_types = { "unlink" },
  severity = "error",
  tags = { "T1070.004" },
  -- where dropped programs live; a package removing its own files is not
  -- it. The filter keeps the call for the unlink of the process's own
  -- executable (builds delete many files there: each was a call)
  filter = {
    unlink = { ret = 0, filename = { prefix = { "/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/home/", "/root/",
      "/opt/", "/usr/local/bin/", "/srv/" }, same_as = "exe" }, exe = { ["not"] = "" } },
  },
  match = function(ev)
    return ("%s (pid %d) deleted its own executable %s"):format(ev.comm, ev.tgid, ev.exe)
  end,
}

---------------------------------------------------------------------------
-- 4. Connection fan-out: many ports of one host, or many hosts on one
-- port, from one process within 10 seconds.
local WINDOW = 10e9
local fanout = guard.state { max = 4096, ttl = 60 }
-- the thresholds (params: an override's replace: params sets them)
local FANOUT = { ports = 16, hosts = 32 }
-- Each process's state is one table: its window's start, the pairs
-- counted (n), the numbering's generation and the keys below, so a
-- connect already counted costs two lookups in it (a table per host and
-- per port was three more tables to reach, each a likely cache miss with
-- thousands of processes: about 20% of a call, docs/performance.md). Hosts are numbered (IDS, shared,
-- bounded: at IDS_MAX it starts over, and so does every process's
-- window); with id a host's number:
--   s[id * 65536 + port] = true   the pair was seen
--   s[-id]                        distinct ports of the host
--   s[-65537 - port]              distinct hosts on the port
local IDS, NIDS, GEN, IDS_MAX = {}, 0, 0, 16384

local connect_fanout = {
  id = "connect_fanout_scan",
  description = "A process connected to many ports or hosts in a few seconds (a scan)",
  event_types = { "connect" },
  severity = "warning",
  tags = { "T1046" },
  filter = { connect = { datagram = false } },
  -- a destination already counted in this window changes nothing: match
  -- gets a process's connect to it once per window, and the kernel keeps
  -- the repeats (a service talking to its database all day crosses once
  -- per 10 s, not per connection)
  once_per = { connect = { "dest_ip", "dest_port", seconds = WINDOW / 1e9 } },
  params = FANOUT,
  match = function(ev)
    -- a connection (the filter: not an unconnected datagram), new to the
    -- process within 10 s (once_per)
    local PORTS, HOSTS = FANOUT.ports, FANOUT.hosts
    local tgid = ev.tgid
    local s = fanout:get(tgid)
    local now = ev.ts_ns
    if not s or now - s.start > WINDOW or s.gen ~= GEN then
      s = { start = now, n = 0, gen = GEN, fired = s and s.fired }
      fanout:set(tgid, s)
    end
    if s.fired then return false end
    local ip, port = ev.dest_ip, ev.dest_port
    local id = IDS[ip]
    if not id then
      if NIDS >= IDS_MAX then
        IDS, NIDS, GEN = {}, 0, GEN + 1
        s = { start = now, n = 0, gen = GEN }
        fanout:set(tgid, s)
      end
      NIDS = NIDS + 1
      id = NIDS
      IDS[ip] = id
    end
    local key = id * 65536 + port
    if s[key] then return false end
    if s.n >= 4 * HOSTS then
      -- many pairs, none past a limit: start over (bounded memory)
      s = { start = s.start, n = 0, gen = GEN }
      fanout:set(tgid, s)
    end
    s[key] = true
    s.n = s.n + 1
    local np = (s[-id] or 0) + 1
    local nh = (s[-65537 - port] or 0) + 1
    s[-id], s[-65537 - port] = np, nh
    if np < PORTS and nh < HOSTS then return false end
    s.fired = true
    if np >= PORTS then
      return ("%s (pid %d) connected to %d ports of %s within 10 s"):format(ev.comm, tgid, np, ip)
    end
    return ("%s (pid %d) connected to port %d of %d hosts within 10 s"):format(ev.comm, tgid, port, nh)
  end,
}

---------------------------------------------------------------------------
-- 5. A burst of discovery commands from one shell.
local DISCOVERY = {
  id = true, whoami = true, uname = true, hostname = true, ifconfig = true, ip = true,
  netstat = true, ss = true, w = true, who = true, last = true, lastlog = true, lsb_release = true,
  getent = true, groups = true, lscpu = true, lsmod = true, arp = true, route = true,
  crontab = true, sudo = true, ps = true, env = true, printenv = true, systemctl = true,
  lsblk = true, mount = true, df = true, iptables = true, nmcli = true, hostnamectl = true,
  dmidecode = true, lspci = true, lsusb = true, getcap = true, find = true, ls = true,
  cat = true, docker = true, kubectl = true, curl = true, wget = true,
}
local RECON_ARGS = {
  ["/etc/passwd"] = true, ["/etc/os-release"] = true, ["/etc/issue"] = true, ["/proc/version"] = true,
  ["/etc/hosts"] = true, ["/etc/resolv.conf"] = true, ["/etc/group"] = true, ["/proc/cpuinfo"] = true,
  ["/etc/crontab"] = true, ["/etc/sudoers"] = true, ["/home"] = true, ["/root"] = true,
  ["/proc/1/cgroup"] = true, ["/.dockerenv"] = true,
}
local DWINDOW = 60e9
local DISCOVERY_PARAMS = { commands = 6 }
local bursts = guard.state { max = 4096, ttl = 300 }
local BUILD_PARENTS = {
  make = true, gmake = true, configure = true, cmake = true, ninja = true, ["dpkg-buildpacka"] = true,
  debuild = true, sbuild = true, libtool = true, autoconf = true, automake = true, autoreconf = true,
  ["config.status"] = true, meson = true, ctest = true,
}

local discovery_burst = {
  id = "discovery_burst",
  description = "A shell ran many different discovery commands within a minute",
  event_types = { "exec" },
  severity = "warning",
  tags = { "T1082", "T1033", "T1016", "T1057" },
  filter = {
    exec = { name = { "id", "whoami", "uname", "hostname", "ifconfig", "ip", "netstat", "ss", "w", "who", "last",
      "lastlog", "lsb_release", "getent", "groups", "lscpu", "lsmod", "arp", "route", "crontab", "sudo", "ps",
      "env", "printenv", "systemctl", "lsblk", "mount", "df", "iptables", "nmcli", "hostnamectl", "dmidecode",
      "lspci", "lsusb", "getcap", "find", "ls", "cat", "docker", "kubectl", "curl", "wget" },
      ["parent.comm"] = SHELL_NAMES },
  },
  params = DISCOVERY_PARAMS,
  match = function(ev)
    local comm = ev.name
    if not DISCOVERY[comm] then return false end
    -- cat/ls/find count only on the files attackers look at
    if comm == "cat" or comm == "ls" or comm == "find" or comm == "curl" or comm == "wget" then
      local a2 = ev.args[2]
      if comm == "curl" or comm == "wget" then
        if not (a2 and (a2:find("ifconfig", 1, true) or a2:find("ipinfo", 1, true)
          or a2:find("icanhazip", 1, true) or a2:find("169.254.169.254", 1, true))) then return false end
      elseif not (a2 and RECON_ARGS[a2]) then
        return false
      end
      comm = comm .. " " .. a2
    end
    local shell = ev.parent
    if not SHELLS[shell.comm] or BUILD_PARENTS[ev.ancestors[2].comm] then return false end
    local names = distinct_burst(bursts, ev.ppid, ev.ts_ns, DWINDOW, comm, DISCOVERY_PARAMS.commands)
    if not names then return false end
    return ("%s (pid %d) ran %d discovery commands within a minute: %s"):format(
      shell.comm, ev.ppid, #names, table.concat(names, ", "))
  end,
}

---------------------------------------------------------------------------
-- 6. Many different credential stores read by one process within seconds.
local CRED_KINDS = {
  { "shadow", guard.regex([[^/etc/(shadow|gshadow)$]]) },
  { "ssh key", guard.regex([[/\.ssh/(id_[^/.]+|[^/]+\.pem)$]]) },
  { "cloud credentials", guard.regex([[/(\.aws/credentials|\.config/gcloud/|\.azure/|\.docker/config\.json|\.kube/config)]]) },
  { "browser store", guard.regex([[/(logins\.json|key4\.db|Login Data|Cookies)$]]) },
  { "keyring", guard.regex([[/(\.local/share/keyrings/|\.gnupg/private-keys|\.password-store/)]]) },
  { "history", guard.regex([[/\.(bash|zsh|sh|python|mysql|psql)_history$]]) },
  { "service password", guard.regex([[/\.(netrc|git-credentials|pgpass|my\.cnf|s3cfg|pypirc|npmrc)$]]) },
  { "kubernetes token", guard.regex([[/serviceaccount/(\.\.[^/]+/)?token$]]) },
}
local CANDIDATE_RX = [[shadow|/\.ssh/|\.aws/|gcloud|\.azure/|\.docker/|\.kube/|logins\.json|key4\.db|Login Data|Cookies|keyrings|\.gnupg/|password-store|_history$|\.netrc|credentials|\.pgpass|\.my\.cnf|\.s3cfg|\.pypirc|\.npmrc|/token$]]
local cred_reads = guard.state { max = 4096, ttl = 120 }
local CWINDOW = 60e9
local HARVEST = { kinds = 3 }

local credential_harvest = {
  id = "credential_harvest",
  description = "One process read several kinds of credential stores within a minute",
  event_types = { "open" },
  severity = "error",
  tags = { "T1552.001", "T1555", "T1003.008" },
  filter = {
    -- the candidates only: an open under a home directory that names no
    -- credential store never reaches match
    open = { ret = { ["not"] = -2 }, filename = { prefix = { "/etc/shadow", "/etc/gshadow", "/root/", "/home/",
      "/run/secrets/", "/var/run/secrets/" }, regex = CANDIDATE_RX } },
  },
  params = HARVEST,
  match = function(ev)
    -- (the filter: an open that found a candidate file)
    local f = ev.filename
    local kind
    for _, k in ipairs(CRED_KINDS) do
      if k[2]:test(f) then kind = k[1] break end
    end
    if not kind then return false end
    local kinds = distinct_burst(cred_reads, ev.tgid, ev.ts_ns, CWINDOW, kind, HARVEST.kinds)
    if not kinds then return false end
    return ("%s (pid %d) read %d kinds of credentials within a minute: %s"):format(
      ev.comm, ev.tgid, #kinds, table.concat(kinds, ", "))
  end,
}

---------------------------------------------------------------------------
-- 7. A shell whose known ancestry (the parent and up to four more levels)
-- holds a network service. Reported once per tree: a shell started under a
-- shell already marked inherits the mark and is not reported again (the
-- YAML rule shell_spawned_by_network_service covers a service's direct
-- child, which is marked, not reported).
local service_shells = guard.state { max = 4096, ttl = 3600 }

local service_ancestry_shell = {
  id = "shell_under_network_service",
  description = "A shell was started in a network service's process tree",
  event_types = { "exec" },
  severity = "error",
  tags = { "T1505.003", "T1059.004" },
  -- a shell with a service among its known ancestors: the others (every
  -- shell of a build or a login session) never reach match. A shell under
  -- a marked one has the same service among its ancestors, one level
  -- further, unless it is too deep to see it; then it would only have
  -- inherited the mark (not reported), and so would its own shells.
  filter = { exec = { name = SHELL_NAMES, ["ancestors.comm"] = SERVICE_NAMES } },
  match = function(ev)
    -- (the filter: a shell, a service among its known ancestors)
    local name = ev.name
    local inherited = service_shells:get(ev.ppid)
    if inherited then
      service_shells:set(ev.tgid, inherited)
      return false -- the first shell of the tree was reported
    end
    if SERVICES[ev.parent.comm] then
      service_shells:set(ev.tgid, ev.parent.comm)
      return false -- shell_spawned_by_network_service reports this one
    end
    for i = 2, #ev.ancestors do
      local a = ev.ancestors[i].comm
      if SERVICES[a] then
        service_shells:set(ev.tgid, a)
        return ("%s (pid %d) was started under %s (%d levels up), by %s"):format(
          name, ev.tgid, a, i, ev.parent.comm)
      end
    end
    return false
  end,
}

---------------------------------------------------------------------------
-- 8. A server that only answered connections starts connecting out.
-- as many processes as once remembers (16,384): a server this store forgot
-- while once remembers it would not be marked again by its accepts
local servers = guard.state { max = 16384 }
-- how long a server serves without an outbound connection first
local SERVING = { quiet_seconds = 600 }

local server_starts_connecting_out = {
  id = "server_starts_connecting_out",
  description = "A long-running server made its first outbound connection",
  event_types = { "listen", "accept", "connect" },
  severity = "warning",
  tags = { "T1071", "T1041" },
  filter = { connect = { datagram = false, dest_ip = NOT_LOOPBACK }, listen = { ret = { ge = 0 } },
    accept = { ret = { ge = 0 } } },
  -- a connect by a process known to serve
  stored = { connect = { tgid = servers } },
  -- a process serves from its first successful listen (or bind) or accept:
  -- the others (a server accepts all day) never reach match, nor cross
  -- from the kernel when no other rule wants them
  once = { "listen", "accept" },
  params = SERVING,
  match = function(ev)
    local t = ev.type
    if t == "listen" or t == "accept" then
      -- (the filter and once: the process's first success of the type)
      if not servers:get(ev.tgid) then servers:set(ev.tgid, { since = ev.ts_ns }) end
      return false
    end
    local s = servers:get(ev.tgid)
    -- (the filter: a stream connection to an address not on loopback)
    if not s or s.out or loopback(ev.dest_ip) then return false end
    s.out = true
    local served = (ev.ts_ns - s.since) / 1e9
    if served < SERVING.quiet_seconds then return false end
    local span = served >= 120 and ("%d minutes"):format(served / 60) or ("%d s"):format(served)
    return ("%s (pid %d), serving for %s with no outbound connection, connected to %s port %d"):format(
      ev.comm, ev.tgid, span, ev.dest_ip, ev.dest_port)
  end,
}

local all = {
  download_then_execute, drop_chmod_execute, tmp_exec_then_deleted, self_deleting_program,
  connect_fanout, discovery_burst, credential_harvest, service_ancestry_shell,
  server_starts_connecting_out,
}
-- On by default. Their filters run in compiled code and keep most events
-- from match: replaying the recorded build workload (tests/noise, 169,389
-- events) takes no measurable longer with them (docs/performance.md). On
-- a host where their calls do cost (a scanner's every TCP connect reaches
-- connect_fanout_scan), a later file turns one off:
--   overrides:
--     - rule: connect_fanout_scan
--       replace: {enabled: false}
return all
