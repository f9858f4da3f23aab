#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGINT stops the daemon like SIGTERM: exit 0 within 2 s, and the exec, open
# and connect made just before the signal are drained, processed, written
# (alerts) and recorded. The daemon runs in the background of a
# non-interactive shell, which starts it with SIGINT ignored: it must install
# its own handler. SIGTERM is tested the same way in test_lifecycle.sh.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_marker_open
    description: Marker file opened
    event_types: ["open"]
    filename_regex: "eg-e2e-marker-sigint"
YAML
for round in idle busy; do
	: >"$W/alerts.jsonl"
	rm -f "$W/rec.jsonl"
	e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
	# caught, not ignored nor default: SIGINT (bit 1) and SIGTERM (bit 14)
	cgt=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$EG_PID/status")
	[ $((0x$cgt & 0x2)) != 0 ] && [ $((0x$cgt & 0x4000)) != 0 ] ||
		fail "the daemon does not catch SIGINT and SIGTERM (SigCgt $cgt)"
	if [ "$round" = idle ]; then
		sleep 0.5 # the drain period backs off to 40 ms
		e2e_stop INT
		[ "$STOP_MS" -lt 2000 ] || fail "idle: SIGINT exit took $STOP_MS ms"
		echo "idle: stopped in $STOP_MS ms"
		continue
	fi
	touch "$W/eg-e2e-marker-sigint"
	run_helper open "$W/eg-e2e-marker-sigint"
	p_open=$HPID
	cp /bin/true "$W/xmrig"
	run_helper exec "$W/xmrig"
	p_exec=$HPID
	# the helper signals the daemon itself, microseconds after its connect:
	# that event is still in the ring, only the drain at exit can see it
	EG_HELPER_KILL=$EG_PID:$(kill -l INT) run_helper connect4 127.0.0.1 4444
	p_conn=$HPID
	e2e_stop INT # (a second SIGINT: harmless)
	[ "$STOP_MS" -lt 2000 ] || fail "SIGINT exit took $STOP_MS ms"
	expect_alerts --timeout 0 --where pid="$p_open" --where type=open --rules e2e_marker_open \
		--field filename="$W/eg-e2e-marker-sigint"
	expect_alerts --timeout 0 --where pid="$p_exec" --where type=exec --where filename="$W/xmrig" \
		--rules builtin_crypto_exec
	expect_alerts --timeout 0 --where pid="$p_conn" --where type=connect --rules builtin_crypto_port \
		--field dest_ip=127.0.0.1 --field dest_port=4444
	"$PY" - "$W/rec.jsonl" "$p_open" "$p_exec" "$p_conn" "$W" <<'PY' || fail "the record file misses events made before SIGINT"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
p_open, p_exec, p_conn, w = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
want = [(p_open, "open", w + "/eg-e2e-marker-sigint"), (p_exec, "exec", w + "/xmrig"), (p_conn, "connect", "connect")]
for p, t, fn in want:
    if not [e for e in evs if e["pid"] == p and e["type"] == t and e["filename"] == fn]:
        print("no %s event of pid %d (%s) in %d recorded events" % (t, p, fn, len(evs)))
        sys.exit(1)
PY
	grep -v '^\[ALERT\]' "$W/stderr" | grep -Ei 'error|fail|malformed|skipped' && fail "errors at shutdown"
	echo "busy: stopped in $STOP_MS ms, every event written"
done
echo "PASS ($EG_NAME)"
