#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# EBPF_GUARD_RINGBUF_KB: a power of two from one page to 1 GiB (in KiB) sets
# the ring size (ebpf_guard_ringbuf_size_bytes); empty is the default 16 MiB;
# anything else is refused with one clear line and exit 1, before any probe
# is attached.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
command -v curl >/dev/null || skip "curl not installed"
page_kb=$(($(getconf PAGESIZE) / 1024))

for v in 0 -1 abc 3 12 8x 8k ' 8' 8.0 +8 0x10 $((page_kb / 2)) 2097152 4294967296 99999999999999999999999; do
	rc=0
	EBPF_GUARD_RINGBUF_KB=$v timeout -k 1 3 "$EG_BIN" -alert-file "$W/x.jsonl" -prom-addr '' \
		>"$W/bad.out" 2>"$W/bad.err" || rc=$?
	[ "$rc" != 124 ] || fail "EBPF_GUARD_RINGBUF_KB='$v': accepted, the daemon ran ($(grep -v '^\[ALERT\]' "$W/bad.err"))"
	[ "$rc" = 1 ] || fail "EBPF_GUARD_RINGBUF_KB='$v': exit $rc, want 1 ($(cat "$W/bad.err"))"
	want="ebpf-guard: EBPF_GUARD_RINGBUF_KB=$v is not valid: want the ring size in KiB, a power of two from $page_kb to 1048576"
	grep -qxF -- "$want" "$W/bad.err" || fail "EBPF_GUARD_RINGBUF_KB='$v': want the line '$want', got: $(cat "$W/bad.err")"
	grep -q 'attached' "$W/bad.err" && fail "EBPF_GUARD_RINGBUF_KB='$v': probes were attached"
	echo "'$v': refused"
done

for pair in "$page_kb=$((page_kb * 1024))" "64=65536" "0016=16384" "=16777216"; do
	EBPF_GUARD_RINGBUF_KB=${pair%%=*} e2e_start
	got=$(metric ebpf_guard_ringbuf_size_bytes)
	[ "$got" = "${pair#*=}" ] || fail "EBPF_GUARD_RINGBUF_KB='${pair%%=*}': ring of $got bytes, want ${pair#*=}"
	grep -q 'EBPF_GUARD_RINGBUF_KB' "$W/stderr" && fail "EBPF_GUARD_RINGBUF_KB='${pair%%=*}': $(grep EBPF_GUARD_RINGBUF_KB "$W/stderr")"
	e2e_stop
	echo "'${pair%%=*}': a ring of $got bytes"
done
echo "PASS ($EG_NAME)"
