#!/usr/bin/env python3
"""Checks a bptrain --timeline trace: check_timeline.py TRACE RANKS on|off [NAME,NAME,...]
Chrome trace JSON; every event well formed; every rank has a process name, each NAME (default: the
phases of a run with a checkpoint and replica checks) and a bucket sum; no two events of one track
overlap; bucket sums overlap backward on every rank (on) or never (off). Exit 1 with the reason."""
import json, sys, collections
path, ranks, overlap = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "on"
needed = (sys.argv[4].split(",") if len(sys.argv) > 4 else
          ["data", "forward 0", "backward 0", "optimizer", "weight gather", "evaluate", "checkpoint", "replica check"])
t = json.load(open(path))
ev = t["traceEvents"]
bad = []
X = [e for e in ev if e.get("ph") == "X"]
for e in ev:
    if e.get("ph") == "M":
        if not isinstance(e.get("pid"), int) or "name" not in e or "args" not in e: bad.append(e)
    elif e.get("ph") == "X":
        ok = (isinstance(e.get("name"), str) and isinstance(e.get("pid"), int) and isinstance(e.get("tid"), int)
              and isinstance(e.get("ts"), (int, float)) and isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0
              and e["ts"] >= 0 and isinstance(e.get("args", {}).get("step"), int) and 0 <= e["pid"] < ranks)
        if not ok: bad.append(e)
    else:
        bad.append(e)
if bad: sys.exit(f"{path}: {len(bad)} malformed events, e.g. {bad[0]}")
names = {e["pid"]: e["args"]["name"] for e in ev if e.get("ph") == "M" and e["name"] == "process_name"}
for r in range(ranks):
    if r not in names: sys.exit(f"{path}: rank {r} has no process_name")
    for need in needed:
        if not any(e["pid"] == r and e["name"] == need for e in X): sys.exit(f"{path}: rank {r} has no '{need}' event")
    if not any(e["pid"] == r and e["tid"] >= 2 for e in X): sys.exit(f"{path}: rank {r} has no bucket sum")
# One track's events one after another (the JSON keeps microseconds to 3 decimals: 2 ns of slack).
tracks = collections.defaultdict(list)
for e in X: tracks[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"], e["name"]))
for k, v in tracks.items():
    v.sort()
    for a, b in zip(v, v[1:]):
        if b[0] < a[1] - 0.002: sys.exit(f"{path}: rank {k[0]} track {k[1]}: '{a[2]}' [{a[0]}, {a[1]}] overlaps '{b[2]}' from {b[0]}")
# Bucket sums against backward, rank by rank.
for r in range(ranks):
    bw = [(e["ts"], e["ts"] + e["dur"]) for e in X if e["pid"] == r and e["name"].startswith("backward")]
    sums = [(e["ts"], e["ts"] + e["dur"]) for e in X if e["pid"] == r and e["tid"] >= 2]
    both = sum(1 for s in sums if any(min(s[1], b[1]) - max(s[0], b[0]) > 0.002 for b in bw))
    if overlap and both == 0: sys.exit(f"{path}: rank {r}: no bucket sum overlaps backward (overlap on)")
    if not overlap and both: sys.exit(f"{path}: rank {r}: {both} bucket sums overlap backward (overlap off)")
steps = len({e["args"]["step"] for e in X if e["name"] == "optimizer"})
print(f"{path}: {len(X)} events, {ranks} ranks, {steps} steps: well formed")
