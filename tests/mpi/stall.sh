#!/usr/bin/env bash
# A rank that stops without dying (SIGSTOP: a hung file system, a stopped or swapped-out process)
# must not hang the job. TRIALS trials at np=3 (ranks 0, 1, 2, then random ones), each stopping a rank
# once the job is under way: every job must end within --stall-timeout + 10 s of the stop, with exit 4, one error line naming
# the stopped rank, and its newest checkpoint must still load (--evaluate); rank 0 must have warned
# at half the timeout, naming it (when rank 0 is not the one stopped).
# Usage: stall.sh MPIEXEC BPTRAIN [TRIALS]
set -u
mpiexec=$1 bptrain=$2 trials=${3:-10}
timeout_s=4
dir=$(mktemp -d)
trap 'pkill -KILL -f "$dir/" 2>/dev/null; rm -rf "$dir"' EXIT
fail=0
printf 'trial  stopped  after_stop_s  exit  named\n'
for trial in $(seq 1 "$trials"); do
  rank=$(( trial <= 3 ? trial - 1 : RANDOM % 3 ))  # every rank in the first three trials, then at random
  rm -f "$dir"/pid.* "$dir"/ck.h5* "$dir"/out "$dir"/err
  # Each rank writes its pid (Open MPI: OMPI_COMM_WORLD_RANK; MPICH: PMI_RANK) and becomes bptrain.
  timeout 120 "$mpiexec" -n 3 sh -c 'echo $$ > "$0/pid.${OMPI_COMM_WORLD_RANK:-$PMI_RANK}"; exec "$@"' "$dir" \
    "$bptrain" --train synthetic:20000,256,10 --hidden 256,256 --epochs 1000 --batch-size 96 \
    --checkpoint "$dir/ck.h5" --checkpoint-every 20 --stall-timeout "$timeout_s" --grad-warn-steps 0 \
    >"$dir/out" 2>"$dir/err" &
  job=$!
  # Under way: every rank started and a checkpoint written; then a little more, at random.
  for _ in $(seq 1 300); do
    [ -s "$dir/pid.$rank" ] && [ -f "$dir/ck.h5" ] && break
    sleep 0.1
  done
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"
  pid=$(cat "$dir/pid.$rank" 2>/dev/null)
  if [ -z "$pid" ] || ! kill -STOP "$pid" 2>/dev/null; then
    echo "FAIL: trial $trial: could not stop rank $rank (the job: $(head -c 300 "$dir/err"))"
    fail=1
    wait $job
    continue
  fi
  stopped=$(date +%s.%N)
  wait $job
  rc=$?
  took=$(echo "$(date +%s.%N) - $stopped" | bc)
  kill -KILL "$pid" 2>/dev/null  # should be gone already
  line=$(grep "bptrain: error" "$dir/err" | head -3)
  named=no
  grep -q "stalled: rank $rank on " "$dir/err" && named=yes
  printf '%5d  %7d  %12.1f  %4d  %s\n' "$trial" "$rank" "$took" "$rc" "$named"
  [ "$rc" -eq 4 ] || { echo "FAIL: trial $trial: exit $rc, not 4"; fail=1; }
  [ "$named" = yes ] || { echo "FAIL: trial $trial: rank $rank not named: $line"; fail=1; }
  # Rank 0, waiting, warns at half the timeout (unless it is the one stopped).
  if [ "$rank" -ne 0 ] && ! grep -q "bptrain: warning: rank $rank on .*silent" "$dir/out"; then
    echo "FAIL: trial $trial: no warning naming rank $rank at half the timeout"; fail=1
  fi
  [ "$(grep -c "bptrain: error" "$dir/err")" -eq 1 ] || { echo "FAIL: trial $trial: not one error line:"; cat "$dir/err"; fail=1; }
  (( $(echo "$took < $timeout_s + 10" | bc) )) || { echo "FAIL: trial $trial: took ${took}s after the stop"; fail=1; }
  if ! "$bptrain" --evaluate "$dir/ck.h5" --train synthetic:20000,256,10 >"$dir/eval" 2>&1; then
    echo "FAIL: trial $trial: the newest checkpoint does not load: $(cat "$dir/eval")"
    fail=1
  fi
  [ "$trial" -eq 1 ] && echo "       $line"
done
exit $fail
