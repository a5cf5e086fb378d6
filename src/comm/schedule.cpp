#include "bpt/comm/schedule.hpp"

#include <algorithm>

namespace bpt {
namespace {

std::size_t mod(long a, long p) { return static_cast<std::size_t>(((a % p) + p) % p); }

void finish(Schedule& s) {
  for (const Exchange& e : s.steps)
    if (e.add && e.recv_from >= 0) s.scratch = std::max(s.scratch, e.recv.size());
}

}  // namespace

Schedule ring_schedule(std::size_t n, int rank, int p) {
  Schedule s;
  const auto up = static_cast<std::size_t>(p);
  const int right = (rank + 1) % p, left = (rank + p - 1) % p;
  auto chunk = [&](long i) { return shard(n, mod(i, p), up); };
  for (int k = 0; k < p - 1; ++k)  // after step k, the chunk received holds k + 2 ranks' values
    s.steps.push_back({right, left, chunk(rank - k), chunk(rank - k - 1), true});
  s.reduce_steps = s.steps.size();
  s.owned = p > 1 ? chunk(rank + 1) : Range{0, n};
  for (int k = 0; k < p - 1; ++k)  // pass the complete chunks on around the ring
    s.steps.push_back({right, left, chunk(rank + 1 - k), chunk(rank - k), false});
  finish(s);
  return s;
}

}  // namespace bpt
