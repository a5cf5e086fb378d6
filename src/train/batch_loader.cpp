#include "bpt/train/batch_loader.hpp"

#include <algorithm>

#include "bpt/comm/comm.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {

BatchLoader::BatchLoader(const Dataset& train, const std::vector<std::uint32_t>& rows, int rank, int world,
                         bool deterministic, std::size_t micro_shards, std::size_t max_batch)
    : ds_(train), rows_(rows), rank_(rank), world_(world), deterministic_(deterministic), micro_shards_(micro_shards) {
  const auto w = static_cast<std::size_t>(world);
  std::size_t local_max = (max_batch + w - 1) / w;
  if (deterministic_) {
    per_rank_ = micro_shards_ / w;
    first_micro_ = static_cast<std::size_t>(rank) * per_rank_;
    local_max = (max_batch + micro_shards_ - 1) / micro_shards_ * per_rank_;
  }
  x_.resize(local_max * ds_.d);
  targets_.resize(local_max * std::max<std::size_t>(1, ds_.target_dim));
  labels_.resize(local_max);
  ids_.resize(local_max);
  if (reads_ahead()) next_x_.resize(x_.size());  // the two swap roles every step
}

BatchLoader::~BatchLoader() { wait(); }

void BatchLoader::wait() {
  if (pending_.valid()) pending_.wait();
}

Range BatchLoader::local(std::size_t g) const {
  if (!deterministic_) return shard(g, static_cast<std::size_t>(rank_), static_cast<std::size_t>(world_));
  return {micro_shard(g, first_micro_).begin, micro_shard(g, first_micro_ + per_rank_ - 1).end};
}

void BatchLoader::rows_of(const EpochOrder& perm, std::size_t at, std::size_t g,
                          std::vector<std::uint32_t>& out) const {
  const Range r = local(g);
  out.resize(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) out[i] = rows_.empty() ? perm[at + r.begin + i] : rows_[perm[at + r.begin + i]];
}

double BatchLoader::load(const EpochOrder& perm, std::size_t at, std::size_t g, const std::function<void()>& poll) {
  const double t0 = wall_time();
  rows_of(perm, at, g, cur_);
  if (pending_.valid() && pending_at_ == at) {
    sim::Kernel kernel("data", cur_.size(), ds_.d);
    pending_.get();  // rethrows a read error from the reader thread
    std::swap(x_, next_x_);
  } else {  // with poll, in pieces polled between (each piece its own kernel: the model bills it by its rows)
    const std::size_t n = cur_.size(), pieces = poll ? std::min(n, kLoadChunks) : 1;
    for (std::size_t p = 0; p < pieces; ++p) {
      const std::size_t lo = n * p / pieces, hi = n * (p + 1) / pieces;
      {
        sim::Kernel kernel("data", hi - lo, ds_.d);  // (model mode: the values do not matter)
        if (!kernel.skip()) ds_.gather(cur_.data() + lo, hi - lo, x_.data() + lo * ds_.d);
      }
      if (poll) poll();
    }
  }
  for (std::size_t i = 0; i < cur_.size(); ++i) {
    const std::uint32_t row = cur_[i];
    ids_[i] = row;
    if (ds_.regression())
      ds_.target_row(row, targets_.data() + i * ds_.target_dim);
    else
      labels_[i] = ds_.label(row);
  }
  return wall_time() - t0;
}

void BatchLoader::prefetch(const EpochOrder& perm, std::size_t at, std::size_t g) {
  rows_of(perm, at, g, next_);
  pending_at_ = at;
  pending_ = std::async(std::launch::async, [this] { ds_.gather(next_.data(), next_.size(), next_x_.data()); });
}

}  // namespace bpt
