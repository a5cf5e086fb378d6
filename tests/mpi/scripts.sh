#!/usr/bin/env bash
# The user-facing experiment scripts run end to end on a small synthetic problem: scaling.sh writes
# its CSV (strong and weak, ranks 1 and 2) and plots; plot_metrics.sh draws a run's learning curves.
set -u
bptrain=$1 mpiexec=${2:-mpirun}
scripts=$(cd "$(dirname "$0")/../../scripts" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }

# Every script with a #! line (the README and docs run them directly) is executable in the repository.
repo=$(cd "$scripts/.." && pwd)
notx=$(cd "$repo" && for f in scripts/* scripts/smpi/* bench/*; do
  [ -f "$f" ] && [ "$(head -c 2 "$f")" = '#!' ] && [ ! -x "$f" ] && echo "$f"; done)
[ -z "$notx" ] && echo "ok   scripts-executable" || bad "not executable, though they start with #!: $notx"

TRAIN=synthetic:3000,20,5 HIDDEN=16 STEPS=14 REPS=2 BPTRAIN=$bptrain MPIEXEC=$mpiexec bash "$scripts/scaling.sh" 1,2 "$tmp/sc" > "$tmp/log" 2>&1 \
  || { bad "scaling.sh exited non-zero"; tail -5 "$tmp/log"; }
csv=$tmp/sc/scaling.csv
built=$("$mpiexec" -n 1 "$bptrain" --version 2>/dev/null | sed -nE 's/^bptrain .* \(commit (.+)\)$/\1/p')
if [ -f "$csv" ] && [ "$(wc -l < "$csv")" = 5 ] && python3 - "$csv" "$built" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert sys.argv[2], "bptrain --version names no commit"
assert [(r["mode"], r["ranks"]) for r in rows] == [("strong", "1"), ("strong", "2"), ("weak", "1"), ("weak", "2")]
for r in rows:
    assert float(r["samples_per_s"]) > 0 and float(r["compute_ms"]) > 0, r
    assert r["slowest_rank"] in ("0", "1") if r["ranks"] == "2" else r["slowest_rank"] == "0", r
assert rows[0]["speedup"] == "1.000" and rows[2]["speedup"] == "1.000"
for r in rows:  # what produced the row: REPS=2 figures, the model, the library, the commit, the date
    assert r["reps"] == "2" and float(r["samples_per_s_slowest"]) <= float(r["samples_per_s_median"]) <= float(r["samples_per_s"]), r
    assert r["model"] == "hidden 16" and r["steps"] == "14" and r["threads"] == "1" and r["nodes"] == "1", r
    assert r["mpi"].startswith(("Open MPI v", "MPICH ")) and r["date"].startswith("20"), r
    assert r["commit"] == sys.argv[2], (r["commit"], "the binary's, as --version gives it:", sys.argv[2])
PY
then echo "ok   scaling-csv"; else bad "scaling.csv: $(cat "$csv" 2>/dev/null)"; fi
# A study resumes: a point that fails is recorded as failed and the study goes on (exit 1); run again,
# the finished points are kept and only the failed ones run; another model is refused (exit 2).
printf '#!/usr/bin/env bash\n[ "$2" = 2 ] && { echo "bptrain: error: injected launch failure" >&2; exit 3; }\nexec %s "$@"\n' "$mpiexec" > "$tmp/fail2"
chmod +x "$tmp/fail2"
study() { TRAIN=synthetic:3000,20,5 HIDDEN=${H:-16} STEPS=12 REPS=1 WARMUP=2 BPTRAIN=$bptrain MPIEXEC=$1 bash "$scripts/scaling.sh" 1,2 "$tmp/sr"; }
study "$tmp/fail2" > "$tmp/sr.log" 2>&1; rc1=$?
first=$(grep -c ',ok$' "$tmp/sr/scaling.csv"); failed=$(grep -c ',failed (exit 3; log_' "$tmp/sr/scaling.csv")
kept=$(grep -E '^(strong|weak),1,' "$tmp/sr/scaling.csv")
study "$mpiexec" > "$tmp/sr2.log" 2>&1; rc2=$?
H=8 study "$mpiexec" > "$tmp/sr3.log" 2>&1; rc3=$?
if [ $rc1 = 1 ] && [ "$first $failed" = "2 2" ] && grep -q "failed points: strong@2 weak@2" "$tmp/sr.log" && [ $rc2 = 0 ] \
   && [ "$(grep -c ',ok$' "$tmp/sr/scaling.csv")" = 4 ] && [ "$(grep -c 'finished before, kept' "$tmp/sr2.log")" = 2 ] \
   && [ "$(grep -E '^(strong|weak),1,' "$tmp/sr/scaling.csv" | cut -d, -f4)" = "$(cut -d, -f4 <<<"$kept")" ] \
   && [ "$(cut -d, -f1,2 "$tmp/sr/scaling.csv" | tail -n +2 | tr '\n' ' ')" = "strong,1 strong,2 weak,1 weak,2 " ] \
   && [ $rc3 = 2 ] && grep -q "has model 'hidden 16', this study 'hidden 8'" "$tmp/sr3.log"; then
  echo "ok   scaling-resume: a failed point recorded, then run alone; another model refused"
else
  bad "scaling resume: exits $rc1 $rc2 $rc3, $first ok and $failed failed rows first; $(cat "$tmp/sr/scaling.csv"); $(tail -3 "$tmp/sr3.log")"
fi
# The layout study: every layout in every round in the CSV, a median per layout, and the plot.
TRAIN=synthetic:3000,20,5 MODELS="16:8" ROUNDS=2 REPS=1 WARMUP=2 BPTRAIN=$bptrain MPIEXEC=$mpiexec \
  bash "$scripts/layout.sh" "2x1 1x2" "$tmp/lay" > "$tmp/lay.log" 2>&1 || { bad "layout.sh exited non-zero"; tail -5 "$tmp/lay.log"; }
if [ "$(tail -n +2 "$tmp/lay/layout.csv" 2>/dev/null | cut -d, -f1-4 | tr '\n' ' ')" = \
     "784-16-10,2,1,1 784-16-10,1,2,1 784-16-10,2,1,2 784-16-10,1,2,2 " ] \
   && [ "$(grep -c "median .* samples/s over 2 rounds" "$tmp/lay/summary.txt")" = 2 ] \
   && { ! command -v gnuplot >/dev/null || [ -s "$tmp/lay/layout.png" ]; }; then
  echo "ok   layout: 2 layouts x 2 rounds, medians$(command -v gnuplot >/dev/null && echo ', plot')"
else
  bad "layout.sh: $(cat "$tmp/lay/layout.csv" "$tmp/lay/summary.txt" 2>/dev/null; tail -5 "$tmp/lay.log")"
fi
# The kept log of a point (the fastest of REPS runs) names that point's files, not a temporary name.
grep -q "profile written to $tmp/sc/profile_strong_2.csv" "$tmp/sc/log_strong_2.txt" && [ -z "$(ls "$tmp/sc" | grep -E 'try|\.best$')" ] \
  && echo "ok   scaling-kept-files" || bad "kept log: $(cat "$tmp/sc/log_strong_2.txt"); files: $(ls "$tmp/sc")"
if command -v gnuplot >/dev/null; then
  [ -s "$tmp/sc/strong.png" ] && [ -s "$tmp/sc/weak.png" ] && echo "ok   scaling-plots" || bad "no scaling plots"
  bash "$scripts/plot_metrics.sh" "$tmp/sc/m_strong_1.jsonl" "$tmp/curves.png" > /dev/null 2>&1 \
    && [ -s "$tmp/curves.png" ] && echo "ok   plot-metrics" || bad "plot_metrics.sh drew nothing"
  # An epoch cut short by a signal ("partial": true, then resumed) is not drawn as an epoch.
  m="$tmp/sc/m_strong_1.jsonl"
  { head -1 "$m" | sed 's/"partial":false/"partial":true/'; cat "$m"; } > "$tmp/partial.jsonl"
  got=$(bash "$scripts/plot_metrics.sh" "$tmp/partial.jsonl" "$tmp/partial.png" 2>/dev/null)
  [ "$got" = "$tmp/partial.png: $(wc -l < "$m") epochs" ] && echo "ok   plot-metrics-partial" || bad "plot_metrics.sh with a partial line: $got"
else
  bad "gnuplot is not installed (scripts/setup.sh installs gnuplot-nox)"
fi
# scripts/smpi/simgrid4.sh refuses before it makes or removes anything: no command, a build folder
# outside the repository, ROOT=/, and a ROOT it did not make (which it must leave as it is).
sg4=$repo/scripts/smpi/simgrid4.sh
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$tmp/foreign" && touch "$tmp/foreign/keep"
  e1=$(bash "$sg4" 2>&1); r1=$?
  e2=$(SMPI_BUILD=/tmp/sg4 bash "$sg4" true 2>&1); r2=$?
  e3=$(ROOT=/ bash "$sg4" true 2>&1); r3=$?
  e4=$(ROOT=$tmp/foreign SMPI_BUILD=build-sg4-test-none bash "$sg4" true 2>&1); r4=$?
  if [ "$r1 $r2 $r3 $r4" = "2 2 2 2" ] && [[ $e1 == usage:* ]] && [[ $e2 == *"inside the repository"* ]] \
     && [[ $e3 == *"other than /"* ]] && [[ $e4 == *"$tmp/foreign exists and is not this script's"* ]] && [ -f "$tmp/foreign/keep" ]; then
    echo "ok   simgrid4-refuses"
  else
    bad "simgrid4.sh: exits $r1 $r2 $r3 $r4: $e1 / $e2 / $e3 / $e4"
  fi
fi
exit $fail
