#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deploy/, checked offline (docs/deployment.md#what-was-validated):
#  - Prometheus alerting rules: promtool check rules, promtool test rules;
#  - Kubernetes: kustomize build of deploy/kubernetes and its monitoring
#    variant (kubectl kustomize when kubectl is there; else, and also then,
#    the Python rendering of tests/integration/deploy_check.py, which must
#    give the same objects), the structural checks of deploy_check.py, and
#    the OpenAPI schemas of every object (kubernetes-models, with node;
#    that part and the Containerfile lint come last, and skip the test when
#    the node tools are missing, a failure under CI=true);
#  - the stock-rules ConfigMap, laid out as the kubelet does, loads in the
#    daemon (-validate), and so does the empty local one;
#  - Containerfile: deploy_check.py and dockerfile-utils lint; Fluent Bit and
#    Vector configurations: deploy_check.py.
# Not run here: building the image, a cluster, Fluent Bit, Vector.
set -euo pipefail
EG_NAME=$(basename "$0" .sh)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/lib/skip.sh"
: "${EG_BIN:=$SRC/build/ebpf-guard}"
if [ -z "${EG_UNDER_TIMEOUT:-}" ]; then
	EG_UNDER_TIMEOUT=1 exec timeout -k 5 120 bash "$0"
fi
fail() {
	echo "FAIL ($EG_NAME): $*" >&2
	exit 1
}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v promtool >/dev/null || skip "promtool not installed (Debian package prometheus)"
"$PY" -c 'import yaml' 2>/dev/null || skip "python3-yaml not installed"
W=$(mktemp -d "${TMPDIR:-/tmp}/eg-$EG_NAME.XXXXXX")
trap 'rm -rf -- "$W"' EXIT
trap 'echo "FAIL ($EG_NAME): timed out or interrupted" >&2; exit 124' TERM INT
CHECK=$SRC/tests/integration/deploy_check.py

# 1. Alerting rules.
promtool check rules "$SRC/deploy/prometheus/ebpf-guard-alerts.yaml" >"$W/promtool.out" 2>&1 ||
	fail "promtool check rules: $(cat "$W/promtool.out")"
(cd "$SRC/deploy/prometheus" && promtool test rules tests.yaml) >"$W/promtool.out" 2>&1 ||
	fail "promtool test rules: $(cat "$W/promtool.out")"
# ... and the unit tests can fail: a rule that never fires fails them.
sed 's/ebpf_guard_rule_disabled) == 1/ebpf_guard_rule_disabled) == 2/' \
	"$SRC/deploy/prometheus/ebpf-guard-alerts.yaml" >"$W/ebpf-guard-alerts.yaml"
sed 's|^  - ebpf-guard-alerts.yaml$|  - '"$W"'/ebpf-guard-alerts.yaml|' "$SRC/deploy/prometheus/tests.yaml" >"$W/tests.yaml"
if promtool test rules "$W/tests.yaml" >"$W/promtool.out" 2>&1; then
	fail "promtool test rules passed with EbpfGuardDetectionDisabled broken"
fi
grep -q 'alertname: EbpfGuardDetectionDisabled' "$W/promtool.out" || fail "the broken rule's test did not fail: $(cat "$W/promtool.out")"
echo "promtool: rules checked, unit tests pass"

# 2. Manifests: rendered by kubectl kustomize and by the Python renderer.
to_json() { "$PY" -c 'import sys, yaml, json; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)'; }
same_objects() {
	"$PY" - "$1" "$2" <<'PY'
import json, sys
k = lambda o: (o["kind"], o["metadata"]["name"])
a, b = (sorted(json.load(open(p)), key=k) for p in sys.argv[1:3])
sys.exit(0 if a == b else "kubectl kustomize and deploy_check.py render different objects")
PY
}
for v in base monitoring; do
	dir=$SRC/deploy/kubernetes
	[ "$v" = monitoring ] && dir=$dir/monitoring
	"$PY" "$CHECK" "$SRC" render-json "$dir" >"$W/$v.json" || fail "rendering $dir failed"
	if command -v kubectl >/dev/null; then
		kubectl kustomize "$dir" >"$W/$v.yaml" 2>"$W/kubectl.err" || fail "kubectl kustomize $dir: $(cat "$W/kubectl.err")"
		to_json <"$W/$v.yaml" >"$W/$v.kubectl.json"
		same_objects "$W/$v.json" "$W/$v.kubectl.json" || fail "$v: kubectl kustomize and deploy_check.py differ"
	else
		echo "kubectl not installed: kustomize build not run, the Python rendering only"
	fi
	"$PY" -c 'import sys, json, yaml; yaml.safe_dump_all(json.load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
		"$W/$v.json" "$W/$v.yaml"
done
"$PY" "$CHECK" "$SRC" manifests "$W/base.yaml" "$W/monitoring.yaml" >"$W/check.out" ||
	fail "manifest checks: $(cat "$W/check.out")"
# ... which can fail:
sed 's/hostPID: true/hostPID: false/' "$W/base.yaml" >"$W/bad.yaml"
if "$PY" "$CHECK" "$SRC" manifests "$W/bad.yaml" "$W/monitoring.yaml" >"$W/check.out"; then
	fail "the manifest checks passed with hostPID: false"
fi
grep -qx 'hostPID is not true' "$W/check.out" || fail "hostPID: false not reported: $(cat "$W/check.out")"
echo "manifests: structure checked"

# 3. The stock rules as the pod sees them: the ConfigMap's keys written the
#    kubelet's way, loaded by the daemon; the empty local ConfigMap too.
"$PY" - "$W/monitoring.json" "$W/cm" <<'PY'
import json, os, sys
for o in json.load(open(sys.argv[1])):
    if o["kind"] == "ConfigMap":
        d = os.path.join(sys.argv[2], o["metadata"]["name"])
        os.makedirs(d)
        for k, v in (o.get("data") or {}).items():
            open(os.path.join(d, k + ".src"), "w").write(v)
PY
mkdir "$W/vol"
for cm in ebpf-guard-rules ebpf-guard-rules-local; do
	args=()
	for f in "$W/cm/$cm"/*.src; do
		[ -e "$f" ] && args+=("$(basename "$f" .src)=$f")
	done
	"$PY" "$SRC/tests/e2e/kube_atomic_write.py" "$W/vol/$cm" "${args[@]}"
done
[ "$(readlink "$W/vol/ebpf-guard-rules/00-macros.yaml")" = ..data/00-macros.yaml ] || fail "the volume layout has no key links"
"$EG_BIN" -validate -config "$W/vol/ebpf-guard-rules" -config "$W/vol/ebpf-guard-rules-local" >"$W/validate.out" 2>"$W/validate.err" ||
	fail "the ConfigMaps do not load: $(cat "$W/validate.err")"
want=$("$EG_BIN" -validate -config "$SRC/rules")
[ "$(cat "$W/validate.out")" = "$want" ] || fail "the ConfigMap rules load as '$(cat "$W/validate.out")', rules/ as '$want'"
echo "ConfigMaps: load like rules/: $want"

# 4. Containerfile, rule copies, PrometheusRule, Fluent Bit, Vector.
"$PY" "$CHECK" "$SRC" files >"$W/check.out" || fail "file checks: $(cat "$W/check.out")"
echo "Containerfile, logging configurations, rule copies, PrometheusRule: checked"

# 5. With the node tools (scripts/install-deps.sh installs them): the OpenAPI
#    schemas of every object (kubernetes-models) and a Containerfile linter
#    (dockerfile-utils).
TOOLS=${EG_NODE_TOOLS:-/opt/ebpf-guard-test/node-tools}
command -v node >/dev/null && [ -d "$TOOLS/node_modules/kubernetes-models" ] &&
	[ -x "$TOOLS/node_modules/.bin/dockerfile-utils" ] ||
	skip "no node, or no kubernetes-models and dockerfile-utils in $TOOLS (scripts/install-deps.sh installs them): schemas and Containerfile lint not checked"
node "$SRC/tests/integration/deploy_validate.mjs" "$TOOLS" <"$W/monitoring.json" >"$W/schema.out" 2>&1 ||
	fail "schema validation: $(grep -v '^valid' "$W/schema.out")"
[ "$(grep -c '^valid: ' "$W/schema.out")" = 8 ] || fail "not 8 objects validated: $(cat "$W/schema.out")"
# ... which can fail: a string where the schema wants a boolean.
sed 's/"hostPID": true/"hostPID": "yes"/' "$W/monitoring.json" >"$W/bad.json"
if node "$SRC/tests/integration/deploy_validate.mjs" "$TOOLS" <"$W/bad.json" >"$W/schema.out" 2>&1; then
	fail "schema validation passed with hostPID: \"yes\""
fi
grep -q '^INVALID: apps/v1 DaemonSet ebpf-guard/ebpf-guard: .*hostPID must be boolean' "$W/schema.out" ||
	fail "hostPID: \"yes\" not reported: $(cat "$W/schema.out")"
echo "manifests: 8 objects valid against the Kubernetes and Prometheus Operator schemas"

"$TOOLS/node_modules/.bin/dockerfile-utils" lint "$SRC/deploy/container/Containerfile" >"$W/lint.out" 2>&1 ||
	fail "dockerfile-utils lint: $(cat "$W/lint.out")"
[ ! -s "$W/lint.out" ] || fail "dockerfile-utils lint: $(cat "$W/lint.out")"
# ... which can fail: a port that is not one.
sed 's/^EXPOSE 9100$/EXPOSE metrics/' "$SRC/deploy/container/Containerfile" >"$W/Containerfile"
if "$TOOLS/node_modules/.bin/dockerfile-utils" lint "$W/Containerfile" >"$W/lint.out" 2>&1; then
	fail "dockerfile-utils lint passed with EXPOSE metrics"
fi
grep -q 'Error: Invalid containerPort: metrics' "$W/lint.out" || fail "EXPOSE metrics not reported: $(cat "$W/lint.out")"
echo "Containerfile: dockerfile-utils lint clean"

echo "PASS ($EG_NAME)"
