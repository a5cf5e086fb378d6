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
  python3 - "$@" <<'PY'
import json, sys, collections
path, ranks, overlap = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "on"
t = json.load(open(path))
ev = t["traceEvents"]
bad = []
X = [e for e in ev if e.get("ph") == "X"]
for e in ev:
    if e.get("ph") == "M":
        if not isinstance(e.get("pid"), int) or "name" not in e or "args" not in e: bad.append(e)
    elif e.get("ph") == "X":
        ok = (isinstance(e.get("name"), str) and isinstance(e.get("pid"), int) and isinstance(e.get("tid"), int)
              and isinstance(e.get("ts"), (int, float)) and isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0
              and e["ts"] >= 0 and isinstance(e.get("args", {}).get("step"), int) and 0 <= e["pid"] < ranks)
        if not ok: bad.append(e)
    else:
        bad.append(e)
if bad: sys.exit(f"{path}: {len(bad)} malformed events, e.g. {bad[0]}")
names = {e["pid"]: e["args"]["name"] for e in ev if e.get("ph") == "M" and e["name"] == "process_name"}
for r in range(ranks):
    if r not in names: sys.exit(f"{path}: rank {r} has no process_name")
    for need in ("data", "forward 0", "backward 0", "optimizer", "weight gather", "evaluate", "checkpoint", "replica check"):
        if not any(e["pid"] == r and e["name"] == need for e in X): sys.exit(f"{path}: rank {r} has no '{need}' event")
    if not any(e["pid"] == r and e["tid"] >= 2 for e in X): sys.exit(f"{path}: rank {r} has no bucket sum")
# One track's events one after another (the JSON keeps microseconds to 3 decimals: 2 ns of slack).
tracks = collections.defaultdict(list)
for e in X: tracks[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"], e["name"]))
for k, v in tracks.items():
    v.sort()
    for a, b in zip(v, v[1:]):
        if b[0] < a[1] - 0.002: sys.exit(f"{path}: rank {k[0]} track {k[1]}: '{a[2]}' [{a[0]}, {a[1]}] overlaps '{b[2]}' from {b[0]}")
# Bucket sums against backward, rank by rank.
for r in range(ranks):
    bw = [(e["ts"], e["ts"] + e["dur"]) for e in X if e["pid"] == r and e["name"].startswith("backward")]
    sums = [(e["ts"], e["ts"] + e["dur"]) for e in X if e["pid"] == r and e["tid"] >= 2]
    both = sum(1 for s in sums if any(min(s[1], b[1]) - max(s[0], b[0]) > 0.002 for b in bw))
    if overlap and both == 0: sys.exit(f"{path}: rank {r}: no bucket sum overlaps backward (overlap on)")
    if not overlap and both: sys.exit(f"{path}: rank {r}: {both} bucket sums overlap backward (overlap off)")
steps = len({e["args"]["step"] for e in X if e["name"] == "optimizer"})
print(f"{path}: {len(X)} events, {ranks} ranks, {steps} steps: well formed")
PY
}
common=(--train synthetic:4000,128,10 --hidden 256,256 --batch-size 128 --epochs 2 --bucket-mb 0.1
        --check-every 10 --quiet)
for np in 2 3; do
  "$mpiexec" -n $np "$bptrain" "${common[@]}" --checkpoint "$dir/ck$np.h5" --timeline "$dir/t$np.json" >/dev/null ||
    { echo "FAIL: np=$np run"; fail=1; continue; }
  check "$dir/t$np.json" $np on || fail=1
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
fi
# A single rank has no bucket sums to show but still writes its trace.
"$bptrain" --train synthetic:1000,16,3 --hidden 8 --epochs 1 --quiet --timeline "$dir/one.json" >/dev/null &&
  python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['traceEvents']; assert any(x.get('name')=='backward 0' for x in e)" "$dir/one.json" ||
  { echo "FAIL: np=1 trace"; fail=1; }
exit $fail
