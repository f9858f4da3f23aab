#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A benign workload for the noise measurement of the stock rules
# (docs/detection.md, Noise): what a build and development machine does.
# Run by tests/noise/record.sh under a live daemon that records this
# script's process tree; every file it makes is under $WORK, removed at
# the end. Usage: workload.sh SOURCE_DIR WORK_DIR
set -u
SRC=$1
WORK=$2
mkdir -p "$WORK"
cd "$WORK" || exit 1

step() { echo "workload: $*" >&2; }

step "git: clone, log, status, diff, branch, commit"
git clone -q "$SRC" repo
cd repo
git log --oneline -20 >/dev/null
git status >/dev/null
git diff HEAD~3 --stat >/dev/null
git checkout -q -b noise-work
echo "# local note" >>README.md
git -c user.name=n -c user.email=n@example.org commit -qam "a local change"
git grep -n "eg_engine_run" >/dev/null
cd "$WORK"

step "build this project (configure, compile, link)"
cmake -S repo -B repo/build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null 2>&1
cmake --build repo/build -j2 >/dev/null 2>&1

step "run its C tests and a replay"
ctest --test-dir repo/build -L '^c$' -j2 >/dev/null 2>&1
repo/build/ebpf-guard -replay repo/spec/fixtures/reference.jsonl -config repo/rules -alert-file /dev/null \
  -prom-addr '' >/dev/null 2>&1

step "a small C program with make: edit, build, run, clean"
mkdir -p hello && cd hello
cat >hello.c <<'C'
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
C
printf 'all: hello\nhello: hello.c\n\tcc -O2 -o $@ $<\nclean:\n\trm -f hello\n' >Makefile
make -s && ./hello >/dev/null && make -s clean && make -s
cd "$WORK"

step "package queries"
dpkg -l >/dev/null
dpkg -S /usr/bin/ls >/dev/null
apt-cache policy bash >/dev/null
apt-cache depends curl >/dev/null

step "a web server serving requests"
python3 -m http.server 18099 --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:18099/ && break; sleep 0.1; done
for i in $(seq 1 30); do curl -s -o /dev/null "http://127.0.0.1:18099/hello/hello.c?i=$i"; done
kill "$srv"; wait "$srv" 2>/dev/null

step "an interactive shell session in tmux"
sock=$WORK/tmux.sock
tmux -S "$sock" new-session -d -s noise -x 120 -y 40 "bash --norc -i"
for cmd in "cd $WORK/repo" "ls -la" "git log --oneline -3" "grep -rn TODO src | head -3" \
  "vim -es -c 'normal Gonew line' -c wq notes.txt" "cat notes.txt" "less README.md <<<q >/dev/null" \
  "ps aux | head -5" "df -h" "free -m" "uptime" "history | tail -3" "exit"; do
  tmux -S "$sock" send-keys -t noise "$cmd" Enter
  sleep 0.3
done
tmux -S "$sock" kill-server 2>/dev/null

step "cron-like periodic jobs"
for i in $(seq 1 20); do
  sh -c 'date >/dev/null; df -P / >/dev/null; find /tmp -maxdepth 1 -mmin +600 -name "noise-*" >/dev/null; logger -t noise-job "tick" 2>/dev/null || true'
  sleep 0.2
done

step "python and a virtualenv-style tool run"
python3 -c 'import json, hashlib; print(hashlib.sha256(json.dumps({"a": 1}).encode()).hexdigest())' >/dev/null
python3 - <<'PY'
import subprocess, os
subprocess.run(["ls", "-l", os.getcwd()], stdout=subprocess.DEVNULL)
PY

step "done"
cd /
rm -rf "$WORK"
