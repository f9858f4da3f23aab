#!/usr/bin/env python3
"""Prints the table of stock rules for docs/detection.md: one row per rule of
rules/ (YAML rules and the Lua detections of rules/95-stateful.lua), from
`ebpf-guard -list-rules -json` and the rule files' descriptions.

    python3 tools/detection_table.py build/ebpf-guard > /tmp/table.md
"""
import json
import re
import subprocess
import sys

import yaml


def descriptions():
    out = {}
    import glob
    for path in sorted(glob.glob("rules/*.yaml")):
        doc = yaml.safe_load(open(path)) or {}
        for r in doc.get("rules") or []:
            out[r["id"]] = " ".join(str(r["description"]).split())
    lua = open("rules/95-stateful.lua").read()
    for m in re.finditer(r'id = "([^"]+)",\s*description = "([^"]+)"', lua):
        out[m.group(1)] = m.group(2)
    return out


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/ebpf-guard"
    rules = json.loads(subprocess.check_output([binary, "-list-rules", "-json", "-config", "rules/"]))
    desc = descriptions()
    print("| id | file | events | severity | ATT&CK | what it reports |")
    print("|---|---|---|---|---|---|")
    for r in rules:
        src = r["source"].split("/")[-1] if r["kind"] != "builtin" else "built-in"
        what = desc.get(r["id"], "the reference's heuristic, see rules.md")
        print("| `%s` | %s | %s | %s | %s | %s |" % (
            r["id"], src, ", ".join(r["event_types"]), r["severity"], ", ".join(r["tags"]), what.replace("|", "\\|")))


if __name__ == "__main__":
    main()
