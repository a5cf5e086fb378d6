#!/usr/bin/env bash
# Rank layout on one node: the same cores as ranks (one BLAS thread each) or as BLAS threads (fewer
# ranks), measured with scripts/scaling.sh (strong mode, one point per layout). The layouts alternate
# for ROUNDS rounds (this machine is shared and noisy); each point is the best of REPS runs, and the
# CSV keeps every round, the summary the median per layout.
# Usage: scripts/layout.sh [LAYOUTS="2x1 1x2"] [OUT=layout]   (RANKSxTHREADS)
#        env: MODELS ("512,256:200 2048,2048:60": hidden sizes and steps), ROUNDS (3), REPS (3), BATCH (256)
set -euo pipefail
cd "$(dirname "$0")/.."
layouts=${1:-2x1 1x2} out=${2:-layout}
MODELS=${MODELS:-512,256:200 2048,2048:60} ROUNDS=${ROUNDS:-3} REPS=${REPS:-3} BATCH=${BATCH:-256}
mkdir -p "$out"
echo "model,ranks,threads,round,samples_per_s" > "$out/layout.csv"
for round in $(seq "$ROUNDS"); do
  for model in $MODELS; do
    hidden=${model%%:*} steps=${model##*:}
    for lay in $layouts; do
      r=${lay%x*} t=${lay#*x}
      FRESH=1 HIDDEN=$hidden STEPS=$steps BATCH=$BATCH MODES=strong REPS=$REPS THREADS=$t \
        bash scripts/scaling.sh "$r" "$out/run" > "$out/run.log" 2>&1 || { cat "$out/run.log"; exit 1; }
      sps=$(tail -n 1 "$out/run/scaling.csv" | cut -d, -f4)
      echo "784-${hidden//,/-}-10,$r,$t,$round,$sps" >> "$out/layout.csv"
    done
  done
done
rm -rf "$out/run" "$out/run.log"
python3 - "$out/layout.csv" <<'PY' | tee "$out/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for model in dict.fromkeys(r["model"] for r in rows):
    med = {}
    for r in rows:
        if r["model"] == model:
            med.setdefault((r["ranks"], r["threads"]), []).append(float(r["samples_per_s"]))
    best = max(statistics.median(v) for v in med.values())
    for (n, t), v in med.items():
        m = statistics.median(v)
        print(f"{model}: {n} rank(s) x {t} thread(s): median {m:,.0f} samples/s over "
              f"{len(v)} rounds ({min(v):,.0f}-{max(v):,.0f}), {m / best:.3f} of the best")
PY
