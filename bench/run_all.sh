#!/usr/bin/env bash
# Builds the benchmarks and runs them all; prints one table of measured figures and ratios.
# Every ratio compares figures measured in this one run (the machine is shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DBPT_BUILD_BENCH=ON
source scripts/mpi_env.sh
exec python3 bench/run_all.py "$@"
