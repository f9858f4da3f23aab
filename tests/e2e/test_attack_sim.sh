#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The attack simulation (tests/attack-sim/sim.py): safe versions of real
# techniques run one after the other under the live daemon with the stock
# rules as shipped and the marker rule that closes each technique's alerts
# (sim.py --config); each technique's expected rule must fire. Prints the
# table of technique, expected rule, rules that fired (docs/detection.md).
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120
"$PY" "$EG_SOURCE_DIR/tests/attack-sim/sim.py" --config >"$W/sim.yaml"
e2e_start -no-config-file -config "$EG_SOURCE_DIR/rules" -config "$W/sim.yaml"
mkdir -p "$W/sim"
rc=0
"$PY" "$EG_SOURCE_DIR/tests/attack-sim/sim.py" "$W/alerts.jsonl" "$W/sim" >"$W/sim.out" 2>"$W/sim.err" || rc=$?
column -t -s $'\t' "$W/sim.out" 2>/dev/null || cat "$W/sim.out"
[ -s "$W/sim.err" ] && { echo "sim.py stderr:"; tail -20 "$W/sim.err"; }
[ "$rc" = 0 ] || fail "techniques missed (above)"
e2e_stop
echo "test_attack_sim: ok"
