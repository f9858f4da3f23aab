#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a directory the way the kubelet writes a ConfigMap volume.

  kube_atomic_write.py DIR KEY=FILE...

DIR ends up holding, for each KEY, a symbolic link "KEY -> ..data/KEY",
"..data" linking to a timestamped directory "..YYYY_MM_DD_HH_MM_SS.<random>"
(mode 0755) that holds the files (mode 0644, FILE's content). The steps and
their order are those of the kubelet's atomic writer
(kubernetes pkg/volume/util/atomic_writer.go), so a watcher sees what it
would see in a pod:

  1. a new timestamped directory, with the new payload written in it;
  2. links for keys that are new (existing links are left alone);
  3. "..data_tmp" -> the new directory, renamed over "..data" (rename(2),
     atomic: readers see the old set or the new one);
  4. links of keys no longer in the payload removed;
  5. the previous timestamped directory removed.

The first call on an empty DIR makes the initial layout (no step 4, 5).
The kubelet creates DIR itself with mode 0777 (an emptyDir); so does this
script when DIR does not exist.
"""
import os
import shutil
import sys
import tempfile
import time

DATA = "..data"
DATA_TMP = "..data_tmp"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    target = sys.argv[1]
    payload = {}
    for arg in sys.argv[2:]:
        key, sep, src = arg.partition("=")
        if not sep or not key or "/" in key or key.startswith(".."):
            sys.exit("bad KEY=FILE: %r" % arg)
        with open(src, "rb") as f:
            payload[key] = f.read()
    if not os.path.isdir(target):
        os.mkdir(target)
        os.chmod(target, 0o777)

    data_path = os.path.join(target, DATA)
    try:
        old_ts = os.readlink(data_path)
    except FileNotFoundError:
        old_ts = ""
    old_keys = set(os.listdir(os.path.join(target, old_ts))) if old_ts else set()

    # 1
    ts = tempfile.mkdtemp(prefix=time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()), dir=target)
    os.chmod(ts, 0o755)
    for key, content in payload.items():
        p = os.path.join(ts, key)
        with open(p, "wb") as f:
            f.write(content)
        os.chmod(p, 0o644)
    # 2
    for key in payload:
        link = os.path.join(target, key)
        if not os.path.islink(link):
            os.symlink(os.path.join(DATA, key), link)
    # 3
    tmp = os.path.join(target, DATA_TMP)
    os.symlink(os.path.basename(ts), tmp)
    os.rename(tmp, data_path)
    # 4
    for key in old_keys - set(payload):
        os.remove(os.path.join(target, key))
    # 5
    if old_ts:
        shutil.rmtree(os.path.join(target, old_ts))


if __name__ == "__main__":
    main()
