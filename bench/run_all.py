#!/usr/bin/env python3
"""The benchmark table (called by bench/run_all.sh after the build). Options: --quick (shorter runs, one
of each instead of the best of three)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

QUICK = "--quick" in sys.argv
REPS = 1 if QUICK else 3
# The binaries: BPTRAIN (default build/bptrain) and the benchmarks beside it (BPT_BENCH_DIR, default the
# bench/ folder of BPTRAIN's build).
BIN = os.environ.get("BPTRAIN", "build/bptrain")
BENCH = os.environ.get("BPT_BENCH_DIR", os.path.join(os.path.dirname(BIN), "bench"))
FLOOR, COMM, CEILING = (os.path.join(BENCH, b) for b in ("bench_floor", "bench_comm", "bench_ceiling"))
MODELS = {"784-512-256-10": ("512,256", 300), "784-2048-2048-10": ("2048,2048", 60)}
BATCH = 256
TMP = tempfile.mkdtemp(prefix="bptrain_bench_")
rows = []


def run(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw).stdout


def bptrain(np_, hidden, steps, extra=""):
    m = os.path.join(TMP, "m.jsonl")
    out = run(f"mpirun -np {np_} {BIN} --hidden {hidden} --batch-size {BATCH} --optimizer momentum --lr 0.01 "
              f"--epochs 1 --max-steps {steps} --metrics {m} --quiet {extra}")
    rec = json.loads(open(m).read().splitlines()[-1])
    rss = float(re.search(r"peak RSS (\d+) MB", out).group(1))
    return rec, rss


def row(what, value, target=""):
    rows.append((what, value, target))
    print(f"{what:<72} {value:>14} {target}", flush=True)


def torch_rate(sizes, secs):
    try:
        out = run(f"/usr/bin/python3 bench/torch_mlp.py {sizes} {BATCH} {secs}")
        return float(re.search(r"samples_per_s=([\d.]+)", out).group(1))
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


def floor(sizes, np_):
    out = run(f"mpirun -np {np_} {FLOOR} {sizes} {BATCH // np_} {2 if QUICK else 4}")
    d = dict(kv.split("=") for kv in out.split()[1:])
    return float(d["samples_per_s"]), float(d["train_gflops_per_rank"]), float(d["sgemm_1t_gflops"])


def ceiling(sizes):
    """The copy-free data-parallel step at np=2 (shared-memory windows, sharded momentum, no loss,
    no checks): what removing every message copy from bptrain's step could reach at best."""
    out = run(f"mpirun -np 2 {CEILING} {sizes} {BATCH // 2} {2 if QUICK else 4} shm")
    return float(re.search(r"samples_per_s=([\d.]+)", out).group(1))


def openblas_core():
    """The kernel set OpenBLAS picks on this CPU (it prints it with OPENBLAS_VERBOSE=2)."""
    out = subprocess.run(f"OPENBLAS_VERBOSE=2 {BIN} --version", shell=True, capture_output=True, text=True)
    m = re.search(r"Core: (\S+)", out.stdout + out.stderr)
    return m.group(1) if m else "unknown"


def main():
    # Measured as users run it: OpenBLAS picks its kernels for this CPU. Some machines of this workplace
    # set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) for the sake of old OpenBLAS builds; that would hold
    # bptrain to older kernels than PyTorch's oneDNN uses, so the benchmark runs without them (the tests
    # keep them).
    dropped = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if os.environ.pop(v, None) is not None]
    print(f"bptrain benchmarks, {time.strftime('%Y-%m-%d')}, {os.uname().nodename}, {os.cpu_count()} cores, "
          f"OpenBLAS core {openblas_core()}" + (f" ({' and '.join(dropped)} unset for the benchmark)" if dropped else ""))
    have_torch = subprocess.run("/usr/bin/python3 -c 'import torch'", shell=True, capture_output=True).returncode == 0
    if not have_torch:
        print("PyTorch (python3-torch) is not installed: the PyTorch comparison is skipped")
    print(f"each figure: the best of {REPS} interleaved runs" if REPS > 1 else "each figure: one run (--quick)")
    results = {}
    for name, (hidden, steps) in MODELS.items():
        rss_max = {}
        sizes = name.replace("-", ",")
        steps = steps // 3 if QUICK else steps
        # Each measurement REPS times, interleaved, keeping each one's best run: the machine is shared,
        # and the best of several runs is the steadiest estimate of what each side can do (timeit's
        # rule). Every side gets the same treatment, so the ratios stay fair.
        best = {}
        def keep(key, value, rate):
            if key not in best or rate > best[key][1]:
                best[key] = (value, rate)
        for _ in range(REPS):
            for np_ in (1, 2):
                rec, rss = bptrain(np_, hidden, steps)
                keep(f"b{np_}", (rec, rss), rec["samples_per_second"])
                rss_max[np_] = max(rss_max.get(np_, 0), rss)
                f = floor(sizes, np_)
                keep(f"f{np_}", f, f[0])
            c = ceiling(sizes)
            keep("c", c, c)
            if have_torch:
                t = torch_rate(sizes, 3 if QUICK else 6)
                if t is not None:
                    keep("t", t, t)
        (r1, _), (r2, _) = best["b1"][0], best["b2"][0]
        rss1, rss2 = rss_max[1], rss_max[2]
        f1, gf1, sgemm = best["f1"][0]
        f2, gf2, _ = best["f2"][0]
        s1, s2 = r1["samples_per_second"], r2["samples_per_second"]
        results[name] = (r1, r2, rss1, rss2)
        row(f"{name}: bptrain samples/s, np=1 / np=2", f"{s1:.0f} / {s2:.0f}")
        if "t" in best:
            t = best["t"][0]
            target = 1.2 if name.startswith("784-512") else 1.1
            row(f"{name}: bptrain / PyTorch (1 process, 1 thread; torch {t:.0f}/s)", f"{s1 / t:.2f}x", f"target >= {target}x")
        row(f"{name}: bptrain / GEMM floor, np=1 (floor {f1:.0f}/s)", f"{100 * s1 / f1:.1f}%", "target >= 93%")
        row(f"{name}: bptrain / GEMM floor, np=2 (floor {f2:.0f}/s)", f"{100 * s2 / f2:.1f}%", "target >= 93%")
        c = best["c"][0]
        row(f"{name}: copy-free shared-memory step at np=2 (bench_ceiling, {c:.0f}/s) / GEMM floor", f"{100 * c / f2:.1f}%")
        row(f"{name}: bptrain / that copy-free step, np=2", f"{100 * s2 / c:.1f}%")
        flops = sum((4 if i == 0 else 6) * a * b for i, (a, b) in enumerate(zip(
            [int(v) for v in sizes.split(",")][:-1], [int(v) for v in sizes.split(",")][1:])))
        row(f"{name}: training GFLOP/s at np=1 vs 1-thread sgemm ({sgemm:.0f})", f"{flops * s1 / 1e9:.1f} ({100 * flops * s1 / 1e9 / sgemm:.0f}%)")
        target = 1.75 if "2048" in name else 1.7
        row(f"{name}: scaling np=2 / np=1 (global batch {BATCH})", f"{s2 / s1:.2f}x", f"target >= {target}x")
        row(f"{name}: exposed communication per step at np=2 (of {1000 * BATCH / s2:.2f} ms)",
            f"{r2['comm_wait_ms_per_step']:.3f} ms")
        # Memory: parameters + gradients + momentum + activations (z, a, two deltas) + data + 64 MB.
        dims = [int(v) for v in sizes.split(",")]
        params = sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:]))
        for np_, rss in ((1, rss1), (2, rss2)):
            # Buffers are sized for the larger of the local batch and the evaluation batch (1024 rows):
            # the input batch, every z, every hidden a, two deltas of the widest layer, and the
            # evaluation's own input batch.
            rows = max(-(-BATCH // np_), 1024)
            acts = rows * (dims[0] + sum(dims[1:]) + sum(dims[1:-1]) + 2 * max(dims[1:])) + 1024 * dims[0]
            data = 60000 * 784 + 10000 * 784 + 70000 * 4
            computed = (3 * params + acts) * 4 / 2**20 + data / 2**20 + 64
            row(f"{name}: peak RSS per rank at np={np_} vs computed bound", f"{rss:.0f} / {computed:.0f} MB",
                "target: measured <= computed")
    # Communication: our reducer against every Open MPI allreduce algorithm, at np=2.
    ours = {}
    for line in run(f"mpirun -np 2 {COMM} 2,24").splitlines():
        d = dict(kv.split("=") for kv in line.split()[1:])
        ours[d["mb"]] = (float(d["reducer_ms"]), float(d["allreduce_ms"]))
    best = {mb: (v[1], "default") for mb, v in ours.items()}
    for k in range(1, 7):
        try:
            out = run(f"mpirun -np 2 --mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm {k} {COMM} 2,24")
        except subprocess.CalledProcessError:
            continue
        for line in out.splitlines():
            d = dict(kv.split("=") for kv in line.split()[1:])
            # Every run times the reducer too: both sides keep their best of the same number of runs.
            ours[d["mb"]] = (min(ours[d["mb"]][0], float(d["reducer_ms"])), ours[d["mb"]][1])
            if float(d["allreduce_ms"]) < best[d["mb"]][0]:
                best[d["mb"]] = (float(d["allreduce_ms"]), f"algorithm {k}")
    for mb in ("2", "24"):
        row(f"reducer {mb} MB at np=2 vs fastest MPI_Allreduce ({best[mb][1]}: {best[mb][0]:.3f} ms)",
            f"{ours[mb][0]:.3f} ms = {ours[mb][0] / best[mb][0]:.2f}x", "target <= 1.1x")
    # Time to accuracy with the README's main job (mpirun -np 2 bptrain, defaults).
    m = os.path.join(TMP, "tta.jsonl")
    run(f"mpirun -np 2 {BIN} --metrics {m} --quiet")
    hit = next((json.loads(l) for l in open(m) if json.loads(l)["test_accuracy"] >= 0.88), None)
    row("time to 0.88 test accuracy, mpirun -np 2 bptrain (README main job)",
        f"{hit['elapsed_s']:.1f} s (epoch {hit['epoch']})" if hit else "not reached in 10 epochs")


if __name__ == "__main__":
    main()
