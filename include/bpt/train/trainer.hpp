#pragma once
// The trainer: builds everything a run needs from the config (trainer.cpp: set-up, agreement between
// ranks, resume, checkpoints, evaluation) and runs the training loop (step_loop.cpp, which opens with
// the ordering rules every rank must keep).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bpt/comm/comm.hpp"
#include "bpt/comm/grad_reducer.hpp"
#include "bpt/comm/tree_sum.hpp"
#include "bpt/core/buffer.hpp"
#include "bpt/core/timeline.hpp"
#include "bpt/data/augment.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/io/checkpoint.hpp"
#include "bpt/model/model.hpp"
#include "bpt/optim/optim.hpp"
#include "bpt/train/batch_loader.hpp"
#include "bpt/train/config.hpp"
#include "bpt/train/evaluate.hpp"
#include "bpt/train/grad_health.hpp"
#include "bpt/train/report.hpp"
#include "bpt/train/sharded_optimizer.hpp"

namespace bpt {

struct TrainResult {
  std::size_t epochs = 0;
  std::uint64_t steps = 0;
  double train_loss = 0;
  EvalResult test, val;  // val: only with --val-fraction
  double seconds = 0;
  double peak_rss_mb = 0;  // largest rank's peak resident memory
  std::string stop_reason;  // "epochs", "already done", "max_steps", "patience", "tol", "signal"
};

class Trainer {
 public:
  // Every rank passes the same config and its own copy of the datasets. Collective: the ranks first
  // agree that the config and data are valid (an error is printed once), then that they hold the same
  // config, data and build, then receive rank 0's initial weights.
  Trainer(const Config& cfg, const Comm& comm, Dataset train, Dataset test);

  // Continue from a checkpoint every rank has read: weights, optimizer state, position, early-stopping
  // state, input scaling. Throws CollectiveError if it was written for another model, other settings
  // or another training set. Call before run().
  void resume(const Checkpoint& c);
  // A flag a signal handler sets; all ranks agree at the next step boundary to checkpoint and stop.
  void set_stop_flag(const volatile int* flag) { stop_flag_ = flag; }
  // Trains until cfg.epochs, cfg.max_steps, early stopping or a stop flag. Collective.
  TrainResult run();
  // Evaluation split across ranks; counts summed. rows: a subset of ds (nullptr: all of it). Collective.
  EvalResult evaluate(const Dataset& ds, const std::vector<std::uint32_t>* rows = nullptr);
  // Throws CollectiveError naming the ranks whose weights differ from rank 0's. Collective.
  void verify_replicas(std::uint64_t step);
  // Throws NumericError (exit 3) if a weight is not finite: the last update overflowed. Every rank
  // holds the same weights, so every rank reaches the same verdict. Collective (the agreement).
  void check_weights_finite();
  // The same verdict without the agreement, for a caller that agrees on several checks at once.
  void throw_if_weights_nonfinite() const;

  Model& model() { return model_; }

 private:
  // An epoch's running figures. loss: per-sample loss sums by part (a part per rank, or per micro-shard
  // with --deterministic), each rank holding its own parts only, in order; agreed_sum adds every
  // rank's in part order, so the same bits whatever the rank count.
  struct Tally {
    std::vector<double> loss, window;  // the epoch's, and since the last progress line
    std::size_t window_samples = 0, steps = 0, skipped = 0;
    StepTimes times, profiled;  // running totals; profiled: at the last profile row
    double start = 0;
  };

  void validate() const;  // local checks of config and data, no collectives
  void check_agreement();
  void check_resumable(const Checkpoint& c) const;  // throws CollectiveError
  float lr_at(std::uint64_t step) const;

  // step_loop.cpp
  bool run_epoch(Reporter& out, Tally& t, TrainResult& res, double start);
  bool step(const EpochOrder& perm, std::size_t s, Reporter& out, Tally& t);
  double compute_gradients(std::size_t g, Tally& t);
  // One micro-batch: rows [first, first + rows) of this rank's share. notify: tell the reducer as each
  // layer's gradients are final (the step's last micro-batch); accumulate: add to the gradients
  // instead of overwriting them (every micro-batch after the step's first). Adds the forward pass's
  // seconds to forward_s.
  double forward_backward(std::size_t first, std::size_t rows, std::uint64_t step, bool notify, bool accumulate,
                          double& forward_s);
  bool end_epoch(Reporter& out, Tally& t, TrainResult& res, double start);
  // The sum over ranks of parts, added up in part order (collective).
  double agreed_sum(const std::vector<double>& mine) const;  // collective: every rank's Tally parts added

  // --timeline: an event of this step from t0 to now (nothing when off).
  void mark(const char* name, int track, double t0, int layer = -1) {
    if (timeline_) timeline_->add(name, track, t0, wall_time(), static_cast<std::int64_t>(st_.step), layer);
  }
  // Collective: every rank's events to rank 0, which writes cfg.timeline.
  void write_timeline();

  // Collective: rank 0 writes cfg.checkpoint (st_, the epoch's loss parts so far, and the whole
  // optimizer state).
  // To --checkpoint's file, or to `path` (--keep-best's), keeping `keep` older ones there.
  void save_checkpoint(const std::vector<double>& loss_parts, double elapsed, const std::string& path = "",
                       std::size_t keep = 0);
  // --gather-overlap: a step's weight gather is begun at its end and completed here: by the next step
  // after its data (polled between the rows' pieces), and by anything that reads the weights before
  // that (evaluation, the replica check, a checkpoint, the end of an epoch). Returns the seconds waited.
  double complete_gather();

  Config cfg_;
  const Comm& comm_;
  Dataset train_, test_;
  std::vector<std::uint32_t> train_rows_, val_rows_;  // train_rows_ empty: every row (no validation split)
  std::size_t ntrain_ = 0;
  Model model_;
  LrSchedule sched_;
  std::size_t steps_per_epoch_ = 0;
  std::unique_ptr<GradReducer> reducer_;
  std::unique_ptr<ShardedOptimizer> opt_;
  std::unique_ptr<TreeSum> tree_;  // --deterministic
  std::unique_ptr<BatchLoader> loader_;
  ImageAugment aug_;     // --augment-shift/--augment-flip
  Buffer<float> aug_x_;  // the augmented micro-batch
  GradHealth health_;
  TrainState st_;
  bool resumed_ = false;
  bool gather_pending_ = false;  // complete_gather()
  bool gather_overlap_ = false;  // --gather-overlap, as it applies to this run (sharded, and on or auto across nodes)
  const volatile int* stop_flag_ = nullptr;
  bool best_due_ = false;  // the epoch just ended is the best so far and --keep-best is on
  std::unique_ptr<Timeline> timeline_;  // --timeline
  double timeline_origin_ = 0;
  std::uint64_t train_fp_ = 0, test_fp_ = 0, train_content_ = 0;  // Dataset::fingerprint(), content_hash()
};

}  // namespace bpt
