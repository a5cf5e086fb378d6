#!/usr/bin/env bash
# --bucket-mb at scale, SIMULATED: weak-scaling runs of scripts/simulate.sh (one rank per node, 256
# samples per rank) at each bucket size, for the small model (784-512-256-10, 2.1 MB of gradient) and
# the wide one (784-2048-2048-10, 23 MB). Writes OUT/buckets.csv (one row per model, bucket size and
# rank count: efficiency from the median and from the best step, the best step's shortest wait) and
# keeps each run's folder (OUT/<model>-<MiB>/).
# Usage: scripts/smpi/bucket_study.sh [OUT=simulated/buckets]
# Environment: SIZES (MiB, "0.25 0.5 1 2 4 8"), WIDE_SIZES ("$SIZES 32"), SMALL_RANKS ("256,1024"),
#   WIDE_RANKS ("64"), STEPS (6), NET (100). The machine is calibrated once (the first run's HOST_SPEED
#   and SMPI_TEST are kept for the rest), so that every bucket size is billed at the same rate.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-simulated/buckets}
SIZES=${SIZES:-0.25 0.5 1 2 4 8}
WIDE_SIZES=${WIDE_SIZES:-$SIZES 32}
mkdir -p "$out"
csv=$out/buckets.csv
echo "model,bucket_mb,ranks,eff_median,eff_best,wait_min_ms,host_speed" > "$csv"
run() {  # model hidden ranks size
  local dir=$out/$1-$4 line
  line=$(STEPS=${STEPS:-6} MODES=weak HIDDEN=$2 BPT_ARGS="--bucket-mb $4" bash scripts/simulate.sh "$3" "$dir" |
         grep '^simulate.sh: HOST_SPEED=' || true)
  if [ -z "${HOST_SPEED:-}" ] && [ -n "$line" ]; then
    HOST_SPEED=$(sed 's/.*HOST_SPEED=\([^ ]*\).*/\1/' <<<"$line")
    SMPI_TEST=$(sed 's/.*SMPI_TEST=\([^ ]*\).*/\1/' <<<"$line")
    export HOST_SPEED SMPI_TEST
  fi
  python3 scripts/smpi/step_spread.py "$dir" | awk -v m="$1" -v s="$4" -v h="$HOST_SPEED" \
    '$1 == "weak" && $2 > 1 { print m "," s "," $2 "," $6 "," $7 "," $10 "," h }' | tee -a "$csv"
}
for s in $SIZES; do run small 512,256 "${SMALL_RANKS:-256,1024}" "$s"; done
for s in $WIDE_SIZES; do run wide 2048,2048 "${WIDE_RANKS:-64}" "$s"; done
column -s, -t < "$csv"
