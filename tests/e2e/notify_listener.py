# SPDX-License-Identifier: MIT
# A stand-in for systemd's notification socket (sd_notify(3)), for
# test_notify.sh: binds an AF_UNIX datagram socket, and for each message
# prints one JSON line to stdout: the message, the monotonic time in ms,
# the sender's pid (SCM_CREDENTIALS), and, for READY=1, what the sender's
# stderr file (argv[2]) and /proc/PID/status showed at that moment.
#   python3 notify_listener.py SOCKET_PATH DAEMON_STDERR_FILE
import json, os, socket, struct, sys, time

path, stderr_file = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, typ, val in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", val[:12])[0]
    rec = {"msg": data.decode(), "ms": time.monotonic() * 1000, "pid": pid}
    if "READY=1" in rec["msg"].split("\n"):
        try:
            rec["attached_line"] = any(
                l.startswith("ebpf-guard: attached ") for l in open(stderr_file, encoding="utf-8"))
            status = open("/proc/%d/status" % pid).read()
            rec["seccomp"] = [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")][0]
        except OSError as e:
            rec["error"] = str(e)
    print(json.dumps(rec), flush=True)
