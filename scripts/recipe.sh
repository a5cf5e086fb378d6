#!/usr/bin/env bash
# The best-accuracy recipe for Fashion-MNIST under `mpirun -np 2`, chosen on a validation split,
# never on the test set, for the MLP (default) or a CNN. Step 1: each candidate below trains with
# 10 % of the training set held out (--val-fraction 0.1, seed 42); the one with the best final
# validation accuracy is the recipe. Step 2: the recipe trains on the whole training set with seeds
# 1, 2 and 3; their test accuracies and mean are the result. Writes OUT/recipe.csv (and each run's
# metrics, OUT/<stage>-<name>-<seed>.jsonl, for the learning-curve plot).
# Usage: scripts/recipe.sh [mlp|cnn] [OUT=docs/recipe or docs/recipe_cnn]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-mlp}
case $model in
  mlp) out=${2:-docs/recipe} ;;
  cnn) out=${2:-docs/recipe_cnn} ;;
  *) echo "recipe.sh: the model is mlp or cnn, not '$model'" >&2; exit 2 ;;
esac
mkdir -p "$out"
source scripts/mpi_env.sh
[ -x build/bptrain ] || bash scripts/setup.sh
# Adam (lr 1e-3, batch 128, He init) for all.
if [ "$model" = mlp ]; then
# Earlier selections (git history of docs/recipe) also
# tried on validation: AdamW (weight decay 0.05, 1-epoch warm-up) with dropout 0.3 and 0.4 (0.9122,
# 0.9097), --normalize standard with dropout 0.2 (0.9078) and with dropout 0.3 and --input-dropout
# 0.1 for 40 epochs (0.9108), --input-dropout 0.2 with dropout 0.3 for 40 epochs (0.9090), against
# 0.9128 for the first candidate here; docs/recipe.md lists the rest.
names=(adam-d0.2 ls-d0.3-e40 ls-d0.3-e60 shift1-d0.1-e60)
declare -A cand=(
  [adam-d0.2]="--hidden 1024,512 --dropout 0.2 --lr-schedule cosine --epochs 30"
  [ls-d0.3-e40]="--hidden 1024,512 --dropout 0.3 --label-smoothing 0.1 --lr-schedule cosine --epochs 40"
  [ls-d0.3-e60]="--hidden 1024,512 --dropout 0.3 --label-smoothing 0.1 --lr-schedule cosine --epochs 60"
  [shift1-d0.1-e60]="--hidden 1024,512 --dropout 0.1 --augment-shift 1 --lr-schedule cosine --epochs 60"
)
else
# LeNet-sized (two 5x5 convolutions) and a VGG-like stack of 3x3 ones at about the same cost per
# sample, both with dropout after the dense layer, mirrored images and a cosine schedule.
names=(lenet-d0.3-flip-e15 vgg-d0.3-flip-e15)
declare -A cand=(
  [lenet-d0.3-flip-e15]="--layers conv5:32,maxpool2,conv5:64,maxpool2,dense:256 --dropout 0.3 --augment-flip --lr-schedule cosine --epochs 15"
  [vgg-d0.3-flip-e15]="--layers conv3:32,conv3:32,maxpool2,conv3:64,maxpool2,dense:256 --dropout 0.3 --augment-flip --lr-schedule cosine --epochs 15"
)
fi
echo "stage,name,seed,val_accuracy,test_accuracy,seconds,flags" > "$out/recipe.csv"
last() { python3 -c "import json,sys; m=[json.loads(l) for l in open(sys.argv[1])][-1]; print(f\"{m.get('val_accuracy', float('nan')):.4f},{m['test_accuracy']:.4f},{m['elapsed_s']:.0f}\")" "$1"; }
best= best_val=0
for name in "${names[@]}"; do
  # shellcheck disable=SC2086
  mpirun -np 2 build/bptrain ${cand[$name]} --val-fraction 0.1 --quiet --metrics "$out/select-$name-42.jsonl" >/dev/null
  fig=$(last "$out/select-$name-42.jsonl")
  echo "select,$name,42,$fig,\"${cand[$name]}\"" | tee -a "$out/recipe.csv"
  val=${fig%%,*}
  if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$val" "$best_val"; then best=$name best_val=$val; fi
done
echo "chosen on validation: $best (${cand[$best]})"
for seed in 1 2 3; do
  # shellcheck disable=SC2086
  mpirun -np 2 build/bptrain ${cand[$best]} --seed $seed --quiet --metrics "$out/final-$best-$seed.jsonl" >/dev/null
  echo "final,$best,$seed,$(last "$out/final-$best-$seed.jsonl"),\"${cand[$best]}\"" | tee -a "$out/recipe.csv"
done
python3 - "$out/recipe.csv" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["stage"] == "final"]
acc = [float(r["test_accuracy"]) for r in rows]
print(f"recipe {rows[0]['name']}: test accuracy {', '.join(f'{a:.4f}' for a in acc)}; mean {statistics.mean(acc):.4f}"
      f" (sd {statistics.stdev(acc):.4f}) over seeds 1-3; {statistics.mean(float(r['seconds']) for r in rows):.0f} s a run")
PY
