#!/usr/bin/env bash
# scripts/slurm.sbatch on a real one-node SLURM: Debian's munged, slurmctld and slurmd, configured and
# started in a temporary folder, stopped at the end whatever happens. In three parts, each a CTest test
# with a SLURM of its own (as one test it took 130-570 s):
#   requeue  the job's time limit makes SLURM send SIGUSR1 before the end, bptrain checkpoints and exits
#            75, the script requeues the job, and the requeued job resumes and finishes. Checks: requeued
#            at least once, finished with exit 0, and the final weights and optimizer state equal bit for
#            bit to an uninterrupted mpirun -np 2 run.
#   jobs     checkpoints per job, RESUME=, a sweep array, a scaling study, --export with lists, and
#            pbs.qsub through the Torque wrapper (its walltime rerun included).
#   readme   the README's "On a cluster" commands as written (shrunk; docs/batch.md).
# Exit 77 (CTest: skipped) where the machine cannot run it, with the reason.
# Usage: real_slurm.sh REPO BPTRAIN MPIEXEC [requeue|jobs|readme|all]   (all: the three in turn)
set -u
repo=$1 bptrain=$2 mpiexec=$3 part=${4:-all}
case $part in requeue|jobs|readme|all) ;; *) echo "real_slurm.sh: no part '$part' (requeue, jobs, readme or all)"; exit 2 ;; esac
want() { [ "$part" = all ] || [ "$part" = "$1" ]; }
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (slurmd starts job steps as their owner)"
for b in munged slurmctld slurmd sbatch scontrol srun sinfo; do
  command -v "$b" >/dev/null || skip "$b is not installed (scripts/setup.sh installs slurmctld slurmd slurm-client munge)"
done
[ -e /usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix.so ] || ls /usr/lib/*/slurm*/mpi_pmix*.so >/dev/null 2>&1 \
  || skip "SLURM's PMIx plugin (mpi_pmix.so) is missing"

tmp=$(mktemp -d /tmp/bpt-slurm.XXXXXX)
chmod 755 "$tmp"  # munged wants its socket folder reachable by all
conf=$tmp/slurm.conf
export SLURM_CONF=$conf
started=$(date +%s)
cleanup() {
  [ -n "${reference:-}" ] && kill "$reference" 2>/dev/null
  scancel --full --quiet -u root 2>/dev/null
  for p in slurmd slurmctld munged; do
    [ -f "$tmp/$p.pid" ] && kill "$(cat "$tmp/$p.pid")" 2>/dev/null
  done
  sleep 1
  for p in slurmd slurmctld munged; do
    [ -f "$tmp/$p.pid" ] && kill -9 "$(cat "$tmp/$p.pid")" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The cluster: this host, its cores, ports of its own (two runs on one machine do not meet).
host=$(hostname -s)
cpus=$(nproc)
port=$((20000 + RANDOM % 20000))
mkdir -p "$tmp"/{state,spool,log,ck}
head -c 1024 /dev/urandom > "$tmp/munge.key" && chmod 400 "$tmp/munge.key"
cat > "$conf" <<EOF
ClusterName=bptest
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobRequeue=1
ReturnToService=2
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
munged --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/log/munged.log" --seed-file="$tmp/munged.seed" || skip "munged does not start here"
slurmctld -f "$conf" || skip "slurmctld does not start here: $(tail -n 3 "$tmp/log/slurmctld.log" 2>/dev/null)"
slurmd -f "$conf" || skip "slurmd does not start here: $(tail -n 3 "$tmp/log/slurmd.log" 2>/dev/null)"
for _ in $(seq 1 30); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %T | grep -q idle || skip "the node did not come up: $(sinfo 2>&1 | tail -n 2)"
echo "one-node SLURM up ($(sinfo -V), $cpus CPUs) in $(( $(date +%s) - started )) s"

# The training the requeue part sizes to this machine, and the jobs part's walltime rerun signals a
# few seconds in (3 epochs: about 9 s at np 2 here).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
base=(--train synthetic:20000,64,4 --hidden 1024,1024 --batch-size 64 --seed 7 --grad-warn-steps 0 --quiet)
rerun_epochs=3
# Follows a job to its end, releasing it each time it is requeued (SLURM holds a requeued job back,
# BeginTime, about two minutes) once the old job's slurmstepd processes have gone: released at once,
# the requeued batch script itself failed to start once (FAILED, ExitCode 1:0, no output), before
# slurm.sbatch's own wait could run. Sets state.
follow() {
  local job=$1 info deadline=$(( $(date +%s) + 360 ))  # room for many requeue cycles (a run may be signalled 5 s in)
  state=""
  while [ "$(date +%s)" -lt "$deadline" ]; do
    info=$(scontrol show job "$job" 2>/dev/null)
    state=$(grep -oE "JobState=[A-Z_]+" <<<"$info" | cut -d= -f2)
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED) return ;;
      PENDING)
        if grep -q "Reason=BeginTime" <<<"$info" && ! pgrep -f "slurmstepd: \[$job\." >/dev/null; then
          echo "$(date +%T) job $job requeued ($(grep -oE "Restarts=[0-9]+" <<<"$info")): released"
          scontrol update JobId="$job" StartTime=now
        fi ;;
    esac
    sleep 1
  done
}
small=(--train synthetic:400,8,2 --hidden 8 --batch-size 50 --seed 3 --quiet)
# Every `sbatch --wait` bounded: a job that never starts (a node drained, say) fails the test in
# minutes, with the node's state, instead of running into CTest's timeout.
bounded() {
  timeout 180 "$@" && return 0
  local rc=$?
  [ $rc -eq 124 ] && echo "FAIL: $1 --wait: no end in 180 s; node: $(sinfo -N -h -o '%N %T %E' 2>&1)" >&2
  return $rc
}
# Every short job asks for 5 minutes: slurm.sbatch and pbs.qsub ask for their signal 120 s before the
# limit, so a limit of 2 minutes or less signals at SLURM's first check and a slow start is requeued.
sub() {  # sub NAME OUTPUT [sbatch options] -- [bptrain options]: submits and waits; prints the job id
  local name=$1 out=$2; shift 2
  local opts=(); while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  CKPT_DIR=$tmp/ck BPTRAIN=$bptrain BPTRAIN_HOME=$repo bounded sbatch --parsable --wait --job-name="$name" --nodes=1 \
    --ntasks-per-node=1 --cpus-per-task=1 --time=00:05:00 --output="$out" "${opts[@]}" "$repo/scripts/slurm.sbatch" "$@"
}
fail=0

if want requeue; then  # part 1: a time limit, a requeue, bitwise equal
# The job: about 40 s of training at np 2, sized to this machine. SLURM checks time limits every 30 s,
# so with a 1-minute limit and --signal=USR1@55 the signal comes 5 to 35 s into each run: inside the
# first run, and maybe again in the requeued one (a third run is fine). A fixed number of epochs would
# be too few on a faster machine (the job ends unsignalled) and cost minutes on a slower one: 4 epochs
# at np 2 measure this machine's epoch first (the training time bptrain's last line gives).
t4=$("$mpiexec" -n 2 "$bptrain" "${base[@]}" --epochs 4 2>&1 | sed -nE 's/^done: .*, ([0-9.]+)s \(stopped.*/\1/p')
[ -n "$t4" ] || { echo "FAIL the timing run"; exit 1; }
epochs=$(python3 -c "import math; print(max(8, math.ceil(40 * 4 / max($t4, 0.01))))")
echo "4 epochs trained in $t4 s here: the job trains $epochs"
args=("${base[@]}" --epochs "$epochs")
job=$(CKPT_DIR=$tmp/ck BPTRAIN=$bptrain BPTRAIN_HOME=$repo sbatch --parsable --job-name=realslurm \
  --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=00:01:00 --signal=USR1@55 \
  --output="$tmp/job.out" "$repo/scripts/slurm.sbatch" "${args[@]}") || { echo "FAIL sbatch"; exit 1; }
echo "submitted job $job"
follow "$job"
info=$(scontrol show job "$job")
restarts=$(grep -oE "Restarts=[0-9]+" <<<"$info" | cut -d= -f2)
exitcode=$(grep -oE " ExitCode=[0-9:]+" <<<"$info" | cut -d= -f2)
echo "job $job: JobState=$state Restarts=$restarts ExitCode=$exitcode, $(( $(date +%s) - started )) s"
echo "--- the job's output"
cat "$tmp/job.out"
echo "---"
[ "$state" = COMPLETED ] && [ "$exitcode" = "0:0" ] || { echo "FAIL the job did not finish with exit 0"; fail=1; }
[ "${restarts:-0}" -ge 1 ] || { echo "FAIL the job was never requeued (the time-limit signal did not fire)"; fail=1; }
grep -q "checkpointed before the time limit and exited 75" "$tmp/job.out" && grep -q "resuming from" "$tmp/job.out" \
  || { echo "FAIL the output lacks the checkpoint-and-requeue or the resume"; fail=1; }

# The same flags, uninterrupted, outside SLURM; the requeued job's last checkpoint against it.
final=$tmp/ck/bptrain-$job.h5
OMPI_MCA_mpi_yield_when_idle=1 "$mpiexec" -n 2 "$bptrain" "${args[@]}" --checkpoint "$tmp/reference.h5" >/dev/null 2>&1 \
  || { echo "FAIL the reference run"; fail=1; }
if h5diff -q "$final" "$tmp/reference.h5" /model /model >/dev/null && h5diff -q "$final" "$tmp/reference.h5" /optimizer /optimizer >/dev/null; then
  echo "ok   the requeued job's final weights and optimizer state equal the uninterrupted run's bit for bit"
else
  echo "FAIL the requeued job's final checkpoint differs from the uninterrupted run's"; fail=1
fi
fi  # requeue

if want jobs; then  # part 2: checkpoints per job, RESUME=, arrays, a study, --export, pbs.qsub
# Checkpoints belong to their job: a second job of the same name starts fresh (the first one's file
# untouched), RESUME=FILE continues another job's checkpoint, and the two tasks of an array write two.
j1=$(sub realslurm "$tmp/j1.out" -- "${small[@]}" --epochs 1) || { echo "FAIL a first small job"; cat "$tmp/j1.out"; fail=1; }
first=$tmp/ck/bptrain-$j1.h5
before=$(md5sum < "$first")
j2=$(sub realslurm "$tmp/j2.out" -- "${small[@]}" --epochs 2); r2=$?
if [ $r2 -eq 0 ] && grep -q "a new job, starting fresh" "$tmp/j2.out" && [ -f "$tmp/ck/bptrain-$j2.h5" ] \
   && [ "$(md5sum < "$first")" = "$before" ]; then
  echo "ok   a second job of the same name started fresh, its own checkpoint bptrain-$j2.h5, the first job's untouched"
else
  echo "FAIL a second job of the same name: exit $r2"; cat "$tmp/j2.out"; fail=1
fi
j3=$(RESUME=$tmp/ck/bptrain-$j2.h5 sub realslurm "$tmp/j3.out" -- "${small[@]}" --epochs 3); r3=$?
if [ $r3 -eq 0 ] && grep -q "a new job continuing from RESUME=" "$tmp/j3.out" && grep -q "^done: 3 epochs" "$tmp/j3.out"; then
  echo "ok   RESUME= continued job $j2's checkpoint in job $j3"
else
  echo "FAIL RESUME=: exit $r3"; cat "$tmp/j3.out"; fail=1
fi
# A sweep as an array: task N takes line N+1 of SWEEP (comments skipped); sweep_summary.py gathers them.
printf '# learning rates\n--lr 0.05\n\n--lr 0.001 --optimizer sgd\n' > "$tmp/sweep.txt"
ja=$(SWEEP=$tmp/sweep.txt sub arr "$tmp/arr-%a.out" --array=0-1 -- "${small[@]}" --epochs 1); ra=$?
python3 "$repo/scripts/sweep_summary.py" "$tmp/ck" "$ja" "$tmp/sweep" > "$tmp/sweep.log" 2>&1
if [ $ra -eq 0 ] && [ -f "$tmp/ck/bptrain-${ja}_0.h5" ] && [ -f "$tmp/ck/bptrain-${ja}_1.h5" ] \
   && grep -q "task 1: --lr 0.001 --optimizer sgd" "$tmp/arr-1.out" && python3 - "$tmp/sweep.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [(r["task"], r["flags"], r["status"], r["epoch"]) for r in rows] == \
    [("0", "--lr 0.05", "ok", "1"), ("1", "--lr 0.001 --optimizer sgd", "ok", "1")], rows
assert all(0 <= float(r["test_accuracy"]) <= 1 for r in rows), rows
PY
then
  echo "ok   a sweep as an array of two tasks: two checkpoints, each task its line, summary $(tr '\n' ' ' < "$tmp/sweep.csv")"
else
  echo "FAIL sweep array: exit $ra; $(ls "$tmp/ck")"; cat "$tmp"/arr-*.out "$tmp/sweep.log" "$tmp/sweep.csv"; fail=1
fi

# A scaling study inside one allocation: scripts/slurm_scaling.sbatch at 1 and 2 ranks, launched by srun.
s0=$(date +%s)
BPTRAIN=$bptrain BPTRAIN_HOME=$repo bounded sbatch --wait --quiet --job-name=scaling --nodes=1 --ntasks-per-node=2 \
  --time=00:05:00 --output="$tmp/scaling.out" "$repo/scripts/slurm_scaling.sbatch" RANKS=1,2 STEPS=30 WARMUP=5 \
  REPS=1 HIDDEN=64 LOCAL=64 BATCH=128 TRAIN="synthetic:{rows},32,4" OUT="$tmp/scaling"
src=$?
rows=$(tail -n +2 "$tmp/scaling/scaling.csv" 2>/dev/null | cut -d, -f1,2 | tr '\n' ' ')
if [ $src -eq 0 ] && [ "$rows" = "strong,1 strong,2 weak,1 weak,2 " ] && grep -q "launched as: srun --mpi=pmix -n N" "$tmp/scaling.out"; then
  echo "ok   scaling study in one allocation (srun at 1 and 2 ranks): $(( $(date +%s) - s0 )) s"
  cat "$tmp/scaling/scaling.csv"
else
  echo "FAIL slurm_scaling.sbatch: exit $src, rows '$rows'"; cat "$tmp/scaling.out"; fail=1
fi
# A list through --export (cut by SLURM at its commas): refused, naming the way that works.
BPTRAIN=$bptrain BPTRAIN_HOME=$repo bounded sbatch --wait --quiet --job-name=export --nodes=1 --ntasks-per-node=1 \
  --time=00:01:00 --output="$tmp/export.out" --export=ALL,RANKS=1,2 "$repo/scripts/slurm_scaling.sbatch"
erc=$?
if [ $erc -ne 0 ] && grep -q "'2' is no variable: SLURM cuts --export at every comma" "$tmp/export.out"; then
  echo "ok   --export=ALL,RANKS=1,2 refused: $(head -c 160 "$tmp/export.out")"
else
  echo "FAIL --export with a list: exit $erc"; cat "$tmp/export.out"; fail=1
fi
# scripts/pbs.qsub through SLURM's Torque wrapper (qsub -> sbatch), submitted from the repository as
# docs/batch.md says: sbatch reads the script's own #PBS lines (select=2:ncpus=16...), so the job's
# size is one -l list on qsub's command line (a second -l replaces the first in the wrapper); the
# repository and the job id are found without PBS_O_WORKDIR and PBS_JOBID; the job finishes with its
# own checkpoint and leaves no log in the repository.
if command -v qsub >/dev/null; then
  pj=$(cd "$repo" && BPTRAIN=$bptrain BPTRAIN_ARGS="--train synthetic:2000,16,3 --hidden 32 --epochs 2 --quiet" CKPT_DIR=$tmp/pbsck \
       qsub -V -j oe -o "$tmp/pbs.out" -l select=1:ncpus=2:mpiprocs=2:ompthreads=1,walltime=00:05:00 scripts/pbs.qsub 2>&1)
  # Five minutes, not two: the script asks for SIGUSR1 120 s before the limit, so a 2-minute walltime
  # is signalled at SLURM's first time-limit check (within 30 s): a slow start then checkpointed,
  # was requeued and held (BeginTime) past the wait (CI, 2026-12-06). follow releases a requeued job.
  [[ $pj =~ ^[0-9]+$ ]] && follow "$pj"
  pstate=$(scontrol show job "$pj" 2>/dev/null | grep -oE "JobState=[A-Z_]+ .*|ExitCode=[0-9:]+" | tr '\n' ' ')
  if grep -q "^done: 2 epochs" "$tmp/pbs.out" 2>/dev/null && [ -f "$tmp/pbsck/bptrain-$pj.h5" ] \
     && grep -q "JobState=COMPLETED" <<<"$pstate" && [ -z "$(ls "$repo" | grep -E '^pbs\.qsub\.[eo]')" ]; then
    echo "ok   pbs.qsub through the Torque wrapper: job $pj finished, its checkpoint bptrain-$pj.h5"
  else
    echo "FAIL pbs.qsub through the Torque wrapper: qsub said '$pj'; $pstate"; cat "$tmp/pbs.out" 2>/dev/null | tail -n 8; fail=1
  fi
  # The walltime rerun through the wrapper: SLURM's signal before the time limit, as the script's
  # "#SBATCH --signal=B:USR1@120" asks, is SIGUSR1 to the batch script; sent here as SLURM sends it
  # (scancel --batch) a few seconds into an 8-s training (the real time-limit path costs 40 s of
  # training and is the main job's above). The script passes it to mpirun, the ranks checkpoint and
  # exit 75, the job is requeued (qrerun, else scontrol) and resumes its own checkpoint to the end.
  pw=$(cd "$repo" && BPTRAIN=$bptrain BPTRAIN_ARGS="${base[*]} --epochs $rerun_epochs" CKPT_DIR=$tmp/pbsw \
       qsub -V -j oe -o "$tmp/pbsw.out" -l select=1:ncpus=2:mpiprocs=2:ompthreads=1,walltime=00:05:00 scripts/pbs.qsub 2>&1)
  for _ in $(seq 1 120); do pgrep -f -- "--checkpoint $tmp/pbsw/bptrain-$pw.h5" >/dev/null && break; sleep 0.5; done
  sleep 2
  scancel --batch --signal=USR1 "$pw"
  follow "$pw"
  pwinfo=$(scontrol show job "$pw" 2>/dev/null | grep -oE "JobState=[A-Z_]+|Restarts=[0-9]+|ExitCode=[0-9:]+" | tr '\n' ' ')
  if grep -q "JobState=COMPLETED .*ExitCode=0:0" <<<"$pwinfo" && ! grep -q "Restarts=0" <<<"$pwinfo" \
     && grep -q "SIGUSR1 (the time limit is near): passed to the ranks" "$tmp/pbsw/bptrain-$pw.log" \
     && grep -q "resuming from .*bptrain-$pw.h5" "$tmp/pbsw/bptrain-$pw.log" \
     && grep -q "^done: $rerun_epochs epochs" "$tmp/pbsw/bptrain-$pw.log"; then
    echo "ok   pbs.qsub's walltime rerun through the Torque wrapper: job $pw signalled, checkpointed, requeued and finished: $pwinfo"
  else
    echo "FAIL pbs.qsub's walltime rerun: qsub said '$pw'; $pwinfo"; tail -n 15 "$tmp/pbsw/bptrain-$pw.log" 2>/dev/null; fail=1
  fi
else
  echo "SKIP pbs.qsub through the Torque wrapper: no qsub (scripts/setup.sh installs slurm-wlm-torque)"
fi
fi  # jobs

if want readme; then  # part 3: the README's cluster commands
# The README's "On a cluster" commands, run as written from a folder laid out as the repository
# (scripts/, build/bptrain, runs/), with these changes, each said: every sbatch gets one node, 2 tasks
# of one CPU, 5 minutes, --wait; qsub gets a one-node -l list with a 5-minute walltime (the wrapper
# keeps the last -l); bptrain trains
# synthetic:2000,16,3 with --hidden 16 and --epochs N / 50 rounded up; the scaling study 1 and 2 ranks of
# a small model; JOBID and ARRAYJOBID are the ids the previous sbatch printed.
w=$tmp/readme
mkdir -p "$w/build" "$w/runs"
ln -s "$repo/scripts" "$w/scripts"; ln -s "$bptrain" "$w/build/bptrain"; cp "$repo/runs/.gitignore" "$w/runs/"
python3 - "$repo/README.md" "$w" > "$w/walk.sh" <<'PY'
import math, re, shlex, sys
readme, w = sys.argv[1:]
block = re.search(r"<!-- cluster:start -->\n```sh\n(.*?)```\n<!-- cluster:end -->", open(readme).read(), re.S)
if not block:
    sys.exit("README.md: no cluster block")
print(f'cd {w}')
print(f'sbatch() {{  # one node, 2 tasks of one CPU, waits; prints the id as sbatch does and keeps it in {w}/ids\n'
      '  local opts=(); while [ $# -gt 0 ] && [[ $1 != *.sbatch ]]; do opts+=("$1"); shift; done\n'
      '  local id; id=$(command sbatch --parsable --wait "${opts[@]}" --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=00:05:00 "$@")\n'
      '  local rc=$?; echo "Submitted batch job $id (exit $rc)"; echo "$id" >> ids; return $rc; }')
print(f'qsub() {{  # one node through the wrapper (its last -l counts); waits for the job to end\n'
      '  local id; id=$(command qsub "${@:1:$#-1}" -l select=1:ncpus=2:mpiprocs=2:ompthreads=1,walltime=00:05:00 "${@: -1}") || return 1\n'
      '  echo "qsub: job $id"; echo "$id" >> ids\n'
      '  for _ in $(seq 1 90); do squeue -h -j "$id" 2>/dev/null | grep -q . || return 0; sleep 2; done; return 1; }')
print("set -e")
n = 0
for line in block.group(1).replace("\\\n", " ").splitlines():
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    was = line
    line = re.sub(r"--epochs (\d+)", lambda m: f"--epochs {math.ceil(int(m.group(1)) / 50)}", line)
    line = re.sub(r"--hidden [^\s\"']+", "--hidden 16 --train synthetic:2000,16,3 --batch-size 100", line)
    line = re.sub(r"HIDDEN=[^\s\"']+", "HIDDEN=32 RANKS=1,2 STEPS=20 WARMUP=3 REPS=1 LOCAL=64 BATCH=128 TRAIN=synthetic:{rows},32,4", line)
    line = line.replace("ARRAYJOBID", "$(sed -n 3p ids)").replace("JOBID", "$(sed -n 1p ids)")
    n += 1
    print(f"echo {shlex.quote(str(n) + ': ' + was)}")
    print(line)
print(f"echo 'all {n} commands ran'")
PY
rw=$(bash "$w/walk.sh" 2>&1); rrc=$?
ids=($(cat "$w/ids" 2>/dev/null))  # job, resumed job, array, scaling, pbs
j1=${ids[0]:-} j2=${ids[1]:-} ja=${ids[2]:-} js=${ids[3]:-} jp=${ids[4]:-}
stray=$(cd "$w" && ls | grep -vxE 'build|scripts|runs|walk\.sh|ids|sweep\.txt|pbs\.qsub\.[eo][0-9]+')
if [ $rrc -eq 0 ] && grep -q "^all 7 commands ran" <<<"$rw" && [ ${#ids[@]} = 5 ] && [ -z "$stray" ] \
   && grep -q "a new job, starting fresh" "$w/runs/bptrain-$j1.out" && grep -q "^done: 1 epochs" "$w/runs/bptrain-$j1.out" \
   && [ -f "$w/runs/bptrain-$j1.h5" ] && [ -f "$w/runs/bptrain-$j1.jsonl" ] \
   && grep -q "continuing from RESUME=runs/bptrain-$j1.h5" "$w/runs/bptrain-$j2.out" && grep -q "^done: 2 epochs" "$w/runs/bptrain-$j2.out" \
   && [ "$(ls "$w/runs" | grep -cE "^bptrain-${ja}_[0-2]\.(out|h5|jsonl|flags)$")" = 12 ] \
   && [ "$(tail -n +2 "$w/runs/sweep-$ja.csv" | cut -d, -f1-3 | tr '\n' ' ')" = "0,--lr 0.001,ok 1,--lr 0.0003,ok 2,--lr 0.05 --optimizer momentum,ok " ] \
   && [ "$(tail -n +2 "$w/runs/scaling-$js/scaling.csv" | cut -d, -f1,2 | tr '\n' ' ')" = "strong,1 strong,2 weak,1 weak,2 " ] \
   && [ -f "$w/runs/bptrain-scaling-$js.out" ] \
   && grep -q "^done: 1 epochs" "$w/runs/bptrain-$jp.log" && [ -f "$w/runs/bptrain-$jp.h5" ]; then
  echo "ok   the README's cluster commands ran as written (shrunk): jobs ${ids[*]}, every file in runs/: $(ls "$w/runs" | wc -l) files"
else
  echo "FAIL the README's cluster commands: exit $rrc, ids '${ids[*]}', stray files '$stray'"; tail -n 20 <<<"$rw"
  ls -la "$w/runs"; for f in "$w"/runs/*.out "$w"/runs/*.log "$w"/runs/*.csv; do [ -f "$f" ] && { echo "--- $f"; tail -n 6 "$f"; }; done; fail=1
fi
fi  # readme
[ $fail -eq 0 ] && echo "ok   real SLURM ($part): $(( $(date +%s) - started )) s in all"
exit $fail
