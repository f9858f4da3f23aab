#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The exec bounds of docs/collector.md, exactly: args keep the first 4096
# bytes of argv (NULs included; a string cut by the bound keeps its head) and
# at most 64 strings, flagged truncated past either bound and not at it; exe
# keeps the leaf-most 64 components of a deeper path, and about 4096 bytes of
# a path longer than PATH_MAX (255-byte names), flagged truncated.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_bounds_exec
    description: Bounds marker executed
    event_types: ["exec"]
    filename_regex: "eg-bounds-"
YAML
e2e_start -config "$W/rules.yaml"
t=$W/eg-bounds-true
cp /bin/true "$t"

# The documented argv bounds, as a model: prints the expected args (JSON)
# and truncated for an argv (argv[0] included).
cat >"$W/model.py" <<'PY'
import json, sys
argv = [a.encode("utf-8", "surrogateescape") for a in sys.argv[1:]]
b = b"".join(a + b"\0" for a in argv)
head = b[:4096]
parts = head.split(b"\0")
if head.endswith(b"\0"):
    parts = parts[:-1]
parts = parts[:64]
print(json.dumps([p.decode("utf-8", "surrogateescape") for p in parts]))
print("true" if len(b) > 4096 or len(argv) > 64 else "false")
print(len(b))
PY

# gen KIND: NUL-separated arguments (after argv[0] = $t) for that case
gen() {
	"$PY" - "$1" "$t" <<'PY'
import sys
kind, path = sys.argv[1], sys.argv[2]
base = len(path) + 1             # argv[0] and its NUL
def fill(total):                 # strings "NN-xxx..." adding up to total bytes of argv
    out, left, i = [], total - base, 0
    while left > 0:
        n = min(100, left)       # bytes with the NUL
        out.append(("%02d-" % i + "x" * 100)[: n - 1])
        left -= n
        i += 1
    return out
args = {
    "short": lambda: ["one", "two words", "", "three"],
    "bytes4096": lambda: fill(4096),
    "bytes4097": lambda: fill(4097),
    "bytes4096+1": lambda: fill(4096) + ["z"],   # the bound falls right after a NUL
    "bytes6000": lambda: ["%02d-" % i + "y" * 196 for i in range(30)],
    "count64": lambda: ["a%d" % i for i in range(1, 64)],
    "count65": lambda: ["a%d" % i for i in range(1, 65)],
    "count100": lambda: ["a%d" % i for i in range(1, 100)],
}[kind]()
sys.stdout.write("".join(a + "\0" for a in args))
PY
}

for kind in short bytes4096 bytes4097 bytes4096+1 bytes6000 count64 count65 count100; do
	mapfile -d '' args < <(gen "$kind")
	{ read -r want_args; read -r want_trunc; read -r bytes; } < <("$PY" "$W/model.py" "$t" "${args[@]}")
	case $kind in bytes409[67]) [ "$bytes" = "${kind#bytes}" ] || fail "$kind: $bytes bytes of argv" ;; esac
	run_helper exec "$t" "${args[@]}"
	expect_alerts --where pid="$HPID" --where filename="$t" --rules e2e_bounds_exec \
		--field exe="$t" --field truncated="$want_trunc" --field-json args="$want_args"
	echo "args $kind (argc $((${#args[@]} + 1)), $bytes bytes): truncated=$want_trunc, ok"
done

# exe: 70 directories deep, the leaf-most 64 components are kept
d=$W/eg-bounds-deep
for i in $(seq -w 1 70); do d=$d/c$i; done
mkdir -p "$d"
cp /bin/true "$d/eg-bounds-true"
want=/$(echo "$d/eg-bounds-true" | tr '/' '\n' | tail -n 64 | paste -sd/)
run_helper exec "$d/eg-bounds-true"
expect_alerts --where pid="$HPID" --where filename="$d/eg-bounds-true" --rules e2e_bounds_exec \
	--field exe="$want" --field truncated=true --field-json args="[\"$d/eg-bounds-true\"]"
echo "exe 73 components: the last 64 ($want), ok"
# 40 deep: whole
d=$W/eg-bounds-deep
for i in $(seq -w 1 40); do d=$d/c$i; done
cp /bin/true "$d/eg-bounds-true"
run_helper exec "$d/eg-bounds-true"
expect_alerts --where pid="$HPID" --where filename="$d/eg-bounds-true" --rules e2e_bounds_exec \
	--field exe="$d/eg-bounds-true" --field truncated=false
echo "exe 43 components: whole, ok"

# exe past PATH_MAX: 20 directories and a file, all with 255-byte names
# (5,376 bytes), run relative to the leaf directory. A component is written
# while at most 4096 - 256 bytes are: the file and the 15 directories above
# it, exactly 4096 bytes of exe.
leaf=eg-bounds-$(printf 'f%.0s' $(seq 245))
[ ${#leaf} = 255 ] || fail "leaf name of ${#leaf} bytes"
wide=$("$PY" - "$W" "$leaf" <<'PY'
import os, shutil, sys
os.chdir(sys.argv[1])
names = ["eg-bounds-wide"] + ["%03d" % i + "w" * 252 for i in range(20)]
for n in names:
    os.mkdir(n)
    os.chdir(n)
shutil.copyfile("/bin/true", sys.argv[2])
os.chmod(sys.argv[2], 0o755)
print("/".join(names))
PY
)
want=$("$PY" - "$W/$wide/$leaf" <<'PY'
import sys
comps = sys.argv[1].strip("/").split("/")
off, kept = 0, []
for name in reversed(comps):
    if off > 4096 - 256:
        break
    kept.append(name)
    off += len(name) + 1
print("/" + "/".join(reversed(kept)))
PY
)
[ ${#want} = 4096 ] || fail "model: exe of ${#want} bytes"
run_helper cd-exec "$W/$wide" "./$leaf"
expect_alerts --where pid="$HPID" --where filename="./$leaf" --rules e2e_bounds_exec \
	--field exe="$want" --field truncated=true --field-json args="[\"./$leaf\"]"
echo "exe of $((${#W} + ${#wide} + 257)) bytes: the last ${#want} bytes, ok"

e2e_stop
echo "PASS ($EG_NAME): args and exe bounds exact"
