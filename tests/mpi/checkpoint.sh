#!/usr/bin/env bash
# Checkpoints through the binary: exact resume (same N mid-epoch; np 4 -> np 2), bad files give clear
# errors, the signal path writes a checkpoint and exits 75. (Kills during a write: fault_injection.sh; a
# full file system: checkpoint_full_fs.sh; PyTorch's accuracy on a checkpoint: torch_agrees.sh.)
set -u
mpiexec=$1 bptrain=$2 bptdata=$3
data=$(cd "$(dirname "$0")/../data" && pwd)
scripts=$(cd "$(dirname "$0")/../../scripts" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail=0
say() { echo "$*"; }
bad() { echo "FAIL $*"; fail=1; }
same_model() { h5diff -q "$1" "$2" /model /model >/dev/null && h5diff -q "$1" "$2" /optimizer /optimizer >/dev/null; }

A="--train synthetic:3000,20,5 --hidden 32,16 --epochs 3 --batch-size 64 --dropout 0.1 --quiet"
# 1. Same N, stopped mid-epoch (step 70 of 47-step epochs), resumed by the same command + --resume.
$mpiexec -n 2 $bptrain $A --checkpoint full.h5 >/dev/null || bad "full run"
$mpiexec -n 2 $bptrain $A --checkpoint part.h5 --max-steps 70 >/dev/null || bad "partial run"
$mpiexec -n 2 $bptrain $A --checkpoint part.h5 --resume part.h5 >/dev/null || bad "resume"
same_model full.h5 part.h5 && say "ok   resume-same-n-bitwise" || bad "resume at the same N differs from the uninterrupted run"
# The same at np 3 with many small buckets: each rank's packed optimizer state spans many ranges.
M="$A --bucket-mb 0.001"
$mpiexec -n 3 $bptrain $M --checkpoint mfull.h5 >/dev/null || bad "many-bucket run"
$mpiexec -n 3 $bptrain $M --checkpoint mpart.h5 --max-steps 70 >/dev/null || bad "many-bucket partial run"
$mpiexec -n 3 $bptrain $M --checkpoint mpart.h5 --resume mpart.h5 >/dev/null || bad "many-bucket resume"
same_model mfull.h5 mpart.h5 && say "ok   resume-many-buckets-bitwise" || bad "resume with many buckets differs from the uninterrupted run"
# LARS and LAMB (their per-layer norms completed over the ranks), with --accumulate: the same at np 3.
for o in "lars --lr 2 --weight-decay 1e-4" "lamb --lr 0.005 --weight-decay 0.01"; do
  L="$M --optimizer $o --accumulate 2"
  n=${o%% *}
  $mpiexec -n 3 $bptrain $L --checkpoint "${n}full.h5" >/dev/null || bad "$n run"
  $mpiexec -n 3 $bptrain $L --checkpoint "${n}part.h5" --max-steps 70 >/dev/null || bad "$n partial run"
  $mpiexec -n 3 $bptrain $L --checkpoint "${n}part.h5" --resume "${n}part.h5" >/dev/null || bad "$n resume"
  same_model "${n}full.h5" "${n}part.h5" && say "ok   resume-$n-bitwise" || bad "$n resume differs from the uninterrupted run"
done

# --grad-compression bf16 (np 3: the halving's fold sends whole partial sums too): resumed mid-epoch
# bitwise at the same N, and not the float run's weights.
B="$A --grad-compression bf16"
$mpiexec -n 3 $bptrain $B --checkpoint bfull.h5 >/dev/null || bad "bf16 run"
$mpiexec -n 3 $bptrain $B --checkpoint bpart.h5 --max-steps 70 >/dev/null || bad "bf16 partial run"
$mpiexec -n 3 $bptrain $B --checkpoint bpart.h5 --resume bpart.h5 >/dev/null || bad "bf16 resume"
$mpiexec -n 3 $bptrain $A --checkpoint f3.h5 >/dev/null || bad "float np 3 run"
if same_model bfull.h5 bpart.h5 && ! same_model bfull.h5 f3.h5; then say "ok   resume-bf16-bitwise"
else bad "bf16: the resume differs from the uninterrupted run, or bf16 changed nothing"; fi

# 2. Written at np 4, continued at np 2, --deterministic: bitwise equal to an uninterrupted np 2 run
# (input dropout too: its masks follow the samples, not the ranks).
D="$A --deterministic --micro-shards 8 --input-dropout 0.2"
$mpiexec -n 2 $bptrain $D --checkpoint d2.h5 >/dev/null || bad "deterministic np 2 run"
$mpiexec -n 4 $bptrain $D --checkpoint d4.h5 --max-steps 60 >/dev/null || bad "deterministic np 4 partial"
$mpiexec -n 2 $bptrain $D --checkpoint d4.h5 --resume d4.h5 >/dev/null || bad "resume np 4 -> np 2"
same_model d2.h5 d4.h5 && say "ok   resume-np4-to-np2-bitwise" || bad "np 4 -> np 2 resume differs"
# A CNN: resumed mid-epoch at the same N bitwise, and written at np 4 then continued at np 2 with
# --deterministic bitwise equal to an uninterrupted np 2 run.
C="--train synthetic:1200,64,4 --input-shape 1,8,8 --layers conv3:4,maxpool2,conv3:6:s2,dense:12 --epochs 2 --batch-size 40 --dropout 0.1 --quiet"
$mpiexec -n 3 $bptrain $C --checkpoint cfull.h5 >/dev/null || bad "CNN run"
$mpiexec -n 3 $bptrain $C --checkpoint cpart.h5 --max-steps 37 >/dev/null || bad "CNN partial run"
$mpiexec -n 3 $bptrain $C --checkpoint cpart.h5 --resume cpart.h5 >/dev/null || bad "CNN resume"
same_model cfull.h5 cpart.h5 && say "ok   resume-cnn-bitwise" || bad "CNN resume differs from the uninterrupted run"
CD="$C --deterministic --micro-shards 8"
$mpiexec -n 2 $bptrain $CD --checkpoint cd2.h5 >/dev/null || bad "CNN deterministic np 2 run"
$mpiexec -n 4 $bptrain $CD --checkpoint cd4.h5 --max-steps 25 >/dev/null || bad "CNN deterministic np 4 partial"
$mpiexec -n 2 $bptrain $CD --checkpoint cd4.h5 --resume cd4.h5 >/dev/null || bad "CNN resume np 4 -> np 2"
same_model cd2.h5 cd4.h5 && say "ok   resume-cnn-np4-to-np2-bitwise" || bad "CNN np 4 -> np 2 resume differs"
# Default mode at another N: allowed, and correct to float rounding.
$mpiexec -n 4 $bptrain $A --checkpoint a4.h5 --max-steps 60 >/dev/null || bad "np 4 partial"
$mpiexec -n 2 $bptrain $A --checkpoint a4.h5 --resume a4.h5 >/dev/null || bad "resume np 4 -> np 2 (default mode)"
h5diff -q --relative=1e-3 full.h5 a4.h5 /model /model >/dev/null && say "ok   resume-np4-to-np2-close" || bad "np 4 -> np 2 resume far from the np 2 run"

# Augmented images (shifts and mirrors drawn per sample and step): written at np 4, continued at np 2,
# --deterministic, bitwise equal to an uninterrupted np 2 run, and not equal to one without them.
G="--train $data/fmnist200-images-idx3-ubyte.gz --test $data/fmnist200-images-idx3-ubyte.gz --hidden 16 --epochs 3
   --batch-size 32 --quiet --deterministic --micro-shards 8"
$mpiexec -n 2 $bptrain $G --augment-shift 2 --augment-flip --checkpoint g2.h5 >/dev/null || bad "augmented np 2 run"
$mpiexec -n 4 $bptrain $G --augment-shift 2 --augment-flip --checkpoint g4.h5 --max-steps 10 >/dev/null || bad "augmented np 4 partial"
$mpiexec -n 2 $bptrain $G --augment-shift 2 --augment-flip --checkpoint g4.h5 --resume g4.h5 >/dev/null || bad "augmented resume"
$mpiexec -n 2 $bptrain $G --checkpoint plain.h5 >/dev/null || bad "unaugmented np 2 run"
if same_model g2.h5 g4.h5 && ! same_model g2.h5 plain.h5; then say "ok   resume-augmented-np4-to-np2-bitwise"
else bad "augmented: np 4 -> np 2 resume differs, or augmentation changed nothing"; fi

# 3. Settings or data that differ are refused with the differences named.
out=$($mpiexec -n 2 $bptrain $A --lr 0.01 --resume full.h5 2>&1); rc=$?
{ [ $rc -eq 2 ] && grep -q -- "--lr 0.00100000005 in the checkpoint, 0.00999999978 now" <<<"$out"; } && say "ok   resume-settings-named" || { bad "resume with another --lr: exit $rc"; echo "$out" | tail -2; }
out=$($mpiexec -n 2 $bptrain $A --deterministic --micro-shards 8 --resume d2.h5 2>&1); rc=$?
{ [ $rc -eq 2 ] && grep -q -- "--input-dropout 0.200000003 in the checkpoint, (absent) now" <<<"$out"; } && say "ok   resume-setting-dropped-named" || { bad "resume without --input-dropout: exit $rc"; echo "$out" | tail -2; }
out=$($mpiexec -n 3 $bptrain $A --resume bpart.h5 2>&1); rc=$?
{ [ $rc -eq 2 ] && grep -q -- "--grad-compression bf16 in the checkpoint, (absent) now" <<<"$out"; } && say "ok   resume-bf16-named" || { bad "resume of a bf16 run without it: exit $rc"; echo "$out" | tail -2; }
out=$($bptrain ${A/synthetic:3000/synthetic:3001} --resume full.h5 2>&1); rc=$?
{ [ $rc -eq 2 ] && grep -q "not the training set" <<<"$out"; } && say "ok   resume-other-data" || bad "resume on other data: exit $rc: $out"

# --evaluate split over 2 ranks: every sample counted once, predictions for every sample.
out=$($mpiexec -n 2 $bptrain --evaluate full.h5 --train synthetic:3000,20,5 --confusion --predict pred.csv 2>&1)
if grep -q '"samples":500' <<<"$out" && grep -q '"confusion":\[\[' <<<"$out" && [ "$(wc -l < pred.csv)" = 501 ]; then
  say "ok   evaluate-np2-confusion-predict"
else
  bad "evaluate at np 2: $out / $(wc -l < pred.csv 2>/dev/null) prediction lines"
fi

# 4. Bad files: clear one-line errors, never a crash.
check_bad() {  # name, file, pattern
  out=$($bptrain --evaluate "$2" --train synthetic:3000,20,5 2>&1); rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qE -- "$3" <<<"$out"; then say "ok   bad-checkpoint-$1"; else bad "bad-checkpoint-$1: exit $rc: $out"; fi
}
cp full.h5 trunc.h5; truncate -s $(( $(stat -c %s full.h5) / 2 )) trunc.h5
check_bad truncated trunc.h5 "trunc.h5: "
cp full.h5 flip.h5
# Flip bytes inside the first layer's stored weights (found by searching the file for their bytes).
h5dump -d /model/layer_0/weight -b LE -o w.bin full.h5 >/dev/null
python3 - <<'PY'
raw = open("w.bin", "rb").read()
data = bytearray(open("flip.h5", "rb").read())
at = data.find(raw[:64])
assert at > 0, "weights not found in the file"
for i in range(at + 100, at + 108):
    data[i] ^= 0x5A
open("flip.h5", "wb").write(data)
PY
check_bad corrupt flip.h5 "checksum|corrupt|read failed"
echo "not hdf5" > text.h5
check_bad foreign text.h5 "not an HDF5 file"
"$bptdata" convert "$data/blobs.csv" data.h5 --label-column class >/dev/null
check_bad not-a-checkpoint data.h5 "not a valid bptrain checkpoint"
check_bad missing nothere.h5 "nothere.h5: file not found"
out=$($bptrain --evaluate full.h5 --train "$data/blobs.csv" --test "$data/blobs.csv" --label-column class 2>&1); rc=$?
{ [ $rc -ne 0 ] && grep -q "features per sample, the checkpoint's model takes 20" <<<"$out"; } && say "ok   evaluate-feature-mismatch" || bad "evaluate on mismatched data: $out"

# 5. SIGTERM to one rank: all ranks checkpoint at the next step boundary and exit 75; resuming
#    finishes with bitwise the weights of an uninterrupted run.
S="--train synthetic:20000,64,5 --hidden 256,256 --epochs 20 --batch-size 32 --quiet"
$mpiexec -n 2 $bptrain $S --checkpoint sfull.h5 >/dev/null || bad "signal reference run"
$mpiexec -n 2 $bptrain $S --checkpoint sig.h5 >/dev/null 2>&1 &
for _ in $(seq 1 60); do pgrep -f -- "^$bptrain .*--checkpoint sig.h5" >/dev/null && break; sleep 0.5; done
sleep 1  # the ranks started (on a busy machine that can take seconds), and a second later
pid=$(pgrep -f -- "^$bptrain .*--checkpoint sig.h5" | tail -1)  # a rank, not mpirun
kill -TERM "$pid"
wait $!; rc=$?
if [ $rc -eq 75 ] && [ -f sig.h5 ]; then say "ok   signal-exit-75"; else bad "SIGTERM: exit $rc (want 75), checkpoint $( [ -f sig.h5 ] && echo present || echo missing)"; fi
$mpiexec -n 2 $bptrain $S --checkpoint sig.h5 --resume sig.h5 >/dev/null || bad "resume after the signal"
same_model sfull.h5 sig.h5 && say "ok   signal-resume-bitwise" || bad "resume after the signal differs"

# 7. --keep-best: FILE.best.h5 holds the weights of the epoch with the best validation accuracy, the
#    same bits as a run of that many epochs (constant LR, so the first epochs are the same run).
K="--train synthetic:600,8,10 --hidden 32 --val-fraction 0.3 --batch-size 50 --lr 0.01 --quiet"
$mpiexec -n 2 $bptrain $K --epochs 8 --keep-best --checkpoint kb.h5 --metrics kb.jsonl >/dev/null || bad "keep-best run"
best=$(python3 -c "
import json
acc = [json.loads(l)['val_accuracy'] for l in open('kb.jsonl')]
print(1 + max(range(len(acc)), key=lambda i: (acc[i], -i)))")
$mpiexec -n 2 $bptrain $K --epochs "$best" --checkpoint ke.h5 >/dev/null || bad "keep-best reference run"
if [ -f kb.best.h5 ] && same_model kb.best.h5 ke.h5 && { [ "$best" -eq 8 ] || ! same_model kb.h5 kb.best.h5; }; then
  say "ok   keep-best (epoch $best of 8)"; else bad "keep-best: kb.best.h5 is not the weights of epoch $best"; fi

# 6. Ctrl-C (SIGINT) on one process, as a terminal sends it: the checkpoint, exit 75 and the line on
#    stderr even with --quiet, no temporary file left; without --checkpoint, exit 130 and a line saying
#    that nothing was saved. (Started from python: a script's background job ignores SIGINT.)
ctrl_c() {  # ctrl_c STDERR_FILE ARGS...: prints the exit status
  python3 - "$@" <<'PY'
import signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "w"))
time.sleep(1.5)
p.send_signal(signal.SIGINT)
print(p.wait())
PY
}
rc=$(ctrl_c int.err $bptrain $S --checkpoint int.h5)
if [ "$rc" -eq 75 ] && [ -f int.h5 ] && grep -q "signal received: checkpoint written at step [0-9]* to int.h5" int.err \
   && ! ls int.h5.tmp.* >/dev/null 2>&1; then say "ok   sigint-checkpoint-75"; else bad "SIGINT: exit $rc (want 75): $(cat int.err)"; fi
rc=$(ctrl_c int2.err $bptrain $S)
if [ "$rc" -eq 130 ] && grep -q "signal received: stopped at step [0-9]*; nothing saved (no --checkpoint)" int2.err; then
  say "ok   sigint-no-checkpoint-130"; else bad "SIGINT without --checkpoint: exit $rc (want 130): $(cat int2.err)"; fi

exit $fail
