#!/usr/bin/env bash
# The simulator's network against a real one (issue 26, item 6): the same runs measured over a real,
# shaped network on this machine (scripts/netns_cluster.sh: network namespaces, veth, tc tbf, Open MPI
# over TCP) and simulated by SMPI on a platform with the same bandwidth and the latency measured there.
# For each RATE: bench_comm (a tiny allreduce: the latency; 2 and 24 MB: MPI_Allreduce and bptrain's
# reducer) and bptrain (784-512-256-10, 256 samples a rank, momentum, --profile) at N ranks, one rank a
# namespace. The simulated bptrain bills its kernels with the model recorded in the measured run itself
# (BPT_SIM_COMPUTE=record), so that what differs is the network, not this machine's drifting speed.
# Usage (as root): scripts/smpi/netns_validate.sh [OUT=simulated/netns]
# Environment: RATES ("1gbit 10gbit"), N (ranks = namespaces, 2), REPS (measured runs of each, 3), STEPS (80),
# EXTRA (more bptrain flags, e.g. --grad-compression bf16; --gather-overlap off unless it names it), SMPI_BUILD (the SMPI build's folder, build-smpi),
# COMM (0: bptrain alone, no bench_comm: its simulation needs the record's float additions, which a
# --grad-compression bf16 run at 2 ranks does not make; the latency is then LATENCY_US, default 20.8).
# Writes OUT/netns.csv (one row per rate and figure: measured, simulated, difference) and every run's files.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-simulated/netns}
RATES=${RATES:-1gbit 10gbit} N=${N:-2} REPS=${REPS:-3} STEPS=${STEPS:-80} sb=${SMPI_BUILD:-build-smpi}
[ "$(id -u)" = 0 ] || { echo "netns_validate.sh: needs root (scripts/netns_cluster.sh)" >&2; exit 2; }
[ -x build/bptrain ] && [ -x build/bench/bench_comm ] || bash scripts/setup.sh -DBPT_BUILD_BENCH=ON
if [ ! -x "$sb/bptrain" ] || [ ! -x "$sb/bench/bench_comm" ]; then
  [ "$sb" = build-smpi ] && cmake --preset smpi -DBPT_BUILD_BENCH=ON >/dev/null
  cmake --build "$sb" -j"$(nproc)" --target bptrain bench_comm >/dev/null
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)  # absolute: the ranks in the namespaces write there
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1
trap 'bash scripts/netns_cluster.sh down >/dev/null 2>&1 || true' EXIT
# --gather-overlap's auto asks how many hosts the ranks span: the namespaces share this machine's host
# name (one node) while SMPI's platform has N, so each side is told outright (off unless EXTRA says).
case " ${EXTRA:-} " in *" --gather-overlap "*) ;; *) EXTRA="${EXTRA:-} --gather-overlap off" ;; esac
flags="--train synthetic:600000,784,10 --test synthetic:$N,784,10 --eval-batch 1 --hidden 512,256 --batch-size $((256 * N))
       --optimizer momentum --lr 0.01 --epochs 1 --max-steps $STEPS --quiet --grad-warn-steps 0 --normalize unit ${EXTRA:-}"
sizes=0.0000153,2,24  # MB: 4 floats (the latency), one 2-MB bucket, the wide model's 24 MB
echo "rate,figure,measured_ms,simulated_ms,difference" > "$out/netns.csv"
for rate in $RATES; do
  bash scripts/netns_cluster.sh down >/dev/null 2>&1 || true
  bash scripts/netns_cluster.sh up "$N" "$rate"
  for rep in $(seq "$REPS"); do
    [ "${COMM:-1}" = 0 ] ||
      bash scripts/netns_cluster.sh run build/bench/bench_comm $sizes 2 0 2>/dev/null | grep '^comm ' > "$out/comm_measured_${rate}_$rep.txt"
    # shellcheck disable=SC2086
    BPT_SIM_COMPUTE=record BPT_SIM_RECORD="$out/record_${rate}_$rep.txt" bash scripts/netns_cluster.sh run \
      build/bptrain $flags --profile "$out/measured_${rate}_$rep.csv" > /dev/null 2>&1
  done
  bash scripts/netns_cluster.sh down > /dev/null
  # The latency of one message: the tiny allreduce at 2 ranks is one exchange (each rank sends and
  # receives 16 bytes), the median over the measured runs; SMPI's message crosses two links.
  [ "${COMM:-1}" = 0 ] && lat_us=${LATENCY_US:-20.8} ||
  lat_us=$(cat "$out"/comm_measured_"${rate}"_*.txt | awk '$3 == "mb=0.0000153" {sub("allreduce_ms=", "", $4); print $4 * 1000}' | sort -g |
           awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  gbps=$(python3 -c "import re; m = re.match(r'([0-9.]+)([kmg]?)bit', '$rate'); print(float(m[1]) * {'': 1e-9, 'k': 1e-6, 'm': 1e-3, 'g': 1}[m[2]])")
  platform="$out/netns-$rate.xml"
  cat > "$platform" <<EOF
<?xml version='1.0'?>
<!DOCTYPE platform SYSTEM "https://simgrid.org/simgrid.dtd">
<!-- scripts/netns_cluster.sh's network as SMPI sees it: $N hosts, each on its own ${gbps} Gb/s link to a switch, of
     which TCP/IP carries 1,448 payload bytes in every 1,514-byte frame (tbf counts the Ethernet header; veth
     has no preamble or gap): ${gbps} x 0.9564 Gb/s for MPI's bytes; the one-message latency measured there
     ($lat_us us, a tiny allreduce at 2 ranks) split over the two links. -->
<platform version="4.1">
  <cluster id="netns" prefix="node-" suffix="" radical="0-$((N - 1))" speed="220Gf" bw="$(python3 -c "print(round($gbps * 1448 / 1514, 6))")Gbps"
           lat="$(python3 -c "print($lat_us / 2)")us" loopback_bw="10GBps" loopback_lat="1us"/>
</platform>
EOF
  for rep in $(seq "$REPS"); do
    [ "${COMM:-1}" = 0 ] || BPT_SIM_COMPUTE=model BPT_SIM_MODEL="$out/record_${rate}_$rep.txt" PLATFORM="$platform" \
      scripts/smpi/smpirun.sh -n "$N" "$sb/bench/bench_comm" $sizes 2 5 2>/dev/null | grep '^comm ' > "$out/comm_simulated_${rate}_$rep.txt"
    # shellcheck disable=SC2086
    BPT_SIM_COMPUTE=model BPT_SIM_MODEL="$out/record_${rate}_$rep.txt" PLATFORM="$platform" \
      scripts/smpi/smpirun.sh -n "$N" "$sb/bptrain" $flags --profile "$out/simulated_${rate}_$rep.csv" > /dev/null 2>&1
  done
  python3 - "$out" "$rate" "$REPS" >> "$out/netns.csv" <<'PY'
import os, statistics, sys
sys.path.insert(0, "scripts/smpi")
from step_time import medians
out, rate, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
def comm(path):
    figs = {}
    if not os.path.exists(path):  # COMM=0
        return figs
    for line in open(path):
        d = dict(kv.split("=") for kv in line.split()[1:])
        figs[f"allreduce {d['mb']} MB"] = float(d["allreduce_ms"])
        figs[f"reducer {d['mb']} MB"] = float(d["reducer_ms"])
    return figs
def train(path):  # medians past 5 warm-up steps, as scripts/simulate.sh validate
    f = medians(path, 5)
    return {"bptrain step": f["step_ms"], "bptrain comm wait": f["comm_wait_ms"], "bptrain compute": f["compute_ms"]}
runs = [({**comm(f"{out}/comm_measured_{rate}_{r}.txt"), **train(f"{out}/measured_{rate}_{r}.csv")},
         {**comm(f"{out}/comm_simulated_{rate}_{r}.txt"), **train(f"{out}/simulated_{rate}_{r}.csv")}) for r in range(1, reps + 1)]
for fig in runs[0][0]:
    m = statistics.median(r[0][fig] for r in runs)
    s = statistics.median(r[1][fig] for r in runs)
    d = statistics.median((r[1][fig] - r[0][fig]) / r[0][fig] * 100 for r in runs)
    print(f"{rate},{fig.replace('0.0000153 MB', '16 B')},{m:.4f},{s:.4f},{d:+.1f}%")
PY
done
column -s, -t < "$out/netns.csv"
