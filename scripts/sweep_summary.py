#!/usr/bin/env python3
"""One CSV (and a bar chart) of a sweep run as a SLURM job array by scripts/slurm.sbatch with SWEEP=FILE:
a row per task with its flags (CKPT_DIR/bptrain-ARRAYID_TASK.flags) and the last whole epoch of its
metrics (CKPT_DIR/bptrain-ARRAYID_TASK.jsonl). A task without a finished epoch is a row that says so.
Usage: scripts/sweep_summary.py CKPT_DIR ARRAY_JOB_ID [OUT]   (writes OUT.csv and, with gnuplot, OUT.png;
OUT defaults to CKPT_DIR/sweep-ARRAY_JOB_ID)"""
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys

if len(sys.argv) not in (3, 4):
    sys.exit(__doc__)
folder, job = sys.argv[1], sys.argv[2]
out = sys.argv[3] if len(sys.argv) == 4 else os.path.join(folder, "sweep-" + job)
tasks = {}
for path in glob.glob(os.path.join(folder, f"bptrain-{job}_*.flags")):
    task = int(re.search(r"_(\d+)\.flags$", path).group(1))
    tasks[task] = open(path).read().strip()
if not tasks:
    sys.exit(f"sweep_summary.py: no bptrain-{job}_N.flags in {folder} (was the array run with SWEEP=FILE?)")

keys = ["epoch", "step", "train_loss", "val_loss", "val_accuracy", "val_rmse", "test_loss", "test_accuracy",
        "test_rmse", "elapsed_s", "skipped_steps"]
rows = []
for task in sorted(tasks):
    row = {"task": task, "flags": tasks[task], "status": "no finished epoch"}
    metrics = os.path.join(folder, f"bptrain-{job}_{task}.jsonl")
    last = None
    if os.path.exists(metrics):
        for line in open(metrics):
            line = line.strip()
            if line:
                m = json.loads(line)
                if not m.get("partial"):
                    last = m
    if last:
        row["status"] = "ok"
        row.update({k: last[k] for k in keys if last.get(k) is not None})
    rows.append(row)
present = [k for k in keys if any(k in r for r in rows)]
with open(out + ".csv", "w", newline="") as f:
    w = csv.DictWriter(f, ["task", "flags", "status"] + present, restval="")
    w.writeheader()
    w.writerows(rows)
print(f"{out}.csv: {len(rows)} tasks, {sum(r['status'] == 'ok' for r in rows)} with a finished epoch")

metric = next((k for k in ("test_accuracy", "test_rmse", "test_loss", "val_accuracy", "val_rmse", "val_loss")
               if k in present), None)  # the validation set's in runs without a test set
if metric and shutil.which("gnuplot"):
    dat = out + ".dat"
    with open(dat, "w") as f:
        for r in rows:
            if metric in r:
                f.write(f'{r["task"]} {r[metric]} "{r["flags"]}"\n')
    script = f"""set terminal pngcairo size 900,420 font ",10" noenhanced
set output "{out}.png"
set title "sweep {job}: {metric} of the last epoch, by task"
set style data histograms; set style fill solid 0.8; set boxwidth 0.6; set grid y; unset key; set yrange [0:*]
set xtics rotate by -30 left
plot "{dat}" using 2:xtic(stringcolumn(1) . ": " . stringcolumn(3))
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(dat)
    print(f"{out}.png: {metric} by task")
