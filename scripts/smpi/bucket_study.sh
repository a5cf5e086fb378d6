#!/usr/bin/env bash
# --bucket-mb at scale, SIMULATED: weak-scaling runs of scripts/simulate.sh (one rank per node, 256
# samples per rank) at each bucket size, for the small model (784-512-256-10, 2.1 MB of gradient) and
# the wide one (784-2048-2048-10, 23 MB). Each run keeps its folder (OUT/<model>-<MiB>-r<run>/); then
# OUT/buckets.csv is made from every folder there (runs of earlier calls included): one row per model,
# bucket size and rank count, with the medians over runs of the best step and of the best step's
# shortest wait, and the efficiency against ONE baseline per model (the median over all runs of the
# one-rank best step): each run's own one-rank step moves by up to 20 % on this shared machine, which
# would otherwise pass for an effect of the bucket size.
# Usage: scripts/smpi/bucket_study.sh [OUT=simulated/buckets]
# Environment: SIZES (MiB, "0.25 0.5 1 2 4 8"), WIDE_SIZES ("$SIZES 32"; empty: no wide runs),
#   SMALL_RANKS ("256,1024"), WIDE_RANKS ("64"), RUNS (1), STEPS (6), NET (100). The machine is
#   calibrated once (the first run's HOST_SPEED and SMPI_TEST are kept for the rest of the call).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-simulated/buckets}
SIZES=${SIZES-0.25 0.5 1 2 4 8}
WIDE_SIZES=${WIDE_SIZES-$SIZES 32}
mkdir -p "$out"
run() {  # model hidden ranks size
  local n=1 dir line
  while [ -e "$out/$1-$4-r$n" ]; do n=$((n + 1)); done
  dir=$out/$1-$4-r$n
  line=$(STEPS=${STEPS:-6} MODES=weak HIDDEN=$2 BPT_ARGS="--bucket-mb $4" bash scripts/simulate.sh "$3" "$dir" |
         grep '^simulate.sh: HOST_SPEED=' || true)
  if [ -z "${HOST_SPEED:-}" ] && [ -n "$line" ]; then
    HOST_SPEED=$(sed 's/.*HOST_SPEED=\([^ ]*\).*/\1/' <<<"$line")
    SMPI_TEST=$(sed 's/.*SMPI_TEST=\([^ ]*\).*/\1/' <<<"$line")
    export HOST_SPEED SMPI_TEST
  fi
  echo "bucket_study.sh: $dir done"
}
for _ in $(seq "${RUNS:-1}"); do
  for s in $SIZES; do run small 512,256 "${SMALL_RANKS:-256,1024}" "$s"; done
  for s in $WIDE_SIZES; do run wide 2048,2048 "${WIDE_RANKS:-64}" "$s"; done
done
python3 - "$out" <<'PY'
import glob, os, re, statistics, subprocess, sys
from collections import defaultdict
out = sys.argv[1]
best, wait, base = defaultdict(list), defaultdict(list), defaultdict(list)
for d in sorted(glob.glob(os.path.join(out, "*-*-r*"))):
    m = re.match(r"(\w+)-([0-9.]+)-r\d+$", os.path.basename(d))
    if not m:
        continue
    text = subprocess.run(["python3", "scripts/smpi/step_spread.py", d], capture_output=True, text=True).stdout
    for line in text.splitlines()[1:]:
        f = line.split()  # mode ranks steps median best eff_median eff_best work_median work_max wait_min
        if f[0] != "weak":
            continue
        if f[1] == "1":
            base[m[1]].append(float(f[4]))
        else:
            best[(m[1], float(m[2]), int(f[1]))].append(float(f[4]))
            wait[(m[1], float(m[2]), int(f[1]))].append(float(f[9]))
with open(os.path.join(out, "buckets.csv"), "w") as csv:
    csv.write("model,bucket_mb,ranks,runs,best_step_ms,efficiency,wait_min_ms,baseline_ms,baseline_runs\n")
    for k in sorted(best):
        b = statistics.median(base[k[0]])
        s = statistics.median(best[k])
        csv.write(f"{k[0]},{k[1]:g},{k[2]},{len(best[k])},{s:.3f},{b / s:.3f},{statistics.median(wait[k]):.3f},"
                  f"{b:.3f},{len(base[k[0]])}\n")
PY
column -s, -t < "$out/buckets.csv"
