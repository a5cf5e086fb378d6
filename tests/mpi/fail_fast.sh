#!/usr/bin/env bash
# mpirun -np 3, rank 1 throws at step 5 of a long run: the job must end non-zero within 10 s,
# and stderr must name rank 1 and the reason.
set -u
mpiexec=$1 bptrain=$2
err=$(mktemp)
start=$(date +%s.%N)
timeout 50 "$mpiexec" -n 3 "$bptrain" --train synthetic:30000,64,4 --hidden 64 --epochs 50 --batch-size 64 \
  --fail-rank 1 --fail-at-step 5 --quiet 2>"$err" >/dev/null
rc=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
echo "exit $rc after ${elapsed}s"; cat "$err" | head -5
fail=0
[ "$rc" -ne 0 ] || { echo "FAIL: exit status 0"; fail=1; }
[ "$rc" -ne 124 ] || { echo "FAIL: the job hung"; fail=1; }
(( $(echo "$elapsed < 10" | bc) )) || { echo "FAIL: took ${elapsed}s"; fail=1; }
grep -q "error on rank 1: injected failure at step 5" "$err" || { echo "FAIL: no line naming rank 1"; fail=1; }
rm -f "$err"
exit $fail
