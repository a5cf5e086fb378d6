#pragma once
// The gradient's health after the sums, every step: each layer's norm of the averaged gradient,
// the non-finite guard, clipping, and the vanishing/exploding warnings; per-layer figures for
// --grad-stats. Measured on the ranges this rank owns (sharded: one small sum completes them).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpt/comm/comm.hpp"
#include "bpt/model/model.hpp"
#include "bpt/train/config.hpp"
#include "bpt/train/sharded_optimizer.hpp"

namespace bpt {

class GradHealth {
 public:
  // watched[l]: layer l has parameters (pooling has none: no norm to watch or report).
  GradHealth(const Config& cfg, const Comm& comm, std::vector<bool> watched);

  struct Verdict {
    bool stop = false;           // some rank was signalled to stop (SIGTERM, SIGUSR1)
    std::optional<float> scale;  // what the optimizer multiplies the sum by; none: skip the step
  };
  // The step's collective verdict, in one small sum over the ranks (collective): the vote (stop_here:
  // this rank was signalled; loss_bad_here: its loss is not finite) and, sharded, the per-layer
  // figures. The one place where the summed gradient's average and clipping are decided: scale is
  // 1/g (g: samples in the global batch) times, when the average's norm exceeds --clip-grad-norm,
  // PyTorch's clip factor. A non-finite loss or gradient on any rank throws NumericError naming the
  // step and the layer, or with --on-nonfinite skip leaves scale empty (rank 0 warns). Adds the
  // seconds spent in the small sums to comm_s.
  Verdict check(std::span<const float> grads, std::span<const float> params, const ShardedOptimizer& opt, std::size_t g,
                std::uint64_t step, bool stop_here, bool loss_bad_here, double& comm_s);
  // Zeroes the per-epoch figures.
  void begin_epoch();
  // --grad-stats: per layer, the mean gradient norm over this epoch's good steps and the weight norm.
  std::string layer_stats_json(const Model& model) const;

 private:
  void warn_if_stuck(std::size_t layer, double norm);

  const Config& cfg_;
  const Comm& comm_;
  std::vector<bool> watched_;
  std::vector<double> sq_;        // this step, per layer: squared norm of the averaged gradient
  std::vector<double> votes_;     // the small sum: stop, bad loss, [per-layer squares]
  std::vector<double> norm_sum_;  // this epoch, per layer: sum of the norms over good steps
  std::vector<std::uint64_t> low_run_, high_run_;
  std::uint64_t ok_steps_ = 0;    // this epoch
};

}  // namespace bpt
