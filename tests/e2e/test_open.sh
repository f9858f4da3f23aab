#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Live open events through a YAML rule: a marker file, a path longer than 256
# bytes, a path past PATH_MAX (truncated), a name with a newline and invalid
# UTF-8, a fresh child that opens a string literal at once, and path forms
# (//, ., .., a symbolic link, relative to the cwd, a failed relative open).
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_marker_open
    description: Marker file opened
    event_types: ["open"]
    filename_regex: "eg-e2e-(marker|fresh-literal-open-marker)"
  - id: e2e_too_long
    description: Path past PATH_MAX
    event_types: ["open"]
    filename_regex: "^/tmp/(a/){200}"
YAML
e2e_start -config "$W/rules.yaml"
grep -q '^ebpf-guard: attached [0-9]* probes (.*open' "$W/stderr" || fail "open probes not attached for an open rule"

# the marker
m=$W/eg-e2e-marker-$$
touch "$m"
run_helper open "$m"
expect_alerts --where pid="$HPID" --where filename="$m" --rules e2e_marker_open \
	--field tgid="$HPID" --field type=open --field comm=eg_helper --field open_flags=0 --field truncated=false

# longer than 256 bytes
d=$W/eg-e2e-marker-long
for i in 1 2 3 4 5 6; do d=$d/$(printf 'd%.0s' $(seq 50))$i; done
mkdir -p "$d"
touch "$d/file"
[ ${#d} -gt 300 ] || fail "test path too short"
run_helper open "$d/file"
expect_alerts --where pid="$HPID" --where filename="$d/file" --rules e2e_marker_open --field truncated=false

# past PATH_MAX: the first 4095 bytes, flagged truncated
run_helper open-long 5000
want=$("$PY" -c 'import json; p = "/tmp/" + "".join("a" if i % 2 else "/" for i in range(5, 5000)); print(json.dumps(p[:4095]))')
expect_alerts --where pid="$HPID" --where type=open --where truncated=true --rules e2e_too_long \
	--field-json filename="$want"

# a newline and invalid UTF-8 in the name: JSON escapes the bytes as \udcXX
mkdir "$W/eg-e2e-marker-odd"
odd="$W/eg-e2e-marker-odd/odd"$'\n'"name"$'\xff\xfe'".txt"
touch "$odd"
run_helper open "$odd"
want=$("$PY" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$odd")
case $want in *'\udcff\udcfe'*'"') ;; *) fail "python did not surrogate-escape the name: $want" ;; esac
expect_alerts --where pid="$HPID" --where-json filename="$want" --rules e2e_marker_open
grep -qF 'odd\nname\udcff\udcfe.txt' "$W/alerts.jsonl" || fail "alert JSON does not carry odd\\nname\\udcff\\udcfe.txt"

# a fresh child opens a string literal before touching its page
touch /tmp/eg-e2e-fresh-literal-open-marker
clean_later /tmp/eg-e2e-fresh-literal-open-marker
# (the flags as passed, O_RDONLY|O_CLOEXEC|O_NOFOLLOW)
run_helper fresh-open 0x0a0000
expect_alerts --where pid="$HPID" --where filename=/tmp/eg-e2e-fresh-literal-open-marker \
	--rules e2e_marker_open --field comm=eg_helper --field open_flags=$((0x0a0000))

# path forms: filename is the opened file as the kernel resolved it, requested
# what the caller passed; requested_differs when that does not name the file
fd=$W/eg-e2e-marker-forms
mkdir -p "$fd"
touch "$fd/target"
for req in "$fd//target" "$fd/./target" "$fd/../eg-e2e-marker-forms/target" "//${fd#/}/target"; do
	run_helper open "$req"
	expect_alerts --where pid="$HPID" --where type=open --where requested="$req" --rules e2e_marker_open \
		--field filename="$fd/target" --field requested_differs=false
done
ln -s "$fd/target" "$W/innocent"
run_helper open "$W/innocent"
expect_alerts --where pid="$HPID" --where type=open --rules e2e_marker_open \
	--field filename="$fd/target" --field requested="$W/innocent" --field requested_differs=true
cd "$fd"
# relative to the cwd
run_helper open target
expect_alerts --where pid="$HPID" --where type=open --rules e2e_marker_open \
	--field filename="$fd/target" --field requested=target --field requested_differs=false
# a link whose name is a tail of the target's ("arget"): still differs
ln -s target arget
run_helper open arget
expect_alerts --where pid="$HPID" --where type=open --rules e2e_marker_open \
	--field filename="$fd/target" --field requested=arget --field requested_differs=true
# a failed relative open: made absolute against the cwd, normalised
run_helper open "nope/../missing"
expect_alerts --where pid="$HPID" --where type=open --rules e2e_marker_open \
	--field filename="$fd/missing" --field requested="nope/../missing" --field ret=-2
cd - >/dev/null

e2e_stop
echo "PASS ($EG_NAME): open alerts exact; stopped in ${STOP_MS} ms"
