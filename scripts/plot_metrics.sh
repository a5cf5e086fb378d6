#!/usr/bin/env bash
# Learning curves of a run from its --metrics file: train/validation/test loss and accuracy (or
# RMSE) per epoch, as a PNG; epochs cut short by a signal ("partial": true, resumed after) left out.
# Prints OUT: N epochs. Usage: scripts/plot_metrics.sh METRICS.jsonl [OUT.png]
set -euo pipefail
in=$1 out=${2:-${1%.jsonl}.png}
command -v gnuplot >/dev/null || apt-get install -y -qq gnuplot-nox >/dev/null
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT
python3 - "$in" > "$dat" <<'PY'
import json, sys
nan = float("nan")
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("partial"):  # an epoch cut short by a signal: its figures are not the epoch's (resumed after)
        continue
    metric = "accuracy" if "test_accuracy" in m or "val_accuracy" in m else "rmse"
    g = lambda k: m.get(k) if m.get(k) is not None else nan
    print(m["epoch"], g("train_loss"), g("val_loss"), g("test_loss"), g("val_" + metric), g("test_" + metric), metric)
PY
metric=$(awk 'NR==1{print $7}' "$dat")
val_loss=""; val_metric=""  # validation curves only when the run had --val-fraction
if awk '$3 != "nan" {found=1} END {exit !found}' "$dat"; then
  val_loss=', "" using 1:3 w lp lw 2 lc rgb "#d95f02" t "validation"'; val_metric='"'$dat'" using 1:5 w lp lw 2 lc rgb "#d95f02" t "validation"'
fi
test_loss=""; test_metric=""  # test curves only when the run had a test set
if awk '$4 != "nan" {found=1} END {exit !found}' "$dat"; then
  test_loss=', "" using 1:4 w lp lw 2 lc rgb "#7570b3" t "test"'; test_metric='"'$dat'" using 1:6 w lp lw 2 lc rgb "#7570b3" t "test"'
fi
[ -n "$val_metric" ] && [ -n "$test_metric" ] && val_metric+=,
gnuplot <<GP
set terminal pngcairo size 1000,400 font ",10"
set output "$out"
set multiplot layout 1,2 title "$(basename "$in")"
set xlabel "epoch"; set grid; set datafile missing "nan"  # one colour per set in both panels
set ylabel "loss"
plot "$dat" using 1:2 w lp lw 2 lc rgb "#1b9e77" t "train"$val_loss$test_loss
set ylabel "$metric"
plot $val_metric $test_metric
unset multiplot
GP
echo "$out: $(wc -l < "$dat") epochs"
