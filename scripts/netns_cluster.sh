#!/usr/bin/env bash
# A real, shaped network on this one machine (issue 26, item 6): N Linux network namespaces as hosts
# (bptnet0 .. bptnetN-1, 10.77.0.1 .. 10.77.0.N), each joined by its own veth pair to a bridge in one
# more namespace (bptnetsw, the switch): every host on its own link to a non-blocking switch, as in
# scripts/smpi/cluster-*.xml. Each link is shaped with tc's token bucket (tbf) at RATE in both
# directions (the kernel here has tbf and htb, not netem: no added delay, the latency is the veth's
# own). Open MPI runs over TCP between the namespaces, reaching the others through an rsh agent that
# is `ip netns exec`. Everything it makes is inside its own namespaces: no other interface, route or
# qdisc of the machine is touched, and nothing is sent outside 10.77.0.0/24 between them.
# Usage (as root):
#   scripts/netns_cluster.sh up N RATE     N 2..4 hosts, RATE as tc takes it (1gbit, 10gbit)
#   scripts/netns_cluster.sh run CMD...    mpirun -np N over the namespaces (one rank a host), from host 0
#   scripts/netns_cluster.sh down          deletes the namespaces (and with them every veth and qdisc)
#   scripts/netns_cluster.sh status        what is up
# The state (hostfile, agent, N, RATE) is in BPT_NETNS_DIR (default /tmp/bpt-netns). Environment: for up,
# BURST (tbf's bucket in bytes; default below); for run, MPIRUN_ARGS (more mpirun options); PATH,
# OPENBLAS_NUM_THREADS, LD_LIBRARY_PATH and BPT_* reach the ranks.
# Open MPI is given 4 TCP connections a pair of ranks (btl_tcp_links 4): with one, both directions of an
# exchange share one socket, and a 2 MB allreduce of 2 ranks at 1 Gb/s took 25.3 ms (0.66 of the rate);
# with 4 it takes 17.5 ms, the link's TCP payload rate (1,448 bytes of every 1,514-byte frame: 0.956).
# Ranks are not bound to cores (--bind-to none): each namespace's daemon would bind its rank to core 0.
set -euo pipefail
dir=${BPT_NETNS_DIR:-/tmp/bpt-netns}
sw=bptnetsw
die() { echo "netns_cluster.sh: $*" >&2; exit 2; }
need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces and tc need CAP_SYS_ADMIN and CAP_NET_ADMIN): run it as root or with sudo"
  command -v ip >/dev/null && command -v tc >/dev/null || die "needs ip and tc (apt-get install iproute2)"
}
ours() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^bptnet(sw|[0-9]+)$" || true; }
case "${1:-}" in
up)
  need_root
  n=${2:?usage: netns_cluster.sh up N RATE} rate=${3:?usage: netns_cluster.sh up N RATE}
  [[ $n =~ ^[2-4]$ ]] || die "N must be 2, 3 or 4 (hosts), not '$n'"
  [[ $rate =~ ^[0-9.]+[kmg]?bit$ ]] || die "RATE as tc takes it (e.g. 1gbit, 10gbit), not '$rate'"
  # Each host's link is shaped in each direction (host -> switch on eth0, switch -> host on p$i). The
  # bucket (BURST bytes) holds 0.1 ms of traffic at RATE, at least 128 KiB (two 64-KiB GSO segments):
  # what a message may send above the rate after an idle spell, so it must be small against the
  # messages. At 10 Gb/s on the Xeon VM (2026-12-06) a 24-MB allreduce of 2 ranks took 47 ms with a
  # 64-KiB bucket (half the rate), 23.1 ms with 128 KiB, 21.9 with 1.25 MB (1 ms); but 1 ms let a
  # bptrain step's 1-MB half-gradient through at the veth's own speed after backward's idle link
  # (measured wait 0.41 ms, simulated 1.69).
  burst=${BURST:-$(python3 -c "
import re; m = re.match(r'([0-9.]+)([kmg]?)bit', '$rate'); b = float(m[1]) * {'': 1, 'k': 1e3, 'm': 1e6, 'g': 1e9}[m[2]]
print(max(131072, int(b / 8 * 1e-4)))")}
  [[ $burst =~ ^[0-9]+$ ]] || die "BURST is a number of bytes, not '$burst'"
  [ -z "$(ours)" ] || die "namespaces of an earlier cluster exist ($(ours | xargs)): scripts/netns_cluster.sh down first"
  ip netns add $sw 2>/dev/null || die "cannot make a network namespace here (ip netns add refused: a container without CAP_SYS_ADMIN?)"
  trap 'echo "netns_cluster.sh: setting up failed; removing what was made" >&2; bash "$0" down >/dev/null 2>&1 || true' ERR
  ip -n $sw link add br0 type bridge
  ip -n $sw link set br0 up
  ip -n $sw link set lo up
  for ((i = 0; i < n; i++)); do
    ip netns add bptnet$i
    # Both ends are made inside the namespaces: nothing appears in the machine's own namespace.
    ip -n bptnet$i link add eth0 type veth peer name p$i netns $sw
    ip -n bptnet$i addr add 10.77.0.$((i + 1))/24 dev eth0
    ip -n bptnet$i link set lo up
    ip -n bptnet$i link set eth0 up
    ip -n $sw link set p$i master br0
    ip -n $sw link set p$i up
    # The host's link, shaped in each direction.
    tc -n bptnet$i qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
    tc -n $sw qdisc add dev p$i root tbf rate "$rate" burst "$burst" latency 50ms
  done
  trap - ERR
  mkdir -p "$dir"
  : > "$dir/hosts"
  for ((i = 0; i < n; i++)); do echo "10.77.0.$((i + 1)) slots=1" >> "$dir/hosts"; done
  # Open MPI's rsh agent: called as AGENT [ssh options] HOST CMD...; runs CMD in HOST's namespace.
  cat > "$dir/agent" <<'AGENT'
#!/usr/bin/env bash
while [[ ${1:-} == -* ]]; do shift; done
host=$1; shift
exec ip netns exec "bptnet$(( ${host##*.} - 1 ))" sh -c "$*"
AGENT
  chmod +x "$dir/agent"
  echo "$n $rate" > "$dir/cluster"
  echo "netns_cluster.sh: $n hosts (bptnet0..bptnet$((n - 1)): 10.77.0.1..10.77.0.$n) on a bridge in $sw, each link shaped to $rate both ways (tbf, a $burst-byte bucket)"
  ;;
run)
  need_root
  shift
  [ -f "$dir/cluster" ] && [ -n "$(ours)" ] || die "no cluster is up (scripts/netns_cluster.sh up N RATE)"
  read -r n _ < "$dir/cluster"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
  pass=(-x PATH -x OPENBLAS_NUM_THREADS)
  for v in $(compgen -e | grep -E '^(BPT_|LD_LIBRARY_PATH$)' || true); do pass+=(-x "$v"); done
  # shellcheck disable=SC2086
  exec ip netns exec bptnet0 mpirun -np "$n" --hostfile "$dir/hosts" --mca plm_rsh_agent "$dir/agent" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    --mca btl_tcp_links 4 --bind-to none "${pass[@]}" ${MPIRUN_ARGS:-} "$@"
  ;;
down)
  need_root
  for ns in $(ours); do ip netns del "$ns"; done
  rm -rf "$dir"
  echo "netns_cluster.sh: down"
  ;;
status)
  if [ -n "$(ours)" ]; then echo "up: $(ours | xargs) ($(cat "$dir/cluster" 2>/dev/null || echo "no state in $dir"))"; else echo "down"; fi
  ;;
*)
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
  ;;
esac
