#!/usr/bin/env python3
"""Steady-state step time from a bptrain --profile CSV: per step past the warm-up, the slowest rank's
total (compute + communication wait + optimizer + data), averaged; and the mean of each phase over
ranks and steps. Usage: step_time.py PROFILE.csv [WARMUP_STEPS=10]
Prints: step_ms=... compute_ms=... comm_wait_ms=... optimizer_ms=... data_ms=... steps=..."""
import csv
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1])))
warm = int(sys.argv[2]) if len(sys.argv) > 2 else 10
phases = ("compute_ms", "comm_wait_ms", "optimizer_ms", "data_ms")
rows = [r for r in rows if int(float(r["step"])) >= warm]
if not rows:
    sys.exit(f"{sys.argv[1]}: no steps past the first {warm}")
per_step = defaultdict(float)
for r in rows:
    total = sum(float(r[p]) for p in phases)
    per_step[r["step"]] = max(per_step[r["step"]], total)
mean = {p: sum(float(r[p]) for r in rows) / len(rows) for p in phases}
print(f"step_ms={sum(per_step.values()) / len(per_step):.4f} " + " ".join(f"{p}={mean[p]:.4f}" for p in phases) +
      f" steps={len(per_step)}")
