#!/usr/bin/env bash
# Usage: torch_agrees.sh MPIEXEC BPTRAIN.
set -u
mpiexec=$1 bptrain=$2
data=$(cd "$(dirname "$0")/../data" && pwd)
scripts=$(cd "$(dirname "$0")/../../scripts" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail=0
say() { echo "$*"; }
bad() { echo "FAIL $*"; fail=1; }
# PyTorch agrees with --evaluate on a checkpoint it loads as it is (python3-torch and python3-h5py;
# else exit 77, skipped).
if /usr/bin/python3 -c "import torch, h5py" 2>/dev/null; then
  # A multilayer perceptron, and a CNN whose checkpoint PyTorch must load as it is (Conv2d weights
  # [C_out, C_in, K, K], padding and stride, max- and average-pooling, the flatten in C, H, W order).
  D="$data/fmnist200-images-idx3-ubyte.gz"
  while read -r name model; do
    F="--train $D --test $D --epochs 3 --quiet $model"
    $bptrain $F --checkpoint "$name.h5" >/dev/null || bad "$name: fixture training"
    ours=$($bptrain --evaluate "$name.h5" $F | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['accuracy'], d['loss'])")
    theirs=$(/usr/bin/python3 "$scripts/torch_evaluate.py" "$name.h5" "$D" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['accuracy'], d['loss'])")
    python3 -c "import sys; a, b = [float(v) for v in '$ours'.split()], [float(v) for v in '$theirs'.split()]; sys.exit(0 if a[0] == b[0] and abs(a[1] - b[1]) <= 1e-5 * abs(b[1]) else 1)" \
      && say "ok   torch-equal $name (accuracy, loss: $ours)" || bad "$name: torch (accuracy, loss) $theirs != bptrain's $ours"
  done <<'MODELS'
mlp --hidden 64,32 --activation tanh
cnn --layers conv3:4,maxpool2,conv3:6:s2:valid,avgpool2,dense:16
MODELS
  # A CSV test set (scripts/torch_evaluate.py reads it as the run did: the label column by name, the
  # header; it crashed reading CSV as IDX), and a regression with its RMSE.
  for task in class regression; do
    if [ $task = class ]; then F="--train $data/blobs.csv --test $data/blobs.csv --label-column class --hidden 8 --epochs 3 --quiet"
    else F="--train $data/linear.csv --test $data/linear.csv --loss mse --hidden 8 --epochs 3 --quiet"; fi
    key=$([ $task = class ] && echo accuracy || echo rmse)
    $bptrain $F --checkpoint "csv-$task.h5" >/dev/null || bad "csv-$task: fixture training"
    ours=$($bptrain --evaluate "csv-$task.h5" $F | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$key'], d['loss'])")
    theirs=$(/usr/bin/python3 "$scripts/torch_evaluate.py" "csv-$task.h5" "$(echo $F | cut -d' ' -f4)" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$key'], d['loss'])")
    python3 -c "import sys; a, b = [float(v) for v in '$ours'.split()], [float(v) for v in '$theirs'.split()]; sys.exit(0 if abs(a[0] - b[0]) <= 1e-5 * max(1, abs(b[0])) and abs(a[1] - b[1]) <= 1e-5 * abs(b[1]) else 1)" \
      && say "ok   torch-equal csv-$task ($key, loss: $ours)" || bad "csv-$task: torch ($key, loss) $theirs != bptrain's $ours"
  done
else
  say "SKIP torch-accuracy-equal: python3-torch (and python3-h5py) not installed"
  exit 77
fi
exit $fail
