#!/usr/bin/env bash
# A bptrain --timeline trace drawn as a PNG: one row per rank, time across; on each row the compute
# track (data, forward, backward, optimizer) above, and below it the waits for collectives and every
# bucket's sum in flight. Usage:
#   scripts/timeline_png.sh TRACE.json OUT.png [FIRST_STEP] [STEPS] [TITLE]
# (default: the three steps from step 10, or the last three of a shorter run). gnuplot is installed if missing.
set -euo pipefail
in=$1 out=$2 first=${3:-default} steps=${4:-3} title=${5:-$(basename "$in")}
command -v gnuplot >/dev/null || apt-get install -y -qq gnuplot-nox >/dev/null
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT
read -r ranks first < <(python3 - "$in" "$first" "$steps" "$dat" <<'PY'
import json, sys
trace, first, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = open(sys.argv[4], "w")
kinds = ["data", "forward", "backward", "optimizer", "bucket sum", "finish sums", "vote", "weight gather",
         "evaluate", "checkpoint", "other"]
def kind(name, tid):
    if tid >= 2: return "bucket sum"
    for k in kinds:
        if name.startswith(k): return k
    return "other"
ev = [e for e in json.load(open(trace))["traceEvents"] if e.get("ph") == "X"
      and not e["name"].startswith(("evaluate", "checkpoint"))]
if first == "default":  # step 10 on, past the warm-up; a shorter run: its last steps
    last = max((e["args"]["step"] for e in ev), default=0)
    first = max(min((e["args"]["step"] for e in ev), default=0), min(10, last - steps + 1))
first = int(first)
ev = [e for e in ev if first <= e["args"]["step"] < first + steps]
if not ev: sys.exit(f"{trace}: no events in steps {first}..{first + steps - 1}")
t0 = min(e["ts"] for e in ev)
ranks = max(e["pid"] for e in ev) + 1
buckets = max([e["tid"] - 2 for e in ev if e["tid"] >= 2] + [0]) + 1
for e in ev:
    r, tid = e["pid"], e["tid"]
    x0, w = (e["ts"] - t0) / 1000, e["dur"] / 1000
    if tid == 0:   y, h = ranks - 1 - r + 0.15, 0.5       # compute: the upper part of the row
    elif tid == 1: y, h = ranks - 1 - r - 0.18, 0.14      # waits
    else:                                                  # each bucket a thin lane
        lane = 0.16 / buckets
        y, h = ranks - 1 - r - 0.30 - (tid - 2) * lane, lane * 0.9
    print(f"{x0 + w / 2:.6f} {y:.4f} {w / 2:.6f} {h / 2:.4f} {kinds.index(kind(e['name'], tid))}", file=out)
print(ranks, first)
PY
)
[ -n "${ranks:-}" ] || exit 1  # the reason is on stderr
# Only the kinds present get a key entry.
gnuplot <<GP
set terminal pngcairo size 1400,$(( ranks > 16 ? 1100 : 260 + 60 * ranks )) font ",10"
set output "$out"
set title "$title: steps $first to $((first + steps - 1))"
set xlabel "ms since the first event shown"
set ylabel "rank"
set yrange [-0.6:$ranks - 0.2]
set ytics ($(for ((r = 0; r < ranks; r += (ranks > 16 ? ranks / 16 : 1))); do printf '"%d" %d,' $r $((ranks - 1 - r)); done) "" -10)
set key outside right top
set style fill solid 1.0 noborder
set termoption noenhanced
names = "data forward backward optimizer bucket_sum finish_sums vote weight_gather evaluate checkpoint other"
colors = "#8c8c8c #1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #e377c2 #17becf #bcbd22 #7f7f7f #000000"
plot for [i=0:10] "$dat" using 1:(\$5 == i ? \$2 : 1/0):3:4 with boxxyerror lc rgb word(colors, i + 1) title word(names, i + 1)
GP
echo "wrote $out"
