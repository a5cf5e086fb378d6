#!/usr/bin/env python3
"""Summary of a bptrain --timeline trace, for those who would rather read than look.

Per rank: milliseconds per step in each phase (compute track: data, forward, backward, optimizer;
waits: the sums' finish, the vote, the weight gather), the time bucket sums were in flight, and the
share of it hidden under backward. Per step: the straggler, the rank whose backward ended last, and
by how much it trailed the median rank. Usage:
    scripts/timeline_summary.py TRACE.json [--csv OUT.csv]
Standard library only; the trace layout is in docs/timeline.md.
"""
import argparse
import collections
import json
import os
import statistics
import sys

COMPUTE, COMM, BUCKET = 0, 1, 2  # the tracks (tid) of one rank


def phase(name):
    """'forward 2' -> 'forward'; 'sum bucket 0' -> 'bucket sums'."""
    if name.startswith("sum bucket"):
        return "bucket sums"
    head, _, tail = name.rpartition(" ")
    return head if tail.isdigit() else name


def overlap(a0, a1, spans):
    """Length of [a0, a1) covered by the sorted, disjoint spans."""
    total = 0.0
    for s0, s1 in spans:
        if s1 <= a0:
            continue
        if s0 >= a1:
            break
        total += min(a1, s1) - max(a0, s0)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("--csv", help="also write the per-rank table here")
    a = ap.parse_args()
    with open(a.trace) as f:
        trace = json.load(f)
    events = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    if not events:
        sys.exit(f"{a.trace}: no events")
    ranks = sorted({e["pid"] for e in events})
    steps = sorted({e["args"]["step"] for e in events})
    per = collections.defaultdict(lambda: collections.defaultdict(float))  # rank -> phase -> us
    backward = collections.defaultdict(list)  # rank -> [(t0, t1)]
    buckets = collections.defaultdict(list)
    end_of_backward = collections.defaultdict(dict)  # step -> rank -> last backward end (us)
    for e in events:
        r, t0, t1 = e["pid"], e["ts"], e["ts"] + e["dur"]
        per[r][phase(e["name"])] += e["dur"]
        if e["name"].startswith("backward"):
            backward[r].append((t0, t1))
            s = e["args"]["step"]
            end_of_backward[s][r] = max(end_of_backward[s].get(r, 0.0), t1)
        elif e["tid"] >= BUCKET:
            buckets[r].append((t0, t1))
    train_steps = [s for s in steps if len(end_of_backward.get(s, {})) == len(ranks)]
    n = max(1, len(train_steps))
    phases = ["data", "forward", "backward", "optimizer", "finish sums", "vote and gradient check", "weight gather",
              "tree sum", "evaluate", "checkpoint"]
    phases = [p for p in phases if any(per[r].get(p) for r in ranks)]
    print(f"{os.path.basename(a.trace)}: {len(ranks)} ranks, {len(train_steps)} training steps; milliseconds per step")
    head = ["rank"] + phases + ["sums in flight", "hidden under backward", "straggler of"]
    straggler = collections.Counter()
    lateness = []
    for s in train_steps:
        ends = end_of_backward[s]
        last = max(ends, key=lambda r: ends[r])
        straggler[last] += 1
        lateness.append(ends[last] - statistics.median(ends.values()))
    rows = []
    for r in ranks:
        bw = sorted(backward[r])
        flight = sum(t1 - t0 for t0, t1 in buckets[r])
        hidden = sum(overlap(t0, t1, bw) for t0, t1 in buckets[r])
        rows.append([str(r)] + [f"{per[r].get(p, 0.0) / n / 1000:.3f}" for p in phases] +
                    [f"{flight / n / 1000:.3f}", f"{100 * hidden / flight:.0f}%" if flight else "-",
                     f"{straggler[r]} steps"])
    width = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, width)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, width)))
    if lateness:
        print(f"straggler lateness (last rank's end of backward after the median rank's): "
              f"median {statistics.median(lateness) / 1000:.3f} ms, max {max(lateness) / 1000:.3f} ms")
        worst = max(range(len(train_steps)), key=lambda i: lateness[i])
        s = train_steps[worst]
        ends = end_of_backward[s]
        print(f"slowest step: {s}, straggler rank {max(ends, key=lambda r: ends[r])}, "
              f"{lateness[worst] / 1000:.3f} ms behind the median")
    if a.csv:
        with open(a.csv, "w") as f:
            f.write(",".join(h.replace(" ", "_") for h in head) + "\n")
            for row in rows:
                f.write(",".join(c.replace(" steps", "").rstrip("%") for c in row) + "\n")


if __name__ == "__main__":
    main()
