#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The mechanics of tests/mutation/run.sh: reads the curated mutation list
(tests/mutation/mutations.txt, format described there and in
docs/development.md), applies and reverts one mutation in a tree, resolves a
mutation's test selection against a build directory, and validates the list
(tests/integration/test_mutation_list.sh).

Subcommands (LIST is the list file, ROOT a source tree, BUILD a build dir):
  show LIST                       the list as a table (run.sh --list)
  ids LIST [ID...]                the ids to run, in list order; an unknown
                                  id is an error
  count LIST ID ROOT              occurrences of the mutation's original text
  apply LIST ID ROOT BACKUP       applies it (exactly one occurrence, else
                                  exit 3), the file's old bytes saved in BACKUP
  revert LIST ID ROOT BACKUP      puts BACKUP back (with a fresh mtime, so an
                                  incremental build recompiles the file)
  tests LIST BUILD ID [EXCL]      an anchored ctest -R regex of the tests the
                                  mutation selects, minus the names in the
                                  file EXCL (one a line); exit 4 when none
  union LIST BUILD ID...          the names of every test the ids select
  timeout LIST ID DEFAULT         the mutation's time bound for its tests
  failed LOG                      failed/timed-out and skipped test names from
                                  a ctest log ("failed NAME", "skipped NAME")
  validate LIST ROOT [BUILD] [--min N]
                                  the list is well-formed, has at least N
                                  entries (default 30), every original text
                                  occurs exactly once in ROOT, and (with BUILD)
                                  every selection names at least one test
"""
import json
import signal
import os
import re
import subprocess
import sys

REQUIRED = ("file", "original", "tests", "why")
KEYS = REQUIRED + ("replace", "label", "timeout")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# Tests never selected: the list's own check fails on any mutated tree (the
# original text is gone), so it would "catch" every mutation.
NEVER = re.compile(r"(^|/)test_mutation_list$")


class ListError(Exception):
    pass


def parse(path):
    """Returns [(id, {key: value}), ...] in file order."""
    entries, cur, last_key = [], None, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        where = "%s:%d" % (path, n)
        if line.startswith("|"):
            # continuation of the previous original/replace value, verbatim
            if cur is None or last_key not in ("original", "replace"):
                raise ListError("%s: a '|' line continues only 'original' or 'replace'" % where)
            cur[1][last_key] += "\n" + line[1:]
            continue
        last_key = None
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"^\[([^\]]*)\]$", s)
        if m:
            mid = m.group(1)
            if not ID_RE.match(mid):
                raise ListError("%s: bad id %r (lower case letters, digits, _ . -)" % (where, mid))
            if any(e[0] == mid for e in entries):
                raise ListError("%s: duplicate id %r" % (where, mid))
            cur = (mid, {"_line": n})
            entries.append(cur)
            continue
        m = re.match(r"^([a-z_]+) =(?: (.*))?$", line)
        if not m:
            raise ListError("%s: expected '[id]', 'key = value', '| continuation' or a comment" % where)
        if cur is None:
            raise ListError("%s: a key before the first [id]" % where)
        key, val = m.group(1), m.group(2) or ""
        if key not in KEYS:
            raise ListError("%s: unknown key %r (known: %s)" % (where, key, ", ".join(KEYS)))
        if key in cur[1]:
            raise ListError("%s: %r given twice for [%s]" % (where, key, cur[0]))
        cur[1][key] = val
        last_key = key
    for mid, e in entries:
        where = "%s:%d [%s]" % (path, e["_line"], mid)
        for k in REQUIRED:
            if k == "tests" and "label" in e:
                continue
            if not e.get(k):
                raise ListError("%s: missing %r" % (where, k))
        e.setdefault("replace", "")
        e.setdefault("tests", "")
        if e["replace"] == e["original"]:
            raise ListError("%s: replace is the same as original" % where)
        if "timeout" in e and not e["timeout"].isdigit():
            raise ListError("%s: timeout must be whole seconds" % where)
        for k in ("tests", "label"):
            if e.get(k):
                try:
                    re.compile(e[k])
                except re.error as ex:
                    raise ListError("%s: %s is not a valid regex: %s" % (where, k, ex))
        if os.path.isabs(e["file"]) or ".." in e["file"].split("/"):
            raise ListError("%s: file must be a path inside the tree" % where)
    return entries


def get(entries, mid):
    for i, e in entries:
        if i == mid:
            return e
    raise ListError("unknown mutation id %r (see run.sh --list)" % mid)


def read(root, e):
    with open(os.path.join(root, e["file"]), "rb") as f:
        return f.read()


def write(root, e, data):
    path = os.path.join(root, e["file"])
    tmp = path + ".mut-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    st = os.stat(path)
    os.chmod(tmp, st.st_mode & 0o7777)
    os.replace(tmp, path)  # a new file: a fresh mtime, newer than any object built from it


def count(root, e):
    try:
        return read(root, e).count(e["original"].encode())
    except FileNotFoundError:
        return -1


def ctest_tests(build):
    """[(name, [labels])] of the build's tests, from ctest --show-only=json-v1."""
    out = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"],
                         check=True, capture_output=True, text=True).stdout
    tests = []
    for t in json.loads(out).get("tests", []):
        labels = []
        for p in t.get("properties", []):
            if p.get("name") == "LABELS":
                labels = p.get("value") or []
        tests.append((t["name"], labels))
    return tests


def selected(e, tests):
    rx = re.compile(e["tests"]) if e.get("tests") else None
    lx = re.compile(e["label"]) if e.get("label") else None
    return [n for n, labels in tests
            if not NEVER.search(n)
            and ((rx and rx.search(n)) or (lx and any(lx.search(l) for l in labels)))]


def anchored(names):
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, listfile, args = argv[1], argv[2], argv[3:]
    if cmd == "failed":
        return failed(listfile)  # a ctest log, not a list
    try:
        entries = parse(listfile)
        if cmd == "show":
            for mid, e in entries:
                sel = e["tests"] + (" [label %s]" % e["label"] if e.get("label") else "")
                print("%-34s %-30s %s" % (mid, e["file"], sel))
                print("%-34s %s" % ("", e["why"]))
            print("%d mutations" % len(entries))
        elif cmd == "ids":
            if args:
                want = set(args)
                for a in args:
                    get(entries, a)
                print("\n".join(m for m, _ in entries if m in want))
            else:
                print("\n".join(m for m, _ in entries))
        elif cmd == "count":
            print(count(args[1], get(entries, args[0])))
        elif cmd == "apply":
            e = get(entries, args[0])
            n = count(args[1], e)
            if n != 1:
                sys.stderr.write("original text found %d times in %s\n" % (max(n, 0), e["file"]))
                return 3
            data = read(args[1], e)
            with open(args[2], "wb") as f:
                f.write(data)
            write(args[1], e, data.replace(e["original"].encode(), e["replace"].encode(), 1))
        elif cmd == "revert":
            e = get(entries, args[0])
            with open(args[2], "rb") as f:
                write(args[1], e, f.read())
        elif cmd == "tests":
            e = get(entries, args[1])
            excl = set()
            if len(args) > 2 and os.path.exists(args[2]):
                excl = {l.strip() for l in open(args[2]) if l.strip()}
            names = [n for n in selected(e, ctest_tests(args[0])) if n not in excl]
            if not names:
                return 4
            print(anchored(names))
        elif cmd == "union":
            tests = ctest_tests(args[0])
            names = set()
            for mid in args[1:]:
                names.update(selected(get(entries, mid), tests))
            print("\n".join(n for n, _ in tests if n in names))
        elif cmd == "timeout":
            print(get(entries, args[0]).get("timeout") or args[1])
        elif cmd == "validate":
            return validate(listfile, entries, args)
        else:
            sys.stderr.write("unknown subcommand %r\n" % cmd)
            return 2
    except ListError as ex:
        sys.stderr.write("%s\n" % ex)
        return 2
    return 0


def failed(log):
    mode = None
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("The following tests FAILED:"):
                mode = "failed"
                continue
            if line.startswith("The following tests did not run:"):
                mode = "skipped"
                continue
            m = re.match(r"^\s+\d+ - (\S+) \((.*)\)\s*$", line)
            if mode and m:
                print(("skipped " if mode == "skipped" else "failed ") + m.group(1))
            elif mode and line.strip() and not m:
                mode = None
    return 0


def validate(listfile, entries, args):
    minimum, build, rest = 30, None, list(args)
    if "--min" in rest:
        i = rest.index("--min")
        minimum = int(rest[i + 1])
        del rest[i:i + 2]
    root = rest[0]
    if len(rest) > 1:
        build = rest[1]
    problems = []
    if len(entries) < minimum:
        problems.append("%d mutations, want at least %d" % (len(entries), minimum))
    tests = ctest_tests(build) if build else None
    for mid, e in entries:
        n = count(root, e)
        if n < 0:
            problems.append("[%s]: %s does not exist" % (mid, e["file"]))
        elif n != 1:
            problems.append("[%s]: original text found %d times in %s (want exactly 1): "
                            "update the entry with the code it was written for" % (mid, n, e["file"]))
        if tests is not None and not selected(e, tests):
            problems.append("[%s]: tests %r label %r select no ctest test"
                            % (mid, e.get("tests"), e.get("label")))
    for p in problems:
        print("STALE " + p)
    kinds = {}
    for _, e in entries:
        top = e["file"].split("/")[0]
        kinds[top] = kinds.get(top, 0) + 1
    print("%d mutations (%s), %d problems" % (
        len(entries), ", ".join("%s %d" % kv for kv in sorted(kinds.items())), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main(sys.argv))
