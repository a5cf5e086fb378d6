#include "bpt/comm/tree_sum.hpp"

#include <algorithm>

#include "bpt/core/error.hpp"

namespace bpt {

TreeSum::TreeSum(const Comm& comm, std::size_t n, std::size_t leaves) : comm_(comm), n_(n) {
  require(leaves >= 1 && (leaves & (leaves - 1)) == 0, "tree sum: the leaves per rank must be a power of two");
  std::size_t levels = 1;
  for (std::size_t m = leaves; m > 1; m /= 2) ++levels;
  level_.resize(levels);
  for (auto& l : level_) l.resize(n);
  if (comm_.size() > 1) peer_.resize(n);
}

void TreeSum::begin() { pending_.clear(); }

void TreeSum::add(std::span<const float> leaf) {
  require(leaf.size() == n_, "tree sum: a leaf of the wrong size");
  // Binary-counter merge: level_[h] holds the pending left subtree of height h; the new leaf is the
  // right one, and equal heights combine as left + right, as a perfect binary tree would.
  std::size_t h = 0;
  const float* right = leaf.data();
  while (!pending_.empty() && pending_.back() == h) {
    pending_.pop_back();
    float* left = level_[h].data();
    for (std::size_t i = 0; i < n_; ++i) left[i] = left[i] + right[i];
    right = left;
    ++h;
  }
  require(h < level_.size(), "tree sum: more leaves than the tree holds");
  if (right != level_[h].data()) std::copy_n(right, n_, level_[h].data());
  pending_.push_back(h);
}

double TreeSum::finish(std::span<float> out) {
  require(pending_.size() == 1 && pending_.back() + 1 == level_.size(), "tree sum: finish() before every leaf was added");
  require(out.size() == n_, "tree sum: an output of the wrong size");
  const double t0 = wall_time();
  float* sum = level_.back().data();
  const int rank = comm_.rank();
  for (int k = 1; k < comm_.size(); k <<= 1) {
    const int partner = rank ^ k;
    comm_.sendrecv(std::span<const float>(sum, n_), peer_.span(), partner);
    const float* o = peer_.data();
    // Left + right in tree order on both sides, so both get the same bits.
    for (std::size_t i = 0; i < n_; ++i) sum[i] = rank < partner ? sum[i] + o[i] : o[i] + sum[i];
  }
  std::copy_n(sum, n_, out.data());
  return wall_time() - t0;
}

}  // namespace bpt
