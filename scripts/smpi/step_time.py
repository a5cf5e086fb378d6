#!/usr/bin/env python3
"""Steady-state step time from a bptrain --profile CSV: per step past the warm-up, the slowest rank's
total (compute + communication wait + optimizer + data), averaged; and the mean of each phase over
ranks and steps. Usage: step_time.py PROFILE.csv [WARMUP_STEPS=10]
Prints: step_ms=... compute_ms=... comm_wait_ms=... optimizer_ms=... data_ms=... steps=...
Also imported (scripts/scaling.sh, step_spread.py, the validations) for steps(), total() and medians()."""
import csv
import statistics
import sys
from collections import defaultdict

PHASES = ("compute_ms", "comm_wait_ms", "optimizer_ms", "data_ms")
SPLIT = ("forward_ms", "backward_ms")  # compute's two parts (profiles written since 2026-12-06)


def total(r):
    """One rank's time in one step."""
    return sum(float(r[p]) for p in PHASES)


def steps(path, warm):
    """The profile's rows past the first `warm` steps, grouped by step: {step: [row of each rank]}."""
    out = defaultdict(list)
    for r in csv.DictReader(open(path)):
        if int(float(r["step"])) >= warm:
            out[int(float(r["step"]))].append(r)
    return out


def medians(path, warm):
    """The median step (the slowest rank's total) and each phase's median over ranks and steps, past
    the first `warm` steps: {"step_ms": ..., "compute_ms": ..., ...; "forward_ms", "backward_ms" where the
    profile has them}. A shared machine's slow moments
    are outliers here, not something a model should fit (the validations use it)."""
    by_step = steps(path, warm)
    f = {"step_ms": statistics.median(max(total(r) for r in rs) for rs in by_step.values())}
    split = tuple(p for p in SPLIT if p in next(iter(by_step.values()))[0])
    f.update({p: statistics.median(float(r[p]) for rs in by_step.values() for r in rs) for p in PHASES + split})
    return f


if __name__ == "__main__":
    by_step = steps(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
    if not by_step:
        sys.exit(f"{sys.argv[1]}: no steps past the warm-up")
    per_step = [max(total(r) for r in rs) for rs in by_step.values()]  # a step lasts as long as its slowest rank
    rows = [r for rs in by_step.values() for r in rs]
    mean = {p: sum(float(r[p]) for r in rows) / len(rows) for p in PHASES}
    print(f"step_ms={sum(per_step) / len(per_step):.4f} " + " ".join(f"{p}={mean[p]:.4f}" for p in PHASES) +
          f" steps={len(per_step)}")
