#!/usr/bin/env bash
# Strong scaling (fixed global batch) and weak scaling (fixed per-rank batch) over a list of rank
# counts. Each run's per-rank times come from bptrain itself (--profile); writes a CSV and PNG plots.
# Usage: scripts/scaling.sh [RANKS=1,2,4] [OUT=scaling]    env: HIDDEN, or LAYERS (bptrain's --layers, e.g.
#        a CNN: conv5:32,maxpool2,conv5:64,maxpool2,dense:256) with INPUT_SHAPE (--input-shape C,H,W for
#        rows without one; IDX images give theirs), BATCH (global, strong),
#        LOCAL (per rank, weak), STEPS, TRAIN ("{batch}" in it becomes the point's global batch, "{rows}"
#        the rows STEPS steps take), SPS_FROM (metrics: samples/s of the epochs past WARMUP, else of the
#        last epoch, as bptrain reports it; profile: the global batch over the median step time past
#        WARMUP, a step lasting as long as its slowest rank),
#        EPOCHS (1; with TRAIN=synthetic:{batch},... and EPOCHS=STEPS every epoch is one step, so memory
#        does not grow with the steps), MODES ("strong weak"), WARMUP (steps left out of the averages:
#        10), ARGS (more bptrain options; "{batch}" and "{ranks}" are substituted), PLATFORM_LABEL (adds a platform column and labels the plots: scripts/simulate.sh
#        sets it), PLOT_ONLY (1: only redraw the plots of OUT/scaling.csv), MPIRUN_ARGS (e.g. "--bind-to core"), REPS (runs per
#        point, the fastest kept: 3), BPTRAIN (the binary: build/bptrain), MPIEXEC (the launcher, given
#        "-n N": mpirun, or inside a SLURM allocation (SLURM_JOB_ID set) srun --mpi=pmix (SLURM_MPI_TYPE
#        overrides the plugin), so that `sbatch scripts/slurm_scaling.sbatch` runs the study in one
#        allocation; mpiexec.mpich for MPICH), THREADS (BLAS threads per rank: 1; the rank layout
#        study sets it: each rank is given THREADS cores), FRESH (1: start OUT/scaling.csv over; else a study
#        whose OUT/scaling.csv exists resumes it: its finished points kept, failed ones run again, and
#        refused if its model, steps, threads or MPI library differ). A point whose every run fails is
#        recorded with status "failed (exit N; its log)"; the study goes on and exits 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-1,2,4} out=${2:-scaling}
HIDDEN=${HIDDEN:-512,256} BATCH=${BATCH:-256} LOCAL=${LOCAL:-128} STEPS=${STEPS:-200} REPS=${REPS:-3}
EPOCHS=${EPOCHS:-1} MODES=${MODES:-strong weak} WARMUP=${WARMUP:-10} PLATFORM_LABEL=${PLATFORM_LABEL:-}
TRAIN=${TRAIN:-/usr/share/datasets/fashion-mnist}
BPTRAIN=${BPTRAIN:-build/bptrain} THREADS=${THREADS:-1}
model=(--hidden "$HIDDEN") model_label="hidden $HIDDEN"
if [ -n "${LAYERS:-}" ]; then
  model=(--layers "$LAYERS") model_label="layers $LAYERS"
  [ -n "${INPUT_SHAPE:-}" ] && model+=(--input-shape "$INPUT_SHAPE")
fi
[ -x "$BPTRAIN" ] || bash scripts/setup.sh
source scripts/mpi_env.sh
export OPENBLAS_NUM_THREADS=$THREADS
launcher=()  # how THREADS cores per rank are asked of the launcher
if [ -z "${MPIEXEC:-}" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  MPIEXEC="srun --mpi=${SLURM_MPI_TYPE:-pmix}"
  launcher=(--cpus-per-task="$THREADS")
elif [ -z "${MPIEXEC:-}" ]; then
  MPIEXEC=mpirun
  [ "$THREADS" -gt 1 ] && launcher=(--map-by "slot:PE=$THREADS")
fi
mkdir -p "$out"
[ "${PLOT_ONLY:-0}" = 1 ] || echo "scaling: each point launched as: $MPIEXEC -n N ${launcher[*]} $BPTRAIN --blas-threads $THREADS ..."
csv="$out/scaling.csv"
# What produced each row, in its last columns: every REPS figure's median and slowest (samples_per_s is
# the fastest), the model, steps, BLAS threads per rank, nodes, the MPI library, the commit, the date.
export META_MODEL="$model_label" META_STEPS="$STEPS" META_THREADS="$THREADS" META_NODES="${SLURM_JOB_NUM_NODES:-1}"
libs=$(ldd "$BPTRAIN" 2>/dev/null || true)  # the MPI library the binary runs on, and its version
if grep -q libsimgrid <<<"$libs"; then META_MPI="SimGrid SMPI $(pkg-config --modversion simgrid 2>/dev/null)"
elif grep -q libmpich <<<"$libs"; then META_MPI="MPICH $(mpichversion 2>/dev/null | sed -nE 's/^MPICH Version:[[:space:]]*//p')"
elif grep -q "libmpi\.so" <<<"$libs"; then META_MPI=$(ompi_info --version 2>/dev/null | head -1)
else META_MPI=unknown; fi
export META_MPI
# The commit the binary was built from, which it carries (bptrain --version; cmake/BptCommit.cmake);
# a binary from before that carries none: the checkout's, marked so.
META_COMMIT=$(grep -aoE -m1 'bptrain-commit:[[:graph:]]+' "$BPTRAIN" 2>/dev/null | head -1 | cut -d: -f2- || true)
[ -n "$META_COMMIT" ] || META_COMMIT="checkout $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo "+changes")"
export META_COMMIT META_DATE; META_DATE=$(date -u +%Y-%m-%dT%H:%MZ)
header="mode,ranks,global_batch,samples_per_s,speedup,efficiency,compute_ms,comm_wait_ms,optimizer_ms,data_ms,slowest_rank,slowest_rank_ms${PLATFORM_LABEL:+,platform},reps,samples_per_s_median,samples_per_s_slowest,model,steps,threads,nodes,mpi,commit,date,status"
# A study resumes: an existing OUT/scaling.csv of the same study (its columns, model, steps, threads per
# rank, MPI library) keeps its finished points, and failed points are run again; FRESH=1 starts over.
if [ "${PLOT_ONLY:-0}" != 1 ] && [ -f "$csv" ] && [ "${FRESH:-0}" != 1 ]; then
  python3 - "$csv" "$header" <<'PY' || exit 2
import csv, os, sys
path, header = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
if not lines or lines[0] != header:
    sys.exit(f"scaling: {path} was written with other columns (an older study, or another PLATFORM_LABEL): "
             "FRESH=1 starts over, or give another OUT")
want = {k: os.environ["META_" + k.upper()] for k in ("model", "steps", "threads", "mpi")}
for r in csv.DictReader(lines):
    for k, v in want.items():
        if r[k] != v:
            sys.exit(f"scaling: {path}: its {r['mode']} point at {r['ranks']} ranks has {k} '{r[k]}', this study "
                     f"'{v}': FRESH=1 starts over, or give another OUT")
done = sum(r["status"] == "ok" for r in csv.DictReader(lines))
print(f"scaling: resuming {path}: {done} finished points kept, failed ones run again (FRESH=1 starts over)")
PY
elif [ "${PLOT_ONLY:-0}" != 1 ]; then
  echo "$header" > "$csv"
fi
failed=""
for mode in $MODES; do
  [ "${PLOT_ONLY:-0}" != 1 ] || break  # PLOT_ONLY=1: draw the plots of an existing OUT/scaling.csv
  base="" base_n=""
  for n in ${ranks//,/ }; do
    batch=$([ $mode = strong ] && echo "$BATCH" || echo $((LOCAL * n)))
    if kept=$(grep -E "^$mode,$n,.*,ok$" "$csv"); then  # finished in an earlier run of this study
      [ "$(cut -d, -f3 <<<"$kept")" = "$batch" ] || { echo "scaling: $csv: the $mode point at $n ranks has global batch" \
        "$(cut -d, -f3 <<<"$kept"), this study $batch: FRESH=1 starts over, or give another OUT" >&2; exit 2; }
      echo "scaling: $mode at $n ranks: finished before, kept"
      [ -n "$base" ] || { base=$(cut -d, -f4 <<<"$kept"); base_n=$n; }
      continue
    fi
    args=${ARGS:-}; args=${args//\{batch\}/$batch}; args=${args//\{ranks\}/$n}
    read -r -a extra <<< "$args"
    best=0 all="" rc=0
    # Each run writes the point's own file names (the log names them); the fastest run's files are kept
    # aside (.best) and put back after the last.
    files=("$out/m_${mode}_$n.jsonl" "$out/profile_${mode}_$n.csv" "$out/log_${mode}_$n.txt")
    for rep in $(seq "$REPS"); do  # the shared machine is noisy: keep the fastest of REPS runs
      rm -f "${files[@]}"
      train=${TRAIN//\{batch\}/$batch}; train=${train//\{rows\}/$((batch * STEPS))}
      $MPIEXEC -n "$n" "${launcher[@]}" ${MPIRUN_ARGS:-} "$BPTRAIN" --train "$train" "${model[@]}" --blas-threads "$THREADS" \
        --batch-size "$batch" --optimizer momentum --lr 0.01 --epochs "$EPOCHS" --max-steps "$STEPS" --quiet "${extra[@]}" \
        --metrics "${files[0]}" --profile "${files[1]}" > "${files[2]}" 2>&1 || { rc=$?; continue; }
      sps=$(python3 - "${files[0]}" "$WARMUP" "${SPS_FROM:-metrics}" "${files[1]}" "$batch" <<'PY'
import json, sys
if sys.argv[3] == "profile":  # the batch over the median time of a step past the warm-up
    sys.path.insert(0, "scripts/smpi")
    from step_time import steps, total
    # A step lasts as long as its slowest rank; the median step is robust to a stall of the host.
    t = sorted(max(total(r) for r in rs) for rs in steps(sys.argv[4], int(sys.argv[2])).values())
    print(int(sys.argv[5]) / ((t[(len(t) - 1) // 2] + t[len(t) // 2]) / 2 / 1e3))
    sys.exit()
# Samples over time of the epochs past the warm-up (one-step epochs), else of the last epoch.
lines = [json.loads(l) for l in open(sys.argv[1])]
past = [m for m in lines if m["step"] > int(sys.argv[2])] if len(lines) > 1 else lines[-1:]
past = past or lines[-1:]
print(sum(m["samples_per_second"] * m["epoch_s"] for m in past) / sum(m["epoch_s"] for m in past))
PY
)
      all+="$sps "
      if python3 -c "import sys; sys.exit(0 if $sps > $best else 1)"; then
        best=$sps
        for f in "${files[@]}"; do cp "$f" "$f.best"; done
      fi
    done
    sed -i "/^$mode,$n,/d" "$csv"  # the point's row from an earlier run that failed
    if [ -z "$all" ]; then  # every run of the point failed: recorded as failed, the study goes on
      echo "scaling: $mode at $n ranks FAILED (exit $rc): $(grep -m1 "error" "${files[2]}" || tail -n 1 "${files[2]}")" >&2
      failed+=" $mode@$n"
    else
      for f in "${files[@]}"; do mv "$f.best" "$f"; done
    fi
    python3 - "$mode" "$n" "$batch" "$out" "${base:-}" "$best" "$WARMUP" "$PLATFORM_LABEL" "${base_n:-$n}" "$all" "$rc" >> "$csv" <<'PY'
import csv, io, os, statistics, sys
mode, n, batch, out, base, sps, warm, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
produced = [os.environ["META_" + k] for k in ("MODEL", "STEPS", "THREADS", "NODES", "MPI", "COMMIT", "DATE")]
if not sys.argv[10].strip():  # no run finished: the point's row says so, its figures empty
    row = io.StringIO()
    csv.writer(row, lineterminator="").writerow(
        [mode, n, batch] + [""] * 9 + ([label] if label else []) + [0, "", ""] + produced
        + [f"failed (exit {sys.argv[11]}; log_{mode}_{n}.txt)"])
    print(row.getvalue())
    sys.exit()
base_n = int(sys.argv[9])  # the first point's ranks: speed-up and efficiency are relative to it
rows = list(csv.DictReader(open(f"{out}/profile_{mode}_{n}.csv")))
rows = [r for r in rows if int(r["step"]) >= warm]  # past the warm-up
mean = lambda k: sum(float(r[k]) for r in rows) / len(rows)
per_rank = {}
for r in rows:
    per_rank[r["rank"]] = per_rank.get(r["rank"], 0) + float(r["compute_ms"]) + float(r["optimizer_ms"]) + float(r["data_ms"])
slow = max(per_rank, key=per_rank.get)
base = float(base) if base else sps
# strong: speed-up of the same problem; weak: throughput per rank kept (efficiency = sps / (n * base)).
speedup = sps / base
eff = speedup * base_n / n
reps = [float(v) for v in sys.argv[10].split()]
meta = io.StringIO()  # quoted where a value has a comma (a model "hidden 512,256")
csv.writer(meta, lineterminator="").writerow(
    [len(reps), f"{statistics.median(reps):.1f}", f"{min(reps):.1f}"] + produced + ["ok"])
print(f"{mode},{n},{batch},{sps:.1f},{speedup:.3f},{eff:.3f},{mean('compute_ms'):.3f},{mean('comm_wait_ms'):.3f},"
      f"{mean('optimizer_ms'):.3f},{mean('data_ms'):.3f},{slow},{per_rank[slow] / (len(rows) / len(per_rank)):.3f}"
      + (f",{label}" if label else "") + "," + meta.getvalue())
PY
    [ -n "$base" ] || [ -z "$all" ] || { base=$(tail -1 "$csv" | cut -d, -f4); base_n=$n; }
  done
done
# Rows in study order (a resumed study appends), speed-up and efficiency against each mode's first
# finished point (its fewest ranks), whichever run measured it.
[ "${PLOT_ONLY:-0}" = 1 ] || python3 - "$csv" "$MODES" <<'PY'
import csv, sys
path, modes = sys.argv[1], sys.argv[2].split()
with open(path) as f:
    rd = csv.reader(f)
    head = next(rd)
    rows = list(rd)
col = {k: i for i, k in enumerate(head)}
order = lambda r: (modes.index(r[0]) if r[0] in modes else len(modes), r[0], int(r[1]))
rows.sort(key=order)
for mode in dict.fromkeys(r[0] for r in rows):
    ok = [r for r in rows if r[0] == mode and r[col["status"]] == "ok"]
    if not ok:
        continue
    base, base_n = float(ok[0][col["samples_per_s"]]), int(ok[0][col["ranks"]])
    for r in ok:
        speedup = float(r[col["samples_per_s"]]) / base
        r[col["speedup"]], r[col["efficiency"]] = f"{speedup:.3f}", f"{speedup * base_n / int(r[1]):.3f}"
with open(path, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(head)
    w.writerows(rows)
PY
column -s, -t < "$csv"
if command -v gnuplot >/dev/null || { apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 && command -v gnuplot >/dev/null; }; then
  for mode in $MODES; do
    grep "^$mode,.*,ok$" "$csv" | tr ',' ' ' > "$out/$mode.dat"  # the finished points
    gnuplot <<GP
set terminal pngcairo size 900,380 font ",10"
set output "$out/$mode.png"
set multiplot layout 1,2 title "bptrain $mode scaling ($model_label, $( [ $mode = strong ] && echo "global batch $BATCH" || echo "$LOCAL per rank"))${PLATFORM_LABEL:+ - SIMULATED: $PLATFORM_LABEL}"
set xlabel "ranks"; set grid; set key top left Left reverse  # ideal: the first point's samples/s per rank, times the ranks
set ylabel "samples/s"
plot "$out/$mode.dat" using 2:4 with linespoints lw 2 title "$([ -n "$PLATFORM_LABEL" ] && echo simulated || echo measured)", "" using 2:(\$2*$(awk 'NR==1{print $4 / $2}' "$out/$mode.dat")) with lines dt 2 title "ideal"
set ylabel "ms per step"; set key outside bottom center horizontal; set style data histograms; set style histogram rowstacked; set style fill solid 0.8; set boxwidth 0.6
plot "$out/$mode.dat" using 7:xtic(2) title "compute", "" using 8 title "comm wait", "" using 9 title "optimizer", "" using 10 title "data"
unset multiplot
GP
  done
  echo "plots: $(for m in $MODES; do printf '%s ' "$out/$m.png"; done)"
else
  echo "gnuplot is not available: no plots (apt-get install gnuplot-nox)"
fi
if [ -n "$failed" ]; then
  echo "scaling: failed points:$failed (their rows say so; run the same command again to retry them)" >&2
  exit 1
fi
