#!/usr/bin/env python3
"""A projection, not a measurement: strong and weak scaling efficiency of bptrain at up to 1024 ranks
on networks of 10, 25, 100 and 200 Gb/s, from figures measured on this machine:

  * compute per sample and optimizer time per step: bptrain at np=1 (--profile means), per model;
  * allreduce cost: bench_comm at np=2 over several sizes, fitted to T(n) = 2a + n*b (the ring /
    Rabenseifner model at p=2), which gives the per-message software overhead a.

The model for p ranks, gradient bytes n, link bandwidth B:
  T_allreduce(p) = 2 log2(p) (a + L) + 2 (p-1)/p * n * 8/B        (Rabenseifner: reduce-scatter by
                   recursive halving, allgather by recursive doubling; the ring has the same
                   bandwidth term and 2 (p-1) latency terms)
  step(p)        = compute(batch_per_rank) + optimizer/p + T_allreduce(p)   (no overlap: a lower bound;
                   the optimizer is sharded, and its reduce-scatter + allgather move an allreduce's bytes)
with L = 5 us of network latency per message (an assumption, typical of InfiniBand/RoCE; Ethernet is
worse). Strong: global batch fixed (16384: 16 samples per rank at 1024 ranks); weak: batch per rank
fixed (256). Compute per sample is taken as constant, though small per-rank batches run GEMMs less
efficiently: the strong-scaling figures at many ranks are optimistic on that count.
Usage: scripts/project_scaling.py [--batch 256] [--strong-batch 16384] [--ranks 2,8,32,128,512,1024]
(after scripts/setup.sh -DBPT_BUILD_BENCH=ON)"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

BATCH = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 256  # weak: per rank
STRONG = int(sys.argv[sys.argv.index("--strong-batch") + 1]) if "--strong-batch" in sys.argv else 16384
LAT = 5e-6
NETS = [10, 25, 100, 200]
RANKS = ([int(v) for v in sys.argv[sys.argv.index("--ranks") + 1].split(",")] if "--ranks" in sys.argv
         else [2, 8, 32, 128, 512, 1024])
MODELS = {"784-512-256-10": "512,256", "784-2048-2048-10": "2048,2048"}
tmp = tempfile.mkdtemp()
for k, v in {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
             "OMPI_MCA_rmaps_base_oversubscribe": "1", "OPENBLAS_NUM_THREADS": "1"}.items():
    os.environ.setdefault(k, v)  # what scripts/mpi_env.sh sets
sh = lambda c: subprocess.run(c, shell=True, check=True, capture_output=True, text=True).stdout
BIN = os.environ.get("BPTRAIN", "build/bptrain")  # the binaries: BPTRAIN, and the benchmarks in BPT_BENCH_DIR
BENCH = os.environ.get("BPT_BENCH_DIR", os.path.join(os.path.dirname(BIN), "bench"))

# Allreduce fit at np=2.
sizes = [0.0625, 0.25, 1, 4, 16]
pts = []
for line in sh(f"mpirun -np 2 {BENCH}/bench_comm {','.join(map(str, sizes))}").splitlines():
    d = dict(kv.split("=") for kv in line.split()[1:])
    pts.append((float(d["mb"]) * 2**20, float(d["allreduce_ms"]) / 1e3))
n = len(pts)
mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
a = max(0.0, (my - b * mx) / 2)
print(f"measured allreduce at np=2 (shared memory): per-message overhead a = {a * 1e6:.1f} us, "
      f"{1 / b / 1e9:.2f} GB/s effective; network latency assumed L = {LAT * 1e6:.0f} us\n")

for name, hidden in MODELS.items():
    dims = [int(v) for v in name.split("-")]
    params = sum((i + 1) * o for i, o in zip(dims[:-1], dims[1:]))
    prof = os.path.join(tmp, "p.csv")
    sh(f"mpirun -np 1 {BIN} --hidden {hidden} --batch-size {BATCH} --optimizer momentum --lr 0.01 "
       f"--epochs 1 --max-steps {120 if '2048' in name else 300} --quiet --profile {prof}")
    rows = [r for r in csv.DictReader(open(prof)) if int(r["step"]) >= 10]
    mean = lambda k: sum(float(r[k]) for r in rows) / len(rows) / 1e3
    per_sample = (mean("compute_ms") + mean("data_ms")) / BATCH
    opt = mean("optimizer_ms")
    nbytes = 4 * params
    print(f"{name}: {params} parameters ({nbytes / 2**20:.1f} MB of gradients), compute {per_sample * 1e6:.1f} us "
          f"per sample, optimizer {opt * 1e3:.2f} ms per step (measured at np=1, batch {BATCH})")
    for mode in ("strong", "weak"):
        print(f"\n  {mode} scaling efficiency ({'global batch ' + str(STRONG) if mode == 'strong' else 'batch per rank ' + str(BATCH)})")
        print("  ranks " + "".join(f"{bw:>10} Gb/s" for bw in NETS))
        for p in RANKS:
            cells = []
            for bw in NETS:
                t_ar = 2 * math.log2(p) * (a + LAT) + 2 * (p - 1) / p * nbytes * 8 / (bw * 1e9)
                if mode == "strong":
                    t1 = STRONG * per_sample + opt
                    tp = STRONG / p * per_sample + opt / p + t_ar
                    eff = t1 / (p * tp)
                else:
                    t1 = BATCH * per_sample + opt
                    eff = t1 / (BATCH * per_sample + opt / p + t_ar)
                cells.append(f"{100 * eff:>14.1f}%")
            print(f"  {p:>5} " + "".join(cells))
    print()
