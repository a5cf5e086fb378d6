#!/usr/bin/env bash
# --timeline: the trace of runs at np 2 and 3 (with a checkpoint, the replica check, evaluation) parses
# as Chrome trace-event JSON; every event is well formed; every rank has its tracks; the events of one
# track never overlap; with overlap on, bucket sums overlap backward on every rank, and with it off
# they never do; scripts/timeline_summary.py and scripts/timeline_png.sh read it.
# Usage: timeline.sh MPIEXEC BPTRAIN SCRIPTS_DIR
set -u
mpiexec=$1 bptrain=$2 scripts=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
check() {  # check TRACE RANKS OVERLAP(on|off)
  python3 "$(dirname "$0")/check_timeline.py" "$@"
}
common=(--train synthetic:4000,128,10 --hidden 256,256 --batch-size 128 --epochs 2 --bucket-mb 0.1
        --check-every 10 --quiet)
for np in 2 3; do
  extra=()
  [ $np = 3 ] && extra=(--gather-overlap on)  # the weight gather's wait after the next step's data (auto: off on one node)
  "$mpiexec" -n $np "$bptrain" "${common[@]}" "${extra[@]}" --checkpoint "$dir/ck$np.h5" --timeline "$dir/t$np.json" \
    --profile "$dir/p$np.csv" >/dev/null || { echo "FAIL: np=$np run"; fail=1; continue; }
  check "$dir/t$np.json" $np on || fail=1
  # The profile's split of compute: forward_ms + backward_ms = compute_ms on every row, each covering the
  # trace's per-layer events of its phase, rank and step.
  python3 "$(dirname "$0")/check_profile.py" "$dir/p$np.csv" "$dir/t$np.json" &&
    echo "ok   np=$np profile: forward_ms + backward_ms = compute_ms on every row, each phase covering the trace's events" || fail=1
done
"$mpiexec" -n 2 "$bptrain" "${common[@]}" --overlap off --checkpoint "$dir/off.h5" --timeline "$dir/off.json" >/dev/null ||
  { echo "FAIL: --overlap off run"; fail=1; }
check "$dir/off.json" 2 off || fail=1
# The summary: a row per rank.
python3 "$scripts/timeline_summary.py" "$dir/t3.json" --csv "$dir/s.csv" > "$dir/summary" || { echo "FAIL: summary"; fail=1; }
cat "$dir/summary"
[ "$(wc -l < "$dir/s.csv")" -eq 4 ] || { echo "FAIL: the summary CSV should have a header and 3 rows"; fail=1; }
grep -q "^ *2 " "$dir/summary" || { echo "FAIL: no row for rank 2 in the summary"; fail=1; }
# The picture.
if command -v gnuplot >/dev/null; then
  bash "$scripts/timeline_png.sh" "$dir/t2.json" "$dir/t2.png" 5 2 >/dev/null && [ -s "$dir/t2.png" ] ||
    { echo "FAIL: timeline_png.sh"; fail=1; }
  # A run shorter than the default first step (10): its last three steps are drawn.
  "$mpiexec" -n 2 "$bptrain" --train synthetic:300,16,3 --hidden 8 --epochs 1 --batch-size 64 --quiet \
    --timeline "$dir/short.json" >/dev/null || { echo "FAIL: the short run"; fail=1; }
  bash "$scripts/timeline_png.sh" "$dir/short.json" "$dir/short.png" >/dev/null && [ -s "$dir/short.png" ] ||
    { echo "FAIL: timeline_png.sh on a run of 5 steps, no first step given"; fail=1; }
fi
# A single rank has no bucket sums to show but still writes its trace.
"$bptrain" --train synthetic:1000,16,3 --hidden 8 --epochs 1 --quiet --timeline "$dir/one.json" >/dev/null &&
  python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['traceEvents']; assert any(x.get('name')=='backward 0' for x in e)" "$dir/one.json" ||
  { echo "FAIL: np=1 trace"; fail=1; }
exit $fail
