#!/usr/bin/env bash
# bptrain's gradient reducer against every allreduce algorithm SMPI has, on the simulated clusters: one
# bucket sum (bench_comm: the reducer, --reducer auto, and MPI_Allreduce on the same buffer) at each
# point, SIMULATED time. Writes OUT (CSV: one row per point and SMPI algorithm) and prints, per point,
# the fastest SMPI algorithm and the reducer's ratio to it.
# Usage: bench/smpi_allreduce.sh [OUT=docs/simulated/allreduce.csv]
# Environment: NETS ("100 25": scripts/smpi/cluster-<NET>g.xml), POINTS ("ranks:MB ...", default the
#   issue's: 2 MB at 16, 64, 256, 1024 ranks and 24 MB at 16, 64, 256), ALGOS (SMPI's names, chosen
#   with --cfg=smpi/allreduce:NAME), REPS (timed repetitions per run: 5; simulated time is repeatable),
#   TIMEOUT (real seconds per run, 3600; a run cut short leaves its row empty), EXTRA (more smpirun
#   options for every run, e.g. --cfg=smpi/simulate-computation:no: no computation billed, the
#   reducer's additions included, as SMPI never bills the additions inside its own collectives),
#   BPT_SIM_ADD_NS (each added element billed that many ns on both sides, the reducer's and
#   MPI_Allreduce's: src/comm/add.hpp; with simulate-computation:no, the additions billed alike).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/simulated/allreduce.csv}
NETS=${NETS:-100 25}
POINTS=${POINTS:-16:2 64:2 256:2 1024:2 16:24 64:24 256:24}
ALGOS=${ALGOS:-default rab_rdb rab1 rab2 rdb lr redbcast ompi mpich mvapich2 impi}
REPS=${REPS:-5}
if [ ! -x build-smpi/bench/bench_comm ]; then
  cmake --preset smpi -DBPT_BUILD_BENCH=ON >/dev/null
  cmake --build build-smpi -j"$(nproc)" --target bench_comm >/dev/null
fi
export OPENBLAS_NUM_THREADS=1
mkdir -p "$(dirname "$out")"
echo "net_gbps,ranks,mb,smpi_algorithm,allreduce_ms,reducer_ms,reducer_algorithm" > "$out"
for net in $NETS; do
  for point in $POINTS; do
    p=${point%%:*} mb=${point##*:}
    for algo in $ALGOS; do
      extra=${EXTRA:-}; [ "$algo" = default ] || extra="$extra --cfg=smpi/allreduce:$algo"
      line=$(PLATFORM=scripts/smpi/cluster-${net}g.xml SMPI_EXTRA="$extra" timeout "${TIMEOUT:-3600}" scripts/smpi/smpirun.sh -n "$p" \
        build-smpi/bench/bench_comm "$mb" 2 "$REPS" 2>/dev/null | grep '^comm ' || true)
      if [ -z "$line" ]; then echo "$net,$p,$mb,$algo,,,"; continue; fi
      python3 -c "
d = dict(kv.split('=') for kv in '''$line'''.split()[1:])
print(f\"$net,$p,$mb,$algo,{d['allreduce_ms']},{d['reducer_ms']},{d['reducer']}\")"
    done | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import csv, sys
from collections import defaultdict
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["allreduce_ms"]]
points = defaultdict(list)
for r in rows:
    points[(r["net_gbps"], int(r["ranks"]), r["mb"])].append(r)
print("\nnet  ranks   MB  fastest SMPI allreduce      reducer (algorithm)   ratio")
for (net, p, mb), rs in sorted(points.items(), key=lambda k: (-int(k[0][0]), float(k[0][2]), k[0][1])):
    best = min(rs, key=lambda r: float(r["allreduce_ms"]))
    ours = min(float(r["reducer_ms"]) for r in rs)
    print(f"{net:>3}G {p:>5} {mb:>4}  {best['smpi_algorithm']:>9} {float(best['allreduce_ms']):9.3f} ms   "
          f"{ours:9.3f} ms ({rs[0]['reducer_algorithm']})  {ours / float(best['allreduce_ms']):.2f}x")
PY
