#pragma once
// Element ranges [begin, end) of a flat buffer, and the one rule for cutting n items into p parts.
// Used for a rank's slice of a batch, a rank's chunk of a gradient bucket, and the ranges a sharded
// optimizer owns.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace bpt {

struct Range {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  friend bool operator==(const Range&, const Range&) = default;
};

// Several ranges, in a meaningful order (e.g. a packed layout lays them out one after another).
using Ranges = std::vector<Range>;

// Part i of n items cut into p contiguous parts whose sizes differ by at most one (the first n % p
// parts are the larger ones). Requires i < p.
inline Range shard(std::size_t n, std::size_t i, std::size_t p) {
  const std::size_t base = n / p, rem = n % p, begin = i * base + std::min(i, rem);
  return {begin, begin + base + (i < rem ? 1 : 0)};
}

inline std::size_t total_size(const Ranges& rs) {
  std::size_t n = 0;
  for (const Range& r : rs) n += r.size();
  return n;
}

// The non-empty parts of rs that lie inside `within`, in rs's order.
inline Ranges clip(const Ranges& rs, Range within) {
  Ranges out;
  for (const Range& r : rs) {
    const Range c{std::max(r.begin, within.begin), std::min(r.end, within.end)};
    if (!c.empty()) out.push_back(c);
  }
  return out;
}

}  // namespace bpt
