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
# PyTorch agrees with --evaluate on a checkpoint (python3-torch and python3-h5py; else exit 77, skipped).
if /usr/bin/python3 -c "import torch, h5py" 2>/dev/null; then
  F="--train $data/fmnist200-images-idx3-ubyte.gz --test $data/fmnist200-images-idx3-ubyte.gz --hidden 64,32 --epochs 3 --quiet"
  $bptrain $F --checkpoint fm.h5 --activation tanh >/dev/null || bad "fixture training"
  ours=$($bptrain --evaluate fm.h5 $F | python3 -c "import json,sys; print(json.load(sys.stdin)['accuracy'])")
  theirs=$(/usr/bin/python3 "$scripts/torch_evaluate.py" fm.h5 "$data/fmnist200-images-idx3-ubyte.gz" | python3 -c "import json,sys; print(json.load(sys.stdin)['accuracy'])")
  python3 -c "import sys; sys.exit(0 if abs($ours - $theirs) < 1e-9 else 1)" && say "ok   torch-accuracy-equal ($ours)" || bad "torch accuracy $theirs != bptrain $ours"
else
  say "SKIP torch-accuracy-equal: python3-torch (and python3-h5py) not installed"
  exit 77
fi
exit $fail
