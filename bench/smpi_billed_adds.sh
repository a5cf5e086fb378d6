#!/usr/bin/env bash
# SMPI build: with BPT_SIM_ADD_NS, bench_comm's two sides bill each added element alike (the reducer's
# additions in src/comm/add.hpp; SMPI's MPI_Allreduce through a user-defined sum). With no other
# computation billed (smpi/simulate-computation:no), 4 ranks, 2 MiB, Rabenseifner on both sides: each
# rank adds 3/4 of the buffer one step after another, so each side must take 393,216 x 2 ns longer
# with BPT_SIM_ADD_NS=2 than without it, and the two sides must stay equal.
set -u
bench=$1
root=$(cd "$(dirname "$0")/.." && pwd)
run() {
  BPT_SIM_ADD_NS=$1 PLATFORM="$root/scripts/smpi/cluster-100g.xml" \
    SMPI_EXTRA="--cfg=smpi/allreduce:rab_rdb --cfg=smpi/simulate-computation:no" \
    bash "$root/scripts/smpi/smpirun.sh" -n 4 "$bench" 2 2 3 2>&1 | grep '^comm '
}
base=$(run "") billed=$(run 2)
echo "unbilled: $base"
echo "billed:   $billed"
python3 - "$base" "$billed" <<'PY'
import sys
def figs(line):
    d = dict(kv.split("=") for kv in line.split()[1:])
    return float(d["allreduce_ms"]), float(d["reducer_ms"])
(a0, r0), (a1, r1) = figs(sys.argv[1]), figs(sys.argv[2])
want = 0.75 * 524288 * 2e-6  # ms
for name, grew in (("MPI_Allreduce", a1 - a0), ("reducer", r1 - r0)):
    assert 0.95 * want <= grew <= 1.2 * want, f"{name} grew by {grew:.4f} ms; its additions bill {want:.4f} ms"
assert abs(r1 / a1 - 1) < 0.02, f"reducer {r1} ms against MPI_Allreduce {a1} ms, additions billed alike"
print(f"ok   both sides billed {want:.3f} ms of additions: MPI_Allreduce +{a1 - a0:.3f}, reducer +{r1 - r0:.3f} ms")
PY
