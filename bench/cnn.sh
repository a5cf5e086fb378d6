#!/usr/bin/env bash
# The CNN benchmark table: bptrain at np=1 and np=2 against PyTorch at its best (one thread) and against
# the GEMM floor of the same shapes (bench_cnn_floor), for a LeNet-sized CNN and a smaller one, batch
# 128 on Fashion-MNIST. Every ratio compares figures measured in this one run (the best of REPS
# interleaved runs of each). Usage: bench/cnn.sh [REPS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DBPT_BUILD_BENCH=ON
source scripts/mpi_env.sh
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE  # OpenBLAS picks its own kernels, as for bench/run_all.sh
exec python3 - "${1:-3}" <<'PY'
import json, os, re, subprocess, sys, tempfile
REPS = int(sys.argv[1])
BIN, FLOOR = "build/bptrain", "build/bench/bench_cnn_floor"
MODELS = [("lenet", "conv5:32,maxpool2,conv5:64,maxpool2,dense:256", 120),
          ("small", "conv3:16,maxpool2,conv3:32,maxpool2,dense:128", 300)]
BATCH, TMP = 128, tempfile.mkdtemp(prefix="bptrain_cnn_")
have_torch = subprocess.run("/usr/bin/python3 -c 'import torch'", shell=True, capture_output=True).returncode == 0
def run(cmd):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout
def bptrain(np_, layers, steps):
    m = os.path.join(TMP, "m.jsonl")
    out = run(f"mpirun -np {np_} {BIN} --layers {layers} --batch-size {BATCH} --optimizer momentum --lr 0.01 "
              f"--epochs 1 --max-steps {steps} --metrics {m} --quiet")
    rec = json.loads(open(m).read().splitlines()[-1])
    return rec["samples_per_second"], float(re.search(r"peak RSS (\d+) MB", out).group(1))
print(f"bptrain CNN benchmarks, batch {BATCH}, Fashion-MNIST (1x28x28), best of {REPS} interleaved runs")
for name, layers, steps in MODELS:
    best = {}
    for _ in range(REPS):
        for np_ in (1, 2):
            sps, rss = bptrain(np_, layers, steps)
            if sps > best.get(f"b{np_}", (0,))[0]: best[f"b{np_}"] = (sps, rss)
        f = float(re.search(r"samples_per_s=([\d.]+)", run(f"{FLOOR} {layers} 1,28,28 10 {BATCH} 4")).group(1))
        best["f"] = max(best.get("f", 0), f)
        if have_torch:
            t = float(re.search(r"samples_per_s=([\d.]+)", run(f"/usr/bin/python3 bench/torch_cnn.py {layers} 1,28,28 10 {BATCH} 6")).group(1))
            best["t"] = max(best.get("t", 0), t)
    (s1, r1), (s2, r2), f = best["b1"], best["b2"], best["f"]
    print(f"{name} ({layers}):")
    print(f"  bptrain samples/s np=1 / np=2: {s1:.0f} / {s2:.0f} (np=2/np=1 {s2 / s1:.2f}x); peak RSS {r1:.0f} / {r2:.0f} MB")
    if "t" in best:
        print(f"  bptrain / PyTorch at its best (1 thread; torch {best['t']:.0f}/s): {s1 / best['t']:.2f}x   (goal >= 1.2x)")
    print(f"  bptrain / GEMM floor of the same shapes, np=1 (floor {f:.0f}/s): {100 * s1 / f:.1f}%   (goal >= 80%)")
PY
