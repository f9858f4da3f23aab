#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The engine's prefilter (src/prefilter.c), as the daemon shows it. With the
# stock set (37 rules on opens), an open no rule can match reaches the daemon
# (a library read, a failed open: the kernel keeps neither here, in replay),
# raises nothing and is counted in
# ebpf_guard_events_prefiltered_total{type="open"}; opens some rule wants (a
# read of /etc/shadow, of an SSH key, a write by curl) are not counted, and
# the first two raise their alerts. Every open is in ebpf_guard_events_total.
# With the reference's example rules (no rule on opens) the filter does not
# run and the count stays 0.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

op() { # op <pid> <comm> <filename> <ret> <open_flags>
	printf '{"timestamp":"2025-01-01T12:00:00Z","pid":%s,"tgid":%s,"type":"open","comm":"%s","filename":"%s","ret":%s,"open_flags":%s}' \
		"$1" "$1" "$2" "$3" "$4" "$5"
}
send_opens() {
	eg_send "$(op 201 cat /usr/lib/x86_64-linux-gnu/libc.so.6 3 0)" \
		"$(op 202 cat /nonexistent/file -2 0)" \
		"$(op 203 cat /etc/shadow 3 0)" \
		"$(op 204 cat /home/alice/.ssh/id_rsa 3 0)" \
		"$(op 205 curl /usr/lib/x 3 577)"
}

eg_start -config "$EG_SOURCE_DIR/rules" -alert-file "$W/alerts.jsonl"
[ "$(metric 'ebpf_guard_events_prefiltered_total{type="open"}')" = 0 ] ||
	fail "ebpf_guard_events_prefiltered_total{type=\"open\"} is not 0 at start"
send_opens
wait_metric 'ebpf_guard_events_total{type="open"}' 5
wait_metric 'ebpf_guard_events_prefiltered_total{type="open"}' 2
scrape >"$W/scrape.txt" || fail "scrape failed"
grep -qxF '# TYPE ebpf_guard_events_prefiltered_total counter' "$W/scrape.txt" ||
	fail "no TYPE line for ebpf_guard_events_prefiltered_total"
eg_finish
got=$(rule_counts "$W/alerts.jsonl" | tr '\n' ';')
[ "$got" = "credential_file_read 1;ssh_private_key_read 1;" ] ||
	fail "the stock set's alerts: got '$got'"

# the reference's example rules: no rule on opens, no filter
rm -f "$W/in" "$W/alerts.jsonl"
eg_start -config "$EG_SOURCE_DIR/examples/rules.example.yaml" -alert-file "$W/alerts.jsonl"
send_opens
wait_metric 'ebpf_guard_events_total{type="open"}' 5
[ "$(metric 'ebpf_guard_events_prefiltered_total{type="open"}')" = 0 ] ||
	fail "the example rules: ebpf_guard_events_prefiltered_total{type=\"open\"} is not 0"
eg_finish
echo "ok ($EG_NAME)"
