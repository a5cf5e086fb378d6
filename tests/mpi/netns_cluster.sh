#!/usr/bin/env bash
# scripts/netns_cluster.sh, for real: 2 namespaces at 1 Gb/s; bptrain and bench_comm's allreduce run
# across them over TCP; the shaping holds (a 2 MB allreduce takes at least its bytes at 1 Gb/s); the
# machine's own interfaces, addresses and qdiscs are the same before, during and after; nothing is left.
# It refuses what it must: a second `up`, a bad N, RATE or BURST, `run` with nothing up.
# Usage: netns_cluster.sh SOURCE_DIR BPTRAIN BENCH_COMM   (exit 77, skipped: not root, or no namespaces here)
set -uo pipefail
src=$1 bptrain=$2 bench=$3
script=$src/scripts/netns_cluster.sh
BPT_NETNS_DIR=$(mktemp -d)
export BPT_NETNS_DIR
fail() { echo "FAIL: $*"; bash "$script" down >/dev/null 2>&1; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
if ip netns list 2>/dev/null | grep -qE '^bptnet'; then echo "SKIP: a cluster of scripts/netns_cluster.sh is up here (another run?)"; exit 77; fi
if ! ip netns add bptnet-probe 2>/dev/null; then echo "SKIP: network namespaces cannot be made here"; exit 77; fi
ip netns del bptnet-probe
trap 'bash "$script" down >/dev/null 2>&1; rm -rf "$BPT_NETNS_DIR"' EXIT
machine() { ip -o link show | sed 's/ link-netns.*//; s/state [A-Z]*//'; ip -o addr show; tc qdisc show; }
before=$(machine)

out=$(bash "$script" up 5 1gbit 2>&1) && fail "up 5 accepted: $out"
out=$(bash "$script" up 2 fast 2>&1) && fail "RATE 'fast' accepted: $out"
out=$(BURST=1m bash "$script" up 2 1gbit 2>&1) && fail "BURST '1m' accepted: $out"
grep -q "BURST is a number of bytes" <<<"$out" || fail "BURST '1m': $out"
! ip netns list | grep -qE '^bptnet' || fail "a refused up left namespaces: $(ip netns list | xargs)"
out=$(bash "$script" run true 2>&1) && fail "run with nothing up accepted: $out"
grep -q "no cluster is up" <<<"$out" || fail "run with nothing up: $out"
bash "$script" up 2 1gbit || fail "up 2 1gbit"
out=$(bash "$script" up 2 1gbit 2>&1) && fail "a second up accepted: $out"
grep -q "down first" <<<"$out" || fail "a second up: $out"
[ "$(machine)" = "$before" ] || { diff <(echo "$before") <(machine); fail "the machine's own interfaces changed"; }
tc -n bptnet0 qdisc show dev eth0 | grep -Eq "tbf.*rate 1Gbit burst 13[01][0-9]{3}b" || fail "no 1 Gb/s tbf with a 128-KiB bucket on bptnet0's link: $(tc -n bptnet0 qdisc show dev eth0)"

# Each rank reports the namespace it runs in: one rank a namespace.
where=$(bash "$script" run sh -c 'ip netns identify $$' 2>/dev/null | sort | xargs)
[ "$where" = "bptnet0 bptnet1" ] || fail "ranks ran in '$where', not bptnet0 and bptnet1"
line=$(timeout 120 bash "$script" run "$bench" 2 2 5 2>/dev/null | grep '^comm ') || fail "bench_comm across the namespaces"
echo "$line"
ms=$(sed 's/.*allreduce_ms=\([0-9.]*\).*/\1/' <<<"$line")
# 2 MB summed by 2 ranks: each sends at least 1 MB (8.4 ms at 1 Gb/s); unshaped veth takes about 1 ms.
python3 -c "import sys; sys.exit(0 if $ms >= 8.0 else 1)" || fail "a 2 MB allreduce took $ms ms: faster than 1 Gb/s allows"
bash "$script" run "$bptrain" --train synthetic:2048,16,3 --test synthetic:64,16,3 --hidden 16 --epochs 1 --quiet \
  > "$BPT_NETNS_DIR/train.txt" 2>&1 || { cat "$BPT_NETNS_DIR/train.txt"; fail "bptrain across the namespaces"; }
grep -q "^done: 1 epochs" "$BPT_NETNS_DIR/train.txt" || { cat "$BPT_NETNS_DIR/train.txt"; fail "bptrain did not finish"; }

bash "$script" down || fail "down"
! ip netns list | grep -qE '^bptnet' || fail "namespaces left: $(ip netns list | xargs)"
[ "$(machine)" = "$before" ] || { diff <(echo "$before") <(machine); fail "the machine's own interfaces differ after down"; }
echo "PASS: 2 namespaces at 1 Gb/s: bench_comm and bptrain ran across them; the machine's own interfaces untouched; nothing left"
