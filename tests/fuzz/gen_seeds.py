#!/usr/bin/env python3
# Writes the binary seed corpora of tests/fuzz: corpus/record (raw ring-buffer
# records, bpf/eg_raw.h) and corpus/json (fuzz_json.c's input layout).
# Deterministic; rerun after a change to either format:
#   python3 tests/fuzz/gen_seeds.py
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- raw records: struct eg_raw_event (96 bytes) + filename + exe (a walked
# path, "/a/b/c") + args
EXEC, OPEN, CONNECT, EXIT, MEMFD, PTRACE, FORK = 1, 2, 3, 4, 5, 6, 31
MODULE, BPF, SETID, NAMESPACE, MOUNT, LINK, RENAME, UNLINK, CHMOD, DUP, LISTEN, ACCEPT = range(7, 19)
ARGS, PATH2_DIR, LOCAL_ADDR = 65536, 1 << 17, 1 << 18
TRUNC_FILENAME, TRUNC_EXE, TRUNC_ARGS, DELETED, EXEC_EXT = 1, 2, 4, 8, 16
EXEC_FAILED, NO_FILENAME, EXE_PSEUDO = 32, 64, 128
PATH_FILE, PATH_DIR, IO_URING, COMPAT, NO_PATH_ARG, INTERP = 256, 512, 1024, 2048, 4096, 8192
DATAGRAM, FDPATH = 16384, 32768


def record(type_, comm=b"bash", filename=b"", exe=b"", args=b"", flags=0, family=0,
           port=0, addr=b"", pid=4242, tgid=4242, open_flags=0, ret=0, proto=0, lens=None, s3=b""):
    fl, xl, al = lens or (len(filename), len(exe), len(args))
    head = struct.pack("<QQIIIIIIIBBHHHHH16s16siB3s", 123456789012, 4026531835, pid, tgid, 1,
                       1000, 1000, open_flags, flags, type_, family, port, fl, xl, al, len(s3),
                       addr.ljust(16, b"\0"), comm[:16].ljust(16, b"\0"), ret, proto, b"")
    assert len(head) == 96
    return head + filename + exe + args + s3


def family(type_, nums, s0=b"", s1=b"", s2=b"", s3=b"", flags=0, **kw):
    """A newer family's record: header, struct eg_raw_args (8 numbers), S0..S3."""
    rec = record(type_, flags=flags | ARGS, lens=(len(s0), len(s1), len(s2)), s3=s3, **kw)
    nums = list(nums) + [0] * (8 - len(nums))
    return rec[:96] + struct.pack("<8q", *nums) + s0 + s1 + s2 + s3


def local_addr(fam, addr, port=0):
    return addr.ljust(16, b"\0") + struct.pack("<HH", fam, port)


def exec_ext(filename, exe, args, cwd, loginuid=1000, tty=(136 << 20) | 2, mode=0o104755,
             xflags=1, cwd_len=None):
    """An exec record with struct eg_raw_exec (48 bytes) and the cwd region."""
    rec = record(EXEC, filename=filename, exe=exe, args=args, flags=EXEC_EXT)
    ext = struct.pack("<QIIIIH6s16s", 123456000000, loginuid, tty, mode, xflags,
                      len(cwd) if cwd_len is None else cwd_len, b"", b"su")
    assert len(ext) == 48
    return rec[:96] + ext + rec[96:] + cwd


def v6(text):
    return socket.inet_pton(socket.AF_INET6, text)


RECORDS = {
    "exec": record(EXEC, filename=b"/usr/bin/bash\0", exe=b"/usr/bin/bash",
                   args=b"bash\0-c\0id\0"),
    "exec-memfd": record(EXEC, comm=b"x", filename=b"/proc/self/fd/3\0", exe=b"/memfd:x",
                         args=b"x\0", flags=DELETED | EXE_PSEUDO),
    "exec-script": record(EXEC, filename=b"./configure\0", exe=b"/usr/bin/dash",
                          args=b"/bin/sh\0./configure\0", flags=INTERP),
    "exec-fdpath-empty": record(EXEC, filename=b"/dev/fd/3\0", exe=b"/tmp/xmrig", args=b"x\0",
                                flags=FDPATH),
    "exec-fdpath-name": record(EXEC, filename=b"/dev/fd/3/x\0", exe=b"/tmp/x", args=b"x\0",
                               flags=FDPATH),
    "exec-failed": record(EXEC, filename=b"/nonexistent\0", flags=EXEC_FAILED),
    "exec-many-args": record(EXEC, filename=b"/bin/echo\0", exe=b"/bin/echo",
                             args=b"".join(b"a%d\0" % i for i in range(70))),
    "exec-args-cut": record(EXEC, filename=b"/bin/cat\0", exe=b"/bin/cat",
                            args=b"cat\0/etc/passwd-unterminated", flags=TRUNC_ARGS),
    "exec-deep-exe": record(EXEC, filename=b"/a\0", exe=b"".join(b"/d%d" % i for i in range(70)),
                            flags=TRUNC_EXE),
    "exec-comm-16": record(EXEC, comm=b"0123456789abcdef", filename=b"/x\0", exe=b"/x"),
    "open": record(OPEN, comm=b"cat", filename=b"/etc/shadow\0", open_flags=0o100101),
    "open-no-filename": record(OPEN, flags=NO_FILENAME),
    "open-file": record(OPEN, filename=b"../../etc//shadow\0", exe=b"/etc/shadow", ret=3,
                        flags=PATH_FILE),
    "open-dir": record(OPEN, filename=b"./a/../../b\0", exe=b"/tmp/caf\xe9", ret=-2,
                       flags=PATH_DIR),
    "open-by-handle": record(OPEN, exe=b"/x", ret=4, flags=PATH_FILE | NO_PATH_ARG),
    "open-uring-deleted": record(OPEN, filename=b"/tmp\0", exe=b"/tmp/#1", ret=5,
                                 flags=PATH_FILE | DELETED | IO_URING),
    "open-relative-dots": record(OPEN, filename=b"../..\0", ret=-13, flags=COMPAT),
    "open-trunc": record(OPEN, filename=b"/" + b"a" * 200, flags=TRUNC_FILENAME),
    "connect-v4": record(CONNECT, family=socket.AF_INET, port=4444, addr=bytes([10, 0, 0, 1])),
    "connect-udp-datagram": record(CONNECT, family=socket.AF_INET, port=53, proto=17,
                                   addr=bytes([8, 8, 8, 8]), flags=DATAGRAM | IO_URING),
    "connect-v6": record(CONNECT, family=socket.AF_INET6, port=443, addr=v6("2001:db8::1")),
    "connect-v6-mapped": record(CONNECT, family=socket.AF_INET6, port=80, addr=v6("::ffff:1.2.3.4")),
    "connect-v6-compat": record(CONNECT, family=socket.AF_INET6, port=80, addr=v6("::1.2.3.4")),
    "connect-v6-loopback": record(CONNECT, family=socket.AF_INET6, port=22, addr=v6("::1")),
    "connect-v6-runs": record(CONNECT, family=socket.AF_INET6, port=1, addr=v6("1:0:0:2:0:0:0:3")),
    "exit": record(EXIT, comm=b"sleep"),
    "exec-ext": exec_ext(b"/usr/bin/su\0", b"/usr/bin/su", b"su\0-\0", b"/home/u"),
    "exec-ext-no-loginuid": exec_ext(b"/bin/x\0", b"/bin/x", b"x\0", b"/" + b"d" * 300,
                                     loginuid=0xffffffff, tty=0, xflags=8 | 4 | 16),
    "exec-ext-bad-cwd-len": exec_ext(b"/bin/x\0", b"/bin/x", b"x\0", b"/", cwd_len=900),
    "memfd": record(MEMFD, comm=b"python3", filename=b"egmfd\0", open_flags=0x13, ret=4),
    "memfd-failed": record(MEMFD, filename=b"x\0", open_flags=0x4000, ret=-22, flags=COMPAT),
    "ptrace-attach": family(PTRACE, [16, 4300], comm=b"gdb", ret=0),
    "ptrace-failed": family(PTRACE, [4, 4194303], flags=COMPAT, ret=-3),
    "module-finit": family(MODULE, [0, 0, 0, 0, 0, 0, 0, 313], s1=b"/tmp/x.ko", flags=PATH_FILE,
                           ret=-38),
    "module-delete": family(MODULE, [0x800, 0, 0, 0, 0, 0, 0, 176], s2=b"snd\0", ret=-2),
    "bpf-prog-load": family(BPF, [5, 1], s2=b"eg_prog\0", ret=5),
    "setid-capset": family(SETID, [0, 0, 0, 1 << 21 | 1 << 40, 1 << 39, 0, 0, 126], ret=0),
    "namespace-setns": family(NAMESPACE, [0x04000000, 0, 0, 0, 0, 0, 0, 308], s1=b"uts:[4026531838]",
                              flags=PATH_FILE, ret=0),
    "mount-tmpfs": family(MOUNT, [0xC0ED0006, 0, 0, 0, 0, 0, 0, 165], s0=b"mnt\0", s1=b"/tmp",
                          s2=b"tmpfs\0", s3=b"tmpfs\0", flags=PATH_DIR, ret=0),
    "link-symlinkat": family(LINK, [0, 0, 0, 0, 0, 0, 0, 266], s0=b"../l\0", s1=b"/tmp/d",
                             s2=b"/etc/shadow\0", flags=PATH_DIR, ret=0),
    "rename-two-dirs": family(RENAME, [1, 0, 0, 0, 0, 0, 0, 316], s0=b"a/./b\0", s1=b"/var/log",
                              s2=b"../c\0", s3=b"/tmp", flags=PATH_DIR | PATH2_DIR, ret=-17),
    "unlink-trunc": family(UNLINK, [0x200, 0, 0, 0, 0, 0, 0, 263], s0=b"/" + b"a" * 100,
                           flags=TRUNC_FILENAME, ret=0),
    "chmod-suid": family(CHMOD, [0o4755, 0, 0, 0, 0, 0, 0, 90], s0=b"/tmp/x\0", ret=0),
    "chmod-fd-deleted": family(CHMOD, [0o2755, 1, 1, 0, 0, 0, 0, 91], s1=b"/tmp/y",
                               flags=PATH_FILE | DELETED, ret=0),
    "dup-socket": family(DUP, [3, 0, 1, 0, 0, 0, 0, 33], family=socket.AF_INET, port=4444,
                         addr=bytes([10, 0, 0, 1]), ret=0),
    "listen-v6": family(LISTEN, [8080, 128, 1, 0, 0, 0, 0, 50],
                        s2=local_addr(socket.AF_INET6, v6("::1")), flags=LOCAL_ADDR, ret=0),
    "accept-v4": family(ACCEPT, [22, 0, 1, 0, 0, 0, 0, 288],
                        s2=local_addr(socket.AF_INET, bytes([127, 0, 0, 1])), flags=LOCAL_ADDR,
                        family=socket.AF_INET, port=50000, addr=bytes([127, 0, 0, 1]), ret=4),
    "accept-short-addr": family(ACCEPT, [22], s2=b"\1\2", flags=LOCAL_ADDR, ret=4),
    "ptrace-short-args": record(PTRACE, flags=ARGS)[:96] + b"\0" * 8,
    "fork": record(FORK, comm=b"bash", pid=4300, tgid=4300, open_flags=4242),
    "bad-short": record(EXEC)[:40],
    "bad-type": record(25, filename=b"/x\0"),
    "bad-lengths": record(EXEC, filename=b"/x\0", lens=(3, 65535, 0)),
}

# ---- fuzz_json input: numbers, then 2-byte-length strings; then the process
# context: which of proc, ctr, host are given (bits 0..2), loginuid, the
# enum eg_proc_flags, parent tgid, ancestor count, then its strings
SEEDED, ARGS_TRUNC, SETUID, SETGID, LD_PRELOAD, LD_LIBRARY_PATH = 1, 2, 4, 8, 16, 32
EXE_DELETED, FORKED, UNKNOWN = 64, 128, 256


def str16(s):
    return struct.pack("<H", len(s)) + s


def ctx(which=7, loginuid=-1, flags=0, ptgid=0, ancestors=(), exec_id=b"", cwd=b"", tty=b"",
        pexec_id=b"", pcomm=b"", pexe=b"", pargs=b"", cid=b"", runtime=b"", pod=b"",
        cgroup=b"", hostname=b"", host_id=b""):
    head = struct.pack("<BiHIB", which, loginuid, flags, ptgid, len(ancestors))
    anc = list(ancestors) + [(b"", b"")] * (5 - len(ancestors))
    strs = [exec_id, cwd, tty, pexec_id, pcomm, pexe, pargs]
    strs += [x for a in anc for x in a] + [cid, runtime, pod, cgroup, hostname, host_id]
    return head + b"".join(str16(s) for s in strs)


def jseed(ts, type_, bits, comm=b"", filename=b"", ip=b"", exe=b"", args=b"", rid=b"rule",
          desc=b"desc", odesc=b"", sev=b"", tag=b"", port=0, open_flags=0, context=b""):
    head = struct.pack("<qIIIIIQIHBB", ts, 4242, 4241, 1, 0, 0, 18446744073709551615,
                       open_flags, port, type_, bits)
    body = b"".join(str16(s) for s in (comm, filename, ip, exe, args, rid, desc, odesc, sev, tag))
    return head + body + context


FULL_CTX = dict(
    loginuid=1000, ptgid=4240, exec_id=b"d2ViLTE6NDI0MToxMjM=", cwd=b"/home/u/caf\xe9\n",
    tty=b"pts/0", pexec_id=b"d2ViLTE6NDI0MDox", pcomm=b"sshd", pexe=b"/usr/sbin/sshd",
    pargs=b"sshd: u@pts/0\0-D\0",
    ancestors=[(b"sshd", b"/usr/sbin/sshd"), (b"systemd", b"/usr/lib/systemd/systemd"),
               (b"\x80\"q\"", b"/x\\y"), (b"", b""), (b"init", b"/sbin/init")],
    cid=b"0123456789abcdef" * 4, runtime=b"docker", pod=b"d0c4f2a1-5b6e-4c3d-9e8f-7a6b5c4d3e2f",
    cgroup=b"/system.slice/docker-0123456789abcdef.scope", hostname=b"web-1",
    host_id=b"0123456789abcdef0123456789abcdef")


JSON = {
    "exec": jseed(1735732800 * 10**9, EXEC, 0, b"bash", b"/dev/shm/.x", b"", b"/bin/bash",
                  b"bash\0-c\0id\0", b"builtin_fileless_exec", b"Fileless", sev=b"critical",
                  tag=b"T1620"),
    "exec-memfd-trunc": jseed(1, EXEC, 3, b"x", b"memfd:x", exe=b"/memfd:x (deleted)", args=b"x"),
    "open-bytes": jseed(-1, OPEN, 1, b"\x7f\x01\n\t", b"/tmp/caf\xe9.txt\xc3\xa9\xed\xa0\x80\xf4\x90\x80\x80",
                        open_flags=0o1101),
    "connect-desc": jseed(1735732800123456789, CONNECT, 4, b"nc", b"connect", b"2001:db8::1",
                          port=4444, odesc=b"dynamic \"quoted\" \\ \xf0\x9f\x98\x80"),
    # the writer's earliest and latest times replay (src/replay.c refused them)
    "repro-ts-int64-min": jseed(-(2**63), EXIT, 0, rid=b"\x01id", sev=b"warning"),
    "repro-ts-int64-max": jseed(2**63 - 1, OPEN, 0),
    "unknown-type": jseed(2**63 - 1, 5, 0),
    "long": jseed(0, EXEC, 0, filename=(b"\xe2\x82\xac" * 1400) + b"\xe2\x82", args=b"\0" * 5),
    # the process context: full on each type, the context names, none given
    "ctx-exec-full": jseed(1735732800 * 10**9, EXEC, 0, b"curl", b"/usr/bin/curl", b"",
                           b"/usr/bin/curl", b"curl\0-s\0", sev=b"critical",
                           context=ctx(flags=SETUID | LD_PRELOAD, **FULL_CTX)),
    "ctx-open-forked": jseed(1, OPEN, 0, b"cat", b"/etc/shadow", exe=b"/bin/cat",
                             args=b"cat\0/etc/shadow",
                             context=ctx(flags=FORKED | SETGID, **FULL_CTX)),
    "ctx-connect-procfs": jseed(2, CONNECT, 0, b"nc", b"connect", b"10.0.0.1", b"/bin/nc",
                                b"nc", port=4444, context=ctx(which=3, flags=SEEDED,
                                                               **FULL_CTX)),
    "ctx-exit-unknown": jseed(3, EXIT, 0, b"sh", context=ctx(which=5, flags=UNKNOWN | SEEDED,
                                                            loginuid=-2**31)),
    "ctx-none-given": jseed(4, EXEC, 0, b"sh", context=ctx(which=0, **FULL_CTX)),
}


def write(dirname, seeds):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name + ".bin"), "wb") as f:
            f.write(data)


write("record", RECORDS)
write("json", JSON)
