#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest: alone (sets fs.protected_symlinks and fs.protected_hardlinks host-wide)
# Output files and links planted by another user (docs/operations.md,
# "Hardening"). In a sticky world-writable directory, with
# fs.protected_symlinks and fs.protected_hardlinks set to 0 for the test (and
# restored after), nobody plants
#   - a symbolic link where the alert file goes, then where the -record file
#     goes: the daemon refuses to start, naming the link, and the root-owned
#     file it points to is untouched (before: root appended alerts to it);
#   - a hard link to a root-owned file: refused the same way;
#   - a symbolic link where a rotated alert file is reopened (SIGUSR1), and
#     again once the old file is removed: the daemon keeps writing where it
#     was, says why, and the target is untouched.
. "$(dirname "$0")/daemon_lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (sysctl fs.protected_symlinks, files owned by nobody)"
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
eg_init 60

SYM=/proc/sys/fs/protected_symlinks
HARD=/proc/sys/fs/protected_hardlinks
old_sym=$(cat "$SYM")
old_hard=$(cat "$HARD")
restore_sysctls() {
	echo "$old_sym" >"$SYM"
	echo "$old_hard" >"$HARD"
}
trap 'st=$?; restore_sysctls; (exit $st); eg_cleanup' EXIT
echo 0 >"$SYM"
echo 0 >"$HARD"

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

chmod 0755 "$W"
mkdir -m 0700 "$W/secret" && mkdir -m 0755 "$W/shared"
printf 'root:precious\n' >"$W/secret/target"
printf 'root:victim\n' >"$W/shared/victim"
D=$W/pub
mkdir "$D" && chmod 1777 "$D"
fingerprint() { stat -c '%s %Y' "$1"; sha256sum <"$1"; }
t0=$(fingerprint "$W/secret/target")
v0=$(fingerprint "$W/shared/victim")
untouched() {
	[ "$(fingerprint "$W/secret/target")" = "$t0" ] || fail "$W/secret/target was written: $(cat "$W/secret/target")"
	[ "$(fingerprint "$W/shared/victim")" = "$v0" ] || fail "$W/shared/victim was written: $(cat "$W/shared/victim")"
}
ev exec 1 bash /bin/bash >"$W/events.jsonl"
echo >>"$W/events.jsonl"

# expect_refusal <expected stderr line> <flags...>
expect_refusal() {
	local want=$1 rc=0
	shift
	"$EG_BIN" -replay "$W/events.jsonl" "$@" >"$W/out" 2>"$W/err" || rc=$?
	[ "$rc" = 1 ] || fail "exit $rc, want 1, with $*: $(cat "$W/err")"
	[ "$(grep -v '^ebpf-guard: no -config given' "$W/err")" = "$want" ] ||
		fail "stderr with $*: '$(cat "$W/err")', want '$want'"
	untouched
}

nobody ln -s "$W/secret/target" "$D/alerts.jsonl"
expect_refusal "ebpf-guard: failed to open alert file $D/alerts.jsonl: it is a symbolic link (to $W/secret/target): refusing to follow it" \
	-alert-file "$D/alerts.jsonl"

nobody ln -s "$W/secret/target" "$D/rec.jsonl"
expect_refusal "ebpf-guard: failed to open record file $D/rec.jsonl: it is a symbolic link (to $W/secret/target): refusing to follow it" \
	-alert-file "$W/ok.jsonl" -record "$D/rec.jsonl"

nobody ln "$W/shared/victim" "$D/hard.jsonl"
expect_refusal "ebpf-guard: failed to open alert file $D/hard.jsonl: it has 2 hard links (other names of the same file): refusing to write to it" \
	-alert-file "$D/hard.jsonl"
echo "refused: symbolic link as alert file and as record file, hard link"

# Rotation: the file is renamed, nobody plants a link under its name, SIGUSR1.
eg_start -alert-file "$D/live.jsonl"
eg_send "$(ev exec 1 bash /bin/bash)"
wait_lines "$D/live.jsonl" 1
mv "$D/live.jsonl" "$D/live.jsonl.1"
nobody ln -s "$W/secret/target" "$D/live.jsonl"
kill -USR1 "$EG_PID"
wait_grep -qxF "ebpf-guard: failed to reopen alert file $D/live.jsonl: it is a symbolic link (to $W/secret/target): refusing to follow it" ||
	fail "no refusal on reopen"
eg_send "$(ev exec 2 bash /bin/bash)"
wait_lines "$D/live.jsonl.1" 2
untouched
# The file it writes to is removed: it is created again by path, but not
# through the link.
rm "$D/live.jsonl.1"
eg_send "$(ev exec 3 bash /bin/bash)"
sleep 0.5
untouched
eg_finish
untouched
echo "reopen refused the link; $W/secret/target untouched"
echo "PASS ($EG_NAME)"
