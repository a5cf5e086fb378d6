#!/usr/bin/env python3
"""How much of a simulated scaling study is this machine's noise: per run of scripts/simulate.sh (its
profile_<mode>_<ranks>.csv files), the step times past the warm-up, the median (what scaling.csv's
samples/s uses) and the best, the efficiency from each, and for the best step the ranks' work
(compute + data + optimizer: median and slowest) and the shortest communication wait.
SMPI times every rank's computation for real, one rank after another on this machine: a stall of the
machine during one of p bursts lengthens a whole simulated step, and p ranks' data cycle through one
cache (a rank's step starts cold, as it would not on its own node). The best step is the closest to a
quiet cluster; the median is what scaling.csv reports.
Usage: scripts/smpi/step_spread.py OUT [WARMUP=2]"""
import glob
import os
import re
import statistics
import sys

from step_time import steps, total

out = sys.argv[1]
warm = int(sys.argv[2]) if len(sys.argv) > 2 else 2
runs = {}
for path in glob.glob(os.path.join(out, "profile_*_*.csv")):
    m = re.match(r"profile_(strong|weak)_(\d+)\.csv$", os.path.basename(path))
    if not m:
        continue
    per = []
    for rs in steps(path, warm).values():
        work = sorted(float(r["compute_ms"]) + float(r["data_ms"]) + float(r["optimizer_ms"]) for r in rs)
        wait = min(float(r["comm_wait_ms"]) for r in rs)
        per.append((max(total(r) for r in rs), work[len(work) // 2], work[-1], wait))
    if per:
        runs[(m.group(1), int(m.group(2)))] = sorted(per)
print("mode   ranks  steps  median_ms  best_ms  eff_median  eff_best  best: work_median_ms  work_max_ms  wait_min_ms")
for (mode, p) in sorted(runs):
    per = runs[(mode, p)]
    med, best = statistics.median(t for t, *_ in per), per[0][0]
    base = runs.get((mode, 1))
    if base:
        b_med, b_best = statistics.median(t for t, *_ in base), base[0][0]
        scale = 1 if mode == "weak" else p  # strong: the same global batch on p ranks
        eff_med, eff_best = f"{b_med / (scale * med):.3f}", f"{b_best / (scale * best):.3f}"
    else:
        eff_med = eff_best = "-"
    print(f"{mode:6} {p:5} {len(per):6} {med:10.3f} {best:8.3f} {eff_med:>11} {eff_best:>9}"
          f"  {per[0][1]:19.3f} {per[0][2]:12.3f} {per[0][3]:12.3f}")
