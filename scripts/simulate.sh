#!/usr/bin/env bash
# The real bptrain on a simulated cluster (SimGrid's SMPI): strong and weak scaling from 16 to 1,024
# ranks, with scripts/scaling.sh's CSV (plus a platform column) and plots. Every time it reports is
# simulated time (bptrain's clock is MPI_Wtime, which SMPI simulates).
# Usage: scripts/simulate.sh [RANKS=16,64,256,1024] [OUT=simulated]   (1 rank is always run: the baseline)
#        scripts/simulate.sh validate [OUT=simulated/validation]   (the simulator against this machine: each
#          phase of 784-512-256-10, 784-2048-2048-10 and the README's CNN at np 1 and 2; VALIDATE_MODELS
#          as study.sh's MODELS, REPS measured runs)
# Environment: NET (10, 25, 100, 200: scripts/smpi/cluster-<NET>g.xml; default 100) or PLATFORM (a
#   platform file), PLATFORM_LABEL (default: the file's name), HIDDEN (512,256) or LAYERS (--layers, e.g. a
#   CNN; the synthetic rows are then 1x28x28 images: INPUT_SHAPE), LOCAL (weak: samples per
#   rank, 256), BATCH (strong: global batch, 16384), STEPS (6), WARMUP (2: steps left out of the
#   averages), MODES ("strong weak"), HOST_SPEED and SMPI_TEST (default: measured here first, see below),
#   SMPI_BUILD (the SMPI build folder: build-smpi, made with `cmake --preset smpi` if missing), BPT_ARGS
#   (more bptrain options, e.g. "--reducer ring").
# The compute (BPT_SIM_COMPUTE): "model" (the default) bills every kernel of every simulated rank by the
# calibrated model BPT_SIM_MODEL (default scripts/smpi/compute-model.txt, fitted on a real machine by
# scripts/smpi/calibrate.sh; bpt/core/sim_cost.hpp), skips the GEMMs, and times nothing on this
# machine: identical runs give identical figures, and a simulated core computes as the calibration
# machine's did. "measured" is the older way: the platforms' nodes compute at 220 Gflop/s (one core of
# the development VM: bench_floor's 1-thread sgemm); SMPI times each stretch of computation for real and
# scales it by HOST_SPEED / 220 Gflop/s, so HOST_SPEED is this machine's own 1-thread sgemm rate,
# measured here with bench_floor (noise-bound: a thousand ranks through one cache, one after another).
# SMPI_TEST is what one MPI_Test costs with Open MPI here (bench_mpi_test; in model mode smpirun.sh's
# 1.7e-8 s, the development VM's, so that nothing is measured).
# Each rank draws its synthetic rows and labels as it needs them (TRAIN=synthetic:{rows},784,10: one epoch
# of STEPS steps), so memory grows with ranks x dataset only by each rank's epoch permutation (4 bytes a
# row; none in model mode, where the rows go in order: bpt/data/dataset.hpp's EpochOrder); the test set, evaluated once at the end, is one sample per rank. Samples/s: the global batch
# over the median time of a step past the warm-up (a step lasts as long as its slowest rank; SMPI
# times each rank's computation for real, one rank after another, so a stall of this machine during
# one of a thousand bursts stalls a whole simulated step: the median keeps such steps out). OpenBLAS picks its own kernels here, as in the
# benchmarks (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = validate ]; then mode=validate; out=${2:-simulated/validation}; else mode=scale; ranks=${1:-16,64,256,1024}; out=${2:-simulated}; fi
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1
# The compute: modelled (default: every kernel billed by the calibrated model, deterministic) or
# measured (SMPI times each rank's computation on this machine, scaled by HOST_SPEED).
export BPT_SIM_COMPUTE=${BPT_SIM_COMPUTE:-model}
# The Open MPI build (with the benchmarks, for measured compute's calibration; for validate, to measure
# against) and the SMPI build, from the same sources.
if [ "$BPT_SIM_COMPUTE" != model ]; then
  [ -x build/bench/bench_floor ] && [ -x build/bench/bench_mpi_test ] || bash scripts/setup.sh -DBPT_BUILD_BENCH=ON
elif [ $mode = validate ]; then
  [ -x build/bptrain ] || bash scripts/setup.sh
fi
smpi_build=${SMPI_BUILD:-build-smpi}
if [ ! -x "$smpi_build/bptrain" ]; then
  cmake --preset smpi >/dev/null
  cmake --build "$smpi_build" -j"$(nproc)" --target bptrain >/dev/null
fi
source scripts/mpi_env.sh
if [ "$BPT_SIM_COMPUTE" = model ]; then
  export BPT_SIM_MODEL=${BPT_SIM_MODEL:-$PWD/scripts/smpi/compute-model.txt}
  [ -f "$BPT_SIM_MODEL" ] || { echo "simulate.sh: no compute model $BPT_SIM_MODEL (scripts/smpi/calibrate.sh)" >&2; exit 2; }
  # Nothing measured here (HOST_SPEED is not used in model mode).
  HOST_SPEED=${HOST_SPEED:-220Gf} SMPI_TEST=${SMPI_TEST:-1.7e-8}
  BPT_ARGS="--grad-warn-steps 0 ${BPT_ARGS:-}"  # no kernel runs: the gradients do not move
fi
if [ -z "${HOST_SPEED:-}" ]; then  # the best of three 1-second measurements (the machine is shared)
  gf=$(for _ in 1 2 3; do mpirun -np 1 build/bench/bench_floor 784,512,256,10 256 1; done |
       sed -n 's/.*sgemm_1t_gflops=\([0-9.]*\).*/\1/p' | sort -g | tail -1)
  HOST_SPEED=${gf}Gf
fi
if [ -z "${SMPI_TEST:-}" ]; then
  us=$(mpirun -np 2 build/bench/bench_mpi_test | sed -n 's/.*us_per_test=\([0-9.]*\).*/\1/p')
  SMPI_TEST=$(python3 -c "print(f'{$us * 1e-6:.3g}')")
fi
export HOST_SPEED SMPI_TEST
PLATFORM=${PLATFORM:-scripts/smpi/cluster-${NET:-100}g.xml}
[ -f "$PLATFORM" ] || { echo "simulate.sh: no platform file $PLATFORM" >&2; exit 2; }
mkdir -p "$out"
if [ "$BPT_SIM_COMPUTE" = model ]; then
  echo "simulate.sh: compute modelled by $BPT_SIM_MODEL ($(sed -n 's/^# measured //p' "$BPT_SIM_MODEL" | head -1)); SMPI_TEST=$SMPI_TEST s per MPI_Test"
  { echo "compute: model $BPT_SIM_MODEL"; grep '^#' "$BPT_SIM_MODEL"; } > "$out/compute.txt"
else
  echo "simulate.sh: compute measured: HOST_SPEED=$HOST_SPEED (this machine's 1-thread sgemm), SMPI_TEST=$SMPI_TEST s per MPI_Test"
  echo "compute: measured, HOST_SPEED=$HOST_SPEED" > "$out/compute.txt"
fi

if [ $mode = validate ]; then
  # Each model at np 1 and 2, measured with Open MPI here (--profile) and simulated on a platform that
  # describes this machine (this-machine.xml), per phase: compute, its forward and backward, optimizer,
  # data, communication wait, and the step (the slowest rank's sum). Two simulations of each measured
  # run: with the model fitted in that very run (BPT_SIM_COMPUTE=record: the model's coverage and
  # billing, without this shared machine's drift between the calibration and now) and with the
  # committed model (drift included). Each figure is a median over the steps past the fifth (the
  # simulated steps are all alike; a measured run's slow moments are this shared machine's), then
  # over REPS measured runs.
  echo "model,ranks,phase,measured_ms,same_run_model_ms,same_run_difference,committed_model_ms,committed_difference" > "$out/validation.csv"
  for spec in ${VALIDATE_MODELS:-512,256 2048,2048 cnn=conv3:32,conv3:32,maxpool2,conv3:64,maxpool2,dense:256}; do
    case $spec in  # hidden sizes of an MLP, or NAME=LAYERS (a CNN on 1x28x28 rows): as scripts/smpi/study.sh
      *=*) hidden=${spec%%=*} name=${spec%%=*} arch="--layers ${spec#*=} --input-shape 1,28,28" steps=15 ;;
      *) hidden=$spec name=784-${spec//,/-}-10 arch="--hidden $spec" steps=$([ "$spec" = 512,256 ] && echo 80 || echo 30) ;;
    esac
    flags="--train synthetic:60000,784,10 --test synthetic:2,784,10 --eval-batch 1 $arch --batch-size 256
           --optimizer momentum --lr 0.01 --epochs 1 --max-steps $steps --quiet --grad-warn-steps 0"
    for np in 1 2; do
      # The committed model of np ranks sharing this machine (calibrate.sh's -np2 twin at np=2).
      committed=$BPT_SIM_MODEL
      [ "$np" = 2 ] && committed=${committed%.txt}-np2.txt
      for rep in $(seq "${REPS:-3}"); do
        tag=${hidden}_${np}_$rep
        rm -f "$out/record_$tag.txt"
        # shellcheck disable=SC2086
        BPT_SIM_COMPUTE=record BPT_SIM_RECORD="$out/record_$tag.txt" mpirun -np $np --bind-to core build/bptrain $flags \
          --profile "$out/measured_$tag.csv" > /dev/null
        for which in same committed; do
          m=$([ $which = same ] && echo "$out/record_$tag.txt" || echo "$committed")
          # shellcheck disable=SC2086
          BPT_SIM_MODEL=$m PLATFORM=scripts/smpi/this-machine.xml OVERSUBSCRIBE=1 scripts/smpi/smpirun.sh -n $np \
            "$smpi_build/bptrain" $flags --profile "$out/simulated_${which}_$tag.csv" > /dev/null
        done
      done
      python3 - "$name" "$np" "$out" "$hidden" "${REPS:-3}" >> "$out/validation.csv" <<'PY'
import statistics, sys
sys.path.insert(0, "scripts/smpi")
from step_time import medians
fig = lambda path: medians(path, 5)  # past 5 warm-up steps
model, np_, out, hidden, reps = sys.argv[1:]
runs = [(fig(f"{out}/measured_{hidden}_{np_}_{r}.csv"), fig(f"{out}/simulated_same_{hidden}_{np_}_{r}.csv"),
         fig(f"{out}/simulated_committed_{hidden}_{np_}_{r}.csv")) for r in range(1, int(reps) + 1)]
for phase in ("step_ms", "compute_ms", "forward_ms", "backward_ms", "optimizer_ms", "data_ms", "comm_wait_ms"):
    m = statistics.median(r[0][phase] for r in runs)
    cells = [f"{m:.3f}"]
    for k in (1, 2):
        s = statistics.median(r[k][phase] for r in runs)
        # the median of the runs' own differences (each simulation against its measured run)
        d = statistics.median((r[k][phase] - r[0][phase]) / r[0][phase] * 100 for r in runs) if m >= 0.05 else None
        cells += [f"{s:.3f}", f"{d:+.1f}%" if d is not None else "(under 0.05 ms)"]
    print(f"{model},{np_},{phase[:-3]}," + ",".join(cells))
PY
    done
  done
  column -s, -t < "$out/validation.csv"
  exit 0
fi

# --normalize unit: in measured mode the standard scaling's statistics are a pass over the whole training
# set that every rank makes at start-up, one pass per simulated rank on this one host (64 ranks: 28 s
# instead of 5 s; model mode skips it: its values mean nothing); it is outside the profiled steps, and
# the model bills each step's batch assembly as calibrated.
BPT_ARGS="--normalize unit ${BPT_ARGS:-}"
label=${PLATFORM_LABEL:-$(basename "$PLATFORM" .xml)}
case ",$ranks," in *,1,*) ;; *) ranks=1,$ranks ;; esac  # efficiency is relative to one simulated rank
STEPS=${STEPS:-6}
BPTRAIN=$smpi_build/bptrain MPIEXEC="scripts/smpi/smpirun.sh" PLATFORM="$PLATFORM" PLATFORM_LABEL="$label" \
  TRAIN='synthetic:{rows},784,10' EPOCHS=1 STEPS=$STEPS WARMUP=${WARMUP:-2} REPS=1 SPS_FROM=profile \
  ARGS="--test synthetic:{ranks},784,10 --eval-batch 1 ${BPT_ARGS:-}" \
  HIDDEN=${HIDDEN:-512,256} LAYERS=${LAYERS:-} INPUT_SHAPE=${INPUT_SHAPE:-1,28,28} LOCAL=${LOCAL:-256} \
  BATCH=${BATCH:-16384} MODES=${MODES:-strong weak} bash scripts/scaling.sh "$ranks" "$out"
