#!/usr/bin/env bash
# The timeline figures of docs/timeline.md: the main job (Fashion-MNIST, 784-512-256-10) at np=2 under mpirun on
# this machine, and the same model on 64 simulated ranks (SMPI, one rank per node of
# scripts/smpi/cluster-100g.xml, 256 samples per rank), each traced with --timeline, summarised by
# scripts/timeline_summary.py and drawn by scripts/timeline_png.sh into OUT (default docs/timeline).
# Needs the Open MPI build (build/) and makes the SMPI one (build-smpi/) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/timeline}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source scripts/mpi_env.sh
export OPENBLAS_NUM_THREADS=1
mpirun -np 2 build/bptrain --epochs 1 --max-steps 40 --quiet --timeline "$tmp/np2.json" >/dev/null
python3 scripts/timeline_summary.py "$tmp/np2.json" | tee "$out/np2_summary.txt"
bash scripts/timeline_png.sh "$tmp/np2.json" "$out/np2.png" 20 3 "measured: mpirun -np 2, Fashion-MNIST, 784-512-256-10, batch 128"
if [ ! -x build-smpi/bptrain ]; then
  cmake --preset smpi >/dev/null
  cmake --build build-smpi -j"$(nproc)" --target bptrain >/dev/null
fi
scripts/smpi/smpirun.sh -n 64 build-smpi/bptrain --train synthetic:98304,784,10 --test synthetic:64,784,10 \
  --eval-batch 1 --batch-size 16384 --optimizer momentum --lr 0.01 --epochs 1 --max-steps 6 --quiet \
  --timeline "$tmp/sim64.json" >/dev/null
python3 scripts/timeline_summary.py "$tmp/sim64.json" > "$out/sim64_summary.txt"
head -4 "$out/sim64_summary.txt"; tail -2 "$out/sim64_summary.txt"
bash scripts/timeline_png.sh "$tmp/sim64.json" "$out/sim64.png" 3 2 \
  "SIMULATED (SMPI, 64 nodes, 100 Gb/s, 5 us): 784-512-256-10, 256 samples per rank"
