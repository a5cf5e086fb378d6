#!/usr/bin/env python3
"""Checks a bptrain --profile CSV's split of compute: check_profile.py PROFILE [TRACE]
On every row forward_ms and backward_ms are positive and add up to compute_ms (0.2 us of slack for the
file's rounding). With TRACE (the same run's --timeline), each is at least the sum of that rank's and
step's per-layer events of its phase (they lie inside it; 1 us of slack), and at least half the rows
have forward events. Exit 1 with the reason."""
import collections, csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
bad = [r for r in rows if not (float(r["forward_ms"]) > 0 and float(r["backward_ms"]) > 0
       and abs(float(r["forward_ms"]) + float(r["backward_ms"]) - float(r["compute_ms"])) <= 2e-4)]
if bad or not rows:
    sys.exit(f"FAIL: {sys.argv[1]}: rows {len(rows)}; not forward + backward = compute: {bad[:1]}")
if len(sys.argv) > 2:
    ev = collections.defaultdict(float)
    for e in json.load(open(sys.argv[2]))["traceEvents"]:
        if e.get("ph") == "X" and e["name"].split(" ")[0] in ("forward", "backward"):
            ev[(e["pid"], e["args"]["step"], e["name"].split(" ")[0])] += e["dur"] / 1000.0
    short = [(r, ph, ev[(int(r["rank"]), int(r["step"]), ph)]) for r in rows for ph in ("forward", "backward")
             if float(r[ph + "_ms"]) < ev[(int(r["rank"]), int(r["step"]), ph)] - 1e-3]
    seen = sum(1 for r in rows if ev[(int(r["rank"]), int(r["step"]), "forward")] > 0)
    if short or seen < len(rows) // 2:
        sys.exit(f"FAIL: {sys.argv[1]}: rows {len(rows)}, {seen} with trace events; under the trace's events: {short[:1]}")
