#!/usr/bin/env bash
# The test command's four other builds of the same sources, one after another, each timed on stdout
# (scripts/test.sh runs this at nice 19 behind build/'s tests; docs/testing.md, "How long it takes"):
#   build-asan/   AddressSanitizer + UndefinedBehaviorSanitizer: unit_tests, mpi_tests
#   build-mpich/  MPICH: mpi_tests, bptrain, bptrain-data
#   build-smpi/   SimGrid's SMPI: mpi_tests, bptrain, bench_comm
#   build-fuzz/   the libFuzzer targets (scripts/fuzz.sh --build-only)
# Unity builds (CMAKE_UNITY_BUILD), as build/ in the test command. MPICH's goes through ccache, which
# test.sh sets up: after build/ it compiles only what includes mpi.h (src/comm).
set -euo pipefail
cd "$(dirname "$0")/.."
unity=(-DCMAKE_UNITY_BUILD=ON)
j=$(nproc)
timed() {  # timed NAME COMMAND...: the command's own output (make's progress) dropped, errors kept
  local name=$1 start=$SECONDS; shift
  "$@" >/dev/null
  printf '%-44s %5d s\n' "$name" $((SECONDS - start))
}
asan() {
  # -O1 with line tables only (-g1): what the sanitizers need for their reports, a minute less to
  # build than -O2 -g (98 s against 145 s here), the tests as fast.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" -DBPT_SANITIZE=ON "${unity[@]}"
  cmake --build build-asan -j"$j" --target unit_tests mpi_tests
}
mpich() {
  cmake --preset mpich "${unity[@]}" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
  cmake --build build-mpich -j"$j" --target mpi_tests bptrain bptrain-data
}
smpi() {
  cmake --preset smpi -DBPT_BUILD_BENCH=ON "${unity[@]}"
  cmake --build build-smpi -j"$j" --target mpi_tests bptrain bench_comm
}
timed "build-asan/ (ASan + UBSan, -O1 -g1)" asan
timed "build-mpich/ (ccache: src/comm compiled)" mpich
timed "build-smpi/" smpi
timed "build-fuzz/ (clang, libFuzzer)" bash scripts/fuzz.sh --build-only
