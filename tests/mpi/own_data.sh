#!/usr/bin/env bash
# The README's "Your own data" walkthrough, run as written: every command between its own-data markers
# (continued lines joined), with build/bptrain, mpirun and scripts/ pointing at this build and checkout,
# in a fresh folder; then what each step promises: the best epoch kept, predictions with probabilities
# for labelled and unlabelled rows alike, a regression in the targets' units, the learning-curve plot.
# Usage: own_data.sh MPIEXEC BPTRAIN REPO
set -u
mpiexec=$1 bptrain=$2 repo=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
bad() { echo "FAIL $*"; fail=1; }

python3 - "$repo/README.md" "$mpiexec" "$bptrain" "$repo" > walk.sh <<'PY'
import re, shlex, sys
readme, mpiexec, bptrain, repo = sys.argv[1:]
block = re.search(r"<!-- own-data:start -->\n```sh\n(.*?)```\n<!-- own-data:end -->", open(readme).read(), re.S)
if not block:
    sys.exit("README.md: no own-data block")
text = block.group(1).replace("\\\n", " ")
print("set -e")
n = 0
for line in text.splitlines():
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    line = re.sub(r"\bbuild/bptrain\b", shlex.quote(bptrain), line)
    line = re.sub(r"^mpirun\b", shlex.quote(mpiexec), line)
    line = re.sub(r"(^|\s)scripts/", lambda m: m.group(1) + shlex.quote(repo) + "/scripts/", line)
    n += 1
    print(f"echo '+ step {n}'")
    print(line)
print(f"echo 'all {n} steps ran'")
PY
[ -s walk.sh ] || { echo "FAIL: the README's own-data block not found"; exit 1; }
out=$(bash walk.sh 2>&1); rc=$?
if [ $rc -ne 0 ] || ! grep -q "^all [0-9]* steps ran" <<<"$out"; then
  bad "the walkthrough stopped (exit $rc) after: $(grep '^+ step' <<<"$out" | tail -1)"; tail -n 15 <<<"$out"
  exit 1
fi
echo "ok   $(grep '^all' <<<"$out")"

# The best epoch kept, and the runs stopped early on the validation set.
[ -f model.best.h5 ] && [ -f price.best.h5 ] && echo "ok   best epochs kept" || bad "no model.best.h5 / price.best.h5"
[ "$(grep -c '^done: .*val_accuracy.*(stopped: patience)' <<<"$out")" -eq 1 ] && [ "$(grep -c '^done: .*val_rmse.*(stopped: patience)' <<<"$out")" -eq 1 ] \
  && echo "ok   early stops on the validation set" || { bad "early stopping: $(grep '^done:' <<<"$out")"; }
# The scores: better than chance (three classes), and an RMSE far below the prices' spread (about 60,000).
grep '^{' <<<"$out" > scores.jsonl
python3 - <<'PY' && echo "ok   scores in range" || bad "scores"
import json, sys
lines = [json.loads(l) for l in open("scores.jsonl")]
acc = [l for l in lines if "accuracy" in l][0]
reg = [l for l in lines if "rmse" in l][0]
unl = [l for l in lines if l.get("labels") is False][0]
ok = acc["accuracy"] > 0.5 and len(acc["confusion"]) == 3 and reg["rmse"] < 30000 and unl["samples"] == 500
print(acc, reg, unl) if not ok else None
sys.exit(0 if ok else 1)
PY
# Predictions: the same classes and probabilities with labels or without; prices in their own units.
if [ "$(head -1 new_pred.csv)" = "index,prediction,label,p_0,p_1,p_2" ] && [ "$(head -1 unlabelled_pred.csv)" = "index,prediction,p_0,p_1,p_2" ] \
   && [ "$(cut -d, -f1,2,4- new_pred.csv | tail -n +2)" = "$(tail -n +2 unlabelled_pred.csv)" ] && [ "$(wc -l < unlabelled_pred.csv)" -eq 501 ]; then
  echo "ok   predictions with and without labels agree"
else
  bad "predictions: $(head -2 new_pred.csv) / $(head -2 unlabelled_pred.csv)"
fi
awk -F, 'NR == 1 && $0 != "index,prediction,target" {bad = 1} NR > 1 && ($2 < 50000 || $2 > 800000) {bad = 1} END {exit bad || NR != 301}' price_pred.csv \
  && echo "ok   price predictions in the targets' units" || bad "price_pred.csv: $(head -3 price_pred.csv)"
[ -s model.png ] && echo "ok   learning curves plotted" || bad "no model.png"
exit $fail
