#!/usr/bin/env bash
# The command-line contract: --help documents every flag with its default; bad input is one clear
# line and a non-zero exit, never a crash or a hang.
set -u
mpiexec=$1 bptrain=$2 bptdata=$3
data=$(cd "$(dirname "$0")/../data" && pwd)
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {  # name, expected exit (0 or "nonzero"), pattern expected in output, command...
  local name=$1 want=$2 pat=$3; shift 3
  out=$(timeout 60 "$@" 2>&1); rc=$?
  if [ "$want" = 0 ] && [ $rc -ne 0 ]; then echo "FAIL $name: exit $rc"; echo "$out" | tail -3; fail=1; return; fi
  if [ "$want" != 0 ] && { [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -ge 128 ]; }; then
    echo "FAIL $name: exit $rc (want a clean non-zero exit)"; echo "$out" | tail -3; fail=1; return; fi
  if ! grep -qE -- "$pat" <<<"$out"; then echo "FAIL $name: output lacks /$pat/"; echo "$out" | tail -3; fail=1; return; fi
  echo "ok   $name"
}

check help 0 "--batch-size.*\(default: 128\)" "$bptrain" --help
help=$("$bptrain" --help)
for flag in train test hidden activation loss init optimizer lr momentum weight-decay dropout clip-grad-norm \
            batch-size epochs seed metrics patience min-delta tol bucket-mb overlap check-every scale-lr \
            warmup-epochs deterministic blas-threads; do
  grep -q -- "--$flag" <<<"$help" || { echo "FAIL help lacks --$flag"; fail=1; }
done
clidoc=$(dirname "$0")/../../docs/cli.md
if diff <(echo "$help") <(sed -n '/<!-- help:start -->/,/<!-- help:end -->/p' "$clidoc" | sed '1,2d;$d' | sed '$d') >/dev/null; then
  echo "ok   cli-doc-help"
else
  echo "FAIL cli-doc-help: docs/cli.md's --help block differs from bptrain --help (run scripts/update_cli_help.sh)"; fail=1
fi
check unknown-flag nonzero "bptrain: error: .*no-such-flag" "$bptrain" --no-such-flag
check bad-activation nonzero "unknown activation 'swish'" "$bptrain" --activation swish
check bad-hidden nonzero "--hidden: 'x' is not a positive integer" "$bptrain" --hidden 5,x
check missing-train nonzero "/nonexistent: no such file or directory" "$bptrain" --train /nonexistent
printf 'garbage!' > "$tmp/train-images-idx3-ubyte"; printf '\0\0\10\1\0\0\0\1x' > "$tmp/train-labels-idx1-ubyte"
check bad-magic nonzero "train-images-idx3-ubyte: wrong magic" "$bptrain" --train "$tmp"
check mpi-bad-flag nonzero "bptrain: error \(all 2 ranks\): unknown activation" "$mpiexec" -n 2 "$bptrain" --activation nope
check det-np3 nonzero "power-of-two rank count" "$mpiexec" -n 3 "$bptrain" --train synthetic:300,8,3 --deterministic
check tiny-run 0 "done: 1 epochs" "$mpiexec" -n 2 "$bptrain" --train synthetic:300,8,3 --hidden 8 --epochs 1 --metrics "$tmp/m.jsonl"
check sgd-batch-1 0 "done: 1 epochs" "$bptrain" --train synthetic:200,8,3 --hidden 8 --epochs 1 --batch-size 1 --quiet
check full-batch 0 "done: 2 epochs, 2 steps" "$bptrain" --train synthetic:200,8,3 --hidden 8 --epochs 2 --batch-size 200 --quiet
check tol-stop 0 "stopped: tol" "$bptrain" --train synthetic:600,8,3 --hidden 8 --epochs 50 --tol 100 --quiet
check patience-stop 0 "stopped: patience" "$bptrain" --train synthetic:600,8,3 --hidden 8 --epochs 50 --patience 2 --min-delta 2 --quiet
check scale-lr 0 "done: 3 epochs" "$mpiexec" -n 2 "$bptrain" --train synthetic:400,8,3 --hidden 8 --epochs 3 --lr 0.01 \
  --scale-lr linear --warmup-epochs 2 --metrics "$tmp/s.jsonl"
# Goyal et al.: lr ramps from 0.01 towards 2 x 0.01 over 2 epochs, then stays at 0.02.
grep -q '"epoch":3,.*"lr":0.0199999' "$tmp/s.jsonl" || grep -q '"epoch":3,.*"lr":0.02[,}]' "$tmp/s.jsonl" \
  || { echo "FAIL scale-lr: epoch 3 lr is not 2 x 0.01"; cat "$tmp/s.jsonl"; fail=1; }
grep -q '"epoch":1,.*"lr":0.01[0-9]*,' "$tmp/s.jsonl" || { echo "FAIL scale-lr: epoch 1 lr not in warm-up"; fail=1; }
# Datasets: the committed fixtures, the converter, streaming.
check csv-classes 0 "done: .* test_accuracy (0\.9|1\.0)" "$mpiexec" -n 2 "$bptrain" --train "$data/blobs.csv" --test "$data/blobs.csv" \
  --label-column class --hidden 16 --epochs 15 --batch-size 32 --lr 0.01 --normalize standard --val-fraction 0.2 --metrics "$tmp/v.jsonl"
grep -q '"val_accuracy"' "$tmp/v.jsonl" || { echo "FAIL val-fraction: no val_accuracy in metrics"; fail=1; }
check csv-regression 0 "done: .* test_rmse 0\.(0|1)[0-9]*" "$bptrain" --train "$data/linear.csv" --test "$data/linear.csv" \
  --loss mse --hidden 16 --epochs 30 --batch-size 16 --lr 0.01 --activation tanh --quiet
check idx-fixture 0 "200 train .* 200 test" "$bptrain" --train "$data/fmnist200-images-idx3-ubyte.gz" \
  --test "$data/fmnist200-images-idx3-ubyte.gz" --hidden 32 --epochs 1
check convert 0 "300 samples, 4 features, 3 classes" "$bptdata" convert "$data/blobs.csv" "$tmp/blobs.h5" --label-column class
check stream 0 "done: 3 epochs" "$mpiexec" -n 2 "$bptrain" --train "$tmp/blobs.h5" --test "$data/blobs.csv" --label-column class \
  --stream --hidden 8 --epochs 3 --quiet
check stream-needs-hdf5 nonzero "--stream needs an HDF5 file" "$bptrain" --train "$data/blobs.csv" --stream
check bad-csv nonzero "line 2, column 1: 'oops' is not a number" "$bptrain" --train "$(printf '1,2,0\noops,2,1\n' > "$tmp/bad.csv"; echo "$tmp/bad.csv")" --test "$data/blobs.csv"
check feature-mismatch nonzero "has 4 features per sample" "$bptrain" --train "$data/linear.csv" --test "$data/blobs.csv" --loss mse
check regression-needs-mse nonzero "use --loss mse" "$bptrain" --train "$data/linear.csv" --test "$data/linear.csv"
# Numeric health: a blow-up stops with exit 3 and the step named; skip mode counts; warnings name layers.
check nan-stop nonzero "step 5: the gradients of layer 1 are not finite" "$mpiexec" -n 2 "$bptrain" --train synthetic:3000,20,5 \
  --hidden 16 --epochs 2 --nan-rank 1 --nan-at-step 5 --quiet
[ "$("$bptrain" --train synthetic:3000,20,5 --hidden 16 --epochs 1 --lr 1e35 --optimizer sgd --quiet >/dev/null 2>&1; echo $?)" = 3 ] \
  && echo "ok   overflow-exit-3" || { echo "FAIL overflowing lr: exit status is not 3"; fail=1; }
check lr-overflow nonzero "training loss is not finite" "$bptrain" --train synthetic:3000,20,5 --hidden 16 --epochs 1 --lr 1e35 --optimizer sgd
check nan-skip 0 "\[1 non-finite steps skipped\]" "$mpiexec" -n 2 "$bptrain" --train synthetic:3000,20,5 --hidden 16 --epochs 1 \
  --nan-rank 1 --nan-at-step 5 --on-nonfinite skip --metrics "$tmp/n.jsonl"
grep -q '"skipped_steps":1' "$tmp/n.jsonl" || { echo "FAIL nan-skip: metrics lack skipped_steps 1"; fail=1; }
check vanishing 0 "warning: layer 0's gradient norm has stayed below 0.001 for 5 steps \(vanishing" "$bptrain" \
  --train synthetic:2000,20,5 --hidden 64,64,64,64,64,64,64,64 --activation sigmoid --init xavier_normal --epochs 1 \
  --grad-warn-low 1e-3 --grad-warn-steps 5 --grad-stats --metrics "$tmp/gs.jsonl"
grep -q '"layers":\[{"layer":0,"grad_norm_mean"' "$tmp/gs.jsonl" || { echo "FAIL grad-stats: no per-layer norms"; fail=1; }
grep -q '"test_accuracy"' "$tmp/m.jsonl" || { echo "FAIL metrics file lacks test_accuracy"; fail=1; }
exit $fail
