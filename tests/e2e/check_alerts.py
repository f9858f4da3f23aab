#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the alerts of one event in a JSONL alert file (e2e tests).

  check_alerts.py FILE [--timeout S] [--where K=V]... [--where-json K=JSON]...
                  --rules R1,R2 [--field K=V]... [--field-json K=JSON]...

Selects the alerts whose event matches every --where (values compared as
text, so pid=123 works; --where-json compares the decoded JSON value, for
strings with newlines or \\udcXX escapes). Waits until the rule ids of the
selected alerts are exactly --rules, each once ('' = no alert expected, which
is checked after the timeout), then checks every --field on those events.
Every line of the file must be valid JSON. Exit 0 when all holds, else 1 with
what was found.
"""
import argparse
import json
import sys
import time


def kv(s):
    k, sep, v = s.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected KEY=VALUE: %r" % s)
    return k, v


def load(path):
    out = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return out
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw:
            continue
        try:
            out.append(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as e:
            if n == data.count(b"\n") + 1:  # a line being written
                break
            print("line %d of %s is not valid JSON (%s): %r" % (n, path, e, raw[:200]))
            sys.exit(1)
    return out


def matches(ev, wheres):
    for k, v, is_json in wheres:
        got = ev.get(k)
        if is_json:
            if got != v:
                return False
        elif str(got) != v and not (isinstance(got, bool) and str(got).lower() == v):
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--where", type=kv, action="append", default=[])
    ap.add_argument("--where-json", type=kv, action="append", default=[])
    ap.add_argument("--rules", required=True)
    ap.add_argument("--field", type=kv, action="append", default=[])
    ap.add_argument("--field-json", type=kv, action="append", default=[])
    a = ap.parse_args()
    wheres = [(k, v, False) for k, v in a.where] + [(k, json.loads(v), True) for k, v in a.where_json]
    fields = [(k, v, False) for k, v in a.field] + [(k, json.loads(v), True) for k, v in a.field_json]
    want = sorted(r for r in a.rules.split(",") if r)
    deadline = time.time() + a.timeout
    while True:
        sel = [x for x in load(a.file) if matches(x.get("event", {}), wheres)]
        got = sorted(x.get("rule_id") for x in sel)
        if got == want and (want or time.time() >= deadline):
            break
        if time.time() >= deadline or len(got) > len(want) and want:
            print("expected rules %s for event %s, found %s" % (want, wheres, got))
            for x in sel[:5]:
                print("  " + json.dumps(x)[:600])
            return 1
        time.sleep(0.1)
    for x in sel:
        ev = x["event"]
        if not matches(ev, fields):
            print("alert %s: expected %s, got %s" % (x.get("rule_id"), fields, json.dumps(ev)[:800]))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
