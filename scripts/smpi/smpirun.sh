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
#     MPI; SMPI's default allgather waits on p requests at a time, which takes minutes per call at 1,024.
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
  # (shared-malloc:global, SMPI's default, said: the ranks' buffers fold onto one block of memory)
  sim=(--cfg=smpi/simulate-computation:no --cfg=smpi/shared-malloc:global)
fi
# shellcheck disable=SC2086
smpirun -np "$n" -platform "$platform" -hostfile "$hosts" --cfg=smpi/host-speed:"${HOST_SPEED:-220Gf}" \
  --cfg=smpi/test:"${SMPI_TEST:-1.7e-8}" --cfg=smpi/grow-injected-times:no --cfg=smpi/send-is-detached-thresh:0 \
  --cfg=smpi/coll-selector:ompi --cfg=smpi/lat-factor:0:1 --cfg=smpi/bw-factor:0:1 \
  --log=root.thres:warning "${sim[@]}" ${SMPI_EXTRA:-} "$@"
