#!/usr/bin/env bash
# The real bptrain on a simulated cluster (SimGrid's SMPI): strong and weak scaling from 16 to 1,024
# ranks, with scripts/scaling.sh's CSV (plus a platform column) and plots. Every time it reports is
# simulated time (bptrain's clock is MPI_Wtime, which SMPI simulates).
# Usage: scripts/simulate.sh [RANKS=16,64,256,1024] [OUT=simulated]   (1 rank is always run: the baseline)
#        scripts/simulate.sh validate [OUT=simulated/validation]   (the simulator against this machine)
# Environment: NET (10, 25, 100, 200: scripts/smpi/cluster-<NET>g.xml; default 100) or PLATFORM (a
#   platform file), PLATFORM_LABEL (default: the file's name), HIDDEN (512,256) or LAYERS (--layers, e.g. a
#   CNN; the synthetic rows are then 1x28x28 images: INPUT_SHAPE), LOCAL (weak: samples per
#   rank, 256), BATCH (strong: global batch, 16384), STEPS (6), WARMUP (2: steps left out of the
#   averages), MODES ("strong weak"), HOST_SPEED and SMPI_TEST (default: measured here first, see below),
#   SMPI_BUILD (the SMPI build folder: build-smpi, made with `cmake --preset smpi` if missing), BPT_ARGS
#   (more bptrain options, e.g. "--reducer ring").
# How the simulation is calibrated: the platforms' nodes compute at 220 Gflop/s (one core of the
# development VM: bench_floor's 1-thread sgemm); SMPI times each stretch of computation for real and
# scales it by HOST_SPEED / 220 Gflop/s, so HOST_SPEED is this machine's own 1-thread sgemm rate,
# measured here with bench_floor. SMPI_TEST is what one MPI_Test costs with Open MPI here (bench_mpi_test).
# Each rank draws its synthetic rows and labels as it needs them (TRAIN=synthetic:{rows},784,10: one epoch
# of STEPS steps), so memory grows with ranks x dataset only by each rank's epoch permutation (4 bytes a
# row); the test set, evaluated once at the end, is one sample per rank. Samples/s: the global batch
# over the median time of a step past the warm-up (a step lasts as long as its slowest rank; SMPI
# times each rank's computation for real, one rank after another, so a stall of this machine during
# one of a thousand bursts stalls a whole simulated step: the median keeps such steps out). OpenBLAS picks its own kernels here, as in the
# benchmarks (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = validate ]; then mode=validate; out=${2:-simulated/validation}; else mode=scale; ranks=${1:-16,64,256,1024}; out=${2:-simulated}; fi
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1
# The Open MPI build (with the benchmarks, for the calibration) and the SMPI build, from the same sources.
[ -x build/bench/bench_floor ] && [ -x build/bench/bench_mpi_test ] || bash scripts/setup.sh -DBPT_BUILD_BENCH=ON
smpi_build=${SMPI_BUILD:-build-smpi}
if [ ! -x "$smpi_build/bptrain" ]; then
  cmake --preset smpi >/dev/null
  cmake --build "$smpi_build" -j"$(nproc)" --target bptrain >/dev/null
fi
source scripts/mpi_env.sh
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
echo "simulate.sh: HOST_SPEED=$HOST_SPEED (this machine's 1-thread sgemm), SMPI_TEST=$SMPI_TEST s per MPI_Test"

if [ $mode = validate ]; then
  # The same run measured with Open MPI here and simulated on a platform that describes this machine.
  flags="--train synthetic:60000,784,10 --hidden ${HIDDEN:-512,256} --batch-size 256 --optimizer momentum --lr 0.01
         --epochs 1 --max-steps 80 --quiet"
  echo "ranks,measured_step_ms,simulated_step_ms,difference,measured_compute_ms,simulated_compute_ms,measured_comm_wait_ms,simulated_comm_wait_ms" > "$out/validation.csv"
  for np in 2 4; do
    # shellcheck disable=SC2086
    mpirun -np $np build/bptrain $flags --profile "$out/measured_$np.csv" > /dev/null
    # shellcheck disable=SC2086
    # Compute is not rescaled here: this machine is the platform (its node speed is the host speed).
    PLATFORM=scripts/smpi/this-machine.xml OVERSUBSCRIBE=1 HOST_SPEED=220Gf scripts/smpi/smpirun.sh -n $np "$smpi_build/bptrain" $flags \
      --profile "$out/simulated_$np.csv" > /dev/null
    python3 - "$np" "$out/measured_$np.csv" "$out/simulated_$np.csv" >> "$out/validation.csv" <<'PY'
import subprocess, sys
def fig(path):
    out = subprocess.run(["python3", "scripts/smpi/step_time.py", path, "10"], capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in (kv.split("=") for kv in out.split())}
m, s = fig(sys.argv[2]), fig(sys.argv[3])
print(f"{sys.argv[1]},{m['step_ms']:.3f},{s['step_ms']:.3f},{(s['step_ms'] - m['step_ms']) / m['step_ms'] * 100:+.1f}%,"
      f"{m['compute_ms']:.3f},{s['compute_ms']:.3f},{m['comm_wait_ms']:.3f},{s['comm_wait_ms']:.3f}")
PY
  done
  column -s, -t < "$out/validation.csv"
  exit 0
fi

label=${PLATFORM_LABEL:-$(basename "$PLATFORM" .xml)}
case ",$ranks," in *,1,*) ;; *) ranks=1,$ranks ;; esac  # efficiency is relative to one simulated rank
STEPS=${STEPS:-6}
BPTRAIN=$smpi_build/bptrain MPIEXEC="scripts/smpi/smpirun.sh" PLATFORM="$PLATFORM" PLATFORM_LABEL="$label" \
  TRAIN='synthetic:{rows},784,10' EPOCHS=1 STEPS=$STEPS WARMUP=${WARMUP:-2} REPS=1 SPS_FROM=profile \
  ARGS="--test synthetic:{ranks},784,10 --eval-batch 1 ${BPT_ARGS:-}" \
  HIDDEN=${HIDDEN:-512,256} LAYERS=${LAYERS:-} INPUT_SHAPE=${INPUT_SHAPE:-1,28,28} LOCAL=${LOCAL:-256} \
  BATCH=${BATCH:-16384} MODES=${MODES:-strong weak} bash scripts/scaling.sh "$ranks" "$out"
