#!/usr/bin/env bash
# Streaming throughput against in-memory training on a synthetic HDF5 set of a few GB.
# Prints samples/s of each and the ratio, for deflate-compressed and uncompressed files.
# Usage: bench/stream_vs_memory.sh [N=2500000] [D=1024]   (N*D bytes of features; default 2.4 GiB)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2500000} D=${2:-1024} STEPS=${STEPS:-300}
dir=${BENCH_DIR:-/tmp/bptrain_bench}; mkdir -p "$dir"
source scripts/mpi_env.sh
bin=${BPTRAIN:-build/bptrain} data=${BPTRAIN_DATA:-build/bptrain-data}
[ -f "$dir/test_$D.h5" ] || $data convert "synthetic:2000,$D,10" "$dir/test_$D.h5" --seed 7 >/dev/null
rate() {  # samples/s from the epoch summary line
  $bin --train "$1" --test "$dir/test_$D.h5" --hidden 512,256 --epochs 1 --max-steps "$STEPS" --batch-size 128 \
    --quiet --metrics "$dir/m.jsonl" "${@:2}" >/dev/null
  sed -E 's/.*"samples_per_second":([0-9.e+]+).*/\1/' "$dir/m.jsonl"
}
printf '%-28s %14s %14s %8s\n' "file" "in-memory/s" "streamed/s" "ratio"
for deflate in 4 0; do
  f="$dir/train_${N}_${D}_z$deflate.h5"
  [ -f "$f" ] || $data convert "synthetic:$N,$D,10" "$f" --deflate $deflate >/dev/null
  mem=$(rate "$f")
  str=$(rate "$f" --stream)
  printf '%-28s %14.0f %14.0f %8.3f\n' "$(basename "$f") ($(du -h "$f" | cut -f1))" "$mem" "$str" \
    "$(echo "$str / $mem" | bc -l)"
done
