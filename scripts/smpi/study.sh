#!/usr/bin/env bash
# The simulated scaling study (issue 26, item 7): weak and strong scaling of each model on each platform,
# model-mode compute (scripts/smpi/compute-model.txt: deterministic, so one run of each point and STEPS=3
# with one step of warm-up suffice: every simulated step of a model-mode run is alike), then one CSV of
# every point (OUT/study.csv: scripts/scaling.sh's columns, model named 784-H1-H2-10 or NAME) and one efficiency
# plot per model and mode (OUT/<model>_<mode>.png, a line per platform).
# Usage: scripts/smpi/study.sh OUT
# Environment: MODELS (hidden sizes of an MLP, or NAME=LAYERS for bptrain's --layers on 1x28x28 inputs,
#   e.g. cnn=conv3:32,conv3:32,maxpool2,conv3:64,maxpool2,dense:256; default "512,256 2048,2048"),
#   PLATFORMS (names of scripts/smpi/*.xml, default the flat 16,384-node clusters and the four fat-trees),
#   RANKS (default 16,64,256,1024,4096; RANKS_<hidden sizes with _ for , or NAME> overrides it for one
#   model, e.g. RANKS_2048_2048=16,64,256,1024 or RANKS_cnn=16,64),
#   MODES ("weak strong"), LOCAL (weak: samples per rank, 256), BATCH (strong: global batch, 16384),
#   BPT_SIM_MODEL (the compute model, default scripts/smpi/compute-model.txt; the plots' titles name it).
# Each point is a scripts/simulate.sh run into OUT/<model>/<platform>/ (a study that stops resumes: a
# point already in that folder's scaling.csv is kept). Real time here (2-core VM, two studies side by
# side): 784-512-256-10 at 16-4,096 ranks about 4 minutes a platform, a 16,384-rank point 10-15 minutes,
# 784-2048-2048-10 at 16-1,024 ranks about 9 minutes a platform (docs/simulated.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: scripts/smpi/study.sh OUT}
MODELS=${MODELS:-512,256 2048,2048}
PLATFORMS=${PLATFORMS:-cluster-16k-25g cluster-16k-100g fattree-25g fattree-25g-4to1 fattree-100g fattree-100g-4to1}
mkdir -p "$out"
for spec in $MODELS; do
  case $spec in
    *=*) model=${spec%%=*} layers=${spec#*=} hidden='' ;;  # NAME=LAYERS: a CNN, 1x28x28 inputs
    *) model=784-${spec//,/-}-10 layers='' hidden=$spec ;;
  esac
  var=RANKS_${spec%%=*}; var=${var//,/_}
  ranks=${!var:-${RANKS:-16,64,256,1024,4096}}
  mkdir -p "$out/$model"
  for p in $PLATFORMS; do
    [ -f "scripts/smpi/$p.xml" ] || { echo "study.sh: no platform scripts/smpi/$p.xml" >&2; exit 2; }
    echo "study.sh: $model on $p at $ranks ranks"
    BPT_SIM_COMPUTE=model STEPS=3 WARMUP=1 PLATFORM="scripts/smpi/$p.xml" HIDDEN="${hidden:-512,256}" LAYERS="$layers" \
      MODES="${MODES:-weak strong}" bash scripts/simulate.sh "$ranks" "$out/$model/$p" > "$out/$model/$p.log" 2>&1 ||
      { echo "study.sh: $model on $p failed: $out/$model/$p.log" >&2; tail -5 "$out/$model/$p.log" >&2; exit 1; }
  done
done
# One CSV of every finished point, in model, platform, mode, ranks order.
python3 - "$out" <<'PY'
import csv, glob, os, sys
out = sys.argv[1]
rows, head = [], None
for path in sorted(glob.glob(f"{out}/*/*/scaling.csv")):
    model = os.path.basename(os.path.dirname(os.path.dirname(path)))
    with open(path) as f:
        rd = csv.DictReader(f)
        head = head or rd.fieldnames
        rows += [{**r, "model": model} for r in rd if r["status"] == "ok"]  # the folder's name: 784-512-256-10
rows.sort(key=lambda r: (r["model"], r["platform"], r["mode"], int(r["ranks"])))
with open(f"{out}/study.csv", "w", newline="") as f:
    w = csv.DictWriter(f, head, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
print(f"study.sh: {len(rows)} points in {out}/study.csv")
PY
command -v gnuplot >/dev/null || apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 || { echo "study.sh: no gnuplot: no plots"; exit 0; }
for model in $(python3 -c "import csv; print(' '.join(sorted({r['model'] for r in csv.DictReader(open('$out/study.csv'))})))"); do
  for mode in ${MODES:-weak strong}; do
    plots=()
    for p in $(python3 -c "import csv,sys; print(' '.join(sorted({r['platform'] for r in csv.DictReader(open('$out/study.csv')) if r['model'] == '$model' and r['mode'] == '$mode'})))"); do
      python3 -c "import csv; [print(r['ranks'], r['efficiency'], r['comm_wait_ms']) for r in csv.DictReader(open('$out/study.csv')) if r['model'] == '$model' and r['mode'] == '$mode' and r['platform'] == '$p']" > "$out/$model/${p}_$mode.dat"
      plots+=("\"$out/$model/${p}_$mode.dat\" using 1:2 with linespoints lw 2 title \"$p\"")
    done
    [ ${#plots[@]} -gt 0 ] || continue
    gnuplot <<GP
set terminal pngcairo size 800,420 font ",10"
set output "$out/${model}_$mode.png"
set title "bptrain $mode scaling, $model, SIMULATED (SMPI, model-mode compute: $(basename "${BPT_SIM_MODEL:-compute-model.txt}"))"
set xlabel "ranks"; set ylabel "efficiency (against one simulated rank)"; set logscale x 2; set grid
set yrange [0:1.1]; set key bottom left
plot $(IFS=,; echo "${plots[*]}")
GP
  done
done
ls "$out"/*.png
