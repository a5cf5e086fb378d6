#pragma once
// The training loop: sharding, steps, gradient reduction, evaluation, early stopping, logging.
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "bpt/data/dataset.hpp"
#include "bpt/comm/comm.hpp"
#include "bpt/comm/grad_reducer.hpp"
#include "bpt/io/checkpoint.hpp"
#include "bpt/model/model.hpp"
#include "bpt/optim/optim.hpp"
#include "bpt/train/config.hpp"
#include "bpt/train/evaluate.hpp"

namespace bpt {

struct TrainResult {
  std::size_t epochs = 0;
  std::uint64_t steps = 0;
  double train_loss = 0;
  EvalResult test, val;  // val: only with --val-fraction
  double seconds = 0;
  double peak_rss_mb = 0;  // largest rank's peak resident memory
  std::string stop_reason;  // "epochs", "max_steps", "patience", "tol", "signal"
};

class Trainer {
 public:
  // Every rank passes the same config and its own copy of the datasets.
  Trainer(const Config& cfg, const Comm& comm, Dataset train, Dataset test);
  ~Trainer();

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

  Model& model() { return model_; }
  const Dataset& train_set() const { return train_; }
  const Dataset& test_set() const { return test_; }
  const Transform& transform() const { return train_.tf; }

 private:
  struct StepTimes {
    double compute = 0, comm = 0, optim = 0, data = 0;
  };
  // The part of a global batch of g samples this rank computes: positions [begin, end) in the batch.
  Range local_range(std::size_t g) const;
  // Fills xbuf_ (and labels, targets, sample ids) with this rank's rows of the batch at `at`.
  void load_local(const std::vector<std::uint32_t>& perm, std::size_t at, std::size_t g, StepTimes& t);
  void prefetch(const std::vector<std::uint32_t>& perm, std::size_t at, std::size_t g);
  double step_default(std::size_t g, std::uint64_t step, StepTimes& t);
  double step_deterministic(std::size_t g, std::uint64_t step, StepTimes& t);
  double forward_backward(std::size_t first, std::size_t rows, std::uint64_t step, bool notify);
  void check_agreement();
  void check_data();
  float lr_at(std::uint64_t step) const;
  // After the sums: measure each layer, check finiteness (vote: the ranks' verdict on their losses),
  // clip, warn about vanishing/exploding layers; grad_scale: what the optimizer must multiply the
  // gradients by to average them. False: skip this step (--on-nonfinite skip). Sharded, it sums the
  // per-layer figures over the ranks, and adds the seconds that takes to comm_s.
  bool finish_gradients(std::size_t g, std::uint64_t step, int vote, std::uint64_t& ok_steps, float& grad_scale,
                        double& comm_s);
  std::string layer_stats_json(std::uint64_t ok_steps) const;
  void write_profile();  // collective
  // Collective: sums the epoch's loss so far; rank 0 writes cfg.checkpoint from st_.
  void save_checkpoint(double local_loss_sum, double elapsed);

  Config cfg_;
  const Comm& comm_;
  Dataset train_, test_;
  std::vector<std::uint32_t> train_rows_, val_rows_;
  Model model_;
  Optimizer opt_;
  LrSchedule sched_;
  std::unique_ptr<GradReducer> reducer_;
  // The optimizer is sharded (ZeRO-1) unless --deterministic or --overlap off: each rank holds the
  // summed gradient of, and updates, only held_ (its chunks of every bucket); held_by_layer_[l] is
  // held_ cut at layer l's bounds. Replicated: the whole buffer. split_: sharded over more than one
  // rank; then the optimizer keeps state for held_ only, packed (a checkpoint assembles it whole).
  bool sharded_ = false, split_ = false;
  std::vector<std::pair<std::size_t, std::size_t>> held_;
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> held_by_layer_;
  std::size_t steps_per_epoch_ = 0;
  Buffer<float> xbuf_, tbuf_;
  std::vector<std::int32_t> ybuf_;
  std::vector<std::uint64_t> ids_;
  std::vector<std::uint32_t> rows_;
  // --stream: the next step's rows are read while this step computes.
  Buffer<float> xnext_;
  std::vector<std::uint32_t> next_rows_;
  std::future<void> pending_;
  std::size_t pending_at_ = SIZE_MAX;
  TrainState st_;
  std::vector<double> profile_;  // --profile: per step epoch, step, compute, comm wait, optimizer, data
  std::vector<double> layer_sq_, layer_norm_sum_;
  std::vector<std::uint64_t> low_run_, high_run_;
  long bad_layer_ = -1;
  bool resumed_ = false;
  const volatile int* stop_flag_ = nullptr;
  std::uint64_t train_fp_ = 0, test_fp_ = 0;
  std::vector<Buffer<float>> tree_;  // deterministic mode: one partial sum per tree level
  Buffer<float> peer_;
};

// "--lr 0.001 in the checkpoint, 0.002 now, ..." for two Config::resume_key() texts.
std::string diff_settings(const std::string& then, const std::string& now);
// "784-512-256-10 relu cross_entropy"
std::string describe(const ModelSpec& spec);

}  // namespace bpt
