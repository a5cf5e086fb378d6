#!/usr/bin/env bash
# Sets up bptrain and runs the main job: data-parallel training on Fashion-MNIST under mpirun.
# Usage: scripts/run.sh [bptrain options...]     (NP=4 scripts/run.sh for 4 ranks; default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/mpi_env.sh
exec mpirun -np "${NP:-2}" "${BPTRAIN:-build/bptrain}" --metrics "${METRICS:-metrics.jsonl}" "$@"
