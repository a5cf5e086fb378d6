#pragma once
// The training loop: sharding, steps, gradient reduction, evaluation, early stopping, logging.
#include <cstdint>
#include <memory>
#include <string>

#include "bpt/data/dataset.hpp"
#include "bpt/dist/comm.hpp"
#include "bpt/dist/grad_reducer.hpp"
#include "bpt/model/model.hpp"
#include "bpt/optim/optim.hpp"
#include "bpt/train/config.hpp"

namespace bpt {

struct EvalResult {
  double loss = 0;      // mean per-sample loss
  double accuracy = 0;  // fraction of arg-max hits
  std::size_t samples = 0;
};

struct TrainResult {
  std::size_t epochs = 0;
  std::uint64_t steps = 0;
  double train_loss = 0;
  EvalResult test;
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
  // Evaluation split across ranks; counts summed. Collective.
  EvalResult evaluate(const Dataset& ds);
  // Throws CollectiveError naming the ranks whose weights differ from rank 0's. Collective.
  void verify_replicas(std::uint64_t step);

  Model& model() { return model_; }
  const Dataset& train_set() const { return train_; }
  const Dataset& test_set() const { return test_; }

 private:
  struct StepTimes {
    double compute = 0, comm = 0, optim = 0, data = 0;
  };
  double step_default(const std::uint32_t* batch, std::size_t g, std::uint64_t step, StepTimes& t);
  double step_deterministic(const std::uint32_t* batch, std::size_t g, std::uint64_t step, StepTimes& t);
  double forward_backward(const std::uint32_t* idx, std::size_t rows, std::uint64_t step, bool notify, StepTimes& t);
  void check_agreement();

  Config cfg_;
  const Comm& comm_;
  Dataset train_, test_;
  Model model_;
  Optimizer opt_;
  LrSchedule sched_;
  std::unique_ptr<GradReducer> reducer_;
  std::size_t steps_per_epoch_ = 0;
  Buffer<float> xbuf_;
  std::vector<std::int32_t> ybuf_;
  std::vector<std::uint64_t> ids_;
  std::vector<Buffer<float>> tree_;  // deterministic mode: one partial sum per tree level
  Buffer<float> peer_;
};

}  // namespace bpt
