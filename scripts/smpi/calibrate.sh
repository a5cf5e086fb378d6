#!/usr/bin/env bash
# Fits the simulated-compute model (bpt/core/sim_cost.hpp) on this machine: the real bptrain (the Open MPI
# build) trains each model a few steps at per-rank batches 1 to 1,024, at 1 and 2 ranks, with
# BPT_SIM_COMPUTE=record, which times every kernel (GEMM, elementwise pass, optimizer update, reducer
# addition, batch assembly) by its shape; the model file keeps, per kernel and shape, the median over
# runs and ranks of each run's median call. One BLAS thread per rank, as the simulated ranks have.
# Two files: OUT, a rank alone on the machine (the np=1 runs' times; the np=2 runs supply only what
# np=1 lacks: the reducer's additions, the sharded optimizer's halves), for platforms of one rank per
# node; and OUT's -np2 twin, two ranks sharing this machine (np=2 first: on the 2-core development VM
# each GEMM took about 26 % longer beside another rank), to check the simulator at np=2 here.
# Usage: scripts/smpi/calibrate.sh [OUT=scripts/smpi/compute-model.txt]
# Environment: MODELS (";"-separated --layers or --hidden specs; default the two MLPs of the scaling
#   studies and the README's two CNNs: the quick-start conv5 one and the recipe's conv3 one, which the
#   study simulates; a network calibrated without its own shapes is billed by estimates, and a
#   model-mode run ends with a line saying how much; 10 min on the Xeon VM with both CNNs), BATCHES
#   (per-rank batches, default 1 2 4 ... 1024), BPTRAIN (default build/bptrain), MPIEXEC (default
#   mpirun), OPTIMIZERS (default "momentum adam").
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-scripts/smpi/compute-model.txt}
bin=${BPTRAIN:-build/bptrain}
[ -x "$bin" ] || bash scripts/setup.sh
source scripts/mpi_env.sh
mpiexec=${MPIEXEC:-mpirun}
# OpenBLAS picks its own kernels, as in the benchmarks and scripts/simulate.sh (the environment of this
# machine forces OPENBLAS_CORETYPE=Haswell: 1.6x slower GEMMs here).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
MODELS=${MODELS:-"--hidden 512,256;--hidden 2048,2048;--layers conv5:32,maxpool2,conv5:64,maxpool2,dense:256 --input-shape 1,28,28;--layers conv3:32,conv3:32,maxpool2,conv3:64,maxpool2,dense:256 --input-shape 1,28,28"}
BATCHES=${BATCHES:-1 2 4 8 16 32 64 128 256 512 1024}
OPTIMIZERS=${OPTIMIZERS:-momentum adam}
rec=$(mktemp -d)
trap 'rm -rf "$rec"' EXIT
started=$(date +%s)
IFS=';' read -r -a models <<<"$MODELS"
for model in "${models[@]}"; do
  for b in $BATCHES; do
    for np in 1 2; do
      for opt in $OPTIMIZERS; do
        # About the same work per run: at least 8 recorded calls of each kernel past the first.
        # shellcheck disable=SC2086
        steps=$(python3 -c "print(max(9, min(40, 8192 // max(1, $b * (30 if 'conv' in '$model' else 1)))))")
        BPT_SIM_COMPUTE=record BPT_SIM_RECORD=$rec/np$np "$mpiexec" -n $np "$bin" $model \
          --train "synthetic:$((b * np * steps)),784,10" --test synthetic:$np,784,10 --eval-batch 1 \
          --batch-size $((b * np)) --optimizer "$opt" --epochs 1 --max-steps "$steps" --quiet --grad-warn-steps 0 \
          > /dev/null || { echo "calibrate.sh: the run of '$model' at batch $b, np $np, $opt failed" >&2; exit 1; }
      done
    done
  done
  echo "calibrate.sh: $model: $(($(date +%s) - started)) s so far"
done
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 - "$rec" "$out" "$cpu" "$(getconf _NPROCESSORS_ONLN)" "$commit" "$MODELS" "$BATCHES" "$OPTIMIZERS" <<'PY'
import statistics, sys, time
rec, out, cpu, ncpu, commit, models, batches, opts = sys.argv[1:]
def read(path):
    times = {}
    for line in open(path):
        kind, d0, d1, d2, s, calls = line.split()
        times.setdefault((kind, int(d0), int(d1), int(d2)), []).append(float(s))
    return {k: statistics.median(v) for k, v in times.items()}
np1, np2 = read(rec + "/np1"), read(rec + "/np2")
for path, first, then, who in ((out, np1, np2, "a rank alone on the machine (np=1 runs; np=2 runs for the shapes np=1 lacks)"),
                               (out[:-4] + "-np2.txt" if out.endswith(".txt") else out + "-np2",
                                np2, np1, "two ranks sharing the machine (np=2 runs; np=1 runs for the shapes np=2 lacks)")):
    model = dict(then)
    model.update(first)
    with open(path, "w") as f:
        f.write("# bptrain's simulated-compute model (bpt/core/sim_cost.hpp): kind d0 d1 d2 seconds\n")
        f.write(f"# measured {time.strftime('%Y-%m-%d', time.gmtime())} on {cpu} ({ncpu} CPUs), commit {commit},\n")
        f.write("# by scripts/smpi/calibrate.sh: the real bptrain (Open MPI build, one BLAS thread a rank) with\n")
        f.write("# BPT_SIM_COMPUTE=record, per-rank batches " + batches + " at 1 and 2 ranks, optimizers " + opts + ",\n")
        f.write("# models: " + models + "\n")
        f.write("# kernel times of " + who + ":\n")
        f.write("# each line the median over runs and ranks of a run's median call of that kernel and shape\n")
        for key in sorted(model):
            f.write("%s %d %d %d %.6e\n" % (key + (model[key],)))
    print(f"calibrate.sh: {len(model)} kernel shapes in {path}")
PY
