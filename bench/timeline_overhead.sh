#!/usr/bin/env bash
# What the stall watch and the timeline cost the main job (Fashion-MNIST, 784-512-256-10, np=2, batch
# 128): three settings in alternating rounds, in one run (this machine is shared and noisy): A
# --stall-timeout 0 (blocking waits, no heartbeat), B the default (the stall watch on), C the default
# with --timeline. Training throughput per epoch (the metrics' samples_per_second: steps only, not the
# evaluation or the trace's write); medians over ROUNDS x EPOCHS epochs, and the ratios.
# Usage: bench/timeline_overhead.sh [ROUNDS=5] [EPOCHS=3]   (from the repository root, after setup)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5} epochs=${2:-3}
source scripts/mpi_env.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A flags=([A]="--stall-timeout 0" [B]="" [C]="--timeline $tmp/t.json")
for r in $(seq 1 "$rounds"); do
  order="A B C"; [ $((r % 2)) -eq 0 ] && order="C B A"
  for k in $order; do
    # shellcheck disable=SC2086
    mpirun -np 2 build/bptrain --epochs "$epochs" --quiet --metrics "$tmp/$k.$r.jsonl" ${flags[$k]} >/dev/null
  done
done
python3 - "$tmp" <<'PY'
import glob, json, statistics, sys
med = {}
for k in "ABC":
    v = [json.loads(l)["samples_per_second"] for f in glob.glob(f"{sys.argv[1]}/{k}.*.jsonl") for l in open(f)]
    med[k] = statistics.median(v)
    print(f"{k}: median {med[k]:,.0f} samples/s over {len(v)} epochs")
print(f"stall watch on / off: {med['B'] / med['A']:.3f}x   timeline on / off (watch on): {med['C'] / med['B']:.3f}x")
PY
