#pragma once
// The deterministic gradient sum (--deterministic): the global batch is cut into a fixed number of
// micro-shards, and their gradients are added in one fixed binary tree, first the micro-shards of this
// rank (a binary counter over the levels), then across ranks by pairwise exchange along the same tree.
// The tree does not depend on the rank count, so any power-of-two number of ranks that divides the
// micro-shards gets the same bits.
#include <cstddef>
#include <span>
#include <vector>

#include "bpt/comm/comm.hpp"
#include "bpt/core/buffer.hpp"

namespace bpt {

class TreeSum {
 public:
  // n: elements per gradient; leaves: micro-shards this rank adds per step (a power of two).
  TreeSum(const Comm& comm, std::size_t n, std::size_t leaves);

  // Call at the start of each step.
  void begin();
  // The next micro-shard's gradient (n elements), in micro-shard order; read only.
  void add(std::span<const float> leaf);
  // Requires every leaf added. Sums across ranks (collective) and writes the total into out. Returns
  // the seconds spent in the exchange.
  double finish(std::span<float> out);

 private:
  const Comm& comm_;
  std::size_t n_;
  std::vector<Buffer<float>> level_;  // level_[l]: the pending left subtree of height l
  std::vector<std::size_t> pending_;  // the heights held in level_, a stack
  Buffer<float> peer_;
};

}  // namespace bpt
