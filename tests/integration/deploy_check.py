#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Offline checks of deploy/ (tests/integration/test_deploy_files.sh).

  deploy_check.py SRC render-json KUST_DIR          objects of a kustomization as
                                                    a JSON array (the small subset of
                                                    kustomize that deploy/ uses)
  deploy_check.py SRC manifests BASE.yaml MON.yaml  structural checks of the
                                                    rendered base and monitoring
  deploy_check.py SRC files                         Containerfile, logging configs,
                                                    rule copies, PrometheusRule
  deploy_check.py SRC write-prometheusrule          regenerates the PrometheusRule

Prints each failed check on a line of its own and exits 1 when any failed.
"""
import glob
import json
import os
import re
import sys

import yaml

problems = []


def check(ok, msg):
    if not ok:
        problems.append(msg)
    return ok


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


# ---------------------------------------------------------------- rendering

def render(kdir):
    """resources (files and directories), configMapGenerator (files, options
    disableNameSuffixHash and labels), namespace, images: what deploy/ uses.
    Anything else in a kustomization is refused, so this cannot silently
    render less than kustomize would."""
    with open(os.path.join(kdir, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    known = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "images"}
    extra = set(k) - known
    if extra:
        sys.exit("render: %s: unsupported keys %s" % (kdir, sorted(extra)))
    objs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(kdir, r))
        objs += render(p) if os.path.isdir(p) else load_all(p)
    for g in k.get("configMapGenerator", []):
        opts = g.get("options", {})
        if not opts.get("disableNameSuffixHash"):
            sys.exit("render: %s: a generator with a hash suffix" % g["name"])
        data = {}
        for fp in g.get("files", []):
            with open(os.path.join(kdir, fp)) as f:
                data[os.path.basename(fp)] = f.read()
        md = {"name": g["name"]}
        if opts.get("labels"):
            md["labels"] = dict(opts["labels"])
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data})
    if "namespace" in k:
        for o in objs:
            if o["kind"] != "Namespace":
                o["metadata"]["namespace"] = k["namespace"]
    for im in k.get("images", []):
        for o in objs:
            for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                name, _, tag = c["image"].partition(":")
                if name == im["name"]:
                    c["image"] = "%s:%s" % (im.get("newName", name), im.get("newTag", tag or "latest"))
    return objs


# ---------------------------------------------------------------- manifests

def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def one(objs, kind, name):
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    check(len(found) == 1, "%d %s named %s, want 1" % (len(found), kind, name))
    return found[0] if found else {}


def flag_values(args, flag):
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in (flag, "-" + flag)]


def check_manifests(base, mon):
    for o in base + mon:
        md = o.get("metadata", {})
        what = "%s %s" % (o.get("kind"), md.get("name"))
        check(o.get("apiVersion") and o.get("kind") and md.get("name"), "%s: no apiVersion, kind or name" % what)
        if o["kind"] != "Namespace":
            check(md.get("namespace") == "ebpf-guard", "%s: namespace %r, want ebpf-guard" % (what, md.get("namespace")))
        check(md.get("labels", {}).get("app.kubernetes.io/name") == "ebpf-guard", "%s: no app.kubernetes.io/name label" % what)
    kinds = sorted(o["kind"] for o in base)
    check(kinds == ["ConfigMap", "ConfigMap", "DaemonSet", "Namespace", "Service", "ServiceAccount"],
          "base kinds: %s" % kinds)
    base_ids = sorted((o["kind"], o["metadata"]["name"]) for o in base)
    mon_ids = sorted((o["kind"], o["metadata"]["name"]) for o in mon)
    check(mon_ids == sorted(base_ids + [("PrometheusRule", "ebpf-guard"), ("ServiceMonitor", "ebpf-guard")]),
          "monitoring is not the base plus a ServiceMonitor and a PrometheusRule: %s" % mon_ids)

    ds = one(base, "DaemonSet", "ebpf-guard")
    sa = one(base, "ServiceAccount", "ebpf-guard")
    svc = one(base, "Service", "ebpf-guard-metrics")
    rules_cm = one(base, "ConfigMap", "ebpf-guard-rules")
    local_cm = one(base, "ConfigMap", "ebpf-guard-rules-local")
    if not ds:
        return
    spec = ds["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    check(all(pod_labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
          "DaemonSet selector does not match its pod labels")
    ps = spec["template"]["spec"]
    check(ps.get("hostPID") is True, "hostPID is not true")
    check(not ps.get("hostNetwork"), "hostNetwork is on")
    check(ps.get("serviceAccountName") == sa.get("metadata", {}).get("name"), "serviceAccountName is not the ServiceAccount")
    check(ps.get("automountServiceAccountToken") is False and sa.get("automountServiceAccountToken") is False,
          "a service account token is mounted")
    check({"operator": "Exists"} in ps.get("tolerations", []), "no toleration of every taint")
    check(ps.get("priorityClassName") == "system-node-critical", "priorityClassName is not system-node-critical")
    cs = ps["containers"]
    check(len(cs) == 1, "%d containers, want 1" % len(cs))
    c = cs[0]
    sc = c.get("securityContext", {})
    check(sc.get("privileged") is False, "privileged is not false")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], "capabilities.drop is not [ALL]")
    check(set(caps.get("add", [])) == {"BPF", "PERFMON", "SYS_RESOURCE"},
          "capabilities.add is %s, want BPF, PERFMON, SYS_RESOURCE" % caps.get("add"))

    args = c.get("args", [])
    check(not c.get("command"), "command overrides the image's entrypoint")
    check("-watch" in args, "no -watch")
    check(flag_values(args, "-config") == ["/etc/ebpf-guard/rules", "/etc/ebpf-guard/rules.d"],
          "-config: %s" % flag_values(args, "-config"))
    check(flag_values(args, "-alert-file") == ["/var/log/ebpf-guard/alerts.jsonl"], "-alert-file: %s" % flag_values(args, "-alert-file"))
    prom = flag_values(args, "-prom-addr")
    m = re.fullmatch(r"0\.0\.0\.0:(\d+)", prom[0]) if len(prom) == 1 else None
    check(m, "-prom-addr: %s, want one 0.0.0.0:PORT" % prom)
    port = int(m.group(1)) if m else None
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("metrics") == port, "containerPort metrics is %s, -prom-addr port %s" % (ports.get("metrics"), port))
    ann = spec["template"]["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port)
          and ann.get("prometheus.io/path") == "/metrics", "scrape annotations: %s" % ann)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        hg = c.get(probe, {}).get("httpGet", {})
        check(hg.get("path") == "/healthz" and hg.get("port") in ("metrics", port), "%s is not GET /healthz on the metrics port" % probe)
    res = c.get("resources", {})

    def mem(v):
        units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
        return int(v[:-2]) * units[v[-2:]] if v[-2:] in units else int(v)

    def cpu(v):
        return int(v[:-1]) / 1000 if str(v).endswith("m") else float(v)
    try:
        check(mem(res["requests"]["memory"]) <= mem(res["limits"]["memory"]), "memory request above the limit")
        check(cpu(res["requests"]["cpu"]) <= cpu(res["limits"]["cpu"]), "cpu request above the limit")
        # measured: 44 MB RSS steady, 188 MB peak in the soak (docs/deployment.md)
        check(mem(res["requests"]["memory"]) >= 64 << 20, "memory request below the measured RSS")
        check(mem(res["limits"]["memory"]) >= 200 << 20, "memory limit below the soak's peak")
    except (KeyError, ValueError) as e:
        check(False, "resources: %s" % e)

    vols = {v["name"]: v for v in ps.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for m in mounts.values():
        check(m["name"] in vols, "mount %s: no volume %s" % (m["mountPath"], m["name"]))
    for path in flag_values(args, "-config"):
        m = mounts.get(path)
        if check(m, "-config %s is not a mount" % path):
            v = vols.get(m["name"], {})
            check("configMap" in v and m.get("readOnly") is True, "%s: not a read-only ConfigMap volume" % path)
            cm = v.get("configMap", {}).get("name")
            check(cm in (rules_cm.get("metadata", {}).get("name"), local_cm.get("metadata", {}).get("name")),
                  "%s: ConfigMap %s is not in the manifests" % (path, cm))
            check("subPath" not in m, "%s: a subPath mount is never updated" % path)
    for path, host, ro in (("/sys/kernel/tracing", "/sys/kernel/tracing", True), ("/sys/kernel/btf", "/sys/kernel/btf", True),
                           ("/sys/fs/cgroup", "/sys/fs/cgroup", True), ("/var/log/ebpf-guard", "/var/log/ebpf-guard", False),
                           ("/etc/machine-id", "/etc/machine-id", True)):
        m = mounts.get(path)
        if check(m, "no mount at %s" % path):
            hp = vols.get(m["name"], {}).get("hostPath", {})
            check(hp.get("path") == host, "%s: hostPath %s, want %s" % (path, hp.get("path"), host))
            check(bool(m.get("readOnly")) == ro, "%s: readOnly should be %s" % (path, ro))
    check(local_cm.get("data") in ({}, None), "the local rules ConfigMap is not empty")

    # Service and ServiceMonitor find the pods' metrics port.
    if svc:
        check(svc["spec"].get("clusterIP") == "None", "the Service is not headless")
        check(all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "the Service selects no pod")
        sp = {p["name"]: p for p in svc["spec"]["ports"]}
        check(sp.get("metrics", {}).get("port") == port and sp.get("metrics", {}).get("targetPort") == "metrics",
              "Service port metrics: %s" % sp.get("metrics"))
    sm = one(mon, "ServiceMonitor", "ebpf-guard")
    if sm and svc:
        sel = sm["spec"]["selector"]["matchLabels"]
        check(all(svc["metadata"]["labels"].get(k) == v for k, v in sel.items()), "the ServiceMonitor selects no Service")
        check(sm["spec"].get("namespaceSelector", {}).get("matchNames") == ["ebpf-guard"], "ServiceMonitor namespaceSelector")
        check([e.get("port") for e in sm["spec"]["endpoints"]] == ["metrics"], "ServiceMonitor endpoint port is not metrics")


# ---------------------------------------------------------------- other files

def prometheusrule(src):
    groups = yaml.safe_load(open(os.path.join(src, "deploy/prometheus/ebpf-guard-alerts.yaml")))
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "ebpf-guard", "namespace": "ebpf-guard",
                         "labels": {"app.kubernetes.io/name": "ebpf-guard"}},
            "spec": groups}


PR_PATH = "deploy/kubernetes/monitoring/prometheusrule.yaml"
PR_HEAD = """# The alerting rules of deploy/prometheus/ebpf-guard-alerts.yaml as a
# PrometheusRule (the same groups: tests/integration/test_deploy_files.sh
# checks it). Edit that file, then regenerate this one:
#   python3 tests/integration/deploy_check.py . write-prometheusrule
"""


def classic_sections(path):
    """Fluent Bit's classic format: [SECTION] headers, then 'Key Value' lines
    indented by spaces; @INCLUDE/@SET and comments allowed."""
    sections = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if not s.strip() or s.lstrip().startswith("#"):
                continue
            m = re.fullmatch(r"\[([A-Z_]+)\]", s)
            if m:
                sections.append((m.group(1), {}))
                continue
            m = re.fullmatch(r"    ([A-Za-z_][A-Za-z0-9_.]*)\s+(\S.*)", s)
            if not check(m and sections, "%s:%d: not a [SECTION] or an indented 'Key Value' line: %r" % (path, n, s)):
                continue
            sections[-1][1].setdefault(m.group(1).lower(), []).append(m.group(2).strip())
    return sections


def check_files(src):
    # Stock rules: the ConfigMap's copies are the repository's rules/.
    repo = sorted(os.path.basename(p) for p in glob.glob(os.path.join(src, "rules/*.yaml"))
                  + glob.glob(os.path.join(src, "rules/*.lua")))
    kdir = os.path.join(src, "deploy/kubernetes/base")
    copies = sorted(os.path.basename(p) for p in glob.glob(os.path.join(kdir, "rules/*")))
    check(repo == copies, "deploy/kubernetes/base/rules/ has %s, rules/ has %s" % (copies, repo))
    for n in repo:
        a = open(os.path.join(src, "rules", n), "rb").read()
        b = open(os.path.join(kdir, "rules", n), "rb").read() if n in copies else None
        check(a == b, "deploy/kubernetes/base/rules/%s differs from rules/%s (copy it again)" % (n, n))
    k = yaml.safe_load(open(os.path.join(kdir, "kustomization.yaml")))
    gen = {g["name"]: g for g in k.get("configMapGenerator", [])}
    check(sorted(gen.get("ebpf-guard-rules", {}).get("files", [])) == ["rules/" + n for n in repo],
          "the ebpf-guard-rules generator does not list every rule file")

    # PrometheusRule = the alerting rules file.
    pr = load_all(os.path.join(src, PR_PATH))
    check(pr == [prometheusrule(src)], "%s is not deploy/prometheus/ebpf-guard-alerts.yaml: regenerate it" % PR_PATH)

    # Containerfile.
    cf = open(os.path.join(src, "deploy/container/Containerfile")).read()
    lines = re.sub(r"\\\n", " ", cf).splitlines()
    ins = [(l.split(None, 1) + [""])[:2] for l in lines if l.strip() and not l.lstrip().startswith("#")]
    known = {"FROM", "LABEL", "COPY", "RUN", "EXPOSE", "STOPSIGNAL", "ENTRYPOINT", "CMD", "ARG", "ENV", "USER", "WORKDIR"}
    for i, _ in ins:
        check(i in known, "Containerfile: unknown instruction %s" % i)
    froms = [a for i, a in ins if i == "FROM"]
    check(froms == ["docker.io/library/debian:12-slim"], "Containerfile: FROM %s" % froms)
    check(["COPY", "dist/ebpf-guard_*_amd64.deb /tmp/"] in ins, "Containerfile: does not COPY dist/ebpf-guard_*_amd64.deb")
    run = " ".join(a for i, a in ins if i == "RUN")
    check("apt-get install -y --no-install-recommends /tmp/ebpf-guard_*_amd64.deb" in run, "Containerfile: no apt-get install of the .deb")
    check("rm -rf /var/lib/apt/lists/*" in run, "Containerfile: apt lists left in the image")
    check(run.lstrip().startswith("set -eux;"), "Containerfile: RUN without set -eux (a failed step would pass)")
    for i, a in ins:
        if i in ("ENTRYPOINT", "CMD"):
            try:
                v = json.loads(a)
            except ValueError:
                v = None
            check(isinstance(v, list), "Containerfile: %s is not in exec form (JSON array): signals would go to a shell" % i)
    ep = [json.loads(a) for i, a in ins if i == "ENTRYPOINT"]
    check(ep == [["/usr/bin/ebpf-guard"]], "Containerfile: ENTRYPOINT %s" % ep)
    check(["EXPOSE", "9100"] in ins, "Containerfile: EXPOSE is not 9100")
    cmd = [json.loads(a) for i, a in ins if i == "CMD"]
    check(cmd and flag_values(cmd[0], "-prom-addr") == ["0.0.0.0:9100"], "Containerfile: CMD -prom-addr is not 0.0.0.0:9100")

    # Fluent Bit: classic format, the input tails the alert file with the JSON
    # parser defined in parsers.conf, every output matches the input's tag.
    fb = classic_sections(os.path.join(src, "deploy/logging/fluent-bit.conf"))
    parsers = classic_sections(os.path.join(src, "deploy/logging/parsers.conf"))
    names = [s[0] for s in fb]
    check(names[0] == "SERVICE" and names.count("INPUT") == 1 and names.count("OUTPUT") >= 1, "fluent-bit.conf sections: %s" % names)
    pdefs = {p["name"][0]: p for t, p in parsers if t == "PARSER"}
    for t, s in fb:
        if t == "SERVICE":
            check(s.get("parsers_file") == ["parsers.conf"], "fluent-bit.conf: Parsers_File is not parsers.conf")
        if t == "INPUT":
            check(s.get("name") == ["tail"] and s.get("path") == ["/var/log/ebpf-guard/alerts.jsonl"], "fluent-bit.conf: the input does not tail the alert file")
            p = pdefs.get(s.get("parser", [""])[0])
            check(p and p.get("format") == ["json"] and p.get("time_key") == ["timestamp"], "fluent-bit.conf: the input's parser is not a JSON parser on timestamp")
            tag = s.get("tag", [""])[0]
        if t in ("FILTER", "OUTPUT"):
            check(re.fullmatch(s.get("match", [""])[0].replace(".", r"\.").replace("*", ".*"), tag or ""),
                  "fluent-bit.conf: a %s does not match the input's tag" % t)

    # Vector: YAML, every input names an existing component, the source reads
    # the alert file, the remap parses JSON.
    v = yaml.safe_load(open(os.path.join(src, "deploy/logging/vector.yaml")))
    comps = set(v.get("sources", {})) | set(v.get("transforms", {}))
    check(set(v) <= {"data_dir", "sources", "transforms", "sinks"}, "vector.yaml: top-level keys %s" % sorted(v))
    check([s.get("include") for s in v.get("sources", {}).values()] == [["/var/log/ebpf-guard/alerts.jsonl"]], "vector.yaml: the source does not read the alert file")
    for kind in ("transforms", "sinks"):
        for name, c in v.get(kind, {}).items():
            check(c.get("inputs") and set(c["inputs"]) <= comps, "vector.yaml: %s.%s has unknown inputs %s" % (kind, name, c.get("inputs")))
    remaps = [t for t in v.get("transforms", {}).values() if t.get("type") == "remap"]
    check(len(remaps) == 1 and "parse_json" in remaps[0].get("source", ""), "vector.yaml: no remap with parse_json")
    check(all(s.get("inputs") == ["ebpf_guard_parse"] for s in v.get("sinks", {}).values()), "vector.yaml: a sink does not take the parsed alerts")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, cmd = sys.argv[1], sys.argv[2]
    if cmd == "render-json":
        json.dump(render(sys.argv[3]), sys.stdout)
        return
    if cmd == "write-prometheusrule":
        with open(os.path.join(src, PR_PATH), "w") as f:
            f.write(PR_HEAD + yaml.safe_dump(prometheusrule(src), sort_keys=False, width=100))
        return
    if cmd == "manifests":
        check_manifests(load_all(sys.argv[3]), load_all(sys.argv[4]))
    elif cmd == "files":
        check_files(src)
    else:
        sys.exit(__doc__)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
