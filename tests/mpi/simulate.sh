#!/usr/bin/env bash
# scripts/simulate.sh end to end on a small problem: 1 and 16 simulated ranks on the 100 Gb/s cluster,
# strong and weak, a few steps; the CSV must have its rows, the platform column, and sane figures.
set -u
bptrain=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build=$(dirname "$bptrain")
# simulate.sh uses build-smpi/ (this build) and build/ (Open MPI, for the calibration): point it at them.
if ! SMPI_BUILD=$build STEPS=3 WARMUP=1 HIDDEN=64 LOCAL=32 BATCH=512 bash "$root/scripts/simulate.sh" 16 "$tmp/sim" > "$tmp/log" 2>&1; then
  echo "FAIL simulate.sh exited non-zero"; tail -20 "$tmp/log"; exit 1
fi
cat "$tmp/log" | tail -8
python3 - "$tmp/sim/scaling.csv" <<'PY' || exit 1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [(r["mode"], r["ranks"]) for r in rows] == [("strong", "1"), ("strong", "16"), ("weak", "1"), ("weak", "16")], rows
for r in rows:
    assert r["platform"] == "cluster-100g", r
    assert float(r["samples_per_s"]) > 0 and float(r["compute_ms"]) > 0, r
    assert 0 < float(r["efficiency"]) <= 1.5, r
    if r["ranks"] == "16":
        assert float(r["comm_wait_ms"]) > 0, r  # 16 simulated nodes must wait on the network
print("ok   simulated CSV: 4 rows, platform cluster-100g, figures in range")
PY
# --timeline under SMPI: 16 simulated ranks, simulated time, every rank's tracks, sums overlapping backward.
if ! PLATFORM="$root/scripts/smpi/cluster-100g.xml" bash "$root/scripts/smpi/smpirun.sh" -n 16 "$bptrain" \
    --train synthetic:8192,64,10 --test synthetic:16,64,10 --eval-batch 1 --hidden 256,256 --batch-size 2048 \
    --epochs 1 --max-steps 4 --bucket-mb 0.1 --quiet --timeline "$tmp/t16.json" > "$tmp/tlog" 2>&1; then
  echo "FAIL the 16-rank --timeline run"; tail -20 "$tmp/tlog"; exit 1
fi
python3 "$root/tests/mpi/check_timeline.py" "$tmp/t16.json" 16 on "data,forward 0,backward 0,optimizer,weight gather,evaluate" || exit 1
