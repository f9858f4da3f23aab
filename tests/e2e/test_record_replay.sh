#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -record FILE while live, then -replay FILE: the same alerts, field for field,
# process context and host included (a rule whose condition reads the parent,
# the ancestors and the cwd fires in both).
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_marker_open
    description: Marker file opened
    event_types: ["open"]
    filename_regex: "eg-e2e-marker"
  - id: e2e_port_range
    description: Connection to a port in 3000..5000
    event_types: ["connect"]
    min_dest_port: 3000
    max_dest_port: 5000
  - id: e2e_context
    description: Marker opened by a child of this test's shell
    event_types: ["open"]
    filename_regex: "eg-e2e-marker"
    condition: ev.context == "exec" and ev.parent.exe == "/usr/bin/bash" and ev.ancestors[1].comm == ev.parent.comm and ev.cwd ~= "" and ev.hostname ~= ""
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"

run_helper memfd "eg-e2e-rec-$$"
p_memfd=$HPID
run_helper connect6 ::1 3333
p_conn=$HPID
touch "$W/eg-e2e-marker-rec"$'\n\xff'
run_helper open "$W/eg-e2e-marker-rec"$'\n\xff'
p_open=$HPID
cp /bin/true "$W/xmrig"
run_helper exec "$W/xmrig"
p_exec=$HPID
expect_alerts --where pid="$p_memfd" --where exe="/memfd:eg-e2e-rec-$$ (deleted)" --rules builtin_fileless_exec
expect_alerts --where pid="$p_conn" --where type=connect --rules builtin_crypto_port,e2e_port_range
expect_alerts --where pid="$p_open" --where type=open --rules e2e_marker_open,e2e_context
expect_alerts --where pid="$p_exec" --where filename="$W/xmrig" --rules builtin_crypto_exec
e2e_stop

"$EG_BIN" -replay "$W/rec.jsonl" -config "$W/rules.yaml" -alert-file "$W/replay.jsonl" -prom-addr '' \
	>"$W/replay.out" 2>"$W/replay.err" || fail "replay exited $?: $(tail -n 3 "$W/replay.err")"
"$PY" - "$W/alerts.jsonl" "$W/replay.jsonl" "$W/rec.jsonl" <<'PY' || fail "replayed alerts differ from live ones"
import json, sys
def alerts(p):
    with open(p, encoding="utf-8") as f:
        return sorted(json.dumps(json.loads(l), sort_keys=True) for l in f if l.strip())
live, replay = alerts(sys.argv[1]), alerts(sys.argv[2])
with open(sys.argv[3], encoding="utf-8") as f:
    nrec = sum(1 for l in f if l.strip())
if live != replay:
    a, b = set(live), set(replay)
    print("live %d alerts, replay %d; only live: %s; only replay: %s"
          % (len(live), len(replay), sorted(a - b)[:3], sorted(b - a)[:3]))
    sys.exit(1)
print("%d recorded events, %d alerts, identical live and replayed" % (nrec, len(live)))
PY
echo "PASS ($EG_NAME)"
