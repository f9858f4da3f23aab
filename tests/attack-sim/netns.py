#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs one technique of the attack simulation (sim.py) in a private network
namespace: sim.py starts it under `unshare -n` and writes on its stdin, as
JSON, [addresses, listeners, argv, timeout]. It brings lo up, adds each
address to lo, starts an HTTP-ish TCP listener on each [address, port], runs
argv and exits with its status. The namespace, its addresses and listeners
go with this process; the host's network is never touched. (The set-up is
read from stdin so that the technique's command line is not in this
process's arguments, where the rules would see it too.)
"""
import json
import socket
import subprocess
import sys
import threading

addrs, listen, argv, timeout = json.load(sys.stdin)
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
for a in addrs:
    subprocess.run(["ip", "addr", "add", a + "/32", "dev", "lo"], check=True)


def serve(s):
    while True:
        c, _ = s.accept()
        c.settimeout(2)
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        c.close()


for a, port in listen:
    s = socket.socket()
    s.bind((a, port))
    s.listen(8)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
sys.exit(subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=timeout).returncode)
