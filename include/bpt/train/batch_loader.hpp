#pragma once
// This rank's rows of each global batch, assembled as model inputs (with their labels or targets and
// global sample ids, for dropout). With --stream, the next step's rows are read on a reader thread
// while this step computes; the thread writes only next_x_ and is joined before next_x_ is read
// (load() of that step, wait(), or the destructor).
#include <cstdint>
#include <functional>
#include <future>
#include <vector>

#include "bpt/core/buffer.hpp"
#include "bpt/core/range.hpp"
#include "bpt/data/dataset.hpp"

namespace bpt {

class BatchLoader {
 public:
  // rows: the training rows (the epoch permutation indexes into them; empty: every row). deterministic: this rank's
  // part is its micro-shards' (micro_shards / world of them) rather than its shard of the batch.
  BatchLoader(const Dataset& train, const std::vector<std::uint32_t>& rows, int rank, int world, bool deterministic,
              std::size_t micro_shards, std::size_t max_batch);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The positions [begin, end) of a global batch of g samples that this rank computes.
  Range local(std::size_t g) const;
  // Micro-shard m's positions in a batch of g (--deterministic).
  Range micro_shard(std::size_t g, std::size_t m) const { return shard(g, m, micro_shards_); }
  // The first of this rank's micro-shards.
  std::size_t first_micro_shard() const { return first_micro_; }
  std::size_t micro_shards_per_rank() const { return per_rank_; }

  // Assembles this rank's rows of the batch at position `at` of perm (g samples). Returns the seconds.
  // poll (if given): called between kLoadChunks pieces of the rows, so that messages in flight (the
  // weight gather) move on meanwhile.
  double load(const EpochOrder& perm, std::size_t at, std::size_t g, const std::function<void()>& poll = {});
  static constexpr std::size_t kLoadChunks = 16;
  // The rows come from a file (--stream): worth reading a batch ahead.
  bool reads_ahead() const { return ds_.stream && ds_.stream->from_file(); }
  // --stream: starts reading the batch at `at` on the reader thread.
  void prefetch(const EpochOrder& perm, std::size_t at, std::size_t g);
  // Joins the reader thread, if one runs (before anything else reads the dataset's file).
  void wait();

  // The loaded batch, from its local row `first`: inputs [rows, d], labels or targets, sample ids.
  const float* x(std::size_t first) const { return x_.data() + first * ds_.d; }
  const std::int32_t* labels(std::size_t first) const { return labels_.data() + first; }
  const float* targets(std::size_t first) const { return targets_.data() + first * ds_.target_dim; }
  const std::uint64_t* ids(std::size_t first) const { return ids_.data() + first; }

 private:
  void rows_of(const EpochOrder& perm, std::size_t at, std::size_t g, std::vector<std::uint32_t>& out) const;

  const Dataset& ds_;
  const std::vector<std::uint32_t>& rows_;
  int rank_, world_;
  bool deterministic_;
  std::size_t micro_shards_, per_rank_ = 0, first_micro_ = 0;
  Buffer<float> x_, targets_;
  std::vector<std::int32_t> labels_;
  std::vector<std::uint64_t> ids_;
  std::vector<std::uint32_t> cur_;
  // --stream: the reader thread's batch.
  Buffer<float> next_x_;
  std::vector<std::uint32_t> next_;
  std::future<void> pending_;
  std::size_t pending_at_ = SIZE_MAX;
};

}  // namespace bpt
