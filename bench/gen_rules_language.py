#!/usr/bin/env python3
# Writes bench/rules.language.yaml: 64 rules in the rule language, shaped
# like a stock set (lists, macros, exceptions; exec/open/connect).
out = []
w = out.append
w("# Benchmark rule set: 64 rules in the rule language, shaped like a stock set")
w("# (lists, macros, exceptions, prefix/suffix/in/regex/flags matchers over")
w("# exec, open and connect). Used by bench/engine_bench.sh; generated once by")
w("# hand-written templates, not a real detection set.")
w("lists:")
w("  shells: [sh, bash, dash, zsh, ksh, ash, busybox, fish, tcsh, csh]")
w("  web_servers: [nginx, httpd, apache2, php-fpm, lighttpd, caddy, uwsgi, gunicorn]")
w("  tmp_dirs: [/tmp/, /var/tmp/, /dev/shm/, /run/user/]")
w("  pkg_managers: [apt, apt-get, dpkg, yum, dnf, rpm, pip, pip3, npm, gem, cargo]")
w("  discovery: [id, whoami, uname, hostname, ifconfig, ip, netstat, ss, ps, w, last, lsof]")
w("  miners: [xmrig, minerd, cpuminer, xmr-stak, ccminer, cgminer, ethminer, nbminer]")
w("  cred_files: [/etc/shadow, /etc/gshadow, /etc/master.passwd, /etc/security/opasswd]")
w("  persistence_dirs: [/etc/cron.d/, /etc/cron.daily/, /var/spool/cron/, /etc/systemd/system/, /usr/lib/systemd/system/, /etc/init.d/, /etc/rc.local, /etc/profile.d/]")
w("  net_tools: [nc, ncat, netcat, socat, telnet, curl, wget]")
w("  mining_ports: [3333, 4444, 5555, 7777, 14444, 45700, 9999, 14433]")
w("macros:")
w("  shell_proc: {comm: $shells}")
w("  web_parent: {parent.comm: $web_servers}")
w("  write_open: {open_flags: {any: [O_WRONLY, O_RDWR, O_CREAT, O_TRUNC]}}")
w("  from_tmp: {exe: {prefix: $tmp_dirs}}")
w("  not_pkg: {not: {comm: $pkg_managers}}")
w("rules:")
n = 0
def rule(types, match, exc=None, sev="warning"):
    global n
    n += 1
    w(f"  - id: lang_rule_{n:02d}")
    w(f"    description: benchmark rule {n}")
    w(f"    event_types: [{types}]")
    w(f"    severity: {sev}")
    w("    match:")
    for line in match:
        w("      " + line)
    if exc:
        w("    exceptions:")
        w(f"      - name: e{n}")
        w(f"        fields: {exc[0]}")
        w(f"        values: [{exc[1]}]")
# open rules (most events are opens)
paths = ["/etc/sudoers", "/root/.ssh/", "/home/", "/etc/ld.so.preload", "/boot/", "/etc/pam.d/",
         "/var/log/", "/etc/passwd", "/proc/kcore", "/sys/kernel/", "/etc/kubernetes/", "/var/run/docker.sock",
         "/run/containerd/", "/etc/crontab", "/usr/lib/x86_64-linux-gnu/security/", "/lib/modules/"]
for i, p in enumerate(paths):
    m = [f"filename: {{prefix: {p}}}"]
    if i % 3 == 0:
        m.append("macro: [write_open, not_pkg]")
    elif i % 3 == 1:
        m.append("ret: {ge: 0}")
    else:
        m.append("comm: {not: [systemd, sshd, cron]}")
    rule("open", m, ("comm", "vim, nano") if i % 4 == 0 else None)
rule("open", ["filename: $cred_files", "ret: {not: -2}"], ("comm", "sshd, sudo, login, passwd"), "error")
rule("open", ["filename: {prefix: $persistence_dirs}", "macro: [write_open, not_pkg]"], None, "error")
rule("open", ["filename: {suffix: [/authorized_keys, /authorized_keys2, /.bash_history, /.zsh_history]}", "macro: write_open"])
rule("open", ["filename: {regex: '^/home/[^/]+/\\.(aws|kube|docker|gnupg)/'}", "not: {comm: [aws, kubectl, docker, gpg]}"])
rule("open", ["filename: {contains: [/.git-credentials, /.netrc, /.pgpass]}"])
rule("open", ["filename: {prefix: /proc/, suffix: [/mem, /environ, /maps]}", "not: {comm: [ps, top, htop]}"])
rule("open", ["filename: {prefix: $tmp_dirs}", "open_flags: {all: [O_CREAT, O_WRONLY]}", "macro: web_parent"])
rule("open", ["filename: {suffix: [.so, .so.1], prefix: $tmp_dirs}"])
# exec rules
rule("exec", ["macro: [shell_proc, web_parent]"], None, "error")
rule("exec", ["macro: from_tmp"], ("comm", "tmux, gdb"))
rule("exec", ["comm: $miners"], None, "critical")
rule("exec", ["comm: $discovery", "macro: web_parent"])
rule("exec", ["comm: $net_tools", "args: {prefix: [-e, -c, exec]}"], None, "error")
rule("exec", ["cmdline: {contains: [/dev/tcp/, /dev/udp/, 'bash -i']}"], None, "error")
rule("exec", ["filename: {suffix: [/base64, /xxd]}", "parent.comm: $shells"])
rule("exec", ["exe: {prefix: [/usr/bin/, /bin/]}", "comm: {not: {in: [ls, cat, grep, sed, awk, git, make, cc, cc1, env, date, id, bash, sh]}}", "args: {contains: [passwd, shadow]}"])
rule("exec", ["memfd: true"], None, "critical")
rule("exec", ["filename: {regex: '/\\.[^/]+$'}"])
rule("exec", ["comm: $pkg_managers", "uid: {ge: 1000}"])
rule("exec", ["comm: [insmod, modprobe, rmmod]", "not: {parent.comm: [systemd, udevd]}"], None, "error")
rule("exec", ["comm: [crontab, at, systemctl]", "args: [-e, enable, edit]"])
rule("exec", ["comm: [chattr, setfacl]", "args: {prefix: [+i, -i]}"])
rule("exec", ["comm: [history, shred, wipe]"])
rule("exec", ["exe: {suffix: [/sudo, /su, /pkexec]}", "parent.comm: $web_servers"], None, "error")
rule("exec", ["comm: [python3, perl, ruby, node, php]", "args: -c", "parent.comm: $web_servers"])
rule("exec", ["filename: {prefix: /usr/bin/}", "comm: {regex: '^(nc|ncat|socat)$'}"])
rule("exec", ["comm: [docker, kubectl, crictl, ctr]", "args: [exec, run, cp]"])
rule("exec", ["comm: [iptables, nft, ufw]", "args: [-F, flush, disable]"], None, "error")
rule("exec", ["comm: [ssh, scp, sftp]", "args: {prefix: -o}", "cmdline: {contains: ProxyCommand}"])
rule("exec", ["comm: [tar, zip, 7z, rar]", "args: {prefix: /home/}"])
# connect rules
rule("connect", ["dest_port: $mining_ports"], None, "error")
rule("connect", ["macro: shell_proc"], None, "error")
rule("connect", ["dest_ip: [169.254.169.254, 'fd00:ec2::254']", "not: {comm: [cloud-init, google_guest_ag]}"])
rule("connect", ["dest_port: {ge: 6660, le: 6669}"])
rule("connect", ["comm: $net_tools", "dest_port: {not: [80, 443]}"])
rule("connect", ["dest_ip: {prefix: ['10.', '192.168.', '172.16.']}", "dest_port: [22, 3389, 5985, 5986]", "macro: web_parent"])
rule("connect", ["comm: $miners"], None, "critical")
rule("connect", ["dest_port: [23, 2323, 6667]"])
rule("connect", ["dest_ip: {suffix: .onion}"])
while n < 64:
    rule("open", [f"filename: {{prefix: /opt/app{n}/secrets/}}", "macro: write_open"])
open("bench/rules.language.yaml", "w").write("\n".join(out) + "\n")
print(n)
