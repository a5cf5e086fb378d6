#!/usr/bin/env bash
# The large-batch study: Fashion-MNIST, 784-512-256-10, global batch 128, 1,024, 4,096, 8,192 and
# 16,384 under `mpirun -np NP`, each with momentum SGD + linear LR scaling, Adam, LARS and LAMB, at one
# epoch budget (EPOCHS, default 15) with the same schedule for all (linear warm-up over the first
# WARMUP=2 epochs, then cosine decay to 0). Each cell tries three learning rates (the grids below), with
# 10 % of the training set held out (--val-fraction 0.1, seed 42): the cell's learning rate is the one
# with the best final validation accuracy, and its test accuracy is reported. The test set chooses
# nothing. Writes OUT/study.csv (every run), OUT/table.md (the chosen run of each cell) and
# OUT/study.png. Usage: scripts/large_batch_study.sh [OUT=docs/large_batch] [EPOCHS=15] [NP=2]
# Learning-rate grids (base x factor of the batch B):
#   momentum  0.025, 0.05, 0.1  x B/128        (Goyal et al. 2017's linear scaling; momentum 0.9)
#   adam      5e-4, 1e-3, 2e-3  x sqrt(B/128)  (square-root scaling)
#   lars      0.3, 1, 3 (or LARS_LRS, e.g. "1,3,10")  (global LR; trust coefficient 0.001; weight decay 1e-4)
#   lamb      2.5e-3, 5e-3, 1e-2 (or LAMB_LRS) x sqrt(B/128) (weight decay 0.01)
# BPT_ARGS is added to every run's flags (e.g. "--normalize standard"; the tables say so).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/large_batch} epochs=${2:-15} np=${3:-2}
mkdir -p "$out"
source scripts/mpi_env.sh
[ -x build/bptrain ] || bash scripts/setup.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
csv=$out/study.csv
echo "batch,optimizer,lr,val_accuracy,test_accuracy,seconds" > "$csv"
for b in 128 1024 4096 8192 16384; do
  for opt in momentum adam lars lamb; do
    for base in 1 2 3; do
      case $opt in
        momentum) lr=$(python3 -c "print([0.025, 0.05, 0.1][$base - 1] * $b / 128)"); extra="--momentum 0.9" ;;
        adam) lr=$(python3 -c "print([5e-4, 1e-3, 2e-3][$base - 1] * ($b / 128) ** 0.5)"); extra="" ;;
        lars) lr=$(python3 -c "print([${LARS_LRS:-0.3,1,3}][$base - 1])"); extra="--momentum 0.9 --weight-decay 1e-4" ;;
        lamb) lr=$(python3 -c "print([${LAMB_LRS:-2.5e-3,5e-3,1e-2}][$base - 1] * ($b / 128) ** 0.5)"); extra="--weight-decay 0.01" ;;
      esac
      m=$tmp/$b-$opt-$base.jsonl
      # shellcheck disable=SC2086
      mpirun -np "$np" build/bptrain --batch-size "$b" --optimizer "$opt" --lr "$lr" $extra --epochs "$epochs" \
        --lr-warmup-epochs 2 --lr-schedule cosine --val-fraction 0.1 --on-nonfinite skip --grad-warn-steps 0 \
        --quiet --metrics "$m" ${BPT_ARGS:-} >/dev/null 2>&1 || true  # a diverged run (exit 3) is a result too
      python3 - "$m" "$b" "$opt" "$lr" >> "$csv" <<'PY'
import json, sys
path, b, opt, lr = sys.argv[1:]
try:
    last = [json.loads(l) for l in open(path)][-1]
    print(f"{b},{opt},{float(lr):.6g},{last['val_accuracy']:.4f},{last['test_accuracy']:.4f},{last['elapsed_s']:.1f}")
except (OSError, IndexError, KeyError):
    print(f"{b},{opt},{float(lr):.6g},nan,nan,nan")  # diverged before its first epoch's line
PY
      tail -1 "$csv"
    done
  done
done
python3 - "$csv" "$out" "$epochs" "$np" "${BPT_ARGS:-}" <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out, epochs, np_, extra = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].strip()
f = lambda v: float(v) if v not in ("nan", "") else -1.0
best = {}
for r in rows:
    k = (int(r["batch"]), r["optimizer"])
    if k not in best or f(r["val_accuracy"]) > f(best[k]["val_accuracy"]):
        best[k] = r
opts = ["momentum", "adam", "lars", "lamb"]
batches = sorted({k[0] for k in best})
with open(f"{out}/table.md", "w") as t:
    t.write(f"Test accuracy, Fashion-MNIST, 784-512-256-10, {epochs} epochs, mpirun -np {np_}"
            + (f" with {extra}" if extra else "") + "; learning rate chosen "
            "on a 10 % validation split (3 runs per cell); in brackets: that learning rate.\n\n")
    t.write("| global batch | " + " | ".join(["momentum + linear scaling", "Adam", "LARS", "LAMB"]) + " | best of LARS/LAMB vs batch 128 |\n")
    t.write("|---|" + "---|" * 5 + "\n")
    ref = max(f(best[(128, o)]["test_accuracy"]) for o in ("lars", "lamb"))
    ref_any = max(f(best[(128, o)]["test_accuracy"]) for o in opts)
    for b in batches:
        cells = []
        for o in opts:
            r = best[(b, o)]
            a = f(r["test_accuracy"])
            cells.append(f"{a:.4f} ({float(r['lr']):.3g})" if a >= 0 else "diverged")
        ll = max(f(best[(b, o)]["test_accuracy"]) for o in ("lars", "lamb"))
        t.write(f"| {b:,} | " + " | ".join(cells) + f" | {100 * (ll - ref_any):+.2f} points |\n")
    t.write(f"\n(The last column compares with the best optimizer at batch 128, {ref_any:.4f}.)\n")
with open(f"{out}/best.dat", "w") as d:
    for b in batches:
        d.write(f"{b} " + " ".join(f"{max(f(best[(b, o)]['test_accuracy']), 0):.4f}" for o in opts) + "\n")
print(open(f"{out}/table.md").read())
PY
command -v gnuplot >/dev/null || apt-get install -y -qq gnuplot-nox >/dev/null
gnuplot <<GP
set terminal pngcairo size 900,500 font ",10"
set output "$out/study.png"
set title "Fashion-MNIST, 784-512-256-10, $epochs epochs${BPT_ARGS:+, $BPT_ARGS}: test accuracy by global batch (LR tuned on validation)"
set logscale x 2
set xlabel "global batch"; set ylabel "test accuracy"; set grid; set key bottom left
set xtics (128, 1024, 4096, 8192, 16384)
plot "$out/best.dat" using 1:2 w lp lw 2 t "momentum + linear scaling", "" using 1:3 w lp lw 2 t "Adam", \
     "" using 1:4 w lp lw 2 t "LARS", "" using 1:5 w lp lw 2 t "LAMB"
GP
rm -f "$out/best.dat"
echo "wrote $csv, $out/table.md, $out/study.png"
