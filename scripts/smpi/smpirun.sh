#!/usr/bin/env bash
# An mpirun-style launcher for the SMPI build (build-smpi/): `smpirun.sh -n N PROGRAM [ARGS]` runs PROGRAM
# on N simulated ranks of $PLATFORM (default: cluster-100g.xml beside this script), placed node by node,
# as many per node as a node has cores (more only with OVERSUBSCRIBE=1: the ranks then share the
# cores, as mpirun --oversubscribe does). Environment: PLATFORM, OVERSUBSCRIBE; HOST_SPEED, the flop rate of one core of
# the machine running the simulation (scripts/simulate.sh measures it; default 220Gf); SMPI_TEST, the
# seconds one MPI_Test costs (bench_mpi_test; default 1.7e-8); SMPI_EXTRA, more smpirun options;
# BPT_SIM_COMPUTE=model (modelled compute: smpi/simulate-computation:no, BPT_SIM_MODEL default
# compute-model.txt here) or measured (unset: SMPI times each rank's computation on this machine).
# Fixed settings, and why:
#   smpi/grow-injected-times:no  each MPI_Test costs SMPI_TEST, not more for every failed test before it;
#   smpi/send-is-detached-thresh:0  sends complete when received: 5x faster simulations of the ring at
#     128 ranks (SMPI 3.32 slows down with many detached small sends);
#   smpi/lat-factor:0:1, smpi/bw-factor:0:1  links at their nominal latency and bandwidth: SMPI's default
#     factors (up to 11.6x the latency for messages of 64 KiB and more) were calibrated on an Ethernet
#     cluster with TCP, not the HPC networks these platforms describe;
#   smpi/coll-selector:ompi  the collectives bptrain calls itself (the vote, the small sums, the checks,
#     the initial broadcast) pick their algorithms by Open MPI's rules, as on a cluster running Open
#     MPI; SMPI's default allgather waits on p requests at a time, which takes minutes per call at 1,024;
#   smpi/bcast:binomial_tree  except the broadcast: for small messages at many ranks the ompi rules pick
#     SMPI's split binary tree, whose first call on a communicator takes real time growing as p^3 (a
#     16-byte MPI_Bcast: 0.74, 4.2 and 34 s at 256, 512 and 1,024 ranks; 39 hours projected at 16,384),
#     and the small allreduces (reduce, then broadcast) call it too; binomial, Open MPI's choice for
#     small messages, takes 0.04 s at 1,024. Only start-up broadcasts (the initial weights, rank 0's
#     verdicts) and the small sums' second half use it, never the gradient sums (point to point).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != -n ] && [ "${1:-}" != -np ]; then echo "usage: smpirun.sh -n N PROGRAM [ARGS]" >&2; exit 2; fi
n=$2
shift 2
platform=${PLATFORM:-$here/cluster-100g.xml}
hosts=$(mktemp)
trap 'rm -f "$hosts"' EXIT
python3 - "$platform" "$n" "${OVERSUBSCRIBE:-0}" > "$hosts" <<'PY'
import sys
import xml.etree.ElementTree as ET
c = ET.parse(sys.argv[1]).getroot().find(".//cluster")
lo, hi = (int(v) for v in c.get("radical").split("-"))
cores = int(c.get("core", "1"))
names = [f"{c.get('prefix')}{i}{c.get('suffix', '')}" for i in range(lo, hi + 1) for _ in range(cores)]
n = int(sys.argv[2])
if n > len(names) and sys.argv[3] != "1":
    sys.exit(f"smpirun.sh: {sys.argv[1]} has {len(names)} cores; {n} ranks asked for (OVERSUBSCRIBE=1 to share them)")
print("\n".join(names[i % len(names)] for i in range(n)))
PY
# Modelled compute (BPT_SIM_COMPUTE=model, bpt/core/sim_cost.hpp): every kernel is billed by the model
# (BPT_SIM_MODEL, default compute-model.txt beside this script), so SMPI must not time the host as well.
sim=()
if [ "${BPT_SIM_COMPUTE:-measured}" = model ]; then
  export BPT_SIM_MODEL=${BPT_SIM_MODEL:-$here/compute-model.txt}
  # shared-malloc:global (SMPI's default, said): the ranks' buffers fold onto one block of memory, a
  #   mapping of it per allocation and per block: blocks of 64 MiB, not 1 MiB, so that even the wide
  #   model's buffers take one mapping each (about 17 a simulated rank);
  # privatization:no: every simulated rank runs the one loaded bptrain, its globals shared (a signal
  #   flag, rank 0's output locks and crash note, the compute model read once, cxxopts' patterns, the
  #   batch gather's scratch, used between two MPI calls only: nothing a rank keeps for itself). SMPI's
  #   default writes a copy of the 1.7 MB binary to /tmp and loads it for each rank: at 4,096 ranks
  #   7 GB written, the loader and the copies a third of the run (perf), 186 s against 126 s.
  #   Measured mode keeps the copies.
  sim=(--cfg=smpi/simulate-computation:no --cfg=smpi/shared-malloc:global --cfg=smpi/shared-malloc-blocksize:67108864
       --cfg=smpi/privatization:no)
  # Linux allows 65,530 mappings a process by default: some 3,800 simulated ranks (24 a rank asked, for margin).
  need=$(( n * 24 + 4096 )) have=$(cat /proc/sys/vm/max_map_count)
  if [ "$have" -lt "$need" ]; then
    if [ -w /proc/sys/vm/max_map_count ] && echo "$need" > /proc/sys/vm/max_map_count 2>/dev/null; then
      echo "smpirun.sh: vm.max_map_count raised from $have to $need for $n simulated ranks' shared buffers" >&2
    else
      echo "smpirun.sh: $n simulated ranks need vm.max_map_count >= $need (it is $have): sysctl -w vm.max_map_count=$need as root" >&2
      exit 2
    fi
  fi
fi
# shellcheck disable=SC2086
smpirun -np "$n" -platform "$platform" -hostfile "$hosts" --cfg=smpi/host-speed:"${HOST_SPEED:-220Gf}" \
  --cfg=smpi/test:"${SMPI_TEST:-1.7e-8}" --cfg=smpi/grow-injected-times:no --cfg=smpi/send-is-detached-thresh:0 \
  --cfg=smpi/coll-selector:ompi --cfg=smpi/bcast:binomial_tree --cfg=smpi/lat-factor:0:1 --cfg=smpi/bw-factor:0:1 \
  --log=root.thres:warning "${sim[@]}" ${SMPI_EXTRA:-} "$@"
