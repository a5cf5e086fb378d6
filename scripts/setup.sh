#!/usr/bin/env bash
# Installs every Debian package bptrain needs (skipping what is installed) and builds it in build/.
# BPT_TEST_PACKAGES=1 adds what only the tests need.
# Usage: scripts/setup.sh [extra cmake -D options...]
# Open MPI is the default MPI. Two more builds of the same sources, as scripts/test.sh makes them:
#   cmake --preset mpich   (build-mpich/: MPICH, and Cray MPICH or Intel MPI, which derive from it)
#   cmake --preset smpi    (build-smpi/: SimGrid's SMPI, simulated clusters; scripts/simulate.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config
          libopenmpi-dev openmpi-bin libmpich-dev mpich
          libopenblas-dev libhdf5-dev hdf5-tools libcxxopts-dev libgtest-dev zlib1g-dev libbenchmark-dev
          libsimgrid-dev dataset-fashion-mnist bc gnuplot-nox
          slurmctld slurmd slurm-client munge slurm-wlm-torque)
# What only the tests need: ccache and clang (scripts/test.sh, scripts/fuzz.sh), and their oracle: PyTorch reads bptrain's checkpoints
# (tests/mpi/torch_agrees.sh; scripts/torch_evaluate.py). scripts/test.sh sets BPT_TEST_PACKAGES=1.
if [ "${BPT_TEST_PACKAGES:-0}" = 1 ]; then packages+=(python3-torch python3-h5py ccache clang libclang-rt-14-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  # An install or removal cut off earlier (a killed session, a reboot) leaves dpkg refusing every
  # apt-get until it is finished: finish it first (CI failed here once with "dpkg was interrupted").
  # A half-installed package makes dpkg --configure -a fail; apt-get -f then finishes or removes it.
  if [ -n "$($sudo_cmd dpkg --audit 2>/dev/null)" ]; then
    echo "setup: dpkg was interrupted earlier; finishing it (dpkg --configure -a, apt-get install -f)"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd dpkg --configure -a >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -f -y -qq >/dev/null
  fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
