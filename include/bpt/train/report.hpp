#pragma once
// What a run shows and writes, from rank 0: the banner, progress lines, the epoch line and the
// metrics file (one JSON object per epoch), the --profile CSV (every rank's per-step times, gathered
// to rank 0) and the final line. Every figure handed in is already agreed (summed over ranks).
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "bpt/comm/comm.hpp"
#include "bpt/train/config.hpp"
#include "bpt/train/evaluate.hpp"

namespace bpt {

// Seconds of one rank's steps by phase (running totals over an epoch).
struct StepTimes {
  double compute = 0;  // forward and backward (the sums that overlap it included)
  double forward = 0;  // of compute: the forward passes alone (backward: compute - forward)
  double comm = 0;     // waiting on the sums, the vote, the small sums and the weight gather
  double optim = 0;    // the gradient check and the optimizer step
  double data = 0;     // batch assembly
};

struct EpochFigures {
  std::uint64_t epoch = 0, step = 0;  // 1-based epoch; steps in all
  double train_loss = 0;
  EvalResult test, val;
  bool has_val = false, regression = false;
  bool has_test = true;  // false: --val-fraction without a test set (no test figures shown or written)
  double samples_per_s = 0, elapsed_s = 0, epoch_s = 0, lr = 0;
  StepTimes per_step;  // milliseconds per step, this rank
  std::uint64_t skipped = 0;
  bool partial = false;  // cut short by --max-steps: a resumed run writes the epoch again, whole
  std::string layers = "null";  // --grad-stats: per-layer JSON
};

class Reporter {
 public:
  // Rank 0 opens the metrics file (appending when resumed).
  Reporter(const Config& cfg, const Comm& comm, bool resumed);
  void banner(const std::string& model, std::size_t params, std::size_t ntrain, std::size_t nval, std::size_t ntest,
              std::size_t steps_per_epoch, bool resumed, std::uint64_t epoch, std::uint64_t position,
              std::uint64_t step);
  // One line of information, from rank 0 ("bptrain: " + what), unless --quiet.
  void note(const std::string& what);
  // Whether note() prints (rank 0, without --quiet): what a note costs to work out is spent only then.
  bool talks() const { return talk_; }
  void progress(std::uint64_t epoch, std::size_t step, std::size_t steps_per_epoch, double loss, double samples_per_s,
                double eta_s);
  void epoch(const EpochFigures& f);
  // --profile: this rank's times of one step (milliseconds).
  void step_times(std::uint64_t epoch, std::uint64_t step, const StepTimes& ms);
  // --profile: gathers every rank's rows to rank 0 and writes the CSV. Collective.
  void write_profile();
  void signalled(std::uint64_t step);
  // `held`: the test set's figures, or (which = "val") the validation set's when there is no test set.
  void done(std::size_t epochs, std::uint64_t steps, const EvalResult& held, const char* which, bool regression, double seconds,
            const std::string& stop_reason, double peak_rss_mb);

 private:
  const Config& cfg_;
  const Comm& comm_;
  bool root_, talk_;
  std::ofstream metrics_;
  std::vector<double> profile_;  // per step: epoch, step, compute, comm wait, optimizer, data (ms)
};

}  // namespace bpt
