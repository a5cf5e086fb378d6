#!/usr/bin/env bash
# Rank layout on one node: the same cores as ranks (one BLAS thread each) or as BLAS threads (fewer
# ranks), measured with scripts/scaling.sh (strong mode, one point per layout). The layouts alternate
# for ROUNDS rounds (this machine is shared and noisy); each point is the best of REPS runs, and the
# CSV keeps every round, the summary the median per layout.
# Writes OUT/layout.csv, OUT/summary.txt and, with gnuplot, OUT/layout.png (each layout's median
# samples/s as a fraction of the model's best layout, the rounds' range as error bars).
# Usage: scripts/layout.sh [LAYOUTS="2x1 1x2"] [OUT=layout]   (RANKSxTHREADS)
#        env: MODELS ("512,256:200 2048,2048:60": hidden sizes and steps), ROUNDS (3), REPS (3), BATCH (256),
#        PLOT_ONLY (1: only the summary and plot of an existing OUT/layout.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
layouts=${1:-2x1 1x2} out=${2:-layout}
MODELS=${MODELS:-512,256:200 2048,2048:60} ROUNDS=${ROUNDS:-3} REPS=${REPS:-3} BATCH=${BATCH:-256}
mkdir -p "$out"
[ "${PLOT_ONLY:-0}" = 1 ] || echo "model,ranks,threads,round,samples_per_s" > "$out/layout.csv"
[ "${PLOT_ONLY:-0}" = 1 ] && ROUNDS=0
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
python3 - "$out/layout.csv" "$out/layout.dat" <<'PY' | tee "$out/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
dat = open(sys.argv[2], "w")  # for the plot: layout, then per model median/best, min/best, max/best
models = list(dict.fromkeys(r["model"] for r in rows))
layouts = list(dict.fromkeys((r["ranks"], r["threads"]) for r in rows))
table = {}
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
        table[(model, n, t)] = (m / best, min(v) / best, max(v) / best)
for n, t in layouts:
    cells = [table.get((model, n, t), (float("nan"),) * 3) for model in models]
    dat.write(f'"{n}x{t}" ' + " ".join(f"{a:.4f} {b:.4f} {c:.4f}" for a, b, c in cells) + "\n")
dat.close()
PY
models=$(tail -n +2 "$out/layout.csv" | cut -d, -f1 | awk '!seen[$0]++')
if command -v gnuplot >/dev/null; then
  plots=$(i=0; for m in $models; do
    printf '%s"%s" using %d:%d:%d:xtic(1) title "%s"' "$([ $i -gt 0 ] && echo ', ')" "$out/layout.dat" \
      $((3 * i + 2)) $((3 * i + 3)) $((3 * i + 4)) "$m"; i=$((i + 1)); done)
  gnuplot <<GP
set terminal pngcairo size 720,400 font ",10"
set output "$out/layout.png"
set title "Rank layout on one node: the same cores as ranks x BLAS threads (median of the rounds)"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set key outside bottom center horizontal
set xlabel "ranks x threads per rank"
set ylabel "samples/s, fraction of the model's best layout"
set yrange [0:1.15]
set grid ytics
plot $plots
GP
  echo "plot: $out/layout.png"
else
  echo "gnuplot is not available: no plot (apt-get install gnuplot-nox)"
fi
rm -f "$out/layout.dat"
