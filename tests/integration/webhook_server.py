#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A webhook receiver for tests/integration/test_webhook.sh: listens on
# 127.0.0.1 (port picked by the kernel, written to PORTFILE), answers each
# POST with the next status of STATUSES (comma-separated; the last one
# repeats), after DELAY seconds, and appends one JSON line per request to LOG:
# {"n":..,"path":..,"status":..,"headers":{..},"body":<the body as text>}.
# With CERT and KEY (PEM files) in the environment it speaks HTTPS.
#   webhook_server.py PORTFILE LOG STATUSES [DELAY] [marker...]
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time

portfile, log, statuses = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # the head and the body are two writes: without this, Nagle and the
        # client's delayed ACK hold each answer up 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with lock:
            i = count[0]
            count[0] += 1
        status = statuses[min(i, len(statuses) - 1)]
        if delay:
            time.sleep(delay)
        rec = {"n": i, "path": self.path, "status": status,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "surrogateescape")}
        with lock, open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        reply = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
if os.environ.get("CERT"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["CERT"], os.environ["KEY"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
