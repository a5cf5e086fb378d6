#!/usr/bin/env bash
# At np=4, an error every rank detects alike is one line (naming the rank count) and exit 2; an error
# of one rank is one line naming that rank. Counts the lines, so a per-rank print fails it.
set -u
mpiexec=$1 bptrain=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
count() {  # name, expected exit, expected line pattern, command...
  local name=$1 want=$2 pat=$3; shift 3
  out=$(timeout 60 "$@" 2>&1); rc=$?
  lines=$(grep -c "^bptrain: error" <<<"$out")
  if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pat" <<<"$out"; then
    echo "ok   $name (exit $rc, 1 error line)"
  else
    echo "FAIL $name: exit $rc (want $want), $lines error lines (want 1)"; grep "^bptrain: error" <<<"$out" | head -5; fail=1
  fi
}
count bad-flag 2 "^bptrain: error \(all 4 ranks\): unknown activation" "$mpiexec" -n 4 "$bptrain" --activation nope
count missing-file 2 "^bptrain: error \(all 4 ranks\): $tmp/none.csv: no such file" "$mpiexec" -n 4 "$bptrain" --train "$tmp/none.csv"
printf 'junk' > "$tmp/x-ubyte"
count bad-data 2 "^bptrain: error \(all 4 ranks\): .*x-ubyte" "$mpiexec" -n 4 "$bptrain" --train "$tmp/x-ubyte"
count bad-config 2 "^bptrain: error \(all 4 ranks\): --micro-shards must be a power of two" \
  "$mpiexec" -n 4 "$bptrain" --train synthetic:400,8,3 --deterministic --micro-shards 3
count bad-resume 2 "^bptrain: error \(all 4 ranks\): .*nothere.h5: file not found" \
  "$mpiexec" -n 4 "$bptrain" --train synthetic:400,8,3 --resume "$tmp/nothere.h5"
count one-rank 1 "^bptrain: error on rank 2: injected failure at step 3" \
  "$mpiexec" -n 4 "$bptrain" --train synthetic:4000,8,3 --hidden 8 --epochs 5 --fail-rank 2 --fail-at-step 3 --quiet
exit $fail
