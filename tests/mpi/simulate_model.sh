#!/usr/bin/env bash
# Modelled compute on simulated clusters (BPT_SIM_COMPUTE=model, scripts/smpi/compute-model.txt): a
# 64-rank run twice gives the same simulated times to the last digit (no host timing enters them), and
# a 1,024-rank run of 3 steps finishes (about 1.3 s and 10 s of real time here; docs/simulated.md,
# "Deterministic and its cost"); the run says its figures are modelled, and how much of what it billed
# the model held. --normalize unit: the standard scaling's statistics are a pass over the whole training
# set that every rank makes at start-up, which on one simulating host is one pass per simulated rank
# (64 ranks: 28 s instead of 5 s), outside the profiled steps either way.
# Usage: simulate_model.sh BPTRAIN (the SMPI build's)
set -u
bptrain=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BPT_SIM_COMPUTE=model OPENBLAS_NUM_THREADS=1 PLATFORM=$root/scripts/smpi/cluster-100g.xml
fail=0
run() {  # run NAME RANKS STEPS: weak scaling's shape, 256 samples a rank; prints the real seconds
  local n=$2 t0
  t0=$(date +%s.%N)
  bash "$root/scripts/smpi/smpirun.sh" -n "$n" "$bptrain" --train "synthetic:$((n * 256 * $3)),784,10" \
    --test "synthetic:$n,784,10" --eval-batch 1 --hidden 512,256 --batch-size $((n * 256)) --optimizer momentum \
    --lr 0.01 --epochs 1 --max-steps "$3" --quiet --grad-warn-steps 0 --normalize unit --profile "$tmp/$1.csv" > "$tmp/$1.log" 2>&1
  local rc=$?
  python3 -c "import time; print(f'{time.time() - $t0:.1f}')"
  return $rc
}
a=$(run a 64 4) && b=$(run b 64 4) || { echo "FAIL the 64-rank model-mode runs"; tail -5 "$tmp"/a.log "$tmp"/b.log; exit 1; }
if cmp -s "$tmp/a.csv" "$tmp/b.csv" && [ "$(wc -l < "$tmp/a.csv")" = $((64 * 4 + 1)) ]; then
  echo "ok   64 ranks, model mode, twice: identical simulated times for every rank and step ($a s and $b s real)"
else
  echo "FAIL 64 ranks twice: the profiles differ"; diff "$tmp/a.csv" "$tmp/b.csv" | head -5; fail=1
fi
# Compute's two parts are billed too: forward and backward each positive, adding up to compute on every row.
python3 "$root/tests/mpi/check_profile.py" "$tmp/a.csv" && echo "ok   forward_ms + backward_ms = compute_ms, both billed, on every row" || fail=1
grep -q "simulated compute (BPT_SIM_COMPUTE=model).*losses and accuracies meaningless" "$tmp/a.log" \
  && echo "ok   the run says its figures are modelled" || { echo "FAIL no model-mode line"; cat "$tmp/a.log"; fail=1; }
# The run says how much of what it billed the model held: the committed model was calibrated with
# this network, so nearly all of it (the rest: the reducer's sums and the optimizer's shards at 64 ranks).
cov=$(grep -E "^bptrain: the compute model .* held (all [0-9]+|[0-9]+ of the [0-9]+) kernel shapes this run billed" "$tmp/a.log")
share=$(sed -n 's/.* \([0-9.]*\) % of the billed time.*/\1/p' <<<"$cov")
grep -q "held all" <<<"$cov" && share=0
if [ -n "$cov" ] && python3 -c "import sys; sys.exit(0 if float('${share:-100}') < 5 else 1)" && ! grep -q calibrate <<<"$cov"; then
  echo "ok   the model's coverage: ${cov#bptrain: }"
else
  echo "FAIL the coverage line (wanted one, under 5 % estimated): ${cov:-none}"; tail -3 "$tmp/a.log"; fail=1
fi
python3 "$root/scripts/smpi/step_time.py" "$tmp/a.csv" 1 | sed 's/^/     64 ranks: /'
if c=$(run c 1024 3) && [ "$(wc -l < "$tmp/c.csv")" = $((1024 * 3 + 1)) ]; then
  echo "ok   1,024 ranks, model mode, 3 steps: $c s real; $(python3 "$root/scripts/smpi/step_time.py" "$tmp/c.csv" 1)"
else
  echo "FAIL the 1,024-rank model-mode run"; tail -5 "$tmp/c.log"; fail=1
fi
# The calibration end to end, small: calibrate.sh with the Open MPI build (build/, as the test command
# builds it) writes a model and its np2 twin with their headers; a 16-rank model-mode run uses it.
if [ -x "$root/build/bptrain" ]; then
  if MODELS="--hidden 32" BATCHES="4 16" OPTIMIZERS=momentum bash "$root/scripts/smpi/calibrate.sh" "$tmp/m.txt" \
       > "$tmp/cal.log" 2>&1 && grep -q "^# measured 20" "$tmp/m.txt" && grep -q "^sgemm_NT 16 32 784 " "$tmp/m.txt" \
     && grep -q "^add " "$tmp/m.txt" && grep -q "two ranks sharing the machine" "$tmp/m-np2.txt" \
     && BPT_SIM_MODEL=$tmp/m.txt bash "$root/scripts/smpi/smpirun.sh" -n 16 "$bptrain" --train synthetic:1024,784,10 \
          --test synthetic:16,784,10 --eval-batch 1 --hidden 32 --batch-size 256 --epochs 1 --max-steps 3 --quiet \
          --grad-warn-steps 0 --normalize unit --optimizer momentum > "$tmp/cal16.log" 2>&1 \
     && grep -q "billed by the model $tmp/m.txt" "$tmp/cal16.log"; then
    echo "ok   calibrate.sh (one model, batches 4 and 16): $(grep -vc '^#' "$tmp/m.txt") shapes; a 16-rank run on them"
  else
    echo "FAIL calibrate.sh"; tail -5 "$tmp/cal.log" "$tmp/cal16.log" 2>/dev/null; head -3 "$tmp/m.txt" 2>/dev/null; fail=1
  fi
else
  echo "SKIP calibrate.sh: no Open MPI build at $root/build"
fi
exit $fail
