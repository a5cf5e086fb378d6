#!/usr/bin/env bash
# Run a simulation script with SimGrid 4.0 (Debian trixie's libsimgrid-dev) instead of this machine's
# 3.32 (bookworm's), for the largest studies: 3.32 keeps every message an MPI_Test completed on its
# rank's activity list and searches that list at each later completion, so real time grows with the
# square of the messages (784-2048-2048-10 at 16,384 ranks: 2 hours a point); SimGrid 3.34 and later
# keep a set (docs/simulated.md, "SimGrid 4.0"). Nothing of this machine changes: a trixie root is made
# with debootstrap under ROOT (Debian's archive only), the repository is bind-mounted into it at /src
# in a mount namespace of its own (gone when the command ends; the environment passes through), and
# bptrain is built there with trixie's smpicxx into SMPI_BUILD, which the simulation scripts then use.
# Usage (as root): scripts/smpi/simgrid4.sh COMMAND [ARG...]   e.g.
#   scripts/smpi/simgrid4.sh bash scripts/smpi/study.sh OUT
# COMMAND runs in the repository inside the root: give it (and PLATFORM, BPT_SIM_MODEL, OUT) paths
# inside the repository, relative ones. Environment: ROOT (/var/tmp/bptrain-trixie), SMPI_BUILD
# (build-smpi-sg4), SUITE (trixie), MIRROR (http://deb.debian.org/debian). The first call takes a
# few minutes (debootstrap, packages, build).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: scripts/smpi/simgrid4.sh COMMAND [ARG...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "simgrid4.sh: needs root (debootstrap, chroot, bind mounts)" >&2; exit 2; }
root=${ROOT:-/var/tmp/bptrain-trixie} sb=${SMPI_BUILD:-build-smpi-sg4} suite=${SUITE:-trixie}
case $sb in /*|*..*) echo "simgrid4.sh: SMPI_BUILD must be a folder inside the repository: $sb" >&2; exit 2 ;; esac
# Never build into a folder configured outside the root (build-smpi is 3.32's): the script marks its own.
if [ -e "$sb" ] && [ ! -e "$sb/.simgrid4" ]; then
  echo "simgrid4.sh: $sb exists and is not this script's SimGrid 4.0 build: give another SMPI_BUILD" >&2; exit 2
fi
pkgs=g++,cmake,make,git,pkg-config,ca-certificates,libsimgrid-dev,libopenblas-dev,libhdf5-dev,libcxxopts-dev
pkgs=$pkgs,zlib1g-dev,libgtest-dev,libgmock-dev,libbenchmark-dev,python3,procps,bc,bsdextrautils,gnuplot-nox
case $root in /?*) ;; *) echo "simgrid4.sh: ROOT must be an absolute path other than /: $root" >&2; exit 2 ;; esac
if [ ! -e "$root/.bptrain-trixie" ]; then
  # Only a folder this script made (marked when debootstrap succeeded) or none is (re)made.
  if [ -e "$root" ] && [ ! -e "$root.debootstrap.log" ]; then
    echo "simgrid4.sh: $root exists and is not this script's: give another ROOT" >&2; exit 2
  fi
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  echo "simgrid4.sh: making a $suite root in $root (debootstrap)" >&2
  rm -rf "$root"
  debootstrap --variant=minbase --include="$pkgs" "$suite" "$root" "${MIRROR:-http://deb.debian.org/debian}" \
    > "$root.debootstrap.log" 2>&1 || { echo "simgrid4.sh: debootstrap failed: $root.debootstrap.log" >&2; exit 1; }
  touch "$root/.bptrain-trixie"
fi
repo=$PWD
# Quote each argument for the shell inside the root.
cmd=$(printf '%q ' "$@")
exec unshare --mount --propagation private bash -euo pipefail -c '
  root=$1 repo=$2 sb=$3 cmd=$4
  mkdir -p "$root/src"
  mount --bind "$repo" "$root/src"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mount --bind /dev/shm "$root/dev/shm"
  SMPI_BUILD=$sb exec chroot "$root" bash -euo pipefail -c "
      cd /src
      git config --global --get-all safe.directory | grep -qx /src || git config --global --add safe.directory /src
      if [ ! -x \$SMPI_BUILD/bptrain ]; then
        echo \"simgrid4.sh: building bptrain with \$(smpicxx --version 2>&1 | head -1) in \$SMPI_BUILD\" >&2
        cmake -S . -B \$SMPI_BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=smpicc \
          -DCMAKE_CXX_COMPILER=smpicxx >/dev/null
        touch \$SMPI_BUILD/.simgrid4
      fi
      cmake --build \$SMPI_BUILD -j\$(nproc) --target bptrain >/dev/null
      $cmd"
' simgrid4 "$root" "$repo" "$sb" "$cmd"
