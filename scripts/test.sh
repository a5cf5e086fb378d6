#!/usr/bin/env bash
# Sets up bptrain and runs every test: unit tests, MPI tests at np 1-4, the command-line checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DBPT_BUILD_TESTS=ON
source scripts/mpi_env.sh
cd build
ctest --output-on-failure -j1 --timeout 600
