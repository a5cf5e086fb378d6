#!/usr/bin/env bash
# What -march=native is worth: builds bptrain portable (build-portable/, -DBPT_NATIVE=OFF, the default)
# and native (build-native/, -DBPT_NATIVE=ON), then measures both on the same runs, interleaved, keeping
# each one's best of REPS (3). Prints samples/s and the ratio per model and rank count. Like
# bench/run_all.py, it lets OpenBLAS pick its kernels (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for kind in portable native; do
  cmake -S . -B build-$kind -DCMAKE_BUILD_TYPE=Release -DBPT_NATIVE=$([ $kind = native ] && echo ON || echo OFF) \
    -DBPT_BUILD_TESTS=OFF >/dev/null
  cmake --build build-$kind -j"$(nproc)" --target bptrain >/dev/null
done
source scripts/mpi_env.sh
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rate() {  # binary np hidden steps
  mpirun -np "$2" "$1" --hidden "$3" --batch-size 256 --optimizer momentum --lr 0.01 --epochs 1 --max-steps "$4" \
    --quiet --metrics "$tmp/m.jsonl" >/dev/null
  tail -1 "$tmp/m.jsonl" | python3 -c 'import json, sys; print(json.load(sys.stdin)["samples_per_second"])'
}
echo "model np portable_samples_per_s native_samples_per_s native/portable (best of ${REPS:-3}, interleaved)"
for point in "512,256 1 300" "512,256 2 300" "2048,2048 1 60" "2048,2048 2 60"; do
  read -r hidden np steps <<<"$point"
  best_p=0 best_n=0
  for _ in $(seq "${REPS:-3}"); do
    p=$(rate build-portable/bptrain "$np" "$hidden" "$steps"); n=$(rate build-native/bptrain "$np" "$hidden" "$steps")
    best_p=$(python3 -c "print(max($best_p, $p))"); best_n=$(python3 -c "print(max($best_n, $n))")
  done
  python3 -c "print(f'784-${hidden/,/-}-10 $np {$best_p:.0f} {$best_n:.0f} {$best_n / $best_p:.3f}')"
done
