#include "bpt/comm/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "bpt/core/error.hpp"
#include "bpt/core/names.hpp"

namespace bpt {
namespace {

std::size_t mod(long a, long p) { return static_cast<std::size_t>(((a % p) + p) % p); }

// The ranks taking part in one sum (world ranks, in the group's order) and this rank's index in them.
struct Group {
  const std::vector<int>& ranks;
  int me;
  int size() const { return static_cast<int>(ranks.size()); }
  int world(int i) const { return ranks[static_cast<std::size_t>(i)]; }
};

// Chunk i of k over r, and the span of chunks [a, b).
Range chunk(Range r, std::size_t i, std::size_t k) {
  const Range c = shard(r.size(), i, k);
  return {r.begin + c.begin, r.begin + c.end};
}
Range chunks(Range r, std::size_t a, std::size_t b, std::size_t k) { return {chunk(r, a, k).begin, chunk(r, b - 1, k).end}; }

// Ring over the group on r: p - 1 reduce-scatter steps to the right neighbour; this rank then owns chunk
// me + 1. ag_ring passes the complete chunks on around the ring (p - 1 steps).
Range rs_ring(Group g, Range r, std::vector<Exchange>& out) {
  const int p = g.size(), me = g.me;
  if (p == 1 || r.empty()) return r;
  const int right = g.world((me + 1) % p), left = g.world((me + p - 1) % p);
  const auto up = static_cast<std::size_t>(p);
  for (int k = 0; k < p - 1; ++k)
    out.push_back({right, left, chunk(r, mod(me - k, p), up), chunk(r, mod(me - k - 1, p), up), true});
  return chunk(r, mod(me + 1, p), up);
}
void ag_ring(Group g, Range r, std::vector<Exchange>& out) {
  const int p = g.size(), me = g.me;
  if (p == 1 || r.empty()) return;
  const int right = g.world((me + 1) % p), left = g.world((me + p - 1) % p);
  const auto up = static_cast<std::size_t>(p);
  for (int k = 0; k < p - 1; ++k)
    out.push_back({right, left, chunk(r, mod(me + 1 - k, p), up), chunk(r, mod(me - k, p), up), false});
}

// Rabenseifner on the group: q = p' + rem members, p' the largest power of two <= q. The first 2 rem
// fold in pairs (the even one hands its whole range to the odd one and sits out), then the p' left
// reduce-scatter by recursive halving (log2 p' steps, each halving the range a rank keeps) and gather
// by recursive doubling; the odd ones finally hand the result back to their even partners.
struct Fold {
  int pow2 = 1, rem = 0, newme = -1;  // newme: this rank's index among the p' (-1: folded out)
};
Fold fold_of(Group g) {
  Fold f;
  while (f.pow2 * 2 <= g.size()) f.pow2 *= 2;
  f.rem = g.size() - f.pow2;
  f.newme = g.me < 2 * f.rem ? (g.me % 2 ? g.me / 2 : -1) : g.me - f.rem;
  return f;
}
int world_of_new(Group g, const Fold& f, int k) { return g.world(k < f.rem ? 2 * k + 1 : k + f.rem); }

// The halving levels of the p' ranks left after the fold, in reduce-scatter order: at each, this rank
// and its partner split the range they share, this rank keeping one half (keep) and summing the other
// (give) into the partner's. Nearest partner first (masks 1, 2, 4, ...): the largest exchange, half the
// range, is with the neighbouring rank (the same node, or the same leaf switch of a fat-tree, where ranks
// are placed in order), and each level further out moves half as much as the one before, so the
// oversubscribed upper links of a tree carry 1/p' of the bucket per rank rather than half of it.
// (The classic order, masks p'/2 down to 1, sends the largest half the farthest.) The allgather replays
// the levels in reverse. Each rank ends owning one chunk of p' (its index: newme's bits reversed).
struct Level {
  int partner;
  Range keep, give;
};
std::vector<Level> halving(Group g, const Fold& f, Range r) {
  std::vector<Level> levels;
  const auto k = static_cast<std::size_t>(f.pow2);
  std::size_t a = 0, cnt = k;
  for (int mask = 1; mask < f.pow2; mask *= 2) {
    const int partner = world_of_new(g, f, f.newme ^ mask);
    const std::size_t half = cnt / 2;
    const Range lower = chunks(r, a, a + half, k), upper = chunks(r, a + half, a + cnt, k);
    if ((f.newme & mask) == 0) {
      levels.push_back({partner, lower, upper});
    } else {
      levels.push_back({partner, upper, lower});
      a += half;
    }
    cnt = half;
  }
  return levels;
}

Range rs_rhd(Group g, Range r, std::vector<Exchange>& out) {
  if (g.size() == 1 || r.empty()) return r;
  const Fold f = fold_of(g);
  if (g.me < 2 * f.rem) {
    if (f.newme < 0) {  // hand everything to the odd partner; own nothing
      out.push_back({g.world(g.me + 1), -1, r, {}, false});
      return {r.begin, r.begin};
    }
    out.push_back({-1, g.world(g.me - 1), {}, r, true});
  }
  Range owned = r;
  for (const Level& l : halving(g, f, r)) {
    out.push_back({l.partner, l.partner, l.give, l.keep, true});
    owned = l.keep;
  }
  return owned;
}
void ag_rhd(Group g, Range r, std::vector<Exchange>& out) {
  if (g.size() == 1 || r.empty()) return;
  const Fold f = fold_of(g);
  if (f.newme < 0) {  // folded out: the result comes back whole
    out.push_back({-1, g.world(g.me + 1), {}, r, false});
    return;
  }
  const std::vector<Level> levels = halving(g, f, r);
  for (auto l = levels.rbegin(); l != levels.rend(); ++l) out.push_back({l->partner, l->partner, l->keep, l->give, false});
  if (g.me < 2 * f.rem) out.push_back({g.world(g.me - 1), -1, r, {}, false});
}

void finish(Schedule& s) {
  for (const Exchange& e : s.steps)
    if (e.add && e.recv_from >= 0) s.scratch = std::max(s.scratch, e.recv.size());
}

std::vector<int> iota(int p) {
  std::vector<int> v(static_cast<std::size_t>(p));
  for (int i = 0; i < p; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// One algorithm over all p ranks: its reduce-scatter, then its allgather, on the whole bucket.
Schedule flat(Range (*rs)(Group, Range, std::vector<Exchange>&), void (*ag)(Group, Range, std::vector<Exchange>&),
              std::size_t n, int rank, int p) {
  Schedule s;
  const std::vector<int> all = iota(p);
  const Group g{all, rank};
  s.owned = rs(g, {0, n}, s.steps);
  s.reduce_steps = s.steps.size();
  ag(g, {0, n}, s.steps);
  finish(s);
  return s;
}

}  // namespace

Schedule ring_schedule(std::size_t n, int rank, int p) { return flat(rs_ring, ag_ring, n, rank, p); }

Schedule rhd_schedule(std::size_t n, int rank, int p) { return flat(rs_rhd, ag_rhd, n, rank, p); }

Schedule hier_schedule(std::size_t n, const std::vector<int>& node_group, int local, const std::vector<int>& cross_group,
                       int node) {
  Schedule s;
  const Group in{node_group, local}, across{cross_group, node};
  // Inside a node latency is small and the group small: the ring, or halving/doubling for a power of two.
  const bool pow2 = (node_group.size() & (node_group.size() - 1)) == 0;
  const Range all{0, n};
  const Range slice = pow2 ? rs_rhd(in, all, s.steps) : rs_ring(in, all, s.steps);
  s.owned = rs_rhd(across, slice, s.steps);
  s.reduce_steps = s.steps.size();
  ag_rhd(across, slice, s.steps);
  if (pow2)
    ag_rhd(in, all, s.steps);
  else
    ag_ring(in, all, s.steps);
  finish(s);
  return s;
}

namespace {
constexpr NameOf<Algorithm> kAlgorithms[] = {
    {Algorithm::Auto, "auto"}, {Algorithm::Ring, "ring"}, {Algorithm::Rhd, "rhd"}, {Algorithm::Hier, "hier"}};
}  // namespace

const char* to_string(Algorithm a) { return name_of(kAlgorithms, a); }
Algorithm parse_algorithm(const std::string& s) { return parse_name(kAlgorithms, s, "reducer"); }

double model_seconds(Algorithm a, std::size_t bytes, int p, int per_node, const CostModel& m) {
  if (p <= 1) return 0;
  const double b = static_cast<double>(bytes);
  auto flat = [&](Algorithm x, int q, double alpha, double beta) {
    if (q <= 1) return 0.0;
    if (x == Algorithm::Ring) return 2.0 * (q - 1) * alpha + 2.0 * (q - 1) / q * b * beta;
    int pow2 = 1, steps = 0;
    while (pow2 * 2 <= q) {
      pow2 *= 2;
      ++steps;
    }
    const double folds = q > pow2 ? 2.0 * (alpha + b * beta) : 0.0;  // hand over and back, whole
    return folds + 2.0 * steps * alpha + 2.0 * (pow2 - 1) / pow2 * b * beta;
  };
  // Flat, the ranks of a node share its link: each rank's traffic gets 1/per_node of the bandwidth.
  if (a != Algorithm::Hier) return flat(a, p, m.alpha, m.beta * std::max(1, per_node));
  const int nodes = p / per_node;
  const bool pow2 = (per_node & (per_node - 1)) == 0;
  // Inside: the whole bucket over shared memory; across: 1/per_node of it over the network.
  return flat(pow2 ? Algorithm::Rhd : Algorithm::Ring, per_node, m.alpha_node, m.beta_node) +
         flat(Algorithm::Rhd, nodes, m.alpha, m.beta / per_node);
}

Algorithm choose_algorithm(std::size_t bytes, int p, int per_node, const CostModel& m) {
  if (per_node > 1 && p > per_node && p % per_node == 0) return Algorithm::Hier;
  return model_seconds(Algorithm::Rhd, bytes, p, 1, m) < model_seconds(Algorithm::Ring, bytes, p, 1, m)
             ? Algorithm::Rhd
             : Algorithm::Ring;
}

}  // namespace bpt
