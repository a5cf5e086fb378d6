#!/usr/bin/env bash
# The repeated-trial checks in full (CTest label soak): ten trials of a stopped rank (tests/mpi/stall.sh)
# and ten rounds of each kind of SIGKILL (tests/mpi/fault_injection.sh), at random ranks after the
# first three. scripts/test.sh runs three of each; this is for a change to the stall watch, the
# checkpoint writer or the error paths. Installs and builds as scripts/test.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
BPT_TEST_PACKAGES=1 bash scripts/setup.sh -DBPT_BUILD_TESTS=ON -DBPT_BUILD_BENCH=ON
source scripts/mpi_env.sh
(cd build && ctest --output-on-failure -L soak)
