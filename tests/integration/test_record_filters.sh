#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -record's filters in replay mode (docs/operations.md, "Recording"): each
# filter alone and combined, trimming a recording to one process tree (a
# non-UTF-8 file name kept byte for byte), -record-max-size (whole lines,
# the stderr line, the metric), reopening on SIGUSR1 and SIGHUP (per-file
# cap, never through a symbolic link) and the usage errors.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

# A recording: sshd (200) -> bash (300) -> cat (301, opens a non-UTF-8 name,
# exits), a subshell (302, one open) -> curl (303); a thread of bash (305);
# nginx (400) -> sh (401, memfd); pid 301 reused under nginx after the exit;
# ls (501) under 500, a child of 300 with no event of its own; bash exits.
python3 - >"$W/raw.jsonl" <<'EOF'
import json
SSH, NGX, USR = "/system.slice/ssh.service", "/system.slice/nginx.service", \
    "/user.slice/user-1000.slice/session-1.scope"
evs = [
    ("exec", 200, 200, 1, "sshd", "/usr/sbin/sshd", SSH, {}),                    # 1
    ("connect", 200, 200, 1, "sshd", "", SSH, {"dest_ip": "10.0.0.9", "dest_port": 22}),  # 2
    ("exec", 300, 300, 200, "bash", "/usr/bin/bash", USR, {}),                    # 3
    ("open", 300, 300, 200, "bash", "/etc/profile", USR, {}),                     # 4
    ("exec", 301, 301, 300, "cat", "/usr/bin/cat", USR, {}),                      # 5
    ("open", 301, 301, 300, "cat", "/tmp/caf\udce9.txt", USR, {}),                # 6
    ("exit", 301, 301, 300, "cat", "", USR, {}),                                  # 7
    ("exec", 400, 400, 1, "nginx", "/usr/sbin/nginx", NGX, {}),                   # 8
    ("open", 302, 302, 300, "bash", "/tmp/x", USR, {"context": "fork"}),          # 9
    ("exec", 303, 303, 302, "curl", "/usr/bin/curl", USR, {}),                    # 10
    ("connect", 303, 303, 302, "curl", "", USR, {"dest_ip": "10.0.0.7", "dest_port": 443}),  # 11
    ("exec", 401, 401, 400, "sh", "/bin/sh", NGX, {}),                            # 12
    ("memfd", 401, 401, 400, "sh", "x", NGX, {"flags": "cloexec", "ret": 3}),     # 13
    ("exec", 301, 301, 400, "python3", "/usr/bin/python3", NGX, {}),              # 14
    ("open", 305, 300, 200, "bash", "/etc/hosts", USR, {}),                       # 15
    ("exec", 501, 501, 500, "ls", "/usr/bin/ls", USR, {}),                        # 16
    ("exit", 300, 300, 200, "bash", "", USR, {}),                                 # 17
]
for i, (t, pid, tgid, ppid, comm, fn, cg, extra) in enumerate(evs):
    e = {"timestamp": "2025-01-01T12:00:%02dZ" % i, "type": t, "pid": pid, "tgid": tgid,
         "ppid": ppid, "comm": comm, "filename": fn, "dest_ip": "", "dest_port": 0,
         "cgroup": cg, "parent": {"tgid": ppid}}
    e.update(extra)
    print(json.dumps(e))  # the lone surrogate is written as \udce9
EOF
B=("$EG_BIN" -alert-file /dev/null -prom-addr '')
# The recording as the daemon writes it (-record with no filter writes all).
"${B[@]}" -replay "$W/raw.jsonl" -record "$W/rec.jsonl" >/dev/null 2>"$W/err" || fail "recording: $(cat "$W/err")"
[ "$(wc -l <"$W/rec.jsonl")" = 17 ] || fail "the recording has $(wc -l <"$W/rec.jsonl") lines, want 17"
grep -qF 'caf\udce9.txt' "$W/rec.jsonl" || fail "no \\udce9 escape in the recording"

# sel N...: those lines of the recording, in order.
sel() {
	local n
	for n in "$@"; do sed -n "${n}p" "$W/rec.jsonl"; done
}
# trim <want lines> <flags...>: replays the recording with -record and the
# flags; the output holds exactly those lines of it, byte for byte.
trim() {
	local want=$1
	shift
	rm -f "$W/out.jsonl"
	"${B[@]}" -replay "$W/rec.jsonl" -record "$W/out.jsonl" "$@" >/dev/null 2>"$W/err" ||
		fail "$*: exit $?: $(cat "$W/err")"
	# shellcheck disable=SC2086
	sel $want >"$W/want.jsonl"
	touch "$W/out.jsonl"
	cmp -s "$W/want.jsonl" "$W/out.jsonl" ||
		fail "$*: recorded lines $(python3 - "$W/rec.jsonl" "$W/out.jsonl" <<'EOF'
import sys
rec = open(sys.argv[1], "rb").read().splitlines()
out = open(sys.argv[2], "rb").read().splitlines()
print(" ".join(str(rec.index(l) + 1) if l in rec else "?" for l in out))
EOF
), want $want"
}

trim "$(seq -s ' ' 17)"
trim "1 2 3 5 8 10 11 12 14 16" -record-types exec,connect
trim "1 2 3 5 8 10 11 12 14 16" -record-types exec -record-types connect
trim "3 4 5 6 7 9 10 11 15 17" -record-pid 300
trim "8 12 13 14" -record-pid 400
trim "4 6 9 15" -record-pid 300 -record-types open
trim "3 4 9 12 13 15 17" -record-comm '^(sh|bash)$'
trim "3 4 9 12 13 15 17" -record-comm '^sh$' --record-comm=^bash$
trim "1 2 8 12 13 14" -record-cgroup /system.slice/
trim "3 4 5 6 7 8 9 10 11 12 13 14 15 16 17" -record-cgroup /system.slice/nginx -record-cgroup /user.slice/
trim "1 2 12 13" -record-pid 400 -record-pid 200 -record-comm '^s'
trim "12 13" -record-pid 400 -record-comm '^s' -record-cgroup /system.slice/nginx.service -record-types exec,memfd
trim "" -record-pid 999
# The non-UTF-8 name survives the trim byte for byte: \udce9 is the byte 0xe9.
trim "6" -record-pid 301 -record-types open
grep -qF '"filename":"/tmp/caf\udce9.txt"' "$W/out.jsonl" || fail "escape changed: $(cat "$W/out.jsonl")"
"${B[@]}" -replay "$W/out.jsonl" -config "$EG_SOURCE_DIR/spec/fixtures/empty.yaml" 2>/dev/null >/dev/null ||
	fail "the trimmed recording does not replay"

# The documented trim command, with the filters not recording anything
# extra for events the rules see (alerts are unchanged by the filters).
"$EG_BIN" -replay "$W/rec.jsonl" -alert-file "$W/a1.jsonl" -prom-addr '' 2>/dev/null >/dev/null
"$EG_BIN" -replay "$W/rec.jsonl" -record "$W/small.jsonl" -record-pid 300 \
	-alert-file "$W/a2.jsonl" -prom-addr '' 2>/dev/null >/dev/null
cmp -s "$W/a1.jsonl" "$W/a2.jsonl" || fail "the filters changed the alerts"
[ -s "$W/a1.jsonl" ] || fail "no alert from the recording"
sel 3 4 5 6 7 9 10 11 15 17 | cmp -s - "$W/small.jsonl" || fail "trim command: wrong lines"

# ---- -record-max-size: 1 MiB; events ~700 bytes each ---------------------
python3 - >"$W/big.jsonl" <<'EOF'
import json
for i in range(2000):
    print(json.dumps({"timestamp": "2025-01-01T12:00:00Z", "type": "exec", "pid": 1000 + i,
                      "tgid": 1000 + i, "ppid": 1, "comm": "x", "filename": "/bin/true",
                      "dest_ip": "", "dest_port": 0, "args": ["a" * (i % 300)]}))
EOF
"${B[@]}" -replay "$W/big.jsonl" -record "$W/big.rec" 2>/dev/null >/dev/null
# fits: how many whole lines of the full recording fit in 1 MiB
fits=$(awk '{ n += length($0) + 1; if (n > 1048576) exit; k++ } END { print k }' "$W/big.rec")
[ "$fits" -lt 2000 ] || fail "the big recording fits in 1 MiB: make it bigger"
skipped=$((2000 - fits))

eg_start -record "$W/capped.jsonl" -record-max-size 1 -alert-file /dev/null
cat "$W/big.jsonl" >&3
wait_metric 'ebpf_guard_record_events_skipped_total{reason="size"}' "$skipped"
[ "$(metric 'ebpf_guard_record_events_skipped_total{reason="filter"}')" = 0 ] ||
	fail "filter skips without a filter"
eg_finish
head -n "$fits" "$W/big.rec" | cmp -s - "$W/capped.jsonl" || fail "capped file is not the first $fits lines"
[ "$(stat -c %s "$W/capped.jsonl")" -le 1048576 ] || fail "capped file past 1 MiB"
want="ebpf-guard: record file $W/capped.jsonl reached -record-max-size (1 MiB): $skipped events not written to it"
[ "$(grep -c 'record-max-size' "$W/stderr")" = 1 ] || fail "want one -record-max-size line"
grep -qxF "$want" "$W/stderr" || fail "stderr lacks: $want"

# A file already near the cap: the cap counts what is in it.
head -c 1048400 /dev/zero | tr '\0' 'x' >"$W/near.jsonl"
"${B[@]}" -replay "$W/big.jsonl" -record "$W/near.jsonl" -record-max-size 1 2>"$W/err" >/dev/null
[ "$(stat -c %s "$W/near.jsonl")" = 1048400 ] || fail "an event went into a full file"
grep -qxF "ebpf-guard: record file $W/near.jsonl reached -record-max-size (1 MiB): 2000 events not written to it" \
	"$W/err" || fail "near-full: $(cat "$W/err")"

# ---- filter metric --------------------------------------------------------
rm -f "$W/in"
eg_start -record "$W/f.jsonl" -record-types connect -alert-file /dev/null
cat "$W/rec.jsonl" >&3
wait_metric 'ebpf_guard_record_events_skipped_total{reason="filter"}' 15
eg_finish
[ "$(wc -l <"$W/f.jsonl")" = 2 ] || fail "-record-types connect: $(wc -l <"$W/f.jsonl") lines"

# ---- reopen: SIGUSR1 and SIGHUP, each file with its own cap ---------------
rm -f "$W/in"
r=$W/rot.jsonl
eg_start -record "$r" -record-max-size 1 -alert-file /dev/null
head -n 1000 "$W/big.jsonl" >&3
wait_lines "$r" 1000
mv "$r" "$r.1"
kill -USR1 "$EG_PID"
# the second file: a new cap of its own; the first file got no more lines
for _ in $(seq 100); do [ -e "$r" ] && break; sleep 0.05; done
[ -e "$r" ] || fail "SIGUSR1 did not create the record file again"
tail -n 1000 "$W/big.jsonl" >&3
wait_lines "$r" 1000
mv "$r" "$r.2"
ln -s "$W/elsewhere" "$r"
kill -HUP "$EG_PID"
wait_grep -F "failed to reopen record file" ||
	fail "no reopen failure for a symbolic link"
grep -qxF "ebpf-guard: failed to reopen record file $r: it is a symbolic link (to $W/elsewhere): refusing to follow it" \
	"$W/stderr" || fail "symlink message: $(grep reopen "$W/stderr")"
# still writing to the file it has open: the second one, up to its cap
cat "$W/big.jsonl" >&3
eg_finish
[ ! -e "$W/elsewhere" ] || fail "wrote through the symbolic link"
[ "$(wc -l <"$r.1")" = 1000 ] || fail "first file: $(wc -l <"$r.1") lines"
head -n 1000 "$W/big.rec" | cmp -s - "$r.1" || fail "first file: wrong lines"
# second: the last 1000 events, then the whole big file up to 1 MiB
{ tail -n 1000 "$W/big.rec"; cat "$W/big.rec"; } >"$W/both.rec"
awk '{ n += length($0) + 1; if (n > 1048576) exit; print }' "$W/both.rec" | cmp -s - "$r.2" ||
	fail "second file: not the lines that fit in 1 MiB"
n2=$(wc -l <"$r.2")
grep -qxF "ebpf-guard: record file $r reached -record-max-size (1 MiB): $((3000 - n2)) events not written to it" \
	"$W/stderr" || fail "second file's cap line: $(grep max-size "$W/stderr")"
[ "$(grep -c 'record-max-size' "$W/stderr")" = 1 ] || fail "first file was not full: no cap line for it"

# ---- usage errors ---------------------------------------------------------
R=(-replay /dev/null -record "$W/u.jsonl")
expect_usage_error 'ebpf-guard: -record-types: unknown event type "exce" (did you mean "exec"?)' \
	"${R[@]}" -record-types open,exce
expect_usage_error 'ebpf-guard: -record-types: unknown event type "frobnicate" (expected one of exec, open, connect, exit, memfd, ptrace, module, bpf, setid, namespace, mount, link, rename, unlink, chmod, dup, listen, accept)' \
	"${R[@]}" -record-types frobnicate
expect_usage_error 'ebpf-guard: -record-types: empty event type name in "exec,,open"' \
	"${R[@]}" -record-types exec,,open
expect_usage_error 'ebpf-guard: -record-types needs a comma-separated list of event types' \
	"${R[@]}" -record-types ''
expect_usage_error "ebpf-guard: invalid -record-pid 'abc': expected a process id 1..4294967295" \
	"${R[@]}" -record-pid abc
expect_usage_error "ebpf-guard: invalid -record-pid '0': expected a process id 1..4294967295" \
	"${R[@]}" -record-pid 0
expect_usage_error "ebpf-guard: invalid -record-comm '(x': missing closing parenthesis at offset 2" \
	"${R[@]}" -record-comm '(x'
expect_usage_error 'ebpf-guard: -record-comm needs a regular expression' "${R[@]}" -record-comm=
expect_usage_error 'ebpf-guard: -record-cgroup needs a cgroup path prefix' "${R[@]}" -record-cgroup ''
expect_usage_error "ebpf-guard: invalid -record-max-size '0': expected 1..1048576 (MiB)" \
	"${R[@]}" -record-max-size 0
expect_usage_error "ebpf-guard: invalid -record-max-size '1.5': expected 1..1048576 (MiB)" \
	"${R[@]}" -record-max-size 1.5
expect_usage_error 'ebpf-guard: -record-pid only applies to -record' -replay /dev/null -record-pid 1
expect_usage_error 'ebpf-guard: -record-max-size only applies to -record' -replay /dev/null --record-max-size=5
expect_usage_error 'ebpf-guard: flag needs a value: -record-pid' "${R[@]}" -record-pid
[ ! -e "$W/u.jsonl" ] || fail "a usage error created the record file"
echo "PASS: $EG_NAME"
