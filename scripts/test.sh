#!/usr/bin/env bash
# Sets up bptrain and runs every test (docs/testing.md says what each checks and how long it takes):
#  1. unit tests, MPI tests at np 1-8 and over TCP at np 2-3, command-line, validation, checkpoint,
#     stall and fault-injection checks (three trials each: the ten-trial runs are scripts/soak.sh),
#     the batch scripts (dry runs and a real one-node SLURM), and a brief run of each MPI benchmark
#     (build/);
#  2. the unit and np=2 MPI tests again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/);
#  3. the MPI tests (np 1-4, a failed assertion's abort, fail-fast, errors, command line, validation,
#     batch scripts) built against MPICH instead of Open MPI, in another build folder (build-mpich/:
#     the tests take their own build's binaries);
#  4. the SMPI build (SimGrid, build-smpi/): the MPI tests on 16 simulated ranks (the reducer's and the
#     sharded optimizer's also on 64), a small run of scripts/simulate.sh, and the additions billed
#     alike on both sides of bench_comm;
#  5. each libFuzzer target for a short, fixed time (build-fuzz/; FUZZ_SECONDS, default 8; longer runs: scripts/fuzz.sh N).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's time, printed at the end (also when a step fails): what docs/testing.md tabulates.
times=() step_name="" step_start=$SECONDS
step() {
  [ -n "$step_name" ] && times+=("$(printf '%-44s %5d s' "$step_name" $((SECONDS - step_start)))")
  step_name=$1 step_start=$SECONDS
  [ -n "$1" ] && echo "== $1"
  return 0
}
report() {
  [ -n "${variants:-}" ] && kill -- -"$variants" 2>/dev/null  # the background builds, if the run stopped early
  step ""
  echo "== time of each step"
  printf '%s\n' "${times[@]}"
  printf '%-44s %5d s\n' "in all" "$SECONDS"
}
trap report EXIT

# Time (docs/testing.md, "How long it takes"): five builds of the same sources and some 160 tests on
# two cores.
# - Unity builds (CMAKE_UNITY_BUILD: 8 sources to a compiler run), a third less compile time. (Builds
#   without it, scripts/setup.sh's default, compile each source alone.)
# - ccache, in build/ and build-mpich/ only: MPICH's build recompiles only what includes mpi.h
#   (src/comm) and takes the rest from build/'s compiles. The cache is this run's own (in build/),
#   relative paths (base dir: the repository) so that two build folders share entries; file_macro:
#   a unity source's own path differs per folder while the sources it includes do not.
# - The tests side by side (ctest -j, one more than the cores: most tests wait on process start-up);
#   those that time what they check have RUN_SERIAL (tests/mpi/CMakeLists.txt).
# - The four other builds (scripts/build_variants.sh) at nice 19 while build/'s tests run: they take
#   the CPU time the tests leave (about half of it) and none the tests want.
export CCACHE_DIR=$PWD/build/ccache CCACHE_BASEDIR=$PWD CCACHE_SLOPPINESS=file_macro,include_file_mtime,include_file_ctime,time_macros
jobs=$(( $(nproc) + 1 ))

step "setup: packages and the build (build/)"
# the benchmarks get a brief smoke run
BPT_TEST_PACKAGES=1 bash scripts/setup.sh -DBPT_BUILD_TESTS=ON -DBPT_BUILD_BENCH=ON -DCMAKE_UNITY_BUILD=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
source scripts/mpi_env.sh
step "tests (build/); the other builds behind them"
# Its own process group (setsid), so that a failed run stops it whole.
setsid -w nice -n 19 bash scripts/build_variants.sh > build/variants.log 2>&1 &
variants=$!
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600 -LE soak)
step "the other builds: what was left of them"
wait "$variants" || { echo "== the other builds failed:"; tail -n 60 build/variants.log; exit 1; }
variants=""
echo "== the other builds (scripts/build_variants.sh at nice 19, from the start of the tests):"
cat build/variants.log

step "sanitizers: unit and np=2 MPI tests (build-asan/)"
# Full stacks (slow unwinder) so that the suppressions can match leaks inside the MPI library; Open MPI
# keeps its plugins loaded so their frames have names.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMPI_MCA_mca_base_component_disable_dlclose=1
(cd build-asan && ctest --output-on-failure -j"$jobs" -L unit && ctest --output-on-failure -R '^mpi_np2$')
unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

step "MPICH: the MPI tests and every test that runs the binaries (build-mpich/)"
(cd build-mpich && ctest --output-on-failure -j"$jobs" -R '^(mpi_np[1-4]|mpi_assert_aborts|mpi_fail_fast|errors_once|cli|validation_[12]|batch_.*)$')

step "SMPI: MPI tests on 16 and 64 simulated ranks, simulate.sh (build-smpi/)"
(cd build-smpi && ctest --output-on-failure -j"$(nproc)" -L smpi)

step "fuzzing: ${FUZZ_SECONDS:-8} s per target (build-fuzz/)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-8}"
