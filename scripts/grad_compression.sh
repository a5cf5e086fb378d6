#!/usr/bin/env bash
# Accuracy with --grad-compression bf16 against float (issue 27, lever 4): the main job (scripts/run.sh's
# defaults) and the MLP recipe (docs/recipe.md), each with seeds 1-3, both ways, at np=2 (NP), one
# after the other on the same build. Writes OUT/accuracy.csv (job,compression,seed,test_accuracy,seconds)
# and each run's metrics beside it, then prints the mean of each and the difference.
# Usage: scripts/grad_compression.sh [OUT=grad-compression]   (JOBS="main recipe", SEEDS="1 2 3")
# Time: the main job about 20 s a run, the recipe about 150-250 s a run at np=2 on the 2-core VMs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-grad-compression}
source scripts/mpi_env.sh
mkdir -p "$out"
declare -A flags=([main]="" [recipe]="--hidden 1024,512 --dropout 0.3 --label-smoothing 0.1 --lr-schedule cosine --epochs 60")
[ -f "$out/accuracy.csv" ] || echo "job,compression,seed,test_accuracy,seconds" > "$out/accuracy.csv"
for job in ${JOBS:-main recipe}; do
  for seed in ${SEEDS:-1 2 3}; do
    for c in none bf16; do
      m="$out/$job-$c-$seed.jsonl"
      grep -q "^$job,$c,$seed," "$out/accuracy.csv" && continue  # resumes
      rm -f "$m"
      # shellcheck disable=SC2086  # the flags are words
      mpirun -np "${NP:-2}" build/bptrain ${flags[$job]} --grad-compression $c --seed "$seed" --quiet --metrics "$m" >/dev/null
      python3 -c "import json,sys; m=[json.loads(l) for l in open(sys.argv[1])][-1]; print(f\"$job,$c,$seed,{m['test_accuracy']:.4f},{m['elapsed_s']:.0f}\")" "$m" |
        tee -a "$out/accuracy.csv"
    done
  done
done
python3 - "$out/accuracy.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for job in dict.fromkeys(r["job"] for r in rows):
    acc = {c: [float(r["test_accuracy"]) for r in rows if r["job"] == job and r["compression"] == c] for c in ("none", "bf16")}
    if not acc["none"] or not acc["bf16"]:
        continue
    a, b = statistics.mean(acc["none"]), statistics.mean(acc["bf16"])
    print(f"{job}: float {a:.4f} (seeds {', '.join(f'{x:.4f}' for x in acc['none'])}), "
          f"bf16 {b:.4f} ({', '.join(f'{x:.4f}' for x in acc['bf16'])}): {100 * (b - a):+.2f} points")
PY
