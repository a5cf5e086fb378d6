#pragma once
// The training loop: sharding, steps, gradient reduction, evaluation, early stopping, logging.
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "bpt/data/dataset.hpp"
#include "bpt/dist/comm.hpp"
#include "bpt/dist/grad_reducer.hpp"
#include "bpt/model/model.hpp"
#include "bpt/optim/optim.hpp"
#include "bpt/train/config.hpp"

namespace bpt {

struct EvalResult {
  double loss = 0;      // mean per-sample loss
  double accuracy = 0;  // classification: fraction of arg-max hits
  double rmse = 0;      // regression: root mean squared error over all outputs
  std::size_t samples = 0;
};

struct TrainResult {
  std::size_t epochs = 0;
  std::uint64_t steps = 0;
  double train_loss = 0;
  EvalResult test, val;  // val: only with --val-fraction
  double seconds = 0;
  std::string stop_reason;  // "epochs", "max_steps", "patience", "tol"
};

class Trainer {
 public:
  // Every rank passes the same config and its own copy of the datasets.
  Trainer(const Config& cfg, const Comm& comm, Dataset train, Dataset test);
  ~Trainer();

  // Trains until cfg.epochs, cfg.max_steps, or early stopping. Collective.
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

  Config cfg_;
  const Comm& comm_;
  Dataset train_, test_;
  std::vector<std::uint32_t> train_rows_, val_rows_;
  Model model_;
  Optimizer opt_;
  LrSchedule sched_;
  std::unique_ptr<GradReducer> reducer_;
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
  std::vector<Buffer<float>> tree_;  // deterministic mode: one partial sum per tree level
  Buffer<float> peer_;
};

}  // namespace bpt
